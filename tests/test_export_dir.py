"""`analyze --export DIR`: attempts and evidence in Parquet, a small analysis.json; report and trace --from read it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from loganalyzer import errors, schema
from loganalyzer.cli import cli

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "samples" / "mixed-faults" / "logs"


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def run_main(*args) -> subprocess.CompletedProcess:
    """The installed command, so that errors go through its one-line error handling."""
    return subprocess.run([sys.executable, "-m", "loganalyzer", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    result = run("analyze", LOGS, "--json", d / "a.json", "--export", d / "out")
    assert result.exit_code == 0, result.output
    return d


def test_tables_have_the_declared_columns_and_types(exported):
    attempts = pl.read_parquet(exported / "out" / "attempts.parquet")
    evidence = pl.read_parquet(exported / "out" / "evidence.parquet")
    assert attempts.schema == pl.Schema({c.name: c.dtype for c in schema.ATTEMPT.values()})
    assert evidence.schema == pl.Schema({c.name: c.dtype for c in schema.EVIDENCE.values()})
    data = json.loads((exported / "a.json").read_text())
    assert attempts.height == data["summary"]["attempts"] == len(data["requests"])
    assert evidence.height == sum(len(r["evidence"]) for r in data["requests"])
    assert attempts.filter(pl.col("verdict") != "ok").height == data["summary"]["failed_attempts"]


def test_summary_json_leaves_the_attempts_out_and_stays_small(exported):
    summary = json.loads((exported / "out" / "analysis.json").read_text())
    full = json.loads((exported / "a.json").read_text())
    assert "requests" not in summary and summary["tables"]["attempt_count"] == full["summary"]["attempts"]
    assert summary["summary"] == full["summary"] and summary["causes"] == full["causes"]
    assert (exported / "out" / "analysis.json").stat().st_size < (exported / "a.json").stat().st_size / 4


def test_report_from_the_directory_equals_report_from_the_json(exported, tmp_path):
    assert run("report", exported / "out", "-o", tmp_path / "dir.html", "--markdown", tmp_path / "dir.md").exit_code == 0
    assert run("report", exported / "a.json", "-o", tmp_path / "json.html", "--markdown", tmp_path / "json.md").exit_code == 0
    assert (tmp_path / "dir.html").read_bytes() == (tmp_path / "json.html").read_bytes()
    assert (tmp_path / "dir.md").read_text() == (tmp_path / "json.md").read_text()


def test_trace_from_the_export_reads_no_log(exported, tmp_path):
    attempts = pl.read_parquet(exported / "out" / "attempts.parquet")
    rid = attempts.filter(pl.col("verdict") != "ok")["request_id"].drop_nulls()[0]
    from_logs = run("trace", rid, LOGS)
    # A copy of the export far from the logs: trace --from must not need them.
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in (exported / "out").iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    from_export = run("trace", rid, "--from", copy)
    assert from_export.exit_code == 0 and from_logs.exit_code == 0
    heads = [x for x in from_logs.output.splitlines() if not x.startswith("    ")]
    assert [x for x in from_export.output.splitlines() if not x.startswith("    ")] == heads
    lines = [x for x in from_export.output.splitlines() if x.startswith("    ")]
    assert lines and set(lines) <= set(from_logs.output.splitlines())
    # the JSON export carries the same attempts and evidence lines
    from_json = run("trace", rid, "--from", exported / "a.json")
    assert from_json.exit_code == 0 and from_json.output == from_export.output


def test_bad_uses_are_one_line_errors(exported, tmp_path):
    not_export = tmp_path / "empty"
    not_export.mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "analysis.json").write_text((exported / "out" / "analysis.json").read_text())
    (tmp_path / "broken" / "attempts.parquet").write_text("not parquet")
    cases = [
        (["report", not_export, "-o", tmp_path / "x.html"], errors.ExitStatus.INPUT, "not a loganalyzer export"),
        (["report", tmp_path / "broken", "-o", tmp_path / "y.html"], errors.ExitStatus.INPUT, "attempts table"),
        (["trace", "x", LOGS, "--from", exported / "out"], errors.ExitStatus.USAGE, "not both"),
        (["trace", "no-such-request", "--from", exported / "out"], errors.ExitStatus.ERROR, "no request"),
        (["trace", "x"], errors.ExitStatus.USAGE, "--from DIR"),
    ]
    for args, status, message in cases:
        p = run_main(*args)
        assert p.returncode == status and message in p.stderr, (args, p.returncode, p.stderr)
        errors_said = [x for x in p.stderr.splitlines() if x.startswith("Error:")]
        assert "Traceback" not in p.stderr and len(errors_said) == 1 and message in errors_said[0]


def test_the_json_writer_writes_what_json_dump_writes():
    import io
    import math

    from loganalyzer.outputs import write_json

    records = [{"id": i, "text": "é\"\n\u2028", "nan": math.nan, "when": pl.datetime} for i in range(4999)]
    for data in ({}, {"a": []}, {"requests": records, "summary": {"x": [1, 2.5, None, True]}, "z": records[:3]}):
        out = io.StringIO()
        write_json(data, out)
        assert out.getvalue() == json.dumps(data, ensure_ascii=False, default=str)
