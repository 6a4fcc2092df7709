"""Nginx error logs: layout, connection numbers, trailing keys, start-up lines, multi-line events."""

from __future__ import annotations

import pandas as pd

import loganalyzer

from .conftest import DATA, accounted

# Lines as nginx 1.22 writes them (ngx_log_error_core + ngx_http_log_error_handler); messages from
# the catalog of upstream errors in tests/data/catalog/nginx_error_messages.txt.
ERROR_LOG = """\
2026/11/24 10:15:01 [notice] 4711#4711: using the "epoll" event method
2026/11/24 10:15:01 [notice] 4711#4711: nginx/1.22.1
2026/11/24 10:15:01 [notice] 4711#4711: start worker processes
2026/11/24 10:15:01 [notice] 4711#4711: start worker process 4712
2026/11/24 10:15:02 [error] 4712#4712: *17 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: crm.local, request: "POST /api/tickets HTTP/1.1", upstream: "http://127.0.0.1:8081/api/tickets", host: "127.0.0.1:8080"
2026/11/24 10:15:03 [error] 4712#4712: *18 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /api/customers/42?full=1 HTTP/1.1", upstream: "http://127.0.0.1:8081/api/customers/42?full=1", host: "127.0.0.1:8080", referrer: "http://portal.local/"
2026/11/24 10:15:04 [info] 4712#4712: *19 epoll_wait() reported that client prematurely closed connection, so upstream connection is closed too while sending request to upstream, client: 127.0.0.1, server: crm.local, request: "GET /api/customers/7 HTTP/1.1", upstream: "http://127.0.0.1:8081/api/customers/7", host: "127.0.0.1:8080"
2026/11/24 10:15:05 [error] 4712#4712: *20 client intended to send too large body: 20480 bytes, client: 127.0.0.1, server: crm.local, request: "POST /api/tickets HTTP/1.1", host: "127.0.0.1:8080"
2026/11/24 10:15:06 [error] 4712#4712: *21 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: crm.local, request: "GET /api/customers/9 HTTP/1.1", upstream: "http://127.0.0.1:8081/api/customers/9", host: "127.0.0.1:8080"
2026/11/24 10:20:00 [notice] 4799#4799: signal process started
"""


def load(write, text=ERROR_LOG, **kw):
    return loganalyzer.load(write("error.log", text), **kw)


def test_every_line_parses_including_start_up_lines(write):
    logs = load(write)
    stats = logs.stats.iloc[0]
    assert (stats.kind, stats.format, stats.lines, stats.parsed, stats.rejected) == (
        "nginx_error", "nginx_error", 10, 10, 0)
    df = logs["nginx_error"]
    startup = df[df["connection"].isna()]
    assert startup["message"].tolist()[:2] == ['using the "epoll" event method', "nginx/1.22.1"]
    assert startup["level"].unique().tolist() == ["NOTICE"]
    assert (startup["pid"] == 4711).sum() == 4 and startup["tid"].iloc[0] == 4711


def test_connection_message_and_trailing_keys(write):
    df = load(write)["nginx_error"].set_index("connection")
    crash = df.loc[17]
    assert crash["message"] == ("upstream prematurely closed connection while reading response header "
                                "from upstream")
    assert crash["level"] == "ERROR" and crash["client"] == "127.0.0.1" and crash["server"] == "crm.local"
    assert (crash["method"], crash["path"]) == ("POST", "/api/tickets")
    assert crash["upstream"] == "http://127.0.0.1:8081/api/tickets" and crash["host"] == "127.0.0.1:8080"
    assert crash["action"] == "reading response header from upstream"
    refused = df.loc[18]
    assert refused["errno"] == 111 and refused["strerror"] == "Connection refused"
    assert refused["referrer"] == "http://portal.local/" and refused["query"] == "full=1"
    assert pd.isna(refused["server"]) or refused["server"] == ""
    too_large = df.loc[20]
    assert too_large["message"] == "client intended to send too large body: 20480 bytes"
    assert pd.isna(too_large["upstream"])
    assert df.loc[19]["level"] == "INFO"


def test_no_offset_is_said_and_a_given_zone_is_applied(write):
    logs = load(write)
    assert logs.stats.iloc[0].zone_source.startswith("assumed")
    assert any("no UTC offset" in n for n in logs.notes)
    berlin = load(write, tz={"nginx_error": "Europe/Berlin"})
    first = berlin["nginx_error"]["ts"].iloc[0]
    assert first.isoformat() == "2026-11-24T09:15:01+00:00"  # CET is UTC+1 in November
    assert berlin.stats.iloc[0].zone == "Europe/Berlin"


def test_zone_inferred_from_the_access_log_beside_it(write):
    write("access.log", '127.0.0.1 - - [24/Nov/2026:10:15:02 +0300] "POST /api/tickets HTTP/1.1" 502 157 "-" "vac"\n')
    err = write("error.log", ERROR_LOG)
    logs = loganalyzer.load(err.parent)
    stats = logs.stats.set_index("kind").loc["nginx_error"]
    assert stats.zone == "+0300" and "inferred" in stats.zone_source
    crash = logs["nginx_error"].set_index("connection").loc[17]
    assert crash["ts"].isoformat() == "2026-11-24T07:15:02+00:00"
    assert crash["ts"] == logs["nginx_access"]["ts"].iloc[0]


def test_filebeat_fixture_with_multi_line_fastcgi_event():
    logs = loganalyzer.load(DATA / "elastic-beats-nginx" / "error.log")
    accounted(logs)
    stats = logs.stats.iloc[0]
    assert (stats.parsed, stats.continuation, stats.rejected) == (4, 2, 0)
    df = logs["nginx_error"]
    fastcgi = df[df["connection"] == 180289].iloc[0]
    assert fastcgi["message"].count("PHP message:") == 3 and fastcgi["line_count"] == 3
    assert df[df["connection"] == 1].iloc[0]["path"] == "/favicon.ico"


def test_apache_error_lines_are_not_taken_for_nginx(write):
    # Apache's error log has a format of its own; it is another server's log, never nginx's.
    logs = loganalyzer.load(DATA / "lnav" / "format_samples_error_log.txt")
    assert "nginx_error" not in logs.polars
    assert (logs.stats.iloc[0].kind, logs.stats.iloc[0].format) == ("other", "apache_error")
