"""`loganalyzer analyze`, `trace` and the JSON export, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from loganalyzer.cli import cli

from .conftest import SAMPLES

TRAILING = SAMPLES / "trailing-comma" / "logs"


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def test_terminal_summary_lines_up_the_incident():
    out = run("analyze", TRAILING).output
    assert "crm is +8h00m00.000s from nginx_access" in out and "corrected" in out
    assert "upstream_crash          144" in out
    assert "json_malformed (trailing_comma)" in out and "crm.log:" in out
    assert "client release 2.5.0, was 2.4.1" in out and "vac.log:" in out
    assert "POST /api/tickets" in out


def test_json_export_has_sources_requests_and_summary(tmp_path):
    out = tmp_path / "a.json"
    result = run("analyze", SAMPLES / "mixed-faults" / "logs", "--json", out)
    assert result.exit_code == 0 and f"wrote {out}" in result.output
    data = json.loads(out.read_text())
    assert {"sources", "requests", "summary", "clock_offsets", "causes", "timeline", "rejects"} <= set(data)
    src = {s["kind"]: s for s in data["sources"]}
    assert src["crm"]["format"] == "spring_boot_3" and src["crm"]["rejected"] == 0
    assert src["nginx_error"]["zone"] == "+0300" and src["nginx_access"]["time_range"]["from"].endswith("Z")
    req = data["requests"]
    assert len(req) == 535
    fields = {"request_id", "logical_id", "attempt", "ts", "method", "path", "status_client", "status_proxy",
              "status_upstream", "verdict", "root_cause", "root_cause_detail", "link", "evidence"}
    assert fields <= set(req[0])
    crash = next(r for r in req if r["verdict"] == "upstream_crash")
    assert crash["link"]["method"] == "request_id" and crash["status_proxy"] == 502
    cause = [e for e in crash["evidence"] if e["role"] == "cause"]
    assert cause and cause[0]["source"] == "crm" and cause[0]["line"] > 0 and "JsonParseException" in cause[0]["text"]
    assert data["summary"]["by_verdict"]["ok"] == 394


def test_trace_prints_the_hop_chain_in_order():
    rid = "ab3a2f9bbacc42219bab25097a3ce339"
    out = run("trace", rid, SAMPLES / "mixed-faults" / "logs").output
    blocks = out.split("attempt ")[1:]
    assert len(blocks) == 3 and all("upstream_crash: json_malformed (trailing_comma)" in b for b in blocks)
    first = blocks[0]
    order = [first.index("send req="), first.index("crm.log:"), first.index("fail req=")]
    assert order == sorted(order)
    assert "[connection]" in first and ("[time+path]" in first or "[thread+time]" in first)


def test_trace_of_an_unknown_request_is_a_one_line_error():
    proc = subprocess.run([sys.executable, "-m", "loganalyzer", "trace", "nope", str(TRAILING)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.strip() == "Error: no request 'nope' in these logs"


def test_since_until_narrow_the_analysis():
    out = run("analyze", TRAILING, "--until", "2026-11-26T01:14:40Z").output
    assert "upstream_crash" not in out and "failed (0 requests)" in out


def test_logs_without_requests_say_so_and_still_export(tmp_path):
    out = tmp_path / "a.json"
    result = run("analyze", SAMPLES / "healthy" / "logs" / "error.log", "--json", out)
    assert result.exit_code == 4 and "No request attempts found" in result.output
    assert json.loads(out.read_text())["requests"] == []


def test_the_upstream_log_alone_tells_of_its_requests(tmp_path):
    out = tmp_path / "a.json"
    result = run("analyze", TRAILING / "crm.log", "--json", out)
    assert result.exit_code == 0
    assert len(json.loads(out.read_text())["requests"]) > 0
