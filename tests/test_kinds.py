"""A file's kind comes from what its lines are about: outbound calls (client) or inbound handling (upstream)."""

from __future__ import annotations

import http.server
import logging
import threading

import polars as pl
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import loganalyzer
from loganalyzer import kinds
from tests.conftest import DATA, SAMPLES


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        code = 500 if self.path.startswith("/fail") else 201
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # the server's own stderr lines are not under test
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _client_log(path, base: str, layout: str) -> None:
    """What a real requests + urllib3 client writes at DEBUG, in the given logging layout."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(layout))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        s = requests.Session()
        s.mount("http://", HTTPAdapter(max_retries=Retry(total=2, backoff_factor=0.01, status_forcelist=[500],
                                                         allowed_methods=None, raise_on_status=False)))
        app = logging.getLogger("ticketsync")
        for i in range(5):
            r = s.post(f"{base}/{'fail' if i % 2 else 'ok'}/tickets", json={"n": i})
            app.info("ticket %d sent, got %d", i, r.status_code)
        try:
            requests.post("http://127.0.0.1:9/tickets", timeout=0.5)
        except requests.ConnectionError as exc:
            app.error("could not send: %s", exc)
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        handler.close()


@pytest.mark.parametrize("layout", [
    "%(asctime)s [%(levelname)s] %(name)s: %(message)s",
    "%(asctime)s %(levelname)s %(name)s %(message)s",
])
def test_a_real_http_client_log_is_the_client_side(server, tmp_path, layout):
    path = tmp_path / "sync.log"
    _client_log(path, server, layout)
    logs = loganalyzer.load(path)
    row = logs.stats.iloc[0]
    assert row["kind"] == "vac", row["kind_evidence"]
    assert row["kind_confidence"] == 1.0
    assert "retries a call" in row["kind_evidence"] or "connects to" in row["kind_evidence"]


def test_spring_boot_server_log_is_the_upstream_side():
    logs = loganalyzer.load(SAMPLES / "trailing-comma" / "logs" / "crm.log")
    row = logs.stats.iloc[0]
    assert row["kind"] == "crm" and "worker threads" in row["kind_evidence"]


def test_json_client_log_with_absolute_urls_is_the_client_side():
    logs = loganalyzer.load(SAMPLES / "trailing-comma" / "variants" / "vac.jsonl")
    assert logs.stats.iloc[0]["kind"] == "vac"
    assert "absolute URL" in logs.stats.iloc[0]["kind_evidence"]


def test_server_evidence_wins_over_a_format_that_says_client():
    # The same Spring Boot-like lines, as a JSON log (the json_lines format says "vac" by default).
    entries = pl.DataFrame({
        "message": ["Tomcat started on port(s): 8080 (http) with context path ''",
                    "Completed initialization in 1 ms", "Resolved [org.springframework.web.HttpMediaTypeNotSupportedException: x]"],
        "logger": ["o.s.b.w.embedded.tomcat.TomcatWebServer", "o.s.web.servlet.DispatcherServlet",
                   "o.s.w.s.m.s.DefaultHandlerExceptionResolver"],
        "thread": ["main", "http-nio-8080-exec-1", "http-nio-8080-exec-2"],
    })
    d = kinds.classify(entries, "vac")
    assert d.kind == "crm" and d.by_content and d.confidence == 1.0


def test_urllib3_status_lines_are_outbound_not_inbound():
    # urllib3 quotes the request line it sent; a server's access line quotes the one it got.
    out = pl.DataFrame({"message": ['http://127.0.0.1:8080 "POST /api/tickets HTTP/1.1" 500 None'],
                        "logger": ["app"]})
    inbound = pl.DataFrame({"message": ['127.0.0.1 - - [26/Nov/2026 09:14:46] "POST /api/tickets HTTP/1.1" 500 -'],
                            "logger": ["app"]})
    assert kinds.classify(out, "app").kind == "vac"
    assert kinds.classify(inbound, "app").kind == "crm"


def test_no_evidence_keeps_the_format_kind_or_says_it_guessed():
    entries = pl.DataFrame({"message": ["cache warmed", "job 12 done"], "logger": ["app", "app"]})
    kept = kinds.classify(entries, "vac")
    assert kept.kind == "vac" and not kept.by_content
    other = kinds.classify(entries, "app")
    assert other.kind == "other" and other.confidence == 0.0 and "not a hop" in other.evidence


def test_proxy_formats_are_not_scored():
    assert kinds.classify(pl.DataFrame(), "nginx_access").kind == "nginx_access"


def test_lnav_spring_boot_corpus_lines_are_upstream():
    logs = loganalyzer.load(DATA / "spring-boot" / "actuator-docs-sample.log")
    assert logs.stats.iloc[0]["kind"] == "crm"


def test_a_go_service_that_calls_its_upstream_is_the_server_side():
    # Go's log, slog and logrus lines of a service handling POST /api/tickets whose own upstream
    # refuses the connection: the dial errors are its dependency's, not a client's calls.
    logs = loganalyzer.load(DATA / "text_layouts" / "go_layouts.log")
    by_format = logs.stats.set_index("format")
    assert set(by_format.index) == {"go_log", "go_slog_text", "logrus_text"}
    assert set(by_format["kind"]) == {"crm"}, by_format["kind_evidence"].to_dict()
    assert "upstream" in by_format.loc["go_log", "kind_evidence"]
    assert "request it received" in by_format.loc["go_slog_text", "kind_evidence"]


def test_the_heaviest_evidence_decides_between_sides_shown_by_the_same_lines():
    # The same line shows a refused connection (any caller's) and names the upstream (a server's word).
    line = "upstream call failed: dial tcp 10.0.0.7:8080: connect: connection refused"
    d = kinds.classify(pl.DataFrame({"message": [line, "POST /api/tickets rid=1"]}), "app")
    assert d.kind == "crm" and d.scores["vac"] > 0, d
    # Without that word the same failure is the caller's.
    plain = line.replace("upstream call", "call")
    assert kinds.classify(pl.DataFrame({"message": [plain, "POST /api/tickets rid=1"]}), "app").kind == "vac"
