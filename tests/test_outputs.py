"""Outputs: '-' is stdout with the human text on stderr; paths checked before reading; never overwrite a log."""

from __future__ import annotations

import json
import subprocess
import sys

from loganalyzer.errors import ExitStatus
from tests.conftest import SAMPLES

LOGS = SAMPLES / "trailing-comma" / "logs"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loganalyzer", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_json_to_stdout_is_pure_json_and_the_summary_goes_to_stderr():
    p = run("analyze", LOGS, "--json", "-")
    assert p.returncode == 0
    data = json.loads(p.stdout)
    assert data["summary"]["attempts"] == 444 and "Where they died" in p.stderr


def test_format_ndjson_and_ecs_write_one_document_per_attempt():
    for fmt in ("ndjson", "ecs"):
        p = run("analyze", LOGS, "--format", fmt)
        docs = [json.loads(x) for x in p.stdout.splitlines()]
        assert len(docs) == 444, fmt


def test_outputs_are_checked_before_any_log_is_read(tmp_path):
    p = run("analyze", LOGS, "--json", tmp_path / "missing" / "a.json")
    assert p.returncode == ExitStatus.USAGE and "no such directory" in p.stderr
    p = run("analyze", LOGS / "vac.log", "--json", LOGS / "vac.log")
    assert p.returncode == ExitStatus.USAGE and "refusing to overwrite" in p.stderr
    p = run("analyze", LOGS, "-o", LOGS / "crm.log")
    assert p.returncode == ExitStatus.USAGE and "refusing to overwrite" in p.stderr
    p = run("analyze", LOGS, "--json", "-", "--format", "json")
    assert p.returncode == ExitStatus.USAGE


def test_a_file_output_is_replaced_whole(tmp_path):
    out = tmp_path / "a.json"
    out.write_text("old")
    assert run("analyze", LOGS, "--json", out).returncode == 0
    assert json.loads(out.read_text())["summary"]["attempts"] == 444
    assert [f.name for f in tmp_path.iterdir()] == ["a.json"]  # no temporary file left behind
