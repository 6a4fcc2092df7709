"""Nginx access logs: any log_format pasted as written, the built-in formats, typing."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loganalyzer.parsers import engine, formats, nginx
from loganalyzer.parsers.formats import FormatDef, compile_definition

import loganalyzer

from .conftest import DATA, accounted


def user_format(pattern: str, name: str = "user") -> formats.Compiled:
    return compile_definition(FormatDef(name=name, kind="nginx_access", syntax="nginx", pattern=pattern))


def parse(fmt, lines):
    return engine.parse(pl.Series(lines, dtype=pl.String), fmt, None)


def test_directive_with_several_quoted_strings_and_braced_vars():
    fmt, escape = nginx.split_directive(
        """log_format  timed  '$remote_addr [${time_local}] '
                         "\\"$request\\" $status" ;"""
    )
    assert fmt == '$remote_addr [${time_local}] "$request" $status'
    assert escape == "default"
    compiled = user_format("log_format timed '$remote_addr [${time_local}] ' '\"$request\" $status';")
    r = parse(compiled, ['10.1.2.3 [24/Nov/2026:10:15:02 +0300] "GET /x?a=1 HTTP/1.1" 404'])
    row = r.entries.row(0, named=True)
    assert (row["method"], row["path"], row["query"], row["protocol"], row["status"]) == (
        "GET", "/x", "a=1", "HTTP/1.1", 404)
    assert row["ts"].isoformat() == "2026-11-24T07:15:02+00:00"


def test_unclosed_quote_is_a_clear_error():
    with pytest.raises(formats.DefinitionError, match="unclosed ' quote"):
        user_format("log_format x '$remote_addr")


def test_shop_log_with_forwarded_for_parses_every_line():
    logs = loganalyzer.load(DATA / "lnav" / "logfile_shop_access_log.0")
    stats = logs.stats.iloc[0]
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == ("combined_xff", 1000, 1000, 0)
    df = logs["nginx_access"]
    assert df["status"].value_counts().to_dict() == {200: 938, 404: 24, 302: 20, 301: 11, 304: 7}
    # +0330 (Tehran) is applied: 03:56:14 local is 00:26:14 UTC.
    assert df["ts"].min().isoformat() == "2019-01-22T00:26:14+00:00"
    assert list(df.columns[:7]) == ["ts", "source", "file", "line", "level", "request_id", "message"]
    accounted(logs)


def test_upstream_retry_lists_keep_last_value_typed_and_full_text():
    logs = loganalyzer.load(DATA / "elastic-beats-nginx" / "ingress_controller_test.log")
    df = logs["nginx_access"]
    assert logs.stats.iloc[0].format == "ingress_nginx" and logs.stats.iloc[0].rejected == 0
    multi = df[df["upstream_addr_all"].str.contains(",", na=False)].iloc[0]
    assert multi["upstream_addr_all"] == "172.17.0.6:8080, 172.17.0.7:8080"
    assert multi["upstream_addr"] == "172.17.0.7:8080"
    assert multi["upstream_status_all"] == "200, 203" and multi["upstream_status"] == 203
    assert df["request_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert str(df["upstream_response_time"].dtype) == "float64"


def test_dash_upstream_is_null_and_status_is_int():
    fmt = formats.compile_definition(next(d for d in formats.load_definitions() if d.name == "main"))
    line = ('127.0.0.1 - - [24/Nov/2026:10:15:02 +0300] "POST /api/tickets HTTP/1.1" 413 183 "-" "vac/2.4.1" '
            'rid=0f1e2d3c4b5a69788796a5b4c3d2e1f0 xrid="-" conn=7 upstream="-" us="-" rt=0.000 urt="-"')
    row = parse(fmt, [line]).entries.row(0, named=True)
    assert row["status"] == 413 and row["upstream_status"] is None and row["upstream_addr"] is None
    assert row["request_id"] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # nginx's own id when the client sent none
    assert row["connection"] == 7 and row["request_time"] == 0.0 and row["level"] == "WARN"


def test_client_request_id_wins_over_nginx_request_id():
    fmt = formats.compile_definition(next(d for d in formats.load_definitions() if d.name == "main"))
    line = ('127.0.0.1 - - [24/Nov/2026:10:15:02 +0300] "GET /api/customers/7 HTTP/1.1" 502 157 "-" "vac" '
            'rid=0f1e2d3c4b5a69788796a5b4c3d2e1f0 xrid="aa11bb22" conn=9 upstream="127.0.0.1:8081, 127.0.0.1:8082" '
            'us="502, 502" rt=0.004 urt="0.001, 0.002"')
    row = parse(fmt, [line]).entries.row(0, named=True)
    assert row["request_id"] == "aa11bb22"
    assert row["nginx_request_id"] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert row["upstream_response_time"] == 0.002 and row["upstream_response_time_all"] == "0.001, 0.002"


def test_escaped_quotes_in_user_agent_and_request_are_decoded():
    fmt = user_format('$remote_addr [$time_local] "$request" $status "$http_user_agent"')
    line = r'10.0.0.1 [24/Nov/2026:10:15:02 +0000] "GET /search?q=\x22x\x22 HTTP/1.1" 200 "Evil \x22<script>\x22 \x5Cbot"'
    row = parse(fmt, [line]).entries.row(0, named=True)
    assert row["http_user_agent"] == 'Evil "<script>" \\bot'
    assert row["query"] == 'q="x"'


def test_escape_json_format():
    fmt = user_format("""log_format j escape=json '{"t":"$time_iso8601","s":$status,"ua":"$http_user_agent"}';""")
    line = r'{"t":"2026-11-24T10:15:02+03:00","s":200,"ua":"say \"hi\""}'
    row = parse(fmt, [line]).entries.row(0, named=True)
    assert row["http_user_agent"] == 'say "hi"' and row["status"] == 200
    assert row["ts"].isoformat() == "2026-11-24T07:15:02+00:00"


def test_msec_gives_millisecond_precision():
    fmt = user_format('$msec $remote_addr "$request" $status')
    row = parse(fmt, ['1764000000.123 ::1 "GET / HTTP/1.1" 200']).entries.row(0, named=True)
    assert row["ts"].isoformat() == "2025-11-24T16:00:00.123000+00:00"


def test_key_value_pairs_after_combined_are_recognised_without_configuration(write):
    path = write("kv.log", "".join(
        f'10.0.0.{i} - - [24/Nov/2026:10:15:0{i} +0100] "GET /a/{i} HTTP/1.1" 200 5 "-" "curl/8" '
        f'request_id=r{i} upstream_status={"502, 200" if i == 2 else 200} rt=0.00{i} cache=HIT\n'
        for i in range(1, 5)
    ))
    logs = loganalyzer.load(path)
    assert logs.stats.iloc[0].format == "combined_kv"
    df = logs["nginx_access"]
    assert df["request_id"].tolist() == ["r1", "r2", "r3", "r4"]
    assert df["upstream_status"].tolist() == [200, 200, 200, 200]
    assert df.loc[df["request_id"] == "r2", "upstream_status_all"].item() == "502, 200"
    assert df["rt"].tolist() == [0.001, 0.002, 0.003, 0.004] and df["request_time"].tolist() == df["rt"].tolist()
    assert df["cache"].tolist() == ["HIT"] * 4


def test_malformed_request_lines_keep_the_entry():
    logs = loganalyzer.load(DATA / "elastic-beats-nginx" / "access_test.log")
    df = logs["nginx_access"]
    empty = df[df["status"] == 400].iloc[0]
    assert pd_isna(empty["method"]) and empty["status"] == 400
    accounted(logs)


def pd_isna(v) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


# ---------------------------------------------------------------------------------------------
# property: render a line through a log_format, parse it back to the same values

_token = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"\\'), min_size=1,
                 max_size=20)
_free_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\\"),
                     max_size=40)


def _nginx_escape(s: str) -> str:
    return s.replace("\\", "\\x5C").replace('"', "\\x22")


@settings(max_examples=150, deadline=None)
@given(
    addr=st.from_regex(r"\A(?:\d{1,3}\.){3}\d{1,3}\Z"),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.from_regex(r"\A/[A-Za-z0-9/._~-]{0,30}\Z"),
    status=st.integers(100, 599),
    size=st.integers(0, 10**9),
    ua=_free_text,
    rid=st.from_regex(r"\A[0-9a-f]{32}\Z"),
    rt=st.integers(0, 99999),
    upstreams=st.lists(st.tuples(st.from_regex(r"\A10\.0\.\d{1,3}\.\d{1,3}:\d{2,5}\Z"), st.integers(200, 599)),
                       min_size=1, max_size=3),
)
def test_log_format_roundtrip(addr, method, path, status, size, ua, rid, rt, upstreams):
    fmt = user_format(
        "log_format p '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent '"
        " '\"$http_user_agent\" $request_id $request_time [$upstream_addr] \"$upstream_status\"';"
    )
    up_addr = ", ".join(a for a, _ in upstreams)
    up_status = ", ".join(str(s) for _, s in upstreams)
    line = (f'{addr} - - [24/Nov/2026:10:15:02 +0300] "{method} {path} HTTP/1.1" {status} {size} '
            f'"{_nginx_escape(ua)}" {rid} {rt / 1000:.3f} [{up_addr}] "{up_status}"')
    r = parse(fmt, [line])
    assert r.rejected == 0, r.rejects
    row = r.entries.row(0, named=True)
    assert row["remote_addr"] == addr and row["method"] == method and row["path"] == path
    assert row["status"] == status and row["body_bytes_sent"] == size
    # nginx writes "-" for a value that is absent, so "-" (like "") reads back as null.
    assert row["http_user_agent"] == (ua if ua not in ("", "-") else None)
    assert row["request_id"] == rid and row["request_time"] == pytest.approx(rt / 1000)
    assert row["upstream_addr"] == upstreams[-1][0] and row["upstream_status"] == upstreams[-1][1]
    assert row["upstream_addr_all"] == up_addr
