"""What the commands load: `--help` no data library, `parse` no pandas (start-up time is what they cost).

The times themselves are measured by benchmarks/bench_perf.py; these tests hold the imports that
keep them low.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCESS = ROOT / "samples" / "mixed-faults" / "variants" / "access_combined.log"

PROBE = """
import sys
from loganalyzer.cli import main
sys.argv = ["loganalyzer", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    loaded = sorted(m for m in ("polars", "pandas", "pyarrow", "loganalyzer.parsers.formats") if m in sys.modules)
    print(f"LOADED|{','.join(loaded)}|{exc.code}", file=sys.stderr)
"""


def loaded_by(*args: str) -> tuple[set[str], str]:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)
    line = next(x for x in p.stderr.splitlines() if x.startswith("LOADED|"))
    _, names, code = line.split("|")
    assert code == "0", p.stderr
    return {n for n in names.split(",") if n}, p.stdout


def test_help_loads_no_data_library_and_no_format_definitions():
    loaded, out = loaded_by("--help")
    assert "Commands:" in out and "parse" in out
    assert loaded == set()


def test_a_subcommand_help_still_names_the_kinds():
    loaded, out = loaded_by("parse", "--help")
    assert "nginx_access, nginx_error" in out


def test_parse_does_not_load_pandas():
    loaded, out = loaded_by("parse", str(ACCESS))
    assert "combined (100%)" in out
    assert "polars" in loaded and "pandas" not in loaded
