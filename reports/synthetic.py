"""Large exports made from small ones: how the report behaves with 10k or 100k attempts.

``scale_export(data, 100_000)`` repeats an export's requests until there are that many, each copy
shifted in time past the previous one and given its own request ids (and so its own evidence
text), then recomputes the summary, the causes and the timeline's buckets the way the analysis
does. Used by the report's tests and ``benchmarks/bench_report.py``.
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

import polars as pl

from loganalyzer import summary as summary_mod

from .model import epoch_ms

_TIMES = ("ts", "client_send", "client_done", "proxy_start", "proxy_end", "upstream_start", "upstream_end")
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def scale_export(data: dict[str, Any], attempts: int) -> dict[str, Any]:
    """A copy of ``data`` (a JSON export) with ``attempts`` request attempts."""
    base = data.get("requests") or []
    if not base:
        raise ValueError("the export has no requests to repeat")
    starts = [epoch_ms(r.get("ts")) for r in base]
    lo = min(t for t in starts if t is not None)
    hi = max(t for t in starts if t is not None)
    period = hi - lo + 5_000
    copies = math.ceil(attempts / len(base))
    times = [{k: epoch_ms(r.get(k)) for k in _TIMES} for r in base]
    ev_times = [[epoch_ms(e.get("ts")) for e in r.get("evidence") or []] for r in base]
    out: list[dict[str, Any]] = []
    for k in range(copies):
        shift = k * period
        suffix = f"-{k}" if k else ""
        for r, t, et in zip(base, times, ev_times, strict=True):
            if len(out) >= attempts:
                break
            c = dict(r)
            c["attempt_id"] = len(out)
            for key, ms in t.items():
                c[key] = _iso(ms + shift) if ms is not None else None
            rid, lid = r.get("request_id"), r.get("logical_id")
            if rid:
                c["request_id"] = rid + suffix
            if lid:
                c["logical_id"] = lid + suffix
            evidence = []
            for e, ms in zip(r.get("evidence") or [], et, strict=True):
                e = dict(e)
                e["ts"] = _iso(ms + shift) if ms is not None else None
                if e.get("text") and k:
                    text = e["text"].replace(rid, rid + suffix) if rid else e["text"]
                    first, sep, rest = text.partition("\n")
                    e["text"] = f"{first} copy={k}{sep}{rest}"
                evidence.append(e)
            c["evidence"] = evidence
            out.append(c)
    result = copy.deepcopy({k: v for k, v in data.items() if k != "requests"})
    result["requests"] = out
    frame = _frame(out)
    trigger = (data.get("summary") or {}).get("suspected_trigger")
    changes = summary_mod.changes({}, [])
    result["summary"] = summary_mod.summarize(frame, changes)
    if trigger and result["summary"].get("suspected_trigger"):
        result["summary"]["suspected_trigger"]["change"] = trigger.get("change")
    result["summary"]["changes"] = (data.get("summary") or {}).get("changes") or []
    result["causes"] = _causes(frame, data.get("causes") or [])
    result["timeline"] = _timeline(data.get("timeline") or {}, copies, period)
    return result


def _frame(requests: list[dict[str, Any]]) -> pl.DataFrame:
    cols = ["attempt_id", "request_id", "logical_id", "attempt", "last_attempt", "method", "path", "status_client",
            "status_proxy", "verdict", "root_cause", "rule"]
    df = pl.DataFrame({c: [r.get(c) for r in requests] for c in cols}, infer_schema_length=None)
    ts = pl.Series("ts", [r.get("ts") for r in requests], dtype=pl.String)
    return df.with_columns(ts.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", time_unit="ns"),
                           pl.col("status_client").cast(pl.Int64), pl.col("status_proxy").cast(pl.Int64),
                           pl.col("rule").cast(pl.String))


def _causes(frame: pl.DataFrame, original: list[dict[str, Any]]) -> list[dict[str, Any]]:
    texts = {c.get("root_cause"): c for c in original}
    failed = frame.filter(pl.col("verdict") != "ok")
    if failed.height == 0:
        return []
    agg = failed.group_by("root_cause").agg(
        pl.len().alias("attempts"), pl.col("logical_id").n_unique().alias("requests"),
        pl.col("ts").min().alias("first_seen"), pl.col("ts").max().alias("last_seen"),
        pl.col("verdict").unique().sort().str.join(", ").alias("verdicts"),
        pl.col("rule").drop_nulls().mode().first().alias("rule")).sort("attempts", descending=True)
    out = []
    for row in agg.iter_rows(named=True):
        t = texts.get(row["root_cause"], {})
        out.append({**row, "first_seen": row["first_seen"].isoformat().replace("+00:00", "Z"),
                    "last_seen": row["last_seen"].isoformat().replace("+00:00", "Z"),
                    "explanation": t.get("explanation"), "advice": t.get("advice")})
    return out


def _timeline(tl: dict[str, Any], copies: int, period: float) -> dict[str, Any]:
    """The lanes repeated with the requests and bucketed again (about 240 buckets); events likewise,
    with the first 2,000 kept evenly."""
    lanes = tl.get("lanes") or {}
    starts = [epoch_ms(b["t"]) for lane in lanes.values() for b in lane if b.get("t")]
    if not starts:
        return tl
    span = max(starts) - min(starts) + copies * period
    step = next((s for s in _STEPS if s * 1000 >= span / 240), 86400) * 1000
    new_lanes: dict[str, list[dict[str, Any]]] = {}
    for kind, buckets in lanes.items():
        acc: dict[float, dict[str, int]] = {}
        for k in range(copies):
            for b in buckets:
                t = (epoch_ms(b["t"]) + k * period) // step * step
                slot = acc.setdefault(t, {})
                for key, n in b.items():
                    if key != "t":
                        slot[key] = slot.get(key, 0) + int(n)
        new_lanes[kind] = [{"t": _iso(t), **acc[t]} for t in sorted(acc)]
    events = []
    for k in range(copies):
        for e in tl.get("events") or []:
            events.append({**e, "ts": _iso(epoch_ms(e["ts"]) + k * period)})
    if len(events) > 2000:
        events = [events[int(i * len(events) / 2000)] for i in range(2000)]
    return {**tl, "bucket_seconds": step // 1000, "lanes": new_lanes, "events": events}
