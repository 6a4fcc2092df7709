"""Client calls and attempts from what real HTTP client libraries log.

The first tests run the real libraries (requests + urllib3 Retry, httpx, urllib.request) against a
tiny HTTP server on an ephemeral loopback port and against a closed port, with logging at DEBUG
written to a file in several layouts, and check what ``client_calls``/``client_attempts`` make of
that file against what the server saw and what the script did. The last tests take single lines
in the wording of libraries that cannot run here (Java, Node, Go), each cited from its source.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import polars as pl
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from loganalyzer.calls import ATTEMPT_COLUMNS, client_attempts, client_calls, load_rules
from loganalyzer.correlate import vac_table
from loganalyzer.ingest import load

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


# --------------------------------------------------------------------------------------------
# a server and a script


class _Handler(BaseHTTPRequestHandler):
    """/ok* answers 200, /fail* 500, /close* closes the connection without an answer, /slow*
    answers 200 after 0.3 s."""

    seen: list[tuple[str, str]] = []

    def log_message(self, *args) -> None:  # the server's own access lines are not under test
        pass

    def _answer(self) -> None:
        self.seen.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/close"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path.startswith("/slow"):
            time.sleep(0.3)
        code = 500 if self.path.startswith("/fail") else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a client that gave up on /slow
        pass


@pytest.fixture(scope="module")
def server():
    _Handler.seen = []
    srv = _Server(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connecting is refused
    return port


class _JsonFormatter(logging.Formatter):
    """The shape of python-json-logger's output: message and the trace in ``exc_info``."""

    def format(self, record: logging.LogRecord) -> str:
        event = {"timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            event["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(event)


LAYOUTS = {
    "bracket": "%(asctime)s %(levelname)s [%(name)s] %(message)s",
    "dashes": "%(asctime)s - %(name)s - %(levelname)s - %(message)s",
    "plain": "%(asctime)s %(levelname)s %(message)s",
    "json": None,
}


def _run_clients(log_file: Path, layout: str, base: str, closed: str, level: int = logging.DEBUG) -> dict:
    """Make real calls with logging at ``level`` into ``log_file``; return what the script did."""
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(_JsonFormatter() if LAYOUTS[layout] is None else logging.Formatter(LAYOUTS[layout]))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    app = logging.getLogger("app")
    calls = []  # (client, method, path, attempts expected when refused)
    try:
        session = requests.Session()
        retry = Retry(total=2, backoff_factor=0.01, status_forcelist=[500, 502, 503])
        session.mount("http://", HTTPAdapter(max_retries=retry))
        for method, url in [("GET", base + "/ok/1"), ("GET", base + "/fail/1"), ("POST", base + "/fail/2"),
                            ("GET", base + "/close/1"), ("GET", closed + "/api/tickets"), ("GET", base + "/slow/1")]:
            calls.append(("requests", method, url))
            try:
                session.request(method, url, data=b"{}" if method == "POST" else None,
                                timeout=0.1 if "/slow" in url else 5)
            except requests.RequestException:
                app.exception("call failed")
        # requests' own default: no retries.
        calls.append(("requests", "GET", closed + "/plain"))
        try:
            requests.get(closed + "/plain", timeout=5)
        except requests.RequestException:
            app.exception("call failed")
        with httpx.Client(timeout=5) as client:
            for method, url in [("POST", base + "/ok/2"), ("GET", base + "/fail/3"), ("GET", closed + "/x")]:
                calls.append(("httpx", method, url))
                try:
                    client.request(method, url)
                except httpx.HTTPError:
                    app.exception("call failed")
        # urllib.request logs nothing of its own: the application says what it sends and gets.
        for url in [base + "/ok/3", base + "/fail/4", base + "/close/2", closed + "/y"]:
            calls.append(("urllib", "GET", url))
            app.info("GET %s", url)
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    app.info("GET %s %s", url, resp.status)
            except (urllib.error.URLError, ConnectionError):
                app.exception("GET %s failed", url)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    return {"calls": calls}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def real_log(request, server, tmp_path_factory):
    base = f"http://127.0.0.1:{server.server_address[1]}"
    closed = f"http://127.0.0.1:{_closed_port()}"
    path = tmp_path_factory.mktemp("client") / f"client-{request.param}.log"
    before = len(_Handler.seen)
    did = _run_clients(path, request.param, base, closed)
    seen = _Handler.seen[before:]
    logs = load(str(path), as_={str(path): "vac"})
    entries = logs.polars["vac"]
    return {"entries": entries, "seen": seen, "did": did, "port": server.server_address[1],
            "closed": int(closed.rsplit(":", 1)[1]), "layout": request.param}


def _counts(frame: pl.DataFrame, *cols: str) -> Counter:
    return Counter(frame.select(cols).iter_rows())


# --------------------------------------------------------------------------------------------
# real logs


def test_every_attempt_that_reached_the_server_is_found(real_log):
    attempts = client_attempts(client_calls(real_log["entries"]))
    reached = attempts.filter(pl.col("reached").fill_null(True))
    # The server's own record of requests is the truth for every attempt that got a connection.
    assert _counts(reached, "path") == Counter((p,) for _, p in real_log["seen"])
    assert reached.height == len(real_log["seen"])
    assert set(reached["port"].drop_nulls()) <= {real_log["port"]}


def test_statuses_are_what_the_server_answered(real_log):
    attempts = client_attempts(client_calls(real_log["entries"]))
    answered = attempts.filter(pl.col("status_client").is_not_null())
    # (The server answered /slow too, after the client had stopped waiting.)
    expected = Counter((p, 500 if p.startswith("/fail") else 200) for _, p in real_log["seen"]
                       if not p.startswith(("/close", "/slow")))
    assert _counts(answered, "path", "status_client") == expected
    # Where the server closed the connection, no status, and the error says so.
    closed = attempts.filter(pl.col("path").str.starts_with("/close"))
    assert closed.height == sum(1 for _, p in real_log["seen"] if p.startswith("/close"))
    assert closed["status_client"].is_null().all()
    assert set(closed["error_class"]) == {"remote_disconnected"}


def test_connection_refused_attempts_exist_and_never_reached(real_log):
    attempts = client_attempts(client_calls(real_log["entries"]))
    refused = attempts.filter(pl.col("error_class") == "connection_refused")
    # urllib3 Retry(total=2): three connection attempts; requests without Retry, httpx and
    # urllib.request: one each.
    assert refused.height == 3 + 1 + 1 + 1
    assert refused["status_client"].is_null().all()
    assert (~refused["reached"]).all()
    # The port the call went to is in the libraries' lines (urllib.request's exception does not name it).
    assert set(refused["port"].drop_nulls()) == {real_log["closed"]}
    assert refused["port"].is_not_null().sum() >= 5
    assert refused.filter(pl.col("path") == "/plain")["attempts"].to_list() == [1]
    by_requests = refused.filter(pl.col("path") == "/api/tickets")
    assert by_requests.height == 3
    assert by_requests["logical"].n_unique() == 1
    assert sorted(by_requests["attempt"]) == [1, 2, 3]


def test_logical_requests_group_the_retries(real_log):
    attempts = client_attempts(client_calls(real_log["entries"]))
    # One logical request per call the script made.
    assert attempts["logical"].n_unique() == len(real_log["did"]["calls"])
    sizes = attempts.group_by("logical").agg(pl.col("path").drop_nulls().first(), pl.len().alias("n"),
                                             pl.col("attempt").sort().alias("numbers"))
    by_path = {p: n for p, n in sizes.select("path", "n").iter_rows() if p}
    assert by_path["/fail/1"] == 3  # GET is retried on 500: total=2 gives three attempts
    assert by_path["/fail/2"] == 1  # POST is not in urllib3's default allowed_methods
    assert by_path["/close/1"] == 3  # a read error on GET is retried too
    assert by_path["/slow/1"] == 3  # and so is a read timeout
    assert by_path["/ok/1"] == by_path["/ok/2"] == by_path["/fail/3"] == 1  # httpx does not retry
    assert all(nums.to_list() == list(range(1, len(nums) + 1)) for nums in sizes["numbers"])
    # The last attempt of a retried logical request is the one that did not announce a retry.
    retried = attempts.filter(pl.col("attempts") > 1).sort("send")
    last = retried.filter(pl.col("attempt") == pl.col("attempts"))
    assert not last["retried"].any()
    assert retried.filter(pl.col("attempt") < pl.col("attempts"))["retried"].all()


def test_read_timeouts(real_log):
    attempts = client_attempts(client_calls(real_log["entries"]))
    slow = attempts.filter(pl.col("path") == "/slow/1")
    assert slow.height == sum(1 for _, p in real_log["seen"] if p == "/slow/1") == 3
    assert set(slow["error_class"]) == {"read_timeout"}
    assert slow["status_client"].is_null().all() and slow["reached"].is_null().all()


def test_calls_carry_the_libraries_words(real_log):
    calls = client_calls(real_log["entries"])
    assert set(calls["phase"]) <= {"send", "response", "error", "retry", "give_up"}
    retry_lines = calls.filter(pl.col("rule") == "urllib3_incremented_retry")
    assert sorted(retry_lines["retry_left"].to_list()) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert retry_lines["retry"].all()
    httpx_lines = calls.filter(pl.col("rule") == "httpx_request")
    assert _counts(httpx_lines, "method", "path", "status") == Counter(
        {("POST", "/ok/2", 200): 1, ("GET", "/fail/3", 500): 1})
    assert (httpx_lines["scheme"] == "http").all() and (httpx_lines["host"] == "127.0.0.1").all()
    gave_up = calls.filter(pl.col("phase") == "give_up")
    assert "connection_refused" in set(gave_up["error_class"])
    assert calls.filter(pl.col("rule") == "urllib3_gave_up_on_status")["status"].to_list() == [500]


def test_at_info_level_what_is_logged_still_counts(server, tmp_path):
    # Without DEBUG urllib3 writes only its "Retrying ... after connection broken" warnings, httpx
    # its INFO line per request; the application logs the exceptions.
    base = f"http://127.0.0.1:{server.server_address[1]}"
    closed_port = _closed_port()
    path = tmp_path / "client-info.log"
    did = _run_clients(path, "bracket", base, f"http://127.0.0.1:{closed_port}", level=logging.INFO)
    attempts = client_attempts(client_calls(load(str(path), as_={str(path): "vac"}).polars["vac"]))
    # requests' GET /ok/1 and POST /fail/2 (a 500 returned, not raised) write nothing at INFO.
    assert attempts["logical"].n_unique() == len(did["calls"]) - 2
    assert attempts.filter(pl.col("path").is_in(["/ok/1", "/fail/2"])).height == 0
    refused = attempts.filter(pl.col("error_class") == "connection_refused")
    assert refused.height == 3 + 1 + 1 + 1  # each announced retry and the final failure are attempts
    assert refused.filter(pl.col("path") == "/api/tickets")["attempt"].sort().to_list() == [1, 2, 3]
    assert attempts.filter(pl.col("path") == "/close/1").height == 3
    # Retries on status are DEBUG only: the give-up says the status and that there were retries.
    fail = attempts.filter(pl.col("path") == "/fail/1")
    assert fail.select("status_client", "attempts").rows() == [(500, 1)]
    assert "too many 500 error responses" in fail["client_error"][0]
    httpx_seen = attempts.filter(pl.col("path").is_in(["/ok/2", "/fail/3"]))
    assert sorted(httpx_seen["status_client"]) == [200, 500]


def test_attempt_columns_fit_correlate(real_log):
    attempts = client_attempts(client_calls(real_log["entries"]))
    assert attempts.columns == ATTEMPT_COLUMNS
    assert attempts.schema["send"] == pl.Datetime("ns", "UTC")
    assert attempts.schema["row"] == pl.List(pl.UInt32)
    assert attempts.schema["status_client"] == pl.Int64
    # Each entry row belongs to one attempt at most, and the rows point at call lines.
    rows = attempts["row"].explode()
    assert rows.n_unique() == rows.len()
    assert (attempts["done"] >= attempts["send"]).all()


# --------------------------------------------------------------------------------------------
# logs with request ids: the same attempts as correlate.vac_table


@pytest.mark.parametrize("sample", ["mixed-faults/logs/vac.log", "healthy/variants/vac.jsonl"])
def test_request_ids_give_vac_table_attempts(sample):
    path = str(SAMPLES / sample)
    entries = load(path, as_={path: "vac"}).polars["vac"].with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))
    old = vac_table(entries).select("request_id", "attempt", "status_client", "client_error", "send", "done")
    new = client_attempts(client_calls(entries))
    assert new.height == old.height
    joined = old.join(new, on=["request_id", "attempt"], how="inner", suffix="_new")
    assert joined.height == old.height
    assert (joined["status_client"].eq_missing(joined["status_client_new"])).all()
    assert (joined["client_error"].eq_missing(joined["client_error_new"])).all()
    assert (new["logical"] == new["request_id"]).all()


# --------------------------------------------------------------------------------------------
# single lines in other languages' wording


def _entries(messages: list[str], start: datetime | None = None, step_ms: int = 10) -> pl.DataFrame:
    t0 = start or datetime(2026, 1, 1, tzinfo=UTC)
    return pl.DataFrame({
        "ts": [t0 + timedelta(milliseconds=step_ms * i) for i in range(len(messages))],
        "line": list(range(1, len(messages) + 1)),
        "level": ["INFO"] * len(messages),
        "logger": [None] * len(messages),
        "message": messages,
        "file": ["app.log"] * len(messages),
    }, schema_overrides={"ts": pl.Datetime("ns", "UTC"), "logger": pl.String})


SINGLE_LINES = [
    # OkHttp HttpLoggingInterceptor.intercept (okhttp-logging-interceptor, HttpLoggingInterceptor.kt):
    # "--> ${request.method} ${request.url}${protocol}", "<-- ${code} ${message} ${url} (${tookMs}ms...)",
    # "<-- HTTP FAILED: $e".
    ("--> POST http://127.0.0.1:8080/api/tickets http/1.1", "send", "POST", "127.0.0.1", 8080, "/api/tickets",
     None, None),
    ("<-- 500 Internal Server Error http://127.0.0.1:8080/api/tickets (12ms)", "response", None, "127.0.0.1", 8080,
     "/api/tickets", 500, None),
    ("<-- HTTP FAILED: java.net.ConnectException: Failed to connect to /127.0.0.1:8081", "error", None, None, None,
     None, None, "connect_error"),
    # Spring RestTemplate.doExecute: "I/O error on " + method.name() + " request for \"" + url + "\": " + msg.
    ('I/O error on POST request for "http://127.0.0.1:8081/api/tickets": Connection refused', "give_up", "POST",
     "127.0.0.1", 8081, "/api/tickets", None, "connection_refused"),
    # Spring HttpAccessor.createRequest: "HTTP " + method.name() + " " + url.
    ("HTTP GET http://crm.internal/api/customers/7", "send", "GET", "crm.internal", 80, "/api/customers/7", None,
     None),
    # Spring WebClientResponseException: status + " " + reason + " from " + method + " " + uri.
    ("org.springframework.web.reactive.function.client.WebClientResponseException$BadGateway: 502 Bad Gateway "
     "from POST https://gw.example.com/api/tickets", "give_up", "POST", "gw.example.com", 443, "/api/tickets", 502,
     None),
    # Spring RestTemplate.handleResponse: logger.debug("Response " + statusCode) (HttpStatusCode: "500 INTERNAL_SERVER_ERROR").
    ("Response 500 INTERNAL_SERVER_ERROR", "response", None, None, None, None, 500, None),
    # Spring HttpServerErrorException (6.x message: status + " " + reason + ": " + body).
    ('org.springframework.web.client.HttpServerErrorException$InternalServerError: 500 Internal Server Error: '
     '"{}"', "give_up", None, None, None, None, 500, None),
    # Node lib/internal/errors.js exceptionWithHostPort: `${syscall} ${code} ${address}:${port}` (axios and
    # undici's "fetch failed" cause pass it on).
    ("AxiosError: connect ECONNREFUSED 127.0.0.1:8080", "give_up", None, "127.0.0.1", 8080, None, None,
     "connection_refused"),
    ("TypeError: fetch failed [cause]: Error: read ECONNRESET 10.0.0.5:443", "give_up", None, "10.0.0.5", 443,
     None, None, "connection_reset"),
    # Node DNSException: `${syscall} ${code} ${hostname}`.
    ("Error: getaddrinfo ENOTFOUND crm.internal", "give_up", None, "crm.internal", None, None, None, "dns_failure"),
    # axios lib/core/settle.js: "Request failed with status code " + status.
    ("AxiosError: Request failed with status code 503", "give_up", None, None, None, None, 503, None),
    # Go net/url Error.Error: fmt.Sprintf("%s %q: %s", op, url, err), op from net/http urlErrorOp ("Post").
    ('Post "http://127.0.0.1:8081/api/tickets": dial tcp 127.0.0.1:8081: connect: connection refused', "give_up",
     "POST", "127.0.0.1", 8081, "/api/tickets", None, "connection_refused"),
    ('Get "http://crm:8080/api/customers/1": context deadline exceeded (Client.Timeout exceeded while awaiting '
     'headers)', "give_up", "GET", "crm", 8080, "/api/customers/1", None, "read_timeout"),
    ('Get "http://crm:8080/api/customers/1": EOF', "give_up", "GET", "crm", 8080, "/api/customers/1", None,
     "remote_disconnected"),
    # aiohttp client_exceptions.py ClientConnectorError.__str__:
    # "Cannot connect to host {0.host}:{0.port} ssl:{1} [{2}]".
    ("aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host 127.0.0.1:8081 ssl:default "
     "[Connection refused]", "give_up", None, "127.0.0.1", 8081, None, None, "connection_refused"),
    # aiohttp ClientResponseError.__str__: "{status}, message={message!r}, url={real_url!r}".
    ("aiohttp.client_exceptions.ClientResponseError: 500, message='Internal Server Error', "
     "url='http://127.0.0.1:8080/api/tickets'", "give_up", None, "127.0.0.1", 8080, "/api/tickets", 500, None),
    # urllib3 ConnectTimeoutError in MaxRetryError (urllib3 connection.py, exceptions.py).
    ("requests.exceptions.ConnectTimeout: HTTPConnectionPool(host='10.255.255.1', port=80): Max retries exceeded "
     "with url: /api (Caused by ConnectTimeoutError(<urllib3.connection.HTTPConnection object at 0x7f>, "
     "'Connection to 10.255.255.1 timed out. (connect timeout=1)'))", "give_up", None, "10.255.255.1", 80, "/api",
     None, "connect_timeout"),
    # urllib3 connectionpool.py _raise_timeout: "Read timed out. (read timeout=...)", raised as requests.ReadTimeout.
    ("requests.exceptions.ReadTimeout: HTTPConnectionPool(host='127.0.0.1', port=8080): Read timed out. "
     "(read timeout=1)", "give_up", None, "127.0.0.1", 8080, None, None, "read_timeout"),
    # urllib3 NameResolutionError: "Failed to resolve '{host}' ({reason})".
    ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='nohost.invalid', port=443): Max retries "
     "exceeded with url: /x (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f>: "
     "Failed to resolve 'nohost.invalid' ([Errno -2] Name or service not known)\"))", "give_up", None,
     "nohost.invalid", 443, "/x", None, "dns_failure"),
    # CPython ssl: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed" (in urllib3's SSLError).
    ("requests.exceptions.SSLError: HTTPSConnectionPool(host='crm', port=443): Max retries exceeded with url: / "
     "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
     "self-signed certificate (_ssl.c:1006)')))", "give_up", None, "crm", 443, "/", None, "tls_error"),
    # Generic prose a log may carry: CPython OSError.__str__ and http.client.RemoteDisconnected.
    ("ConnectionResetError: [Errno 104] Connection reset by peer", "give_up", None, None, None, None, None,
     "connection_reset"),
    ("http.client.RemoteDisconnected: Remote end closed connection without response", "give_up", None, None, None,
     None, None, "remote_disconnected"),
]


@pytest.mark.parametrize("line,phase,method,host,port,path,status,error_class", SINGLE_LINES)
def test_single_lines(line, phase, method, host, port, path, status, error_class):
    calls = client_calls(_entries([line]))
    assert calls.height == 1
    row = calls.row(0, named=True)
    assert (row["phase"], row["method"], row["host"], row["port"], row["path"], row["status"],
            row["error_class"]) == (phase, method, host, port, path, status, error_class)


def test_lines_about_nothing_are_not_calls():
    calls = client_calls(_entries(["vac 2.4.1 starting (crm_base=http://127.0.0.1:44345)",
                                   "--> END POST", "<-- END HTTP", "customer 17 loaded"]))
    assert calls.height == 0


def test_okhttp_pairs_and_go_retries_by_time():
    # OkHttp: a request line and its response line make one attempt.
    ok = client_attempts(client_calls(_entries([
        "--> GET http://127.0.0.1:8080/api/customers/1 http/1.1",
        "<-- 200 OK http://127.0.0.1:8080/api/customers/1 (7ms, 2-byte body)",
        "--> POST http://127.0.0.1:8080/api/tickets http/1.1",
        "<-- HTTP FAILED: java.net.SocketTimeoutException: timeout",
    ])))
    assert ok.select("method", "path", "status_client", "error_class").rows() == [
        ("GET", "/api/customers/1", 200, None), ("POST", "/api/tickets", None, "read_timeout")]
    assert ok["elapsed_ms"].to_list() == [7.0, None]
    # Go writes one line per failed call and no retry lines: the same call again soon after a
    # failure is a retry; much later it is a new logical request.
    go = 'Post "http://127.0.0.1:8081/api/tickets": dial tcp 127.0.0.1:8081: connect: connection refused'
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    entries = pl.concat([_entries([go, go, go], t0, step_ms=200),
                         _entries([go], t0 + timedelta(minutes=5)).with_columns(pl.lit(4, pl.Int64).alias("line"))])
    a = client_attempts(client_calls(entries))
    assert a.height == 4
    assert a["logical"].n_unique() == 2
    assert a["attempt"].to_list() == [1, 2, 3, 1]
    assert (~a["reached"]).all()


def test_rules_file_is_well_formed():
    rules = load_rules()
    names = [r.name for r in rules.rules]
    assert len(names) == len(set(names))
    assert all(r.source for r in rules.rules)
    # Every rule that names an error class names one that exists.
    classes = {c.name for c in rules.classes}
    assert all(r.error_class in classes or r.error_class in ("", None) for r in rules.rules)


def test_real_node_and_java_connection_errors():
    # Captured from Node.js 20 and OpenJDK 17 calling a closed port (see tests/data/client_calls/PROVENANCE.md).
    lines = (Path(__file__).parent / "data" / "client_calls" / "real_errors.txt").read_text().splitlines()
    calls = client_calls(_entries(lines))
    # "fetch failed" alone says nothing about the call; its cause does.
    assert calls["line"].to_list() == [2, 3, 4, 5]
    assert calls["error_class"].to_list() == ["connection_refused", "connection_refused", "connect_error",
                                              "connection_refused"]
    assert calls["port"].to_list() == [38255, 38255, None, None]
    attempts = client_attempts(calls)
    assert (~attempts["reached"]).all()


def test_library_lines_inside_an_id_attempt_join_it(server, tmp_path):
    # An application that logs request ids (key=value) and lets urllib3 log at DEBUG underneath.
    base = f"http://127.0.0.1:{server.server_address[1]}"
    path = tmp_path / "ids.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LAYOUTS["bracket"]))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    app = logging.getLogger("app.http")
    before = len(_Handler.seen)
    try:
        with requests.Session() as session:
            for i, p in enumerate(["/ok/ids", "/fail/ids", "/ok/ids"]):
                rid = f"r{i}"
                app.info("send req=%s attempt=1 method=GET path=%s", rid, p)
                r = session.get(base + p, headers={"X-Request-ID": rid}, timeout=5)
                app.info("recv req=%s attempt=1 status=%d", rid, r.status_code)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    seen = _Handler.seen[before:]
    entries = load(str(path), as_={str(path): "vac"}).polars["vac"]
    calls = client_calls(entries)
    assert (calls["rule"] == "urllib3_response").sum() == len(seen) == 3
    attempts = client_attempts(calls)
    assert attempts.height == 3
    assert attempts.select("request_id", "path", "status_client").rows() == [
        ("r0", "/ok/ids", 200), ("r1", "/fail/ids", 500), ("r2", "/ok/ids", 200)]
    # The library's lines are in the attempt's rows: its own id-less line was not counted again.
    assert attempts["row"].list.len().to_list() == [4, 3, 3]
    assert attempts["port"].to_list() == [server.server_address[1]] * 3


def test_without_ids_line_order_gives_the_attempts_ids_give(tmp_path):
    # The lab client's log with its request ids removed: the same attempts, statuses, errors and
    # logical requests must come out of the order of the lines alone.
    original = SAMPLES / "mixed-faults" / "logs" / "vac.log"
    stripped = tmp_path / "vac-no-ids.log"
    stripped.write_text(re.sub(r" req=[0-9a-f]+", "", original.read_text(encoding="utf-8")), encoding="utf-8")
    with_ids = load(str(original), as_={str(original): "vac"}).polars["vac"]
    without = load(str(stripped), as_={str(stripped): "vac"}).polars["vac"]
    assert without["request_id"].is_null().all()
    by_id = client_attempts(client_calls(with_ids)).sort("send", "line")
    by_order = client_attempts(client_calls(without)).sort("send", "line")
    assert by_order.height == by_id.height
    for col in ("attempt", "method", "path", "status_client", "client_error", "error_class", "send", "done"):
        assert by_order[col].eq_missing(by_id[col]).all(), col
    assert by_order["logical"].n_unique() == by_id["request_id"].n_unique()
    # Same grouping: the logical request of each attempt maps one to one onto its request id.
    pairs = pl.DataFrame({"id": by_id["request_id"], "logical": by_order["logical"]}).unique()
    assert pairs.height == by_id["request_id"].n_unique()


def test_resttemplate_request_and_response_make_one_attempt():
    a = client_attempts(client_calls(_entries([
        "HTTP POST http://127.0.0.1:8080/api/tickets",
        "Response 503 SERVICE_UNAVAILABLE",
        'org.springframework.web.client.HttpServerErrorException$ServiceUnavailable: 503 Service Unavailable: "{}"',
    ])))
    assert a.select("method", "host", "port", "path", "status_client", "attempts").rows() == [
        ("POST", "127.0.0.1", 8080, "/api/tickets", 503, 1)]
    assert a["row"].to_list() == [[0, 1, 2]]


def test_threads_are_lanes():
    # Two calls in flight on two threads (OkHttp's dispatcher names a thread per call): each
    # response closes the request of its own thread, not the last one logged.
    entries = _entries([
        "--> GET http://127.0.0.1:8080/api/customers/1 http/1.1",
        "--> GET http://127.0.0.1:8080/api/customers/2 http/1.1",
        "<-- 503 Service Unavailable http://127.0.0.1:8080/api/customers/2 (4ms)",
        "<-- 200 OK http://127.0.0.1:8080/api/customers/1 (9ms)",
    ]).with_columns(pl.Series("thread", ["OkHttp 1", "OkHttp 2", "OkHttp 2", "OkHttp 1"]))
    a = client_attempts(client_calls(entries)).sort("line")
    assert a.select("thread", "path", "status_client", "elapsed_ms").rows() == [
        ("OkHttp 1", "/api/customers/1", 200, 9.0), ("OkHttp 2", "/api/customers/2", 503, 4.0)]
    assert a["row"].to_list() == [[0, 3], [1, 2]]


def test_interleaved_calls_in_one_lane_pair_by_path():
    # No thread names, two requests in flight (an asynchronous client): answers go to the request
    # for their own path.
    entries = _entries([
        "--> GET http://127.0.0.1:8080/api/customers/1 http/1.1",
        "--> POST http://127.0.0.1:8080/api/tickets http/1.1",
        "<-- 201 Created http://127.0.0.1:8080/api/tickets (4ms)",
        "<-- 200 OK http://127.0.0.1:8080/api/customers/1 (9ms)",
    ])
    a = client_attempts(client_calls(entries)).sort("line")
    assert a.select("method", "path", "status_client").rows() == [
        ("GET", "/api/customers/1", 200), ("POST", "/api/tickets", 201)]
    assert a["row"].to_list() == [[0, 3], [1, 2]]


def test_text_and_json_logs_of_the_same_events_give_one_set_of_attempts():
    text = str(SAMPLES / "healthy" / "logs" / "vac.log")
    jsonl = str(SAMPLES / "healthy" / "variants" / "vac.jsonl")
    both = load([text, jsonl], as_={text: "vac", jsonl: "vac"}).polars["vac"]
    one = load(text, as_={text: "vac"}).polars["vac"]
    a_both = client_attempts(client_calls(both))
    a_one = client_attempts(client_calls(one))
    assert a_both.height == a_one.height
    assert (a_both["row"].list.len().sum()) == 2 * a_one["row"].list.len().sum()


def test_an_exception_that_is_not_about_a_call_is_no_call():
    entries = _entries(["order 17 failed", "GET http://127.0.0.1:8080/x failed"]).with_columns(
        pl.Series("error", ["Traceback (most recent call last):\nZeroDivisionError: division by zero",
                            "Traceback (most recent call last):\nConnectionRefusedError: [Errno 111] Connection refused"]))
    calls = client_calls(entries)
    assert calls["line"].to_list() == [2]
    assert calls["error_class"].to_list() == ["connection_refused"]
