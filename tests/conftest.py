"""Shared helpers: paths to the real log samples and a way to write small test files."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests: repeatable in CI (derandomized), many examples on request (the long fuzz run).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("fuzz", max_examples=3000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))

DATA = Path(__file__).parent / "data"
SAMPLES = Path(__file__).parent.parent / "samples"


@pytest.fixture
def write(tmp_path):
    """write("name.log", "text" or bytes, gz=False) -> path of a new file under tmp_path."""

    def _write(name: str, content: str | bytes, gz: bool = False) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return _write


def accounted(logs) -> None:
    """Every line of every file is parsed, attached as a continuation, or rejected."""
    for row in logs.stats.itertuples():
        if row.kind is None or row.kind != row.kind:  # passed over
            continue
        assert row.lines + row.batched == row.parsed + row.continuation + row.rejected, row


def process_alive(pid: int) -> bool:
    """Whether a process still runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture
def cli_run():
    """cli_run(*args, cwd=None, env=None): the real command line in a child process."""
    import subprocess
    import sys

    def _run(*args: str, cwd=None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        full = {**os.environ, **(env or {})}
        return subprocess.run([sys.executable, "-m", "loganalyzer", *args], capture_output=True, text=True,
                              cwd=cwd, env=full, timeout=300)

    return _run
