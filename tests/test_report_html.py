"""The HTML incident report, opened in a real browser (Debian's Chromium driven by Playwright).

Reports are rendered from the bundled samples; a hostile log set (script in a user agent and a
path, a bearer token in the client's log) checks that log text stays text and secrets stay out.
Screenshots of each sample's report are kept under tests/output/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner

import loganalyzer
from loganalyzer import reports
from loganalyzer.cli import cli
from loganalyzer.ingest import LoadError

from .conftest import SAMPLES

CHROMIUM = os.environ.get("LOGANALYZER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-gpu", "--disable-sync", "--disable-quic"]
OUTPUT = Path(__file__).parent / "output"
SCENARIOS = ["trailing-comma", "mixed-faults", "healthy"]

UA_PAYLOAD = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2;alert(1)>"
PATH_PAYLOAD = "/api/customers/<script>window.__pwned=3</script>"
BEARER = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXZhYy11c2Vy.VACSECRETsig0123456789"
TOKEN = "VACSECRETtoken42"
QUERY_TOKEN = "PATHSECRET123"


# ---------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def browser():
    """Chromium through Playwright. Missing either is a failure, not a skip: these tests are the
    only check that the page works in a browser."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is not installed: pip install playwright "
                    "(the report tests drive a real browser)", pytrace=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium "
                    "(or point LOGANALYZER_CHROMIUM at a Chromium binary)", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def sample_reports(tmp_path_factory):
    """scenario -> (export dict, path of its HTML report)."""
    out = {}
    folder = tmp_path_factory.mktemp("reports")
    for scenario in SCENARIOS:
        data = reports.export(loganalyzer.analyze([str(SAMPLES / scenario / "logs")]))
        path = folder / f"report-{scenario}.html"
        reports.write_html(data, path)
        out[scenario] = (data, path)
    return out


def hostile_logs(folder: Path) -> Path:
    """The trailing-comma logs plus a failed access line whose user agent and path carry script, and
    client lines that carry a bearer token and a token."""
    logs = folder / "logs"
    shutil.copytree(SAMPLES / "trailing-comma" / "logs", logs)
    with open(logs / "access.log", "a", encoding="utf-8") as f:
        f.write(f'127.0.0.1 - - [26/Nov/2026:04:15:00 +0300] "GET {PATH_PAYLOAD}?token={QUERY_TOKEN} HTTP/1.1" '
                f'502 157 "-" "{UA_PAYLOAD}" rid=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa xrid="-" conn=99999 '
                'upstream="127.0.0.1:54931" us="502" rt=0.003 urt="0.003"\n')
    with open(logs / "vac.log", "a", encoding="utf-8") as f:
        f.write(f"2026-11-26 01:15:00,100 WARNING [vac.auth] retrying with Authorization: Bearer {BEARER}\n")
        f.write(f"2026-11-26 01:15:00,200 ERROR [vac.auth] refresh failed token={TOKEN} <img src=x onerror=alert(2)>\n")
    return logs


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    logs = hostile_logs(folder)
    data = reports.export(loganalyzer.analyze([str(logs)]))
    path = folder / "report.html"
    reports.write_html(data, path)
    return data, path, logs


def open_report(browser, path: Path, width: int = 1400):
    page = browser.new_page(viewport={"width": width, "height": 1000})
    log = {"console": [], "errors": [], "requests": [], "dialogs": []}
    page.on("console", lambda m: log["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("request", lambda r: log["requests"].append(r.url))

    def dialog(d):
        log["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page, log


def match_count(page) -> int:
    return int(page.inner_text("#match-count").replace(",", ""))


def shown_rows(page) -> list[dict]:
    return page.eval_on_selector_all("#requests-table tbody tr", "trs => trs.map(tr => ({aid: tr.dataset.aid, "
                                     "verdict: tr.dataset.verdict, t: Number(tr.dataset.t)}))")


# ---------------------------------------------------------------------------------------------- 1, 2

@pytest.mark.parametrize("scenario", SCENARIOS)
def test_loads_offline_draws_and_keeps_a_screenshot(browser, sample_reports, scenario):
    data, path = sample_reports[scenario]
    page, log = open_report(browser, path)
    try:
        assert log["errors"] == []
        assert [m for m in log["console"] if m[0] in ("error", "warning")] == []
        # Nothing but the document itself (and data:/blob: URLs) was requested.
        assert [u for u in log["requests"] if u != path.as_uri() and not u.startswith(("data:", "blob:"))] == []
        assert path.as_uri() in log["requests"]
        # The timeline: one lane per source with bars, on a drawn axis; the over-time chart has bars.
        box = page.locator("#timeline svg").bounding_box()
        assert box and box["width"] > 400 and box["height"] > 100
        lanes = page.eval_on_selector_all("#timeline g.lane", "gs => gs.map(g => g.dataset.source)")
        assert lanes == [k for k in ("vac", "nginx_access", "nginx_error", "crm") if k in data["timeline"]["lanes"]]
        assert page.locator("#timeline g.counts rect").count() > 0
        box = page.locator("#overtime svg").bounding_box()
        assert box and box["width"] > 400 and box["height"] > 100
        drawn = page.eval_on_selector_all("#overtime rect[data-verdict]", "rs => rs.map(r => r.dataset.verdict)")
        assert set(drawn) == set(data["summary"]["by_verdict"])
        if data["summary"]["failed_attempts"]:
            assert page.locator("#timeline line[data-mark=first]").count() == 1
            assert page.locator("#timeline g.events line").count() > 0
        # The table opens on the failures (all attempts when none failed); every attempt is embedded.
        assert match_count(page) == (data["summary"]["failed_attempts"] or data["summary"]["attempts"])
        page.click("#f-clear")
        assert match_count(page) == data["summary"]["attempts"]
        assert page.inner_text("#headline") == reports.model.build(data)["page"]["headline"]
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"report-{scenario}.png"), full_page=True)
    finally:
        page.close()


def test_page_fetches_nothing_by_construction(sample_reports):
    data, path = sample_reports["mixed-faults"]
    html = path.read_text(encoding="utf-8")
    head = html.split('<script type="application/json" id="data">')[0]
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', head)
    assert csp and unescape(csp.group(1)).startswith("default-src 'none'; script-src 'sha256-")
    assert not re.search(r"<(link|img|iframe|object|embed|audio|video|source)\b", head, re.I)
    assert not re.search(r"\b(src|href)\s*=\s*[\"']?(https?:)?//", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert "sans-serif" in html and "@font-face" not in html  # system fonts only
    # Log text cannot close the data block: the only '</script' are the page's own two.
    assert html.count("</script") == 2


def test_trigger_and_first_failure_are_annotated(browser, sample_reports):
    data, path = sample_reports["trailing-comma"]
    page, _ = open_report(browser, path)
    try:
        assert page.locator("#timeline line[data-mark=trigger]").count() == 1
        label = page.locator("#timeline text.label-trigger").text_content()
        assert "vac 2.5.0 started" in label
        assert "vac 2.5.0 started (was 2.4.1)" in page.inner_text("#trigger")
        assert "vac.log:431" in page.inner_text("#trigger")
        # the trigger is drawn left of the first failure, 30 ms earlier
        x_trigger = float(page.locator("#timeline line[data-mark=trigger]").get_attribute("x1"))
        x_first = float(page.locator("#timeline line[data-mark=first]").get_attribute("x1"))
        assert x_trigger < x_first
    finally:
        page.close()


def test_content_security_policy_blocks_injected_script(browser, sample_reports):
    """Defence in depth: even a script element that got into the page would not run."""
    _, path = sample_reports["healthy"]
    page, log = open_report(browser, path)
    try:
        page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__csp = 1';
            document.body.appendChild(s); }""")
        page.wait_for_timeout(100)
        assert page.evaluate("typeof window.__csp") == "undefined"
        assert any("Content Security Policy" in text for _, text in log["console"])
    finally:
        page.close()


# ---------------------------------------------------------------------------------------------- 3

def test_filter_by_verdict_matches_the_counts(browser, sample_reports):
    data, path = sample_reports["mixed-faults"]
    page, _ = open_report(browser, path)
    try:
        total = data["summary"]["attempts"]
        # the table opens on the failures
        assert match_count(page) == data["summary"]["failed_attempts"]
        assert page.input_value("#f-verdict") == "*failed"
        page.click("#f-clear")
        assert match_count(page) == total
        assert len(shown_rows(page)) == 100  # first page
        for verdict, n in data["summary"]["by_verdict"].items():
            page.select_option("#f-verdict", verdict)
            assert match_count(page) == n, verdict
            rows = shown_rows(page)
            assert len(rows) == min(n, 100)
            assert {r["verdict"] for r in rows} == {verdict}
        page.select_option("#f-verdict", "*failed")
        assert match_count(page) == data["summary"]["failed_attempts"]
        # verdict and cause together
        page.select_option("#f-cause", "upstream_down")
        assert match_count(page) == data["summary"]["by_cause"]["upstream_down"]
        page.select_option("#f-verdict", "client")
        assert match_count(page) == 0
        assert page.inner_text("#pg-info") == "no rows"
        page.click("#f-clear")
        assert match_count(page) == total
        # status and endpoint filters
        page.select_option("#f-status", "413")
        assert match_count(page) == sum(1 for r in data["requests"] if 413 in (r["status_client"], r["status_proxy"],
                                                                              r["status_upstream"]))
        page.click("#f-clear")
        page.select_option("#f-endpoint", "POST /api/tikets")
        assert match_count(page) == 7
    finally:
        page.close()


def test_sorting_and_paging(browser, sample_reports):
    data, path = sample_reports["mixed-faults"]
    page, _ = open_report(browser, path)
    try:
        page.click("#f-clear")
        times = [r["t"] for r in shown_rows(page)]
        assert times == sorted(times)
        page.click("#requests-table th[data-key=t]")
        times = [r["t"] for r in shown_rows(page)]
        assert times == sorted(times, reverse=True)
        page.click("#pg-next")
        assert page.inner_text("#pg-info").startswith("rows 101–200")
        page.click("#requests-table th[data-key=sp]")
        statuses = page.eval_on_selector_all("#requests-table tbody tr td:nth-child(6)", "tds => tds.map(t => t.textContent)")
        numbers = [int(s) for s in statuses if s != "–"]
        assert numbers == sorted(numbers)
    finally:
        page.close()


# ---------------------------------------------------------------------------------------------- 4

def test_clicking_a_request_shows_its_hop_chain(browser, sample_reports):
    data, path = sample_reports["trailing-comma"]
    page, _ = open_report(browser, path)
    try:
        assert page.locator("#detail").is_hidden()
        page.select_option("#f-verdict", "upstream_crash")
        page.click("#requests-table th[data-key=t]")  # from worst first to time order
        page.click("#requests-table tbody tr >> nth=0")
        detail = page.locator("#detail")
        assert detail.is_visible()
        # the first upstream_crash attempt is the one the trigger names
        assert detail.get_attribute("data-aid") == str(data["summary"]["suspected_trigger"]["attempt_id"])
        for hop in ("client", "proxy", "upstream"):
            box = page.locator(f"#waterfall rect.wf-{hop}").bounding_box()
            assert box and box["width"] >= 2 and box["height"] > 5, hop
        proxy = page.locator("#waterfall rect.wf-proxy").bounding_box()
        upstream = page.locator("#waterfall rect.wf-upstream").bounding_box()
        assert upstream["x"] >= proxy["x"] and upstream["x"] + upstream["width"] <= proxy["x"] + proxy["width"] + 1
        assert page.locator("#waterfall path.wf-marker.cause").count() >= 1
        text = page.inner_text("#detail")
        assert "samples/trailing-comma/logs/crm.log:231" in text
        assert "Unreadable JSON payload in POST /api/tickets" in text
        assert "access.log:228" in text and "error.log:234" in text and "vac.log:433" in text
        trigger_id = data["summary"]["suspected_trigger"]["attempt_id"]
        crm = next(e for r in data["requests"] if r["attempt_id"] == trigger_id
                   for e in r["evidence"] if e["source"] == "crm")
        assert f"{crm['link']} ({crm['confidence']:.2f})" in text and "request_id, confidence 1.00" in text
        assert "$request_time 12 ms" in text
        # its retries are one click away
        page.click("#detail-attempts button >> nth=0")
        assert detail.get_attribute("data-aid") != str(data["summary"]["suspected_trigger"]["attempt_id"])
        assert "attempt 2" in page.inner_text("#detail-summary")
        OUTPUT.mkdir(exist_ok=True)
        detail.screenshot(path=str(OUTPUT / "report-trailing-comma-waterfall.png"))
    finally:
        page.close()


# ---------------------------------------------------------------------------------------------- 5, 6

def test_hostile_log_text_renders_as_text_and_runs_nothing(browser, hostile):
    data, path, _ = hostile
    page, log = open_report(browser, path)
    try:
        page.fill("#f-q", "aaaaaaaaaaaa")
        assert match_count(page) == 1
        assert PATH_PAYLOAD in page.inner_text("#requests-table tbody")
        page.click("#requests-table tbody tr >> nth=0")
        detail = page.inner_text("#detail")
        assert UA_PAYLOAD in detail
        assert PATH_PAYLOAD in detail
        # the cause card quotes the access line (server-side rendering escapes it too)
        planted = next(r for r in data["requests"] if r.get("path") == PATH_PAYLOAD)
        card = page.locator(f".cause-card[data-cause='{planted['root_cause']}']")
        assert UA_PAYLOAD in card.inner_text()
        # hover texts of the timeline events carry the client's line, as text
        titles = page.eval_on_selector_all("#timeline title", "ts => ts.map(t => t.textContent).join('\\n')")
        assert "<img src=x onerror=alert(2)>" in titles
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert log["dialogs"] == []
        assert log["errors"] == []
        assert page.evaluate("document.scripts.length") == 2
        assert page.locator("img").count() == 0
        assert [u for u in log["requests"] if u != path.as_uri()] == []
    finally:
        page.close()


def test_secrets_never_reach_the_page(hostile):
    _, path, _ = hostile
    raw = path.read_bytes()
    for secret in (BEARER, "VACSECRET", TOKEN, QUERY_TOKEN):
        assert secret.encode() not in raw, secret
    assert b"Bearer ****" in raw


def test_no_redact_shows_them(hostile, tmp_path):
    _, _, logs = hostile
    out = tmp_path / "plain.html"
    result = CliRunner().invoke(cli, ["analyze", str(logs), "--no-redact", "-o", str(out)])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert BEARER.encode() in raw and QUERY_TOKEN.encode() in raw
    assert b"secrets NOT masked" in raw


def test_every_log_derived_field_is_masked(tmp_path, sample_reports):
    """Fields the analysis does not mask itself (paths, user agents, errors, reasons) are masked here."""
    data = json.loads(json.dumps(sample_reports["mixed-faults"][0]))
    r = next(r for r in data["requests"] if r["verdict"] != "ok")
    r["path"] = "/api/login?password=HUNTER2secret"
    r["user_agent"] = "curl/8 Authorization: Bearer UAsecretTOKEN123456"
    r["client_error"] = "HTTPError token=ERRsecret99"
    r["verdict_reason"] = "nginx: api_key=REASONsecret77"
    r["root_cause_detail"] = "secret=DETAILsecret55"
    data["notes"].append("password=NOTEsecret33")
    data["summary"]["by_endpoint"][0]["endpoint"] = "GET /x?token=ENDPOINTsecret11"
    data["summary"]["suspected_trigger"]["change"]["text"] = "Stopping service password=CHANGEsecret22"
    data["summary"]["changes"][0]["text"] = "reload api_key=MARKsecret44"
    data["timeline"]["events"][0]["text"] = "Authorization: Bearer EVENTsecret66"
    secrets = [b"HUNTER2secret", b"UAsecretTOKEN123456", b"ERRsecret99", b"REASONsecret77", b"DETAILsecret55",
               b"NOTEsecret33", b"ENDPOINTsecret11", b"CHANGEsecret22", b"MARKsecret44", b"EVENTsecret66"]
    reports.write_html(data, tmp_path / "masked.html")
    raw = (tmp_path / "masked.html").read_bytes()
    assert [s for s in secrets if s in raw] == []
    reports.write_markdown(data, tmp_path / "masked.md")
    raw = (tmp_path / "masked.md").read_bytes()
    assert [s for s in secrets if s in raw] == []
    data["redacted"] = False
    reports.write_html(data, tmp_path / "plain.html")
    raw = (tmp_path / "plain.html").read_bytes()
    assert [s for s in secrets if s not in raw] == []


# ---------------------------------------------------------------------------------------------- 7

def _window_ms(page) -> tuple[float, float]:
    """The zoom window, in ms since the epoch, read back from its inputs (HH:MM:SS.mmm UTC)."""
    base = page.evaluate("JSON.parse(document.getElementById('data').textContent).base")
    out = []
    for v in (page.input_value("#window-from"), page.input_value("#window-to")):
        h, m, s = v.split(":")
        out.append(base - base % 86_400_000 + round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000))
    return out[0], out[1]


def test_zoom_window_filters_the_table_and_the_cause_counts(browser, sample_reports):
    data, path = sample_reports["mixed-faults"]
    page, _ = open_report(browser, path)
    try:
        page.click("#f-clear")
        total = match_count(page)
        page.locator("#overtime svg").scroll_into_view_if_needed()
        box = page.locator("#overtime svg").bounding_box()
        plot_left = box["x"] + 170
        width = box["width"] - 170 - 16
        y = box["y"] + box["height"] / 2
        page.mouse.move(plot_left + width * 0.30, y)
        page.mouse.down()
        page.mouse.move(plot_left + width * 0.45, y, steps=5)
        page.mouse.up()
        assert page.inner_text("#window-label").startswith("window ")
        lo, hi = _window_ms(page)
        inside = [r for r in data["requests"] if lo <= round(reports.model.epoch_ms(r["ts"])) <= hi]
        n = match_count(page)
        assert 0 < n < total
        assert n == len(inside)
        base = page.evaluate("JSON.parse(document.getElementById('data').textContent).base")
        assert all(lo <= base + r["t"] <= hi for r in shown_rows(page))
        # cause cards and the verdict table count the failures in the window
        failed_inside = [r for r in inside if r["verdict"] != "ok"]
        counts = page.eval_on_selector_all(".cause-card", "cs => cs.map(c => [c.dataset.cause, "
                                           "Number(c.querySelector('.cause-window').dataset.count)])")
        assert dict(counts) == {c: sum(1 for r in failed_inside if r["root_cause"] == c) for c, _ in counts}
        verdicts = page.eval_on_selector_all("#verdict-counts tr[data-verdict]", "trs => trs.map(tr => "
                                             "[tr.dataset.verdict, tr.querySelector('.win-count').textContent])")
        assert {v: int(c.replace(",", "")) for v, c in verdicts} == {
            v: sum(1 for r in inside if r["verdict"] == v) for v, _ in verdicts}
        assert page.locator(".cause-card.dim").count() > 0  # some causes did not occur in this window
        # the charts zoomed in: the axis now shows the window
        assert page.locator("#overtime rect[data-verdict]").count() > 0
        # filters combine with the window
        page.select_option("#f-verdict", "*failed")
        assert match_count(page) == len(failed_inside)
        page.click("#window-reset")
        assert page.inner_text("#window-label") == "whole incident"
        assert match_count(page) == data["summary"]["failed_attempts"]
        # typed window
        page.fill("#window-from", "01:15:45.000")
        page.fill("#window-to", "01:15:50.000")
        page.click("#window-apply")
        expected = [r for r in data["requests"] if r["verdict"] != "ok"
                    and "2026-11-26T01:15:45" <= r["ts"] <= "2026-11-26T01:15:50"]
        assert match_count(page) == len(expected)
        card = page.locator(".cause-card[data-cause=upstream_down] .cause-window")
        assert int(card.get_attribute("data-count")) == sum(1 for r in expected if r["root_cause"] == "upstream_down")
    finally:
        page.close()


# ---------------------------------------------------------------------------------------------- 8

def test_report_from_saved_json_is_the_same_page(tmp_path):
    runner = CliRunner()
    logs = str(SAMPLES / "trailing-comma" / "logs")
    direct, saved, again = tmp_path / "direct.html", tmp_path / "analysis.json", tmp_path / "again.html"
    result = runner.invoke(cli, ["analyze", logs, "--json", str(saved), "-o", str(direct)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["report", str(saved), "-o", str(again)])
    assert result.exit_code == 0, result.output
    assert f"wrote {again}" in result.output
    assert direct.read_bytes() == again.read_bytes()
    # and the library call from the dict loaded back
    reports.write_html(reports.read_json(saved), tmp_path / "lib.html")
    assert (tmp_path / "lib.html").read_bytes() == direct.read_bytes()


def test_report_refuses_a_file_that_is_not_an_export(tmp_path):
    bad = tmp_path / "other.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(LoadError, match="not a loganalyzer JSON export"):
        reports.read_json(bad)
    (tmp_path / "broken.json").write_text("{oops")
    with pytest.raises(LoadError, match="invalid JSON at line 1"):
        reports.read_json(tmp_path / "broken.json")
    proc = subprocess.run([sys.executable, "-m", "loganalyzer", "report", str(bad), "-o", str(tmp_path / "x.html")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3  # unrecognised input
    assert proc.stderr.strip().count("\n") == 0 and "not a loganalyzer JSON export" in proc.stderr
    assert not (tmp_path / "x.html").exists()


# ---------------------------------------------------------------------------------------------- large

def test_a_100k_attempt_incident_stays_small_and_opens(browser, sample_reports, tmp_path):
    data = reports.synthetic.scale_export(sample_reports["mixed-faults"][0], 100_000)
    assert data["summary"]["attempts"] == 100_000
    path = tmp_path / "big.html"
    reports.write_html(data, path)
    size = path.stat().st_size
    assert size < 10_000_000, size
    t0 = time.perf_counter()
    page, log = open_report(browser, path)
    load = time.perf_counter() - t0
    try:
        assert load < 15, load  # generous: benchmarks/bench_report.py measures it
        assert log["errors"] == [] and [m for m in log["console"] if m[0] == "error"] == []
        note = page.inner_text("#sampling-note")
        assert "of 100,000 attempts" in note and "JSON export" in note and "even sample over time" in note
        embedded = reports.model.MAX_ROWS
        assert page.inner_text("#match-label").endswith(f"(of {embedded:,} in this page, 100,000 in all)")
        page.select_option("#f-verdict", "*failed")
        assert match_count(page) == reports.model.FAILED_ROWS
        # every cause keeps its first attempts
        for cause, n in data["summary"]["by_cause"].items():
            page.select_option("#f-cause", cause)
            assert match_count(page) >= min(n, reports.model.EDGE_FIRST + reports.model.EDGE_LAST), cause
        # the chart counts every attempt, not the sample
        drawn = page.evaluate("""(() => { const d = JSON.parse(document.getElementById('data').textContent);
            let n = 0; for (const v in d.agg.verdict) n += d.agg.verdict[v].reduce((a, b) => a + b, 0); return n; })()""")
        assert drawn == 100_000
        # a zoomed window counts from the buckets (approximately)
        page.fill("#window-from", "")
        page.fill("#window-to", "")
        page.click("#window-apply")
        assert page.inner_text("#window-label").startswith("window")
        assert page.locator("#verdict-counts .win-count >> nth=0").inner_text().startswith("≈")
    finally:
        page.close()


def test_print_hides_the_controls(browser, sample_reports):
    _, path = sample_reports["trailing-comma"]
    page, _ = open_report(browser, path)
    try:
        assert page.locator("#f-verdict").is_visible()
        page.emulate_media(media="print")
        assert page.locator("#f-verdict").is_hidden()
        assert page.locator("#window-reset").is_hidden()
        assert page.locator(".cause-card pre.logtext >> nth=0").is_visible()
        pdf = page.pdf()
        assert pdf[:4] == b"%PDF" and len(pdf) > 10_000
    finally:
        page.close()


# ---------------------------------------------------------------------------------------------- failures first

def test_opens_on_the_failures_worst_first(browser, sample_reports):
    data, path = sample_reports["mixed-faults"]
    page, _ = open_report(browser, path)
    try:
        rows = shown_rows(page)
        assert rows and all(r["verdict"] != "ok" for r in rows)
        # requests that failed for good (their last attempt) come before attempts that were retried
        by_aid = {str(r["attempt_id"]): r for r in data["requests"]}
        final = [by_aid[r["aid"]].get("last_attempt", True) for r in rows]
        assert final == sorted(final, reverse=True) and final[0]
        # what failed, where and why: one row per cause, largest first, each naming its hop
        causes = page.eval_on_selector_all("#failures tbody tr", "trs => trs.map(tr => tr.dataset.cause)")
        assert causes == list(data["summary"]["by_cause"])
        first = page.inner_text("#failures tbody tr >> nth=0")
        assert "upstream_down" in first and "at the proxy" in first and "26" in first
        assert page.locator("#failures").bounding_box()["y"] < page.locator("#verdict-counts").bounding_box()["y"]
    finally:
        page.close()


def test_cause_by_hop_cross_table_matches_the_attempts(browser, sample_reports):
    data, path = sample_reports["mixed-faults"]
    page, _ = open_report(browser, path)
    try:
        cells = page.eval_on_selector_all(
            "#cross-table tbody tr", "trs => trs.map(tr => [tr.dataset.cause, Array.from(tr.querySelectorAll("
            "'td.cell')).map(td => [td.dataset.verdict, td.textContent.trim()])])")
        expected: dict = {}
        for r in data["requests"]:
            if r["verdict"] != "ok":
                expected[(r["root_cause"], r["verdict"])] = expected.get((r["root_cause"], r["verdict"]), 0) + 1
        seen = {(c, v): int(n) for c, row in cells for v, n in row if n != "·"}
        assert seen == expected
        assert page.inner_text("#cross-table tfoot th:last-child") == f"{data['summary']['failed_attempts']:,}"
        places = page.eval_on_selector_all("#cross-table th.place", "ths => ths.map(t => t.textContent)")
        vocab = {v["name"]: v["place"] for v in data["vocabulary"]["verdicts"]}
        assert set(places) == {vocab[v] for _, v in expected}
    finally:
        page.close()


def test_upstream_column_says_closed_or_refused_not_502(browser, sample_reports):
    data, path = sample_reports["mixed-faults"]
    page, _ = open_report(browser, path)
    try:
        for cause, word in (("upstream_down", "refused"), ("json_malformed", "closed"),
                            ("upstream_timeout", "timed out")):
            page.select_option("#f-cause", cause)
            upstream = page.eval_on_selector_all("#requests-table tbody tr td:nth-child(7)",
                                                 "tds => tds.map(t => t.textContent)")
            assert upstream and set(upstream) == {word}, cause
        page.select_option("#f-cause", "unhandled_exception")  # the CRM's own 500 stays a status
        upstream = page.eval_on_selector_all("#requests-table tbody tr td:nth-child(7)",
                                             "tds => tds.map(t => t.textContent)")
        assert set(upstream) == {"500"}
    finally:
        page.close()


def test_evidence_shows_the_cited_lines_and_context_only_on_request(browser, sample_reports):
    data, path = sample_reports["mixed-faults"]
    page, _ = open_report(browser, path, width=420)
    try:
        rid = next(r for r in data["requests"] if r["root_cause"] == "wrong_path")
        crm = next(e for e in rid["evidence"] if e["source"] == "crm")
        lines = crm["text"].split("\n")
        page.goto(path.as_uri() + f"#attempt-{rid['attempt_id']}")
        page.wait_for_selector("body[data-ready='1']")
        detail = page.locator("#detail")
        assert detail.is_visible() and detail.get_attribute("data-aid") == str(rid["attempt_id"])
        cited = page.eval_on_selector_all("#detail-evidence pre.cited", "ps => ps.map(p => p.textContent)")
        assert lines[0] in cited and not any(lines[1] in c for c in cited)
        context = page.locator("#detail-evidence details.context").first
        assert "not evidence" in context.inner_text() and context.get_attribute("open") is None
        assert not context.locator("pre.ctx").is_visible()
        context.locator("summary").click()
        assert lines[1] in context.locator("pre.ctx").inner_text()
        # readable on a phone: nothing wider than the screen, with the attempt open; what failed fits unscrolled
        assert page.evaluate("document.documentElement.scrollWidth") <= 420
        assert page.evaluate("(() => { const t = document.getElementById('failures');"
                             " return t.scrollWidth <= t.parentElement.clientWidth; })()")
    finally:
        page.close()


def test_the_evidence_table_reads_at_420_px_without_sideways_scrolling(browser, sample_reports):
    data, path = sample_reports["trailing-comma"]
    page, _ = open_report(browser, path, width=420)
    try:
        rid = next(r for r in data["requests"] if r["verdict"] != "ok" and len(r["evidence"]) >= 2)
        page.goto(path.as_uri() + f"#attempt-{rid['attempt_id']}")
        page.wait_for_selector("body[data-ready='1']")
        assert page.evaluate("document.documentElement.scrollWidth") <= 420
        # neither the page nor the table's own box scrolls sideways: every cell is inside the screen
        box = page.evaluate("""(() => { const t = document.querySelector('#detail-evidence .ev-table');
            const w = t.parentElement; const right = Math.max(...[...t.querySelectorAll('td')]
              .map(td => td.getBoundingClientRect().right));
            return {scroll: w.scrollWidth, client: w.clientWidth, right: right}; })()""")
        assert box["scroll"] <= box["client"] and box["right"] <= 420
        cited = page.locator("#detail-evidence pre.cited")
        assert cited.count() == len(rid["evidence"]) and all(c.is_visible() for c in cited.all())
        texts = "\n".join(cited.all_inner_texts())
        assert all(e["text"].split("\n")[0][:40] in texts for e in rid["evidence"])
        # each line's facts stay named without the header row
        facts = page.locator("#detail-evidence .ev-table tbody tr:not(.ev-text)").all_inner_texts()
        assert len(facts) == len(rid["evidence"]) and all("linked by" in f for f in facts)
        assert any(f"crm.log:{e['line']}" in "".join(facts) for e in rid["evidence"] if e["source"] == "crm")
    finally:
        page.close()


def test_waterfall_marks_where_it_died_with_a_legend(browser, sample_reports):
    data, path = sample_reports["mixed-faults"]
    page, _ = open_report(browser, path)
    try:
        crash = next(r for r in data["requests"] if r["verdict"] == "upstream_crash")
        page.goto(path.as_uri() + f"#attempt-{crash['attempt_id']}")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#waterfall [data-died=upstream]").count() == 1
        bar = page.locator("#waterfall rect.wf-upstream")
        assert "wf-died" in bar.get_attribute("class")
        green = page.evaluate("getComputedStyle(document.querySelector('#waterfall rect.wf-upstream')).fill")
        assert green != "rgb(78, 159, 110)"  # not drawn as a hop that served the request
        legend = page.inner_text("#waterfall-legend")
        assert "the hop where it died" in legend and "a line that names the cause" in legend
        down = next(r for r in data["requests"] if r["root_cause"] == "upstream_down")
        page.goto(path.as_uri() + f"#attempt-{down['attempt_id']}")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#waterfall [data-died=proxy]").count() == 1
        ok = next(r for r in data["requests"] if r["verdict"] == "ok")
        page.goto(path.as_uri() + f"#attempt-{ok['attempt_id']}")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#waterfall [data-died]").count() == 0
        assert "wf-died" not in (page.locator("#waterfall rect.wf-upstream").get_attribute("class") or "")
    finally:
        page.close()


def test_deep_links_open_an_attempt_and_clicks_update_the_address(browser, sample_reports):
    data, path = sample_reports["trailing-comma"]
    rid = data["summary"]["suspected_trigger"]["request_id"]
    attempts = [r for r in data["requests"] if r["request_id"] == rid]
    page, _ = open_report(browser, path)
    try:
        page.goto(path.as_uri() + f"#request={rid}")
        page.wait_for_selector("body[data-ready='1']")
        last = max(attempts, key=lambda r: r["attempt"])
        assert page.locator("#detail").get_attribute("data-aid") == str(last["attempt_id"])
        page.click("#requests-table tbody tr >> nth=3")
        aid = page.locator("#detail").get_attribute("data-aid")
        assert page.evaluate("location.hash") == f"#attempt-{aid}"
        page.evaluate("location.hash = '#attempt-1'")
        page.wait_for_function("document.getElementById('detail').getAttribute('data-aid') === '1'")
    finally:
        page.close()


def test_dark_mode_follows_the_system(browser, sample_reports):
    _, path = sample_reports["mixed-faults"]
    lum = "(() => { const c = getComputedStyle(document.body)[%r].match(/\\d+/g).map(Number);" \
          " return (c[0] * 299 + c[1] * 587 + c[2] * 114) / 1000; })()"
    for scheme, dark in (("dark", True), ("light", False)):
        page = browser.new_page(viewport={"width": 1200, "height": 900}, color_scheme=scheme)
        try:
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-ready='1']")
            bg, fg = page.evaluate(lum % "backgroundColor"), page.evaluate(lum % "color")
            assert (bg < 60 and fg > 180) if dark else (bg > 200 and fg < 80), scheme
            card = page.evaluate("getComputedStyle(document.querySelector('.cause-card')).backgroundColor")
            assert (card != "rgb(255, 255, 255)") == dark
        finally:
            page.close()


def test_the_page_uses_the_exports_vocabulary(sample_reports):
    data, _ = sample_reports["trailing-comma"]
    data = json.loads(json.dumps(data))
    for v in data["vocabulary"]["verdicts"]:
        if v["name"] == "upstream_crash":
            v.update(gloss="GLOSS-FROM-THE-EXPORT", colour="#123456", place="in the far service")
        if v["name"] == "ok":
            v["colour"] = "red;}</style><script>alert(1)</script>"
    data["vocabulary"]["cause_phrases"]["json_malformed"] = "PHRASE-FROM-THE-EXPORT"
    html = reports.render_html(data)
    assert ".v-upstream_crash { background: #123456; }" in html and "--upstream_crash: #123456;" in html
    assert "GLOSS-FROM-THE-EXPORT" in html and "PHRASE-FROM-THE-EXPORT" in html and "in the far service" in html
    assert "<script>alert(1)" not in html and ".v-ok { background: #9aa3ad; }" in html
    assert "PHRASE-FROM-THE-EXPORT" in reports.model.build(data)["page"]["headline"]
    # an export without a vocabulary (format 1) gets the built-in rules' words
    del data["vocabulary"]
    assert "malformed JSON" in reports.model.build(data)["page"]["headline"]


def test_each_leading_cause_shows_its_own_trigger_and_scope(sample_reports):
    data, _ = sample_reports["mixed-faults"]
    html = unescape(reports.render_html(data))
    leading = {c["cause"]: c["trigger"] for c in data["summary"]["causes"] if c.get("trigger")}
    assert "Its scope: upstream_down explains 18 % of the failures (26 of 141 failed attempts)" in re.sub(
        r"<[^>]+>", "", html)
    cards = dict(re.findall(r'data-cause="(\w+)">(.*?)</article>', html, re.S))
    for cause, trigger in leading.items():
        card = re.sub(r"<[^>]+>", "", cards[cause])
        assert f"({trigger['explains']})" in card, cause
        if trigger.get("change"):
            assert f"{trigger['change']['file']}:{trigger['change']['line']}" in card
        else:
            assert "no release, restart or reload was logged" in card
