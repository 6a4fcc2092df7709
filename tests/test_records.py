"""Lines holding batches of records (OTLP/JSON export requests): each record an entry on its line."""

from __future__ import annotations

import json

import polars as pl
import pytest
from loganalyzer.parsers import engine, records
from loganalyzer.parsers.formats import DefinitionError, compile_definition, load_definitions, parse_toml

import loganalyzer
from tests.conftest import DATA, accounted

OTEL = DATA / "lnav" / "logfile_otel_collector.jsonl"


@pytest.fixture(scope="module")
def otlp():
    return next(compile_definition(d) for d in load_definitions() if d.name == "otlp_logs")


def _record(ts: str | None, body: str, **extra) -> dict:
    rec = {"body": {"stringValue": body}, **extra}
    if ts is not None:
        rec["timeUnixNano"] = ts
    return rec


def _batch(*recs: dict, service: str = "checkout", scope: str = "app") -> str:
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeLogs": [{"scope": {"name": scope}, "logRecords": list(recs)}]}]})


def test_every_record_of_the_lnav_sample_is_an_entry_on_its_line(otlp):
    lines = pl.Series(OTEL.read_text().splitlines())
    want = [(i + 1, len(rl["scopeLogs"][0]["logRecords"]))
            for i, line in enumerate(lines) for rl in json.loads(line)["resourceLogs"]]
    result = engine.parse(lines, otlp, None)
    got = result.entries.group_by("line", maintain_order=True).len().sort("line").rows()
    assert got == want
    assert result.parsed == sum(n for _, n in want) and result.rejected == 0
    assert result.lines + result.batched == result.parsed + result.continuation + result.rejected
    assert result.entries.filter(pl.col("line") == 6)["resource_attributes_deployment_environment"].to_list() == [
        "production"]


def test_a_record_without_time_is_a_reject_of_its_own_the_others_entries(otlp):
    line = _batch(_record("1700000000000000000", "first"), _record(None, "no time at all"),
                  _record("1700000002000000000", "third"))
    result = engine.parse(pl.Series([line, "not json", _batch()]), otlp, None)
    assert result.entries["message"].to_list() == ["first", "third"]
    assert result.entries["line"].to_list() == [1, 1]
    assert result.rejects["line"].to_list() == [1, 2, 3]
    assert "no time at all" in result.rejects["text"][0]
    assert "no records under" in result.rejects["reason"][2]
    assert result.lines + result.batched == result.parsed + result.continuation + result.rejected


def test_observed_time_stands_in_and_attributes_and_any_values_are_flattened(otlp):
    rec = {"observedTimeUnixNano": "1732443302184000000", "severityNumber": 17,
           "body": {"kvlistValue": {"values": [{"key": "event", "value": {"stringValue": "charge failed"}}]}},
           "attributes": [{"key": "http.method", "value": {"stringValue": "POST"}},
                          {"key": "http.status_code", "value": {"intValue": "503"}},
                          {"key": "peers", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}}]}
    result = engine.parse(pl.Series([_batch(rec, _record("1732443303000000000", "ok", severityText="INFO"))]),
                          otlp, None)
    first, second = result.entries.rows(named=True)
    assert first["ts"].isoformat() == "2024-11-24T10:15:02.184000+00:00"
    assert first["level"] == "ERROR" and second["level"] == "INFO"
    assert first["attributes_http_method"] == "POST" and first["attributes_http_status_code"] == "503"
    assert json.loads(first["attributes_peers"]) == ["a"]
    assert json.loads(first["message"]) == {"event": "charge failed"} and second["message"] == "ok"
    assert first["logger"] == "app" and first["resource_attributes_service_name"] == "checkout"


def test_a_pretty_printed_batch_counts_its_lines_once(otlp):
    text = json.dumps(json.loads(_batch(_record("1700000000000000000", "a"), _record("1700000001000000000", "b"))),
                      indent=2).splitlines()
    result = engine.parse(pl.Series(text), otlp, None)
    assert result.parsed == 2 and result.rejected == 0
    assert (result.continuation, result.batched) == (len(text) - 1, 1)


def test_detection_and_load_zero_config(tmp_path):
    path = tmp_path / "otel.jsonl"
    path.write_text(OTEL.read_text() + _batch(*[_record(str(1700000020000000000 + i), f"r{i}") for i in range(40)]) +
                    "\n")
    logs = loganalyzer.load([str(path)])
    row = logs.stats.iloc[0]
    assert row["format"] == "otlp_logs" and row["kind"] == "other"
    assert (row["lines"], row["parsed"], row["batched"], row["rejected"]) == (7, 51, 44, 0)
    accounted(logs)
    assert any("batches of records" in n for n in logs.notes)


def test_a_records_path_is_checked_when_the_definition_loads():
    assert records.parse_path("a[].b.c[]") == [("a", True), ("b", False), ("c", True)]
    for bad in ("a[].b", "a[].[]", ""):
        with pytest.raises(DefinitionError, match="records path"):
            parse_toml(f'name = "x"\nkind = "other"\nsyntax = "json"\nrecords = "{bad}"\n', "test")
    with pytest.raises(DefinitionError, match="for syntax json"):
        parse_toml('name = "x"\nkind = "other"\nsyntax = "regex"\npattern = "(?P<time>.*)"\nrecords = "a[]"\n', "t")
