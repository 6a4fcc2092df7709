"""Shared helpers: paths to the real log samples and a way to write small test files."""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests: repeatable in CI (derandomized), many examples on request (the long fuzz run).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("fuzz", max_examples=3000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))

DATA = Path(__file__).parent / "data"
SAMPLES = Path(__file__).parent.parent / "samples"
#: Seconds a command-line run in a test may take before it is stopped, with its stacks shown.
CLI_TIMEOUT_S = 300


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
        # A child that hangs is stopped with SIGABRT, which faulthandler answers with every
        # thread's stack on stderr: the failure then says where it hung.
        full = {"PYTHONFAULTHANDLER": "1", **os.environ, **(env or {})}
        cmd = [sys.executable, "-m", "loganalyzer", *args]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=full,
                              start_new_session=True) as p:
            try:
                out, err = p.communicate(timeout=CLI_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGABRT)
                try:
                    out, err = p.communicate(timeout=20)
                finally:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.pid, signal.SIGKILL)  # its own children too (Dask workers)
                pytest.fail(f"{' '.join(args)} ran over {CLI_TIMEOUT_S} s; its stderr:\n{err[-8000:]}")
        return subprocess.CompletedProcess(cmd, p.returncode, out, err)

    return _run
