"""Outputs: '-' (or /dev/stdout) is stdout with the human text on stderr, for every output; paths checked before
reading; never overwrite a log; a device or FIFO is written in place."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading

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


def test_dev_stdout_is_stdout_and_the_summary_goes_to_stderr():
    p = run("analyze", LOGS, "--json", "/dev/stdout")
    assert p.returncode == 0
    assert json.loads(p.stdout)["summary"]["attempts"] == 444 and "Where they died" in p.stderr


def test_every_output_takes_a_dash(tmp_path):
    saved = tmp_path / "a.json"
    assert run("analyze", LOGS, "-q", "--json", saved).returncode == 0
    p = run("report", saved, "-o", "-")
    assert p.returncode == 0 and p.stdout.rstrip().endswith("</html>") and "wrote -" in p.stderr
    p = run("parse", LOGS, "--out", "-")
    assert p.returncode == 0
    entries = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(entries) == 2472 and {"ts", "source", "file", "line"} <= set(entries[0])
    assert "nginx_access" in p.stderr and "wrote 2,472 entries to -" in p.stderr


def test_a_fifo_is_written_in_place_not_replaced(tmp_path):
    fifo = tmp_path / "out.md"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    p = run("analyze", LOGS, "-q", "--markdown", fifo)
    reader.join(timeout=60)
    assert p.returncode == 0 and got and got[0].startswith("# Postmortem")
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_the_json_export_written_in_pieces_equals_the_whole_result(tmp_path, monkeypatch):
    """The requests array is encoded by polars a few records at a time; the document is the same."""
    import loganalyzer
    from loganalyzer import analysis

    a = loganalyzer.analyze([SAMPLES / "mixed-faults" / "logs"])
    monkeypatch.setattr(analysis, "JSON_ROWS", 7)  # many pieces, a short last one
    a.write_json(tmp_path / "a.json")
    got = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    want = json.loads(json.dumps(a.to_dict(), ensure_ascii=False, default=str))
    assert len(got["requests"]) == len(want["requests"]) > 100
    assert got == want
    assert all(isinstance(r["evidence"], list) for r in got["requests"])
