"""The request line split inside the extraction gives the entries the general path gives.

Access layouts extract the request's method, path, query and protocol as groups of their own
(``engine._presplit_regex``); lines the split regex does not match take the general path. Each
test parses the same lines both ways and compares every column.
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loganalyzer.parsers import engine, formats
from loganalyzer.parsers.formats import FormatDef, compile_definition

BUILTIN = {d.name: compile_definition(d) for d in formats.load_definitions()}


def both_ways(fmt: formats.Compiled, lines: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple:
    series = pl.Series(lines, dtype=pl.String)
    split = engine.parse(series, fmt, None)
    with monkeypatch.context() as m:
        m.setattr(engine, "_presplit_regex", lambda f: None)
        general = engine.parse(series, fmt, None)
    return split, general


def assert_same(split: engine.ParseResult, general: engine.ParseResult) -> None:
    assert split.entries.columns == general.entries.columns
    assert split.entries.equals(general.entries)
    assert split.rejects.equals(general.rejects)
    assert (split.lines, split.continuation) == (general.lines, general.continuation)


def combined(request: str, user: str = "-", agent: str = "curl/8.5") -> str:
    return f'10.0.0.{len(request) % 250} - {user} [02/Dec/2026:07:15:02 +0100] "{request}" 200 12 "-" "{agent}"'


ODD_REQUESTS = [
    "GET /a HTTP/1.1", "POST /api/tickets?x=1&y=2 HTTP/2.0", "GET /x? HTTP/1.1", "GET /x?a?b HTTP/1.1",
    "GET  HTTP/1.1", "GET /x", "GET /a b HTTP/1.1", "get /x HTTP/1.1", "GET /x HTTP/1.1 extra",
    "GET /x FOO", "-", "", "\\x16\\x03\\x01\\x02\\x00\\x01", "GET /\\x22q\\x22 HTTP/1.1", "GET /x?q=\\x5C HTTP/1.1",
    "M-SEARCH * HTTP/1.1", "PRI * HTTP/2.0", "GET /é?ü=1 HTTP/1.1", "GET /x HTTP/", "GET /x ?a HTTP/1.1",
]


def test_the_built_in_access_layouts_take_the_split_where_the_engine_resolves_it_fast():
    assert engine._presplit_regex(BUILTIN["combined"]) is not None
    assert engine._presplit_regex(BUILTIN["common"]) is not None
    # main has 15 fields: four more groups would take the engine past its fast capture limit.
    assert engine._presplit_regex(BUILTIN["main"]) is None
    assert engine._presplit_regex(BUILTIN["apache_vhost_duration"]) is None  # not an nginx layout


def test_a_wildcard_before_the_request_keeps_the_general_path():
    fmt = compile_definition(FormatDef(
        name="wild", kind="nginx_access", syntax="nginx",
        pattern='log_format wild \'$remote_addr $tag "$request" $status\';', vars={"tag": ".*"}))
    assert engine._presplit_regex(fmt) is None
    plain = compile_definition(FormatDef(
        name="plain", kind="nginx_access", syntax="nginx",
        pattern='log_format plain \'$remote_addr $tag "$request" $status\';'))
    assert engine._presplit_regex(plain) is not None


def test_odd_request_lines_give_the_same_entries_either_way(monkeypatch):
    lines = [combined(r) for r in ODD_REQUESTS] + ["not an access line", "", combined("GET /ok HTTP/1.1")]
    split, general = both_ways(BUILTIN["combined"], lines, monkeypatch)
    assert_same(split, general)
    assert split.entries.height == len(ODD_REQUESTS) + 1 and split.rejects.height == 2
    row = split.entries.filter(pl.col("message") == "GET /x?a?b HTTP/1.1").row(0, named=True)
    assert (row["method"], row["path"], row["query"], row["protocol"]) == ("GET", "/x", "a?b", "HTTP/1.1")
    escaped = split.entries.filter(pl.col("path").str.contains('"', literal=True))
    assert escaped["path"].to_list() == ['/"q"']


def test_lines_without_one_odd_request_take_the_split_alone(monkeypatch):
    lines = [combined(f"GET /api/{i}?page={i} HTTP/1.1") for i in range(50)]
    split, general = both_ways(BUILTIN["combined"], lines, monkeypatch)
    assert_same(split, general)
    assert split.entries["query"].to_list()[:2] == ["page=0", "page=1"]


REQUEST_TEXT = st.text(alphabet=st.sampled_from(list('GETPOSTgetH/1.? "\\x2A5Cé-_*')), max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    requests=st.lists(st.one_of(REQUEST_TEXT, st.builds(
        lambda m, p, q, v: f"{m} {p}{q} {v}",
        st.sampled_from(["GET", "POST", "M-SEARCH", "get", "G1"]), REQUEST_TEXT.filter(lambda t: " " not in t),
        st.sampled_from(["", "?", "?a=1", "?a?b", "? x"]), st.sampled_from(["HTTP/1.1", "HTTP/2", "H/", "-"]))),
        min_size=1, max_size=12),
    user=st.sampled_from(["-", "bob", '"x', "a\\x22b"]),
    layout=st.sampled_from(["combined", "common", "combined_xff", "vhost_combined"]),
)
def test_any_request_gives_the_same_entries_either_way(requests, user, layout):
    fmt = BUILTIN[layout]
    if layout == "vhost_combined":
        lines = ["example.org:443 " + combined(r, user) for r in requests]
    elif layout == "combined_xff":
        lines = [combined(r, user) + ' "10.1.1.1, 10.2.2.2"' for r in requests]
    elif layout == "common":
        lines = [combined(r, user).rsplit(' "-" ', 1)[0] for r in requests]
    else:
        lines = [combined(r, user) for r in requests]
    with pytest.MonkeyPatch.context() as mp:
        assert_same(*both_ways(fmt, lines, mp))
