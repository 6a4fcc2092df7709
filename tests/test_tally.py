"""A night folded in batch by batch equals the same night counted at once, by a plain reference."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from loganalyzer import tally

T0 = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
ENDPOINTS = ["GET /api/customers/{id}", "POST /api/tickets", "PUT /api/tickets/{id}"]
CAUSES = [("malformed_json", "trailing comma"), ("upstream_timeout", None), ("auth", "expired token")]


def night(seed: int, n: int = 600) -> list[dict]:
    """Attempts of a night in time order: failures come in streaks, so runs cross batch borders."""
    rng = random.Random(seed)
    rows, t, failing = [], T0, {e: False for e in ENDPOINTS}
    for _ in range(n):
        t += timedelta(seconds=rng.choice([1, 7, 30, 240]), microseconds=rng.randrange(1, 999_999))
        e = rng.choice(ENDPOINTS)
        if rng.random() < 0.15:
            failing[e] = not failing[e]
        cause = rng.choice(CAUSES) if failing[e] else (None, None)
        rows.append({"ts": t, "endpoint": e, "attempt": rng.choice([1, 1, 1, 2]),
                     "verdict": rng.choice(["upstream_error", "client_error"]) if failing[e] else "ok",
                     "root_cause": cause[0], "root_cause_detail": cause[1],
                     "status_client": 500 if failing[e] else 200, "status_proxy": 502 if failing[e] else 200,
                     "status_upstream": None if failing[e] and rng.random() < 0.3 else 200,
                     "request_time": round(rng.random() * 3, 3), "upstream_response_time":
                     None if rng.random() < 0.2 else round(rng.random() * 2, 3)})
    return rows


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={
        "ts": pl.Datetime("us", "UTC"), "endpoint": pl.String, "attempt": pl.Int64, "verdict": pl.String,
        "root_cause": pl.String, "root_cause_detail": pl.String, "status_client": pl.Int64,
        "status_proxy": pl.Int64, "status_upstream": pl.Int64, "request_time": pl.Float64,
        "upstream_response_time": pl.Float64})


def quantile(values: list[float], q: float) -> float | None:
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    i = q * (len(v) - 1)
    lo, hi = math.floor(i), math.ceil(i)
    return v[lo] + (v[hi] - v[lo]) * (i - lo)


def reference(rows: list[dict]) -> dict:
    """The night counted at once, row by row, in time order."""
    as32 = pl.Series([r["request_time"] for r in rows], dtype=pl.Float32).to_list()  # the tally keeps float32
    up32 = pl.Series([r["upstream_response_time"] for r in rows], dtype=pl.Float32).to_list()
    hours: dict = defaultdict(lambda: {"attempts": 0, "requests": 0, "failed": 0, "rt": [], "ut": [], "run": 0,
                                       "longest": 0})
    night_run: dict = {}
    longest: dict = {}
    causes: dict = {}
    counts: Counter = Counter()
    for r, rt, ut in zip(rows, as32, up32, strict=True):
        hour = r["ts"].replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        h = hours[(hour, r["endpoint"])]
        f = r["verdict"] != "ok"
        h["attempts"] += 1
        h["requests"] += r["attempt"] == 1
        h["failed"] += f
        h["rt"].append(rt)
        h["ut"].append(ut)
        h["run"] = h["run"] + 1 if f else 0
        h["longest"] = max(h["longest"], h["run"])
        n, start = night_run.get(r["endpoint"], (0, None))
        night_run[r["endpoint"]] = (n + 1, start if n else r["ts"]) if f else (0, None)
        if f:
            k, s = night_run[r["endpoint"]]
            if k > longest.get(r["endpoint"], (0, None))[0]:
                longest[r["endpoint"]] = (k, s)
            key = (r["root_cause"] or "unknown", r["root_cause_detail"] or "")
            c = causes.get(key, [0, r["ts"]])
            causes[key] = [c[0] + 1, min(c[1], r["ts"])]
        for dim in tally.COUNT_DIMENSIONS:
            if dim == "root_cause" and not f:
                continue
            v = r[dim]
            counts[(hour, r["endpoint"], dim, None if v is None else str(v))] += 1
    hourly = {k: {"attempts": h["attempts"], "requests": h["requests"], "failed": h["failed"],
                  "longest_failure_run": h["longest"],
                  **{f"request_time_p{p}": quantile(h["rt"], p / 100) for p in tally.PERCENTILES},
                  **{f"upstream_time_p{p}": quantile(h["ut"], p / 100) for p in tally.PERCENTILES}}
              for k, h in hours.items()}
    return {"hourly": hourly, "longest": longest, "causes": causes, "counts": counts,
            "attempts": len(rows), "failed": sum(r["verdict"] != "ok" for r in rows)}


def folded(rows: list[dict], seed: int) -> tally.NightTally:
    """The night in random batches, each shuffled, each promising its successors start at its horizon."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(rows)), rng.randrange(1, 40)))
    t = tally.NightTally()
    for a, b in zip([0, *cuts], [*cuts, len(rows)], strict=True):
        batch = rows[a:b]
        rng.shuffle(batch)
        t.add(frame(batch), rows[b]["ts"] if b < len(rows) else None)
    return t


@pytest.mark.parametrize("seed", range(12))
def test_a_night_in_batches_counts_as_the_night_at_once(seed):
    rows = night(seed)
    want = reference(rows)
    t = folded(rows, seed)
    got = {(r["hour"], r["endpoint"]): r for r in t.hourly().to_dicts()}
    assert set(got) == set(want["hourly"])
    for k, w in want["hourly"].items():
        g = got[k]
        for col, v in w.items():
            assert g[col] == pytest.approx(v, rel=1e-6, abs=1e-9), (k, col)
    assert {e: (n, s) for e, n, s in t.longest_runs(1)} == want["longest"]
    assert {(c, d): [n, f] for c, d, n, f in t.causes()} == {k: v for k, v in want["causes"].items()}
    assert Counter({(h, e, d, v): n for h, e, d, v, n in t.counts()}) == want["counts"]
    s = t.summary()
    assert (s["attempts"], s["failed_attempts"]) == (want["attempts"], want["failed"])
    assert sum(s["by_verdict"].values()) == want["attempts"] and sum(s["by_cause"].values()) == want["failed"]


def test_a_run_of_failures_across_every_batch_counts_whole():
    rows = [r | {"verdict": "upstream_error", "endpoint": ENDPOINTS[0]} for r in night(99, 50)]
    t = tally.NightTally()
    for i, r in enumerate(rows):  # one attempt per batch
        t.add(frame([r]), rows[i + 1]["ts"] if i + 1 < len(rows) else None)
    assert t.longest_runs(3) == [(ENDPOINTS[0], 50, rows[0]["ts"])]
    assert t.longest_runs(51) == []


def test_an_hour_is_reduced_once_the_horizon_passes_it():
    rows = night(7)
    t = tally.NightTally()
    half = len(rows) // 2
    t.add(frame(rows[:half]), rows[half]["ts"])
    open_hours = pl.concat(t._open)["__h"].unique().to_list() if t._open else []
    # Only the hour the horizon is in (an attempt of the next batch may still fall in it) stays whole.
    assert open_hours == [rows[half]["ts"].replace(minute=0, second=0, microsecond=0)] or not open_hours
    assert pl.concat(t._open).height < half


def test_an_empty_night_has_no_hours():
    t = tally.NightTally()
    t.add(frame([]), None)
    assert t.hourly().height == 0 and t.summary()["attempts"] == 0 and t.longest_runs(1) == []
