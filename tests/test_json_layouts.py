"""Structured (JSON) logs read with no configuration: dotted keys, structured exceptions, nginx JSON, detection."""

from __future__ import annotations

import json

import polars as pl
import pytest
from loganalyzer.parsers import engine, formats
from loganalyzer.parsers.formats import FormatDef, compile_definition

from loganalyzer.ingest import detect

from .conftest import DATA

LAYOUTS = DATA / "json_layouts"
COMPILED = {d.name: compile_definition(d) for d in formats.builtin_definitions()}


def lines_of(name: str) -> pl.Series:
    return pl.Series("text", (LAYOUTS / name).read_text(encoding="utf-8").splitlines(), dtype=pl.String)


def parse(name: str, fmt: str) -> engine.ParseResult:
    return engine.parse(lines_of(name), COMPILED[fmt], "UTC")


def rows(name: str, fmt: str) -> list[dict]:
    result = parse(name, fmt)
    assert result.rejected == 0, result.rejects.to_dicts()
    return result.entries.to_dicts()


# --------------------------------------------------------------------------------------------
# dotted keys: flat and nested alike


def test_nested_ecs_keeps_its_level_and_error_type():
    """Regression: {"log":{"level":"ERROR"}} lost the level and error.type never reached the exception columns."""
    for fmt in ("json_ecs", "json_lines"):  # the dedicated layout and the generic one
        error = rows("spring_boot_ecs_nested.jsonl", fmt)[1]
        assert error["level"] == "ERROR", fmt
        assert error["exception"] == "org.springframework.http.converter.HttpMessageNotReadableException", fmt
        assert error["root_cause"] == "com.fasterxml.jackson.core.JsonParseException", fmt


def test_flat_and_nested_ecs_read_alike():
    flat = rows("spring_boot_ecs_flat.jsonl", "json_ecs")
    nested = rows("spring_boot_ecs_nested.jsonl", "json_ecs")
    keep = ["ts", "level", "logger", "thread", "message", "request_id", "span_id", "service_name", "process_pid",
            "exception", "exception_message", "root_cause", "root_cause_message", "stack_trace"]
    assert [{k: r[k] for k in keep} for r in flat] == [{k: r[k] for k in keep} for r in nested]
    assert flat[0]["logger"] == "com.example.crm.OrderController" and flat[0]["thread"] == "http-nio-8080-exec-1"
    assert flat[0]["process_pid"] == "4242"  # a leaf of a nested object: path with underscores


def test_a_pinned_role_may_name_a_nested_key():
    # python ecs-logging mixes both shapes: "log.level" flat, {"log": {"logger", "original"}} nested.
    d = FormatDef(name="ecs_original", kind="app", syntax="json",
                  fields={"message": "log.original", "logger": "log.logger", "thread": "process.thread.name"})
    lines = pl.Series((DATA / "lnav" / "logfile_ecs_log.json").read_text().splitlines())
    r = engine.parse(lines, compile_definition(d), "UTC")
    row = r.entries.row(0, named=True)
    assert r.rejected == 0 and row["level"] == "DEBUG"
    assert row["message"] == "this is a debug message num=39" and row["logger"] == "app"
    assert row["thread"] == "MainThread" and row["log_origin_function"] == "main"


# --------------------------------------------------------------------------------------------
# structured exceptions fill the columns a text stack trace fills

SPRING = "org.springframework.http.converter.HttpMessageNotReadableException"
JACKSON = "com.fasterxml.jackson.core.JsonParseException"


@pytest.mark.parametrize("name, fmt, row, exception, root_cause, root_message", [
    ("spring_boot_ecs_flat.jsonl", "json_ecs", 1, SPRING, JACKSON, "Unexpected character"),
    ("log4j2_ecs_layout.jsonl", "json_ecs", 1, SPRING, JACKSON, "Unexpected character"),
    ("logback_ecs_encoder.jsonl", "json_ecs", 1, SPRING, JACKSON, "Unexpected character"),  # stack as an array
    ("spring_boot_logstash.jsonl", "json_logstash", 1, SPRING, JACKSON, "Unexpected character"),  # stack_trace only
    ("logstash_logback_encoder.jsonl", "json_logstash", 2, "HttpMessageNotReadableException", "JsonParseException",
     None),  # throwable_class / throwable_root_cause_class say it; no message field
    ("spring_boot_gelf.jsonl", "json_gelf", 1, SPRING, JACKSON, "Unexpected character"),
    ("python_json_logger.jsonl", "json_python", 1, "ValueError", "KeyError", "'customer'"),
    ("structlog.jsonl", "json_structlog", 1, "ValueError", "KeyError", "'customer'"),
    ("structlog_dict_tracebacks.jsonl", "json_structlog", 1, "ValueError", "KeyError", "'customer'"),
    ("pino.jsonl", "json_pino", 1, "UpstreamError", "Error", "connect ECONNREFUSED"),
    ("bunyan.jsonl", "json_bunyan", 1, "UpstreamError", "UpstreamError", "load customer 7 failed"),
])
def test_structured_exception_sources(name, fmt, row, exception, root_cause, root_message):
    entries = rows(name, fmt)
    r = entries[row]
    assert (r["exception"], r["root_cause"]) == (exception, root_cause)
    if root_message is None:
        assert r["root_cause_message"] is None
    else:
        assert r["root_cause_message"].startswith(root_message)
    assert r["level"] == "ERROR"
    # Lines without an exception keep the columns empty.
    assert entries[0]["exception"] is None and entries[0]["root_cause"] is None


def test_the_stack_trace_column_holds_the_trace_text():
    ecs = rows("logback_ecs_encoder.jsonl", "json_ecs")[1]
    logstash = rows("spring_boot_logstash.jsonl", "json_logstash")[1]
    assert ecs["stack_trace"] == logstash["stack_trace"]  # an array of lines joined as the text it stands for
    assert ecs["stack_trace"].splitlines()[3].startswith("Caused by: " + JACKSON)
    assert rows("structlog_dict_tracebacks.jsonl", "json_structlog")[1]["stack_trace"] is None


def test_a_key_wins_over_what_the_trace_says():
    line = ('{"@timestamp":"2026-11-24T10:15:02Z","log.level":"ERROR","message":"x","ecs.version":"8.11",'
            '"error.type":"com.example.Wrapper","error.message":"from the key",'
            '"error.stack_trace":"com.example.Wrapper: from the trace\\n\\tat a.B.c(B.java:1)"}')
    r = engine.parse(pl.Series([line]), COMPILED["json_ecs"], "UTC").entries.row(0, named=True)
    assert (r["exception"], r["exception_message"]) == ("com.example.Wrapper", "from the key")
    assert (r["root_cause"], r["root_cause_message"]) == ("com.example.Wrapper", "from the key")


def test_pretty_printed_objects_are_grouped_and_every_line_accounted():
    result = parse("logback_ecs_encoder.jsonl", "json_ecs")
    total = len(lines_of("logback_ecs_encoder.jsonl"))
    assert (result.parsed, result.rejected) == (3, 0)
    assert result.parsed + result.continuation == total
    assert result.entries["line"].to_list() == [1, 2, total]
    assert result.entries["line_count"].to_list() == [1, total - 2, 1]


def test_a_truncated_pretty_printed_object_is_rejected_line_by_line():
    text = lines_of("logback_ecs_encoder.jsonl").to_list()
    cut = text[:4] + text[-1:]  # the array never closes before the next object starts
    result = engine.parse(pl.Series(cut), COMPILED["json_ecs"], "UTC")
    assert result.entries["line"].to_list() == [1, 5]
    assert result.rejects["line"].to_list() == [2, 3, 4]
    assert set(result.rejects["reason"]) == {"not a JSON object"}


def test_a_pretty_printed_object_across_chunks_is_parsed_whole():
    text = lines_of("logback_ecs_encoder.jsonl")
    chunks = [text.slice(0, 4), text.slice(4)]
    streamed = engine.parse_stream(iter(chunks), COMPILED["json_ecs"], "UTC")
    whole = engine.parse(text, COMPILED["json_ecs"], "UTC")
    # Chunks may meet keys in another order: columns are compared by name.
    assert streamed.entries.select(whole.entries.columns).equals(whole.entries) and streamed.rejected == 0


def test_numeric_levels_are_read_through_the_format():
    assert [r["level"] for r in rows("pino.jsonl", "json_pino")] == ["INFO", "ERROR"]
    assert [r["level"] for r in rows("spring_boot_gelf.jsonl", "json_gelf")] == ["INFO", "ERROR"]


# --------------------------------------------------------------------------------------------
# nginx JSON access logs


@pytest.mark.parametrize("name", ["nginx_escape_json.log", "nginx_escape_default.log"])
def test_nginx_json_access(name):
    health, search, api = rows(name, "json_nginx_access")
    # Empty variables ("" with escape=json, "-" with escape=default) are absent.
    assert health["upstream_addr"] is None and health["upstream_status"] is None
    assert health["upstream_response_time"] is None
    assert health.get("http_referrer", health.get("http_referer")) is None
    # Numbers written as strings or as numbers are typed alike.
    assert (health["status"], health["body_bytes_sent"], health["request_time"]) == (200, 3, 0.0)
    assert (api["status"], api["request_time"], api["level"]) == (502, 0.001, "ERROR")
    # The request line is split as the text formats split it; it becomes the entry's message.
    assert (api["method"], api["path"], api["query"], api["protocol"]) == ("POST", "/api/customers/7", "x=1", "HTTP/1.1")
    assert api["message"] == "POST /api/customers/7?x=1 HTTP/1.1"
    # Upstream retry lists: the last value typed, the whole list kept.
    assert api["upstream_addr"] == "127.0.0.1:18092"
    assert api["upstream_addr_all"] == "127.0.0.1:18091, 127.0.0.1:18092"
    assert (api["upstream_status"], api["upstream_status_all"]) == (502, "502, 502")
    assert api["upstream_response_time"] == 0.0 and api["upstream_response_time_all"] == "0.000, 0.000"
    # The id the client sent is the request id; escapes of either mode are undone.
    assert (search["request_id"], api["request_id"]) == ("aa11bb22", "cc33dd44")
    assert search["http_user_agent"] == 'curl/8 "quoted" \\back'
    assert health["ts"].isoformat() == "2026-12-01T20:00:54+00:00"


def test_nginx_json_own_request_id_keeps_its_nginx_name():
    health = rows("nginx_escape_json.log", "json_nginx_access")[0]
    assert health["nginx_request_id"] == "62a164b12e7b31aa18d6a7bccb6b1057"
    assert health["request_id"] == "62a164b12e7b31aa18d6a7bccb6b1057"  # no X-Request-ID: nginx's own id


# --------------------------------------------------------------------------------------------
# detection among all built-in formats


@pytest.mark.parametrize("name, expected", [
    ("spring_boot_ecs_flat.jsonl", "json_ecs"), ("spring_boot_ecs_nested.jsonl", "json_ecs"),
    ("logback_ecs_encoder.jsonl", "json_ecs"), ("log4j2_ecs_layout.jsonl", "json_ecs"),
    ("spring_boot_logstash.jsonl", "json_logstash"), ("logstash_logback_encoder.jsonl", "json_logstash"),
    ("spring_boot_gelf.jsonl", "json_gelf"), ("python_json_logger.jsonl", "json_python"),
    ("structlog.jsonl", "json_structlog"), ("structlog_dict_tracebacks.jsonl", "json_structlog"),
    ("pino.jsonl", "json_pino"), ("bunyan.jsonl", "json_bunyan"), ("go_slog.jsonl", "json_go_slog"),
    ("zap.jsonl", "json_zap"), ("logrus.jsonl", "json_logrus"),
    ("nginx_escape_json.log", "json_nginx_access"), ("nginx_escape_default.log", "json_nginx_access"),
])
def test_detection_picks_the_layout(name, expected):
    det = detect(lines_of(name), list(COMPILED.values()))
    assert (det.format.name, det.rate) == (expected, 1.0)


@pytest.mark.parametrize("path, expected", [
    ("lnav/logfile_pino.0", "json_pino"), ("lnav/logfile_bunyan.0", "json_bunyan"),
    ("lnav/logfile_ecs_log.json", "json_ecs"), ("lnav/logfile_json.json", "json_lines"),
])
def test_detection_on_public_json_logs(path, expected):
    lines = pl.Series((DATA / path).read_text(encoding="utf-8").splitlines())
    assert detect(lines, list(COMPILED.values())).format.name == expected


def test_root_cause_first_traces_name_the_thrown_exception_last():
    # logstash-logback-encoder's ShortenedThrowableConverter with rootCauseFirst writes "Wrapped by:".
    trace = (f"{JACKSON}: Unexpected character\n\tat com.fasterxml.jackson.core.JsonParser.x(JsonParser.java:2660)\n"
             f"Wrapped by: {SPRING}: JSON parse error\n\tat org.springframework.web.A.b(A.java:1)")
    line = pl.Series([
        '{"@timestamp":"2026-11-24T13:15:02.184+03:00","@version":"1","message":"m","logger_name":"a",'
        '"thread_name":"t","level":"ERROR","level_value":40000,"stack_trace":' + json.dumps(trace) + "}"])
    r = engine.parse(line, COMPILED["json_logstash"], "UTC").entries.row(0, named=True)
    assert (r["exception"], r["exception_message"]) == (SPRING, "JSON parse error")
    assert (r["root_cause"], r["root_cause_message"]) == (JACKSON, "Unexpected character")


def test_an_exception_beyond_the_key_sample_still_fills_the_columns():
    info, error = lines_of("spring_boot_ecs_nested.jsonl").to_list()
    lines = pl.Series([info] * (engine.JSON_KEY_SAMPLE + 10) + [error])
    r = engine.parse(lines, COMPILED["json_ecs"], "UTC")
    last = r.entries.row(-1, named=True)
    assert (last["exception"], last["root_cause"]) == (SPRING, JACKSON)
    assert r.entries["exception"].null_count() == r.parsed - 1


def test_values_of_another_shape_than_the_sample_still_read():
    # The key sample saw "error" as an object; a later line has it as text, another is not JSON at all.
    info, error = lines_of("spring_boot_ecs_nested.jsonl").to_list()
    odd = info.replace('"message":"order accepted"', '"message":"odd","error":"plain text"')
    lines = pl.Series([error] * 3 + [info] * (engine.JSON_KEY_SAMPLE + 5) + [odd, '{"@timestamp":"2026-11-24T10:1'])
    r = engine.parse(lines, COMPILED["json_ecs"], "UTC")
    assert r.parsed == len(lines) - 1 and r.rejects["reason"].to_list() == ["not a JSON object"]
    assert r.entries.row(0, named=True)["exception"] == SPRING
    assert r.entries.row(-1, named=True)["message"] == "odd"
