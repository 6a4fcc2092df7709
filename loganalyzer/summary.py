"""Summary of an analysis: what failed, how much, between when and when, where, why, and what changed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import polars as pl

#: Path segments that are identifiers, folded so endpoints group: /api/customers/413 -> /api/customers/{id}.
_ID_SEGMENT = r"^(?:\d+|[0-9a-fA-F]{8,}|[0-9a-fA-F-]{36}|[A-Za-z]+-\d+)$"
TRIGGER_HORIZON = timedelta(hours=2)


def endpoint(method: pl.Expr, path: pl.Expr) -> pl.Expr:
    """``GET /api/customers/{id}``: the method and the path with identifier segments folded."""
    folded = path.fill_null("?").str.split("/").list.eval(
        pl.when(pl.element().str.contains(_ID_SEGMENT)).then(pl.lit("{id}")).otherwise(pl.element())
    ).list.join("/")
    return pl.format("{} {}", method.fill_null("?"), folded)


def _iso(ts) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None


def _counts(df: pl.DataFrame, column: str) -> dict[str, int]:
    if df.height == 0:
        return {}
    c = df.group_by(column).len().sort(["len", column], descending=[True, False])
    return {str(k): int(v) for k, v in c.iter_rows()}


def longest_failure_run(requests: pl.DataFrame) -> dict[str, Any] | None:
    """The longest run of consecutive failed attempts, in time order."""
    if requests.height == 0:
        return None
    r = requests.sort("ts").with_columns((pl.col("verdict") != "ok").alias("__f"))
    r = r.with_columns((pl.col("__f") != pl.col("__f").shift(1)).fill_null(True).cum_sum().alias("__run"))
    runs = r.filter(pl.col("__f")).group_by("__run").agg(
        pl.len().alias("n"), pl.col("ts").min().alias("from"), pl.col("ts").max().alias("to"))
    if runs.height == 0:
        return None
    best = runs.sort(["n", "from"], descending=[True, False]).row(0, named=True)
    return {"attempts": int(best["n"]), "from": _iso(best["from"]), "to": _iso(best["to"])}


def changes(frames: dict[str, pl.DataFrame], patterns: list[tuple[str, str, str]]) -> pl.DataFrame:
    """Lines that mark a change (a release, a restart, a reload): ts, source, label, version, where."""
    out = []
    for label, source, pattern in patterns:
        df = frames.get(source)
        if df is None or df.height == 0 or "message" not in df.columns:
            continue
        groups = list(re.compile(pattern).groupindex)
        hits = df.filter(pl.col("message").str.contains(pattern))
        if hits.height == 0:
            continue
        version = pl.lit(None, pl.String)
        if groups:
            g = pl.col("message").str.extract_groups(pattern)
            version = pl.coalesce([g.struct.field(n) for n in groups if n.startswith("version")] or [version])
        out.append(hits.select(
            "ts", pl.lit(source).alias("source"), pl.lit(label).alias("label"), version.alias("version"),
            pl.col("message").str.split("\n").list.first().alias("text"), pl.col("file").cast(pl.String), "line"))
    if not out:
        return pl.DataFrame(schema={"ts": pl.Datetime("ns", "UTC"), "source": pl.String, "label": pl.String,
                                    "version": pl.String, "text": pl.String, "file": pl.String, "line": pl.Int64})
    return pl.concat(out, how="vertical_relaxed").sort("ts")


def _trigger(requests: pl.DataFrame, change_lines: pl.DataFrame, dominant: str | None) -> dict[str, Any] | None:
    """The first failure of the dominant cause and the last change before it (within the horizon)."""
    if dominant is None:
        return None
    first = requests.filter(pl.col("root_cause") == dominant).sort("ts").row(0, named=True)
    before = change_lines.filter(
        (pl.col("ts") <= first["ts"]) & (pl.col("ts") >= first["ts"] - TRIGGER_HORIZON))
    # A change that happened again and again (every restart of a crash loop) is less telling than one
    # whose version differs from the one before it.
    change = None
    if before.height:
        last = before.row(-1, named=True)
        change = {"ts": _iso(last["ts"]), "source": last["source"], "label": last["label"],
                  "version": last["version"], "text": last["text"], "file": last["file"], "line": last["line"],
                  "before_first_failure_s": round((first["ts"] - last["ts"]).total_seconds(), 3)}
        prior = change_lines.filter((pl.col("ts") < last["ts"]) & (pl.col("source") == last["source"])
                                    & (pl.col("label") == last["label"]))
        if prior.height and last["version"]:
            change["previous_version"] = prior.row(-1, named=True)["version"]
    return {"cause": dominant, "first_failure": _iso(first["ts"]), "attempt_id": int(first["attempt_id"]),
            "request_id": first["request_id"], "endpoint": f"{first['method']} {first['path']}",
            "change": change}


def summarize(requests: pl.DataFrame, change_lines: pl.DataFrame) -> dict[str, Any]:
    """Counts by verdict, cause, endpoint and status over time; first/last failure; longest run; trigger."""
    failed = requests.filter(pl.col("verdict") != "ok")
    logical = requests.filter(pl.col("last_attempt"))
    by_cause = _counts(failed, "root_cause")
    dominant = next(iter(by_cause), None)
    with_ep = requests.with_columns(endpoint(pl.col("method"), pl.col("path")).alias("endpoint"))
    endpoints = (
        with_ep.group_by("endpoint").agg(
            pl.len().alias("attempts"), (pl.col("verdict") != "ok").sum().alias("failed"),
            pl.col("root_cause").filter(pl.col("verdict") != "ok").mode().sort().first().alias("top_cause"))
        .sort(["failed", "attempts", "endpoint"], descending=[True, True, False])
    )
    minute = requests.with_columns(pl.col("ts").dt.truncate("1m").alias("minute"))
    over_time = (
        minute.group_by(["minute", "verdict"]).len().sort(["minute", "verdict"])
        .pivot(on="verdict", index="minute", values="len", sort_columns=True).fill_null(0).sort("minute")
    )
    status_time = (
        minute.with_columns(pl.coalesce(pl.col("status_proxy"), pl.col("status_client")).cast(pl.String)
                            .fill_null("none").alias("status"))
        .group_by(["minute", "status"]).len().sort(["minute", "status"])
    )
    first = failed.sort("ts").head(1)
    last = failed.sort("ts").tail(1)
    return {
        "attempts": requests.height,
        "requests": logical.height,
        "failed_attempts": failed.height,
        "failed_requests": logical.filter(pl.col("verdict") != "ok").height,
        "first_failure": _iso(first["ts"].item()) if first.height else None,
        "last_failure": _iso(last["ts"].item()) if last.height else None,
        "time_range": {"from": _iso(requests["ts"].min()), "to": _iso(requests["ts"].max())}
        if requests.height else None,
        "by_verdict": _counts(requests, "verdict"),
        "by_cause": by_cause,
        "by_endpoint": [
            {"endpoint": e, "attempts": int(n), "failed": int(f), "top_cause": c}
            for e, n, f, c in endpoints.head(25).iter_rows()
        ],
        "over_time": [
            {"minute": _iso(row["minute"]), **{k: int(v) for k, v in row.items() if k != "minute"}}
            for row in over_time.iter_rows(named=True)
        ],
        "status_over_time": [
            {"minute": _iso(m), "status": s, "count": int(n)} for m, s, n in status_time.iter_rows()
        ],
        "longest_failure_run": longest_failure_run(requests),
        "dominant_cause": dominant,
        "suspected_trigger": _trigger(requests, change_lines, dominant),
        "changes": [
            {"ts": _iso(r["ts"]), "source": r["source"], "label": r["label"], "version": r["version"],
             "text": r["text"], "file": r["file"], "line": r["line"]}
            for r in change_lines.head(200).iter_rows(named=True)
        ],
    }
