"""What the commands load: `--help`, `--version` and completion no data library and none of the printing of
results, `parse` no pandas (start-up time is what they cost).

The times themselves are measured by benchmarks/bench_perf.py; these tests hold the imports that
keep them low.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCESS = ROOT / "samples" / "mixed-faults" / "variants" / "access_combined.log"

PROBE = """
import sys
from loganalyzer.cli import main
sys.argv = ["loganalyzer", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    loaded = sorted(m for m in ("polars", "pandas", "pyarrow", "loganalyzer.parsers.formats", "loganalyzer.printing",
                                "importlib.metadata", "rich") if m in sys.modules)
    print(f"LOADED|{','.join(loaded)}|{exc.code}", file=sys.stderr)
"""


def loaded_by(*args: str, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300, cwd=ROOT,
                       env={**os.environ, **(env or {})})
    line = next(x for x in p.stderr.splitlines() if x.startswith("LOADED|"))
    _, names, code = line.split("|")
    assert code == "0", p.stderr
    return {n for n in names.split(",") if n}, p.stdout


def test_help_loads_no_data_library_and_no_format_definitions():
    loaded, out = loaded_by("--help")
    assert "Commands:" in out and "parse" in out
    assert loaded == set()


def test_version_does_not_read_package_metadata():
    loaded, out = loaded_by("--version")
    assert "loganalyzer, version" in out
    assert loaded == set()


@pytest.mark.parametrize("words,answer", [("loganalyzer an", "plain,analyze"),
                                          ("loganalyzer analyze --format nd", "plain,ndjson"),
                                          ("loganalyzer trace --color al", "plain,always")])
def test_completing_a_command_or_an_option_value_loads_no_data_library(words, answer):
    env = {"_LOGANALYZER_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    loaded, out = loaded_by(env=env)
    assert out.split() == [answer]
    assert loaded == set()


def test_a_subcommand_help_still_names_the_kinds():
    loaded, out = loaded_by("parse", "--help")
    assert "nginx_access, nginx_error" in out


def test_parse_does_not_load_pandas():
    loaded, out = loaded_by("parse", str(ACCESS))
    assert "combined (100%)" in out
    assert "polars" in loaded and "pandas" not in loaded
