"""The Markdown postmortem: its sections, action items from the causes' advice, evidence cited by
file:line, the suspected trigger, masked secrets, and log text that cannot format the page."""

from __future__ import annotations

import re
import shutil

import pytest

import loganalyzer
from loganalyzer import reports

from .conftest import SAMPLES

SECTIONS = ["## Summary", "## Impact", "## Timeline (UTC)", "## Root cause", "## Action items", "## Sources"]


@pytest.fixture(scope="module")
def exports():
    return {s: reports.export(loganalyzer.analyze([str(SAMPLES / s / "logs")]))
            for s in ("trailing-comma", "mixed-faults", "healthy")}


def prose(md: str) -> str:
    """The postmortem without its code blocks and code spans (where log text is quoted verbatim)."""
    md = re.sub(r"(?ms)^ *(`{3,})[^\n]*\n.*?^ *\1 *$", "", md)
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", md)


def test_trailing_comma_postmortem(exports, tmp_path):
    path = tmp_path / "pm.md"
    reports.write_markdown(exports["trailing-comma"], path)
    md = path.read_text(encoding="utf-8")
    assert md.startswith("# Postmortem: malformed JSON (trailing comma) (2026-11-26 01:14:19 UTC)\n\n")
    positions = [md.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    summary = md.split("## Summary")[1].split("##")[0]
    assert "144 of 444 request attempts (48 of 348 requests) failed between 01:14:46 and 01:15:12 UTC" in summary
    assert "first seen 0.03 s after vac 2.5.0 started" in summary
    # impact
    assert "**144 of 444 request attempts failed** (32.4%); 48 of 348 requests still failed" in md
    assert "| `upstream_crash` — the CRM dropped the connection | 144 | 32.4% |" in md
    # key moments, in time order
    timeline = md.split("## Timeline (UTC)")[1].split("## Root cause")[0]
    rows = [line for line in timeline.splitlines() if re.match(r"\| \d\d:", line)]
    assert [r.split(" | ")[0] for r in rows] == sorted(r.split(" | ")[0] for r in rows)
    assert any("Suspected trigger: vac 2.5.0 started (was 2.4.1)" in r and "vac.log:431" in r for r in rows)
    assert any(r.startswith("| 01:14:46.058 | First failure: POST /api/tickets") for r in rows)
    assert any("Longest run of failures begins: 12 attempts" in r for r in rows)
    assert any(r.startswith("| 01:15:12.089 | Last failure") for r in rows)
    # root cause with evidence quoted by file:line
    cause = md.split("## Root cause")[1].split("## Action items")[0]
    assert "### `json_malformed` (trailing\\_comma) — 144 attempts, 48 requests" in cause
    assert "a trailing comma) is not valid JSON" in cause
    assert re.search(r"^- `\S*samples/trailing-comma/logs/crm\.log:231` \(crm, 01:14:46\.070 UTC, linked by time\+path\)$",
                     cause, re.M)
    assert "  ```text\n  2026-11-26 09:14:46.070 ERROR [crm,]" in cause
    assert "JsonParseException: Unexpected character ('}' (code 125))" in cause
    assert cause.count("```text") == 3  # the first, a middle and the last attempt's line
    assert "\n  \n  com.fasterxml.jackson.core.JsonParseException" in cause  # the trace's blank line kept
    assert "crm.log:5438` (crm, 01:15:12.093 UTC" in cause
    # action items: the advice, clause by clause, the trigger named on the first
    items = [line for line in md.split("## Action items")[1].split("## Sources")[0].splitlines()
             if line.startswith("- [ ] ")]
    assert items[0].startswith("- [ ] Fix the client's JSON serialisation")
    assert "suspected trigger: vac 2.5.0 started (was 2.4.1), `" in items[0]
    assert items[0].endswith("samples/trailing-comma/logs/vac.log:431`)")
    assert items[1].startswith("- [ ] Make the upstream answer 400 to an unreadable body")
    # sources and the clock offset applied
    assert "samples/trailing-comma/logs/crm.log` | crm | spring\\_boot\\_2 |" in md
    assert "- crm is +8h00m00.000s from nginx\\_access" in md


def test_action_items_come_from_every_cause(exports):
    md = reports.markdown.render_markdown(exports["mixed-faults"])
    items = md.split("## Action items")[1].split("## Sources")[0]
    for cause in exports["mixed-faults"]["causes"]:
        first = re.split(r";\s+", cause["advice"])[0].rstrip(".")
        assert reports.markdown.escape(first[:1].upper() + first[1:]) in items, cause["root_cause"]
        assert f"(`{cause['root_cause']}`, {cause['attempts']} attempts" in items
    assert "Suspected trigger: upstream restart: Stopping service \\[Tomcat\\]" in md
    assert md.count("\n### `") == len(exports["mixed-faults"]["causes"])


def test_healthy_postmortem_says_nothing_failed(exports):
    md = reports.markdown.render_markdown(exports["healthy"])
    assert md.startswith("# Postmortem: no failures")
    assert "All 483 request attempts (483 requests) between 01:13:35 and 01:14:14 UTC succeeded" in md
    assert "No attempt failed: there is no root cause to report." in md
    assert "- [ ] None: nothing failed." in md
    assert all(s in md for s in SECTIONS)


def test_logs_without_attempts(exports, tmp_path):
    data = dict(exports["healthy"], requests=[], causes=[],
                summary={"attempts": 0, "requests": 0, "failed_attempts": 0, "by_verdict": {}, "by_cause": {}})
    md = reports.markdown.render_markdown(data)
    assert "No request attempts found in these logs" in md
    assert "| - | No request attempts in these logs |  |" in md
    assert "\n\n\n" not in md
    reports.write_html(data, tmp_path / "empty.html")
    assert "No request attempts found in these logs" in (tmp_path / "empty.html").read_text()


def test_same_postmortem_from_the_analysis_and_its_saved_json(tmp_path):
    analysis = loganalyzer.analyze([str(SAMPLES / "trailing-comma" / "logs")])
    analysis.write_json(tmp_path / "a.json")
    reports.write_markdown(analysis, tmp_path / "direct.md")
    reports.write_markdown(reports.read_json(tmp_path / "a.json"), tmp_path / "saved.md")
    assert (tmp_path / "direct.md").read_text() == (tmp_path / "saved.md").read_text()


def test_secrets_masked_and_log_text_kept_inert(tmp_path):
    logs = tmp_path / "logs"
    shutil.copytree(SAMPLES / "trailing-comma" / "logs", logs)
    with open(logs / "access.log", "a", encoding="utf-8") as f:
        f.write('127.0.0.1 - - [26/Nov/2026:04:15:00 +0300] "GET /api/x/<script>alert(1)</script>?token=MDSECRET1 '
                'HTTP/1.1" 502 157 "-" "<img src=x onerror=alert(1)> ```` | # *" rid=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb '
                'xrid="-" conn=99998 upstream="127.0.0.1:54931" us="502" rt=0.003 urt="0.003"\n')
    with open(logs / "vac.log", "a", encoding="utf-8") as f:
        f.write("2026-11-26 01:15:00,100 WARNING [vac.auth] retrying with Authorization: Bearer MDSECRETbearer99\n")
    md = reports.markdown.render_markdown(reports.export(loganalyzer.analyze([str(logs)])))
    assert "MDSECRET" not in md
    # the hostile access line is quoted inside a fence longer than the backticks it holds
    assert "`````text" in md and "<img src=x onerror=alert(1)> ````" in md
    assert "<" not in prose(md) and ">" not in prose(md)
    plain = reports.markdown.render_markdown(reports.export(loganalyzer.analyze([str(logs)], redact_secrets=False)))
    assert "MDSECRET1" in plain and "**secrets are NOT masked**" in plain


def test_escaping_helpers():
    assert reports.markdown.escape("*a* _b_ [c](javascript:x) <img> & | `d`") == \
        "\\*a\\* \\_b\\_ \\[c\\](javascript:x) &lt;img&gt; &amp; \\| \\`d\\`"
    assert reports.markdown.escape("line\nbreak") == "line break"
    assert reports.markdown.para("# not a heading") == "\\# not a heading"
    assert reports.markdown.para("1. not a list") == "1\\. not a list"
    assert reports.markdown.escape("0.03 s") == "0.03 s"
    assert reports.markdown.code("a|b") == "`a\\|b`"
    assert reports.markdown.code("x ``y`` z") == "``` x ``y`` z ```"
    assert reports.markdown.block("a\n```\nb", indent=2) == "  ````text\n  a\n  ```\n  b\n  ````"
