"""The OTLP/JSON trace export and the ECS attempts, checked against the OpenTelemetry protobuf classes."""

from __future__ import annotations

import base64
import json

import pytest
from google.protobuf import json_format
from loganalyzer.reports import otlp
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from loganalyzer import analyze
from tests.conftest import SAMPLES


def _as_protobuf_json(line: str) -> str:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping wants base64: convert, checking sizes."""
    data = json.loads(line)
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key, size in (("traceId", 16), ("spanId", 8), ("parentSpanId", 8)):
                    if key in s:
                        raw = bytes.fromhex(s[key])
                        assert len(raw) == size, (key, s[key])
                        s[key] = base64.b64encode(raw).decode()
    return json.dumps(data)


@pytest.fixture(scope="module")
def mixed():
    return analyze(SAMPLES / "mixed-faults" / "logs").to_dict()


def _parsed(data):
    out = []
    for line in otlp.otlp_lines(data):
        msg = ExportTraceServiceRequest()
        json_format.Parse(_as_protobuf_json(line), msg, ignore_unknown_fields=False)
        out.append(msg)
    return out


def test_every_line_is_an_export_request_and_every_attempt_a_span_tree(mixed):
    traces = _parsed(mixed)
    assert len(traces) == len({r["logical_id"] for r in mixed["requests"]})
    attempts_seen = set()
    for msg in traces:
        spans = [s for rs in msg.resource_spans for ss in rs.scope_spans for s in ss.spans]
        ids = {s.span_id for s in spans}
        roots = [s for s in spans if not s.parent_span_id]
        assert len(roots) == 1  # one root per logical request
        assert all(s.parent_span_id in ids for s in spans if s.parent_span_id)
        assert len({s.trace_id for s in spans}) == 1
        for s in spans:
            assert s.end_time_unix_nano >= s.start_time_unix_nano > 0
            for a in s.attributes:
                if a.key == "loganalyzer.attempt_id":
                    attempts_seen.add(a.value.int_value)
    assert attempts_seen == {r["attempt_id"] for r in mixed["requests"]}


def test_the_hop_where_an_attempt_died_has_status_error(mixed):
    by_attempt = {r["attempt_id"]: r for r in mixed["requests"]}
    checked = set()
    for msg in _parsed(mixed):
        for rs in msg.resource_spans:
            service = next(a.value.string_value for a in rs.resource.attributes if a.key == "service.name")
            for s in (s for ss in rs.scope_spans for s in ss.spans if s.parent_span_id):
                attempt = next((a.value.int_value for a in s.attributes if a.key == "loganalyzer.attempt_id"), None)
                r = by_attempt[attempt]
                if s.status.code == 2:
                    checked.add((r["verdict"], service))
                    assert r["verdict"] in s.status.message
    assert ("upstream_crash", "crm") in checked and ("proxy", "nginx") in checked and ("client", "vac") in checked
    assert all(v != "ok" for v, _ in checked)


def test_upstream_exceptions_are_exception_events(mixed):
    events = [e for msg in _parsed(mixed) for rs in msg.resource_spans for ss in rs.scope_spans
              for s in ss.spans for e in s.events if e.name == "exception"]
    types = {a.value.string_value for e in events for a in e.attributes if a.key == "exception.type"}
    assert "com.fasterxml.jackson.core.JsonParseException" in types


def test_retries_are_siblings_under_one_root(mixed):
    retried = {r["logical_id"] for r in mixed["requests"] if (r.get("attempt") or 1) > 1}
    assert retried
    for msg in _parsed(mixed):
        spans = [s for rs in msg.resource_spans for ss in rs.scope_spans for s in ss.spans]
        root = next(s for s in spans if not s.parent_span_id)
        lid = next(a.value.string_value for a in root.attributes if a.key == "loganalyzer.logical_id")
        if lid in retried:
            children = [s for s in spans if s.parent_span_id == root.span_id]
            assert len(children) >= 2


def test_w3c_trace_ids_from_the_logs_are_kept(mixed):
    line = next(otlp.otlp_lines(mixed))
    rid = mixed["requests"][0]["request_id"]
    assert json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] == rid


def test_ecs_documents_carry_the_ecs_fields(mixed, tmp_path):
    n = otlp.write_ecs(mixed, tmp_path / "a.ndjson")
    docs = [json.loads(x) for x in (tmp_path / "a.ndjson").read_text().splitlines()]
    assert n == len(docs) == len(mixed["requests"])
    failed = [d for d in docs if d["event"]["outcome"] == "failure"]
    assert failed and all("error" in d for d in failed)
    crash = next(d for d in docs if d["loganalyzer"]["verdict"] == "upstream_crash")
    assert crash["error"]["type"] == "com.fasterxml.jackson.core.JsonParseException"
    assert {"@timestamp", "http", "url", "event", "loganalyzer"} <= set(docs[0])
