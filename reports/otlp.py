"""Reconstructed requests as OpenTelemetry traces (OTLP/JSON) and attempts as ECS documents.

Both render from the JSON export alone, like the HTML report, so a saved export can be opened in a
trace viewer later. The OTLP file follows the OpenTelemetry file exporter: one
``ExportTraceServiceRequest`` per line, in OTLP/JSON (trace and span ids as hex, 64-bit integers as
strings, enums as numbers, lowerCamelCase keys).

The trace of one logical request::

    request (INTERNAL, the client)                  one root per logical request
    └── attempt N: client span (CLIENT, vac)        retries are siblings under the root
        └── nginx (SERVER, nginx)
            └── nginx -> upstream (CLIENT, nginx)
                └── upstream (SERVER, crm)

Only hops the logs saw get a span. The span of the hop where the attempt died has status ERROR
with the verdict as its message; evidence lines become span events (cause lines of the upstream as
``exception`` events with ``exception.type``/``message``/``stacktrace``). Spans whose times come
from whole-second log lines carry ``loganalyzer.time_reconstructed = true``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 1, 2, 3
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
#: Where a verdict puts the failure, when the export's vocabulary does not say (older exports).
_PLACE_DEFAULTS = {"client": "client", "proxy": "proxy", "upstream_crash": "upstream", "upstream_error": "upstream",
                   "upstream_rejected": "upstream", "unknown": "none", "ok": "none"}
_EXCEPTION = re.compile(
    r"^(?:Caused by: )?((?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)\b[\w$]*)(?::\s?(.*))?$", re.M)
#: The hop whose span an evidence line belongs to, by the kind of log it came from.
_HOP_OF_SOURCE = {"vac": "client", "nginx_access": "proxy", "nginx_error": "proxy", "crm": "upstream"}
_W3C_TRACE = re.compile(r"^[0-9a-f]{32}$")


def _nanos(iso: str | None) -> int | None:
    if not iso:
        return None
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    # fromisoformat keeps microseconds; the export may carry nanoseconds: take them from the text.
    frac = re.search(r"\.(\d+)", iso)
    ns = int((frac.group(1) + "000000000")[:9]) if frac else 0
    return int(dt.replace(microsecond=0).timestamp()) * 1_000_000_000 + ns


def _hex_id(text: str, size: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[: size * 2]


def _attr(key: str, value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _attrs(**values: Any) -> list[dict[str, Any]]:
    return [a for k, v in values.items() if (a := _attr(k.replace("__", "."), v)) is not None]


def _places(data: Mapping[str, Any]) -> dict[str, str]:
    """Verdict -> the hop where the attempt died (client, proxy, upstream, none), from the export's vocabulary."""
    places = dict(_PLACE_DEFAULTS)
    for v in (data.get("vocabulary") or {}).get("verdicts", []):
        place = str(v.get("place", ""))
        places[v["name"]] = ("client" if "client" in place else "proxy" if "proxy" in place
                             else "upstream" if "upstream" in place else "none")
    return places


#: ``service.name`` per hop: the kind's name (the logs do not name their hosts).
SERVICES = {"client": "vac", "proxy": "nginx", "upstream": "crm"}


def _exception_event(ev: Mapping[str, Any], t: int) -> dict[str, Any]:
    text = ev.get("text") or ""
    m = _EXCEPTION.search(text)
    attrs = _attrs(exception__type=m.group(1) if m else None, exception__message=(m.group(2) if m else None),
                   exception__stacktrace=text, **{"log.file.path": ev.get("file"), "log.line": ev.get("line")})
    return {"timeUnixNano": str(t), "name": "exception", "attributes": attrs}


def _line_event(ev: Mapping[str, Any], t: int) -> dict[str, Any]:
    return {"timeUnixNano": str(t), "name": f"{ev.get('role', 'evidence')} line ({ev.get('source')})",
            "attributes": _attrs(**{"log.file.path": ev.get("file"), "log.line": ev.get("line"),
                                    "log.record.original": ev.get("text"), "loganalyzer.link": ev.get("link"),
                                    "loganalyzer.confidence": ev.get("confidence")})}


def _whole_second(iso: str | None) -> bool:
    return bool(iso) and "." not in iso


def trace_of(request: list[Mapping[str, Any]], places: Mapping[str, str], services: Mapping[str, str]
             ) -> dict[str, list[dict[str, Any]]]:
    """Spans of one logical request's attempts (in attempt order), grouped by ``service.name``."""
    first = request[0]
    rid = first.get("request_id") or ""
    trace_id = rid.lower() if _W3C_TRACE.match(rid.lower()) else _hex_id(f"logical:{first['logical_id']}", 16)
    starts = [t for r in request for t in (_nanos(r.get("client_send")), _nanos(r.get("proxy_start")),
                                           _nanos(r.get("ts"))) if t is not None]
    ends = [t for r in request for t in (_nanos(r.get("client_done")), _nanos(r.get("proxy_end")),
                                         _nanos(r.get("upstream_end"))) if t is not None] + starts
    root_id = _hex_id(f"{trace_id}:root", 8)
    last = request[-1]
    failed = last["verdict"] != "ok"
    spans: dict[str, list[dict[str, Any]]] = {}

    def span(service: str, span_id: str, parent: str, name: str, kind: int, start: int, end: int,
             attrs: list[dict[str, Any]], status: dict[str, Any], events: list | None = None) -> None:
        s = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": kind,
             "startTimeUnixNano": str(start), "endTimeUnixNano": str(max(end, start)),
             "attributes": attrs, "status": status}
        if parent:
            s["parentSpanId"] = parent
        if events:
            s["events"] = events
        spans.setdefault(service, []).append(s)

    endpoint = f"{first.get('method') or ''} {first.get('path') or ''}".strip() or "request"
    span(services["client"], root_id, "", endpoint, SPAN_KIND_INTERNAL, min(starts), max(ends),
         _attrs(**{"loganalyzer.logical_id": first["logical_id"], "loganalyzer.attempts": len(request),
                   "loganalyzer.outcome": last["verdict"]}),
         {"code": STATUS_ERROR, "message": last["verdict"]} if failed else {"code": STATUS_UNSET})
    for r in request:
        died = places.get(r["verdict"], "none") if r["verdict"] != "ok" else "none"
        base = f"{trace_id}:{r['attempt_id']}"
        http = _attrs(http__request__method=r.get("method"), url__path=r.get("path"),
                      user_agent__original=r.get("user_agent"), **{"loganalyzer.attempt": r.get("attempt"),
                                                                   "loganalyzer.attempt_id": r.get("attempt_id")})

        def status(hop: str, r=r, died=died) -> dict[str, Any]:
            if died == hop:
                return {"code": STATUS_ERROR, "message": f"{r['verdict']}: {r.get('verdict_reason') or ''}".strip()}
            return {"code": STATUS_UNSET}

        events = {"client": [], "proxy": [], "upstream": []}
        for ev in r.get("evidence") or []:
            t = _nanos(ev.get("ts")) or _nanos(r.get("ts")) or 0
            hop = _HOP_OF_SOURCE.get(ev.get("source"), "proxy")
            is_exc = hop == "upstream" and ev.get("role") == "cause" and _EXCEPTION.search(ev.get("text") or "")
            events[hop].append(_exception_event(ev, t) if is_exc else _line_event(ev, t))
        parent = root_id
        c_start, c_end = _nanos(r.get("client_send")), _nanos(r.get("client_done"))
        if c_start is not None:
            cid = _hex_id(base + ":client", 8)
            span(services["client"], cid, parent, f"{endpoint} (attempt {r.get('attempt') or 1})", SPAN_KIND_CLIENT,
                 c_start, c_end or c_start,
                 http + _attrs(http__response__status_code=r.get("status_client"), error__type=r.get("client_error")),
                 status("client"), events["client"])
            parent = cid
        p_start, p_end = _nanos(r.get("proxy_start")), _nanos(r.get("proxy_end"))
        if p_start is not None:
            pid = _hex_id(base + ":proxy", 8)
            rebuilt = _whole_second(r.get("ts")) and c_start is None
            span(services["proxy"], pid, parent, endpoint, SPAN_KIND_SERVER, p_start, p_end or p_start,
                 http + _attrs(http__response__status_code=r.get("status_proxy"), client__address=r.get("client_addr"),
                               **{"loganalyzer.time_reconstructed": rebuilt or None}),
                 status("proxy"), events["proxy"])
            u_start, u_end = _nanos(r.get("upstream_start")), _nanos(r.get("upstream_end"))
            if r.get("upstream_addr") or u_start is not None:
                host, _, port = (r.get("upstream_addr") or "").rpartition(":")
                uid = _hex_id(base + ":proxy-upstream", 8)
                us, ue = (u_start, u_end) if u_start is not None else (p_start, p_end or p_start)
                span(services["proxy"], uid, pid, f"{endpoint} -> upstream", SPAN_KIND_CLIENT, us, ue or us,
                     http + _attrs(http__response__status_code=r.get("status_upstream"),
                                   server__address=host or r.get("upstream_addr"),
                                   server__port=int(port) if port.isdigit() else None,
                                   **{"loganalyzer.time_reconstructed": u_start is None or None}),
                     {"code": STATUS_UNSET}, None)
                if events["upstream"] or died == "upstream" or r.get("status_upstream") is not None:
                    span(services["upstream"], _hex_id(base + ":upstream", 8), uid, endpoint, SPAN_KIND_SERVER,
                         us, ue or us,
                         http + _attrs(http__response__status_code=r.get("status_upstream"),
                                       **{"loganalyzer.time_reconstructed": u_start is None or None}),
                         status("upstream"), events["upstream"])
        elif died == "upstream" or events["upstream"]:  # the upstream's log only
            t = _nanos(r.get("ts")) or 0
            span(services["upstream"], _hex_id(base + ":upstream", 8), parent, endpoint, SPAN_KIND_SERVER, t, t,
                 http, status("upstream"), events["upstream"])
    return spans


def _export_request(spans: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    from loganalyzer import __version__

    return {"resourceSpans": [
        {"resource": {"attributes": _attrs(service__name=service)},
         "scopeSpans": [{"scope": {"name": "loganalyzer", "version": __version__}, "spans": s}]}
        for service, s in spans.items()]}


def otlp_lines(data: Mapping[str, Any]) -> Iterator[str]:
    """One OTLP/JSON ``ExportTraceServiceRequest`` per logical request, as text lines."""
    places, services = _places(data), SERVICES
    by_logical: dict[str, list[Mapping[str, Any]]] = {}
    for r in data.get("requests", []):
        by_logical.setdefault(r["logical_id"], []).append(r)
    for request in by_logical.values():
        request.sort(key=lambda r: (r.get("attempt") or 0, r["attempt_id"]))
        yield json.dumps(_export_request(trace_of(request, places, services)), ensure_ascii=False,
                         separators=(",", ":"))


def write_otlp(data: Mapping[str, Any], path: str | Path) -> int:
    """Write :func:`otlp_lines` to ``path``; returns the number of traces written."""
    from loganalyzer.outputs import open_output

    n = 0
    with open_output(path) as f:
        for line in otlp_lines(data):
            f.write(line + "\n")
            n += 1
    return n


def ecs_documents(data: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Attempts as Elastic Common Schema documents (``event.outcome``, ``http.*``, ``error.*``),
    with loganalyzer's own fields under ``loganalyzer``."""
    for r in data.get("requests", []):
        cause_line = next((e for e in r.get("evidence") or [] if e.get("role") == "cause"), None)
        first = next(iter(r.get("evidence") or []), None)
        m = _EXCEPTION.search(cause_line.get("text") or "") if cause_line else None
        failed = r["verdict"] != "ok"
        doc: dict[str, Any] = {
            "@timestamp": r.get("ts"),
            "ecs": {"version": "8.11.0"},
            "event": {"kind": "event", "category": ["web"], "type": ["access"],
                      "outcome": "failure" if failed else "success"},
            "http": {"request": {"method": r.get("method")},
                     "response": {"status_code": r.get("status_client") or r.get("status_proxy")}},
            "url": {"path": r.get("path")},
            "client": {"ip": r.get("client_addr")} if r.get("client_addr") else None,
            "user_agent": {"original": r.get("user_agent")} if r.get("user_agent") else None,
            "service": {"name": "loganalyzer"},
            "log": {"file": {"path": first.get("file")}} if first else None,
            "error": ({"type": m.group(1) if m else r.get("root_cause"),
                       "message": (m.group(2) if m else None) or r.get("verdict_reason")} if failed else None),
            "loganalyzer": {k: r.get(k) for k in (
                "attempt_id", "request_id", "logical_id", "attempt", "verdict", "verdict_reason", "root_cause",
                "root_cause_detail", "status_client", "status_proxy", "status_upstream", "upstream_addr")}
            | {"link": r.get("link")},
        }
        yield {k: v for k, v in doc.items() if v is not None}


def write_ecs(data: Mapping[str, Any], path: str | Path) -> int:
    """Write :func:`ecs_documents` as NDJSON; returns the number written."""
    from loganalyzer.outputs import open_output

    n = 0
    with open_output(path) as f:
        for doc in ecs_documents(data):
            f.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n
