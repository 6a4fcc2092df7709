"""vac logs: Python logging format strings, JSON lines with a key mapping, key=value columns."""

from __future__ import annotations

import json
import logging

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loganalyzer.parsers import engine, pylogging
from loganalyzer.parsers.formats import DefinitionError, FormatDef, compile_definition

import loganalyzer

from .conftest import DATA, accounted

VAC_TEXT = """\
2026-11-24 10:15:00,001 INFO [vac] vac 2.4.1 starting (crm_base=http://127.0.0.1:8080)
2026-11-24 10:15:02,120 INFO [vac.client] send req=4bf92f3577b34da6a3ce929d0e0e4736 attempt=1 method=POST path=/api/tickets
2026-11-24 10:15:02,180 WARNING [vac.client] fail req=4bf92f3577b34da6a3ce929d0e0e4736 attempt=1 method=POST path=/api/tickets status=502 error=HTTPError elapsed_ms=60.5
2026-11-24 10:15:02,300 ERROR [vac.client] giving up req=4bf92f3577b34da6a3ce929d0e0e4736 attempts=3 last_status=502
Traceback (most recent call last):
  File "/opt/vac/client.py", line 88, in send
    raise CrmUnavailable(status)
vac.errors.CrmUnavailable: CRM answered 502
"""


def test_default_layout_is_recognised_and_key_values_become_columns(write):
    logs = loganalyzer.load(write("vac.log", VAC_TEXT), tz={"vac": "UTC"})
    accounted(logs)
    stats = logs.stats.iloc[0]
    assert (stats.kind, stats.format, stats.parsed, stats.continuation) == ("vac", "python_bracket_logger", 4, 4)
    df = logs["vac"]
    assert df["logger"].tolist() == ["vac", "vac.client", "vac.client", "vac.client"]
    assert df["level"].tolist() == ["INFO", "INFO", "WARN", "ERROR"]
    assert df["request_id"].tolist()[1:] == ["4bf92f3577b34da6a3ce929d0e0e4736"] * 3
    fail = df.iloc[2]
    assert (fail["status"], fail["attempt"], fail["error"], fail["elapsed_ms"]) == (502, 1, "HTTPError", 60.5)
    assert fail["method"] == "POST" and fail["path"] == "/api/tickets"
    assert str(df["status"].dtype) == "Int64"
    assert df["ts"].iloc[1].isoformat() == "2026-11-24T10:15:02.120000+00:00"
    give_up = df.iloc[3]
    assert give_up["exception"] == "vac.errors.CrmUnavailable"
    assert give_up["exception_message"] == "CRM answered 502"
    assert give_up["stack_trace"].startswith("Traceback (most recent call last):")


def test_python_logging_example_with_messages_over_several_lines():
    # lnav's demo program calls nothing and serves nothing: read, but not a hop (kind "other").
    logs = loganalyzer.load(DATA / "lnav" / "python-example.0", tz={"other": "UTC"})
    accounted(logs)
    df = logs["other"]
    assert df["message"].iloc[1] == "info message:\nprocessing started -- log_example.py"
    assert df["level"].tolist() == ["DEBUG", "INFO", "WARN", "ERROR", "ERROR"]
    assert df["exception"].iloc[4] == "ZeroDivisionError"


@pytest.mark.parametrize(
    "fmt, datefmt, line, expected",
    [
        ("%(asctime)s - %(name)s - %(levelname)s - %(message)s", None,
         "2026-11-24 10:15:02,120 - vac.http - WARNING - slow answer", ("vac.http", "WARN", "slow answer")),
        ("%(asctime)s.%(msecs)03d %(levelname)-8s %(process)d %(threadName)s %(message)s", "%Y-%m-%dT%H:%M:%S",
         "2026-11-24T10:15:02.120 INFO     4242 MainThread started", (None, "INFO", "started")),
        ("{asctime} [{levelname:<8}] {name}: {message}", None,
         "2026-11-24 10:15:02,120 [ERROR   ] vac: crashed", ("vac", "ERROR", "crashed")),
    ],
)
def test_format_strings_compile(fmt, datefmt, line, expected):
    compiled = compile_definition(FormatDef(name="p", kind="vac", syntax="python", pattern=fmt, datefmt=datefmt))
    r = engine.parse(pl.Series([line]), compiled, "UTC")
    assert r.rejected == 0
    row = r.entries.row(0, named=True)
    assert (row.get("logger"), row["level"], row["message"]) == expected
    assert row["ts"].isoformat() == "2026-11-24T10:15:02.120000+00:00"


def test_unknown_attribute_is_a_clear_error():
    with pytest.raises(DefinitionError, match="unknown LogRecord attribute 'levelnam'"):
        compile_definition(FormatDef(name="p", kind="vac", syntax="python", pattern="%(asctime)s %(levelnam)s"))


@settings(max_examples=100, deadline=None)
@given(
    level=st.sampled_from(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
    name=st.from_regex(r"\A[a-z]{1,10}(\.[a-z]{1,10}){0,3}\Z"),
    msg=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=60),
    created=st.floats(min_value=1.6e9, max_value=1.9e9),
)
def test_python_logging_roundtrip(level, name, msg, created):
    """Format a real LogRecord with logging.Formatter, parse it back."""
    fmt = "%(asctime)s %(levelname)-8s [%(name)s] %(message)s"
    formatter = logging.Formatter(fmt)
    formatter.converter = __import__("time").gmtime
    record = logging.LogRecord(name, getattr(logging, level), __file__, 1, msg, None, None)
    record.created, record.msecs = created, int((created % 1) * 1000)
    line = formatter.format(record)
    compiled = compile_definition(FormatDef(name="p", kind="vac", syntax="python", pattern=fmt))
    r = engine.parse(pl.Series([line]), compiled, "UTC")
    assert r.rejected == 0, line
    row = r.entries.row(0, named=True)
    assert row["logger"] == name and row["message"] == msg
    assert row["level"] == {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(level, level)
    assert abs(row["ts"].timestamp() - created) < 0.001


def test_json_lines_with_usual_keys(write):
    events = [
        {"@timestamp": "2026-11-24T13:15:02.120+03:00", "level": "info", "logger": "vac.client",
         "message": "send req=aa attempt=1", "request_id": "aa", "method": "POST",
         "url": "http://127.0.0.1:8080/api/tickets?x=1", "status": None, "attempt": 1, "error": None},
        {"@timestamp": "2026-11-24T13:15:02.180+03:00", "level": "warning", "logger": "vac.client",
         "message": "fail req=aa attempt=1", "request_id": "aa", "method": "POST",
         "url": "http://127.0.0.1:8080/api/tickets?x=1", "status": 502, "attempt": 1, "error": "HTTPError"},
    ]
    text = "".join(json.dumps(e) + "\n" for e in events) + "Traceback (most recent call last):\n"
    logs = loganalyzer.load(write("vac.jsonl", text))
    accounted(logs)
    stats = logs.stats.iloc[0]
    assert (stats.format, stats.parsed, stats.rejected) == ("json_lines", 2, 1)
    assert logs.rejects["reason"].tolist() == ["not a JSON object"]
    df = logs["vac"]
    assert df["ts"].iloc[0].isoformat() == "2026-11-24T10:15:02.120000+00:00"
    assert df["path"].tolist() == ["/api/tickets", "/api/tickets"]
    assert pd.isna(df["status"].iloc[0]) and df["status"].iloc[1] == 502
    assert df["level"].tolist() == ["INFO", "WARN"] and df["request_id"].tolist() == ["aa", "aa"]
    assert stats.zone_source == "offset in each line"


def test_json_key_mapping_is_configurable(write, tmp_path):
    path = write("x.jsonl", '{"when": "2026-11-24 10:15:02.5", "sev": "E", "text": "boom", "rid": "r1", "code": 500}\n')
    fmt_file = tmp_path / "f.toml"
    fmt_file.write_text('name = "vacjson"\nkind = "vac"\nsyntax = "json"\n'
                        'fields = { time = "when", level = "sev", message = "text", request_id = "rid", status = "code" }\n')
    logs = loganalyzer.load(path, formats=[fmt_file], as_={str(path): "vac:vacjson"}, tz={"vac": "Europe/Moscow"})
    row = logs["vac"].iloc[0]
    assert (row["message"], row["request_id"], row["status"], row["level"]) == ("boom", "r1", 500, "E")
    assert row["ts"].isoformat() == "2026-11-24T07:15:02.500000+00:00"


@pytest.mark.parametrize("name, parsed", [("logfile_ecs_log.json", 5), ("logfile_bunyan.0", 10),
                                          ("logfile_json.json", 13), ("logfile_mixed_json2.json", 13)])
def test_public_json_logs(name, parsed):
    logs = loganalyzer.load(DATA / "lnav" / name, tz={"vac": "UTC"})
    accounted(logs)
    assert logs.stats.iloc[0].parsed == parsed
    assert logs["vac"]["ts"].notna().all()


def test_epoch_millis_from_pino():
    logs = loganalyzer.load(DATA / "lnav" / "logfile_pino.0")
    # A payment service's own log: no line is about an HTTP call, so it is no hop of ours.
    assert logs.stats.iloc[0]["kind"] == "other"
    row = logs["other"].iloc[0]
    assert row["ts"].isoformat() == "2025-04-24T22:08:37.537000+00:00"
    assert row["request_id"] == "c759f29f5f1e2162be56f32dd1e77fce"  # pino's trace_id


def test_pylogging_default_asctime_layout():
    assert pylogging.DEFAULT_ASCTIME.chrono == "%Y-%m-%d %H:%M:%S,%3f"
