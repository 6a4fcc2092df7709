"""Summary of an analysis: what failed, how much, between when and when, where, why, and what changed.

A change is a line in which a service says it started, stopped or reloaded (the rules' ``[[change]]``
entries); each leading cause is given the last change before its first failure as its trigger.
"""

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


def changes(frames: dict[str, pl.DataFrame], patterns: list[Any]) -> pl.DataFrame:
    """:func:`change_lines` of ``frames``, then :func:`releases` among them."""
    return releases(change_lines(frames, patterns))


#: The columns of :func:`change_lines`.
CHANGE_LINES = {"ts": pl.Datetime("ns", "UTC"), "source": pl.String, "kind": pl.String, "label": pl.String,
                "__release": pl.String, "service": pl.String, "version": pl.String, "text": pl.String,
                "file": pl.String, "line": pl.Int64}


def change_lines(frames: dict[str, pl.DataFrame], patterns: list[Any]) -> pl.DataFrame:
    """Lines in which a service says it started, stopped or reloaded.

    ``patterns`` are the rules' ``[[change]]`` entries (:class:`loganalyzer.diagnose.ChangePattern`).
    Only a line's first line is matched, so a stack trace never makes a change. Columns:
    :data:`CHANGE_LINES` (``__release``: the label the line takes if it proves a release).
    """
    out = []
    for p in patterns:
        df = frames.get(p.source)
        if df is None or df.height == 0 or "message" not in df.columns:
            continue
        groups = list(re.compile(p.pattern).groupindex)
        first_line = pl.col("message").str.split("\n").list.first()
        hits = df.with_columns(first_line.alias("__text")).filter(pl.col("__text").str.contains(p.pattern))
        if hits.height == 0:
            continue
        version = service = pl.lit(None, pl.String)
        if groups:
            g = pl.col("__text").str.extract_groups(p.pattern)
            version = pl.coalesce([g.struct.field(n) for n in groups if n.startswith("version")] or [version])
            service = pl.coalesce([g.struct.field(n) for n in groups if n.startswith("service")] or [service])
        out.append(hits.select(
            "ts", pl.lit(p.source).alias("source"), pl.lit(p.kind).alias("kind"), pl.lit(p.label).alias("label"),
            pl.lit(p.release_label or p.label).alias("__release"),
            pl.coalesce(service, pl.lit(p.source)).alias("service"), version.alias("version"),
            pl.col("__text").alias("text"), pl.col("file").cast(pl.String), "line"))
    if not out:
        return pl.DataFrame(schema=CHANGE_LINES)
    return pl.concat(out, how="vertical_relaxed").cast(CHANGE_LINES).select(list(CHANGE_LINES))


def releases(lines: pl.DataFrame) -> pl.DataFrame:
    """Change lines (:func:`change_lines`, of one read or many) with the releases told: a start-up
    whose version differs from the previous start-up of the same service (same source and service
    name) is a release: its ``kind`` is "release", its ``label`` the entry's ``release_label`` and
    ``previous_version`` the version before. Columns: ts, source, kind, label, service, version,
    previous_version, text, file, line."""
    schema = {"ts": pl.Datetime("ns", "UTC"), "source": pl.String, "kind": pl.String, "label": pl.String,
              "service": pl.String, "version": pl.String, "previous_version": pl.String, "text": pl.String,
              "file": pl.String, "line": pl.Int64}
    if lines.height == 0:
        return pl.DataFrame(schema=schema)
    lines = lines.sort("ts", maintain_order=True)
    # The version each service ran before: the last one a start-up of the same service gave.
    lines = lines.with_columns(
        pl.col("version").forward_fill().shift(1).over(["source", "service"]).alias("previous_version"))
    released = pl.col("version").is_not_null() & pl.col("previous_version").is_not_null() \
        & (pl.col("version") != pl.col("previous_version"))
    return lines.with_columns(
        pl.when(released).then(pl.lit("release")).otherwise(pl.col("kind")).alias("kind"),
        pl.when(released).then(pl.col("__release")).otherwise(pl.col("label")).alias("label"),
        pl.when(released).then(pl.col("previous_version")).alias("previous_version"),
    ).select(list(schema))


def _change(row: dict[str, Any], first_ts) -> dict[str, Any]:
    change = {"ts": _iso(row["ts"]), "source": row["source"], "kind": row["kind"], "label": row["label"],
              "service": row["service"], "version": row["version"], "text": row["text"], "file": row["file"],
              "line": row["line"], "before_first_failure_s": round((first_ts - row["ts"]).total_seconds(), 3)}
    if row["previous_version"]:
        change["previous_version"] = row["previous_version"]
    return change


def _trigger(requests: pl.DataFrame, change_lines: pl.DataFrame, cause: str | None,
             failed_total: int = 0) -> dict[str, Any] | None:
    """The first failure of ``cause`` and the last change before it (within the horizon).

    The change is claimed for this cause only: ``explains`` says what share of all failed
    attempts that is ("explains 40 % of the failures (58 of 144 failed attempts)").
    """
    if cause is None:
        return None
    mine = requests.filter((pl.col("root_cause") == cause) & (pl.col("verdict") != "ok")).sort("ts")
    if mine.height == 0:
        return None
    first = mine.row(0, named=True)
    # A change before any attempt is where the logs begin, not something that changed while
    # requests were being served: it cannot have triggered anything the logs show.
    started = requests["ts"].min()
    before = change_lines.filter(
        (pl.col("ts") <= first["ts"]) & (pl.col("ts") >= first["ts"] - TRIGGER_HORIZON) & (pl.col("ts") > started))
    change = _change(before.row(-1, named=True), first["ts"]) if before.height else None
    total = failed_total or mine.height
    share = mine.height / total
    return {"cause": cause, "first_failure": _iso(first["ts"]), "attempt_id": int(first["attempt_id"]),
            "request_id": first["request_id"], "endpoint": f"{first['method']} {first['path']}",
            "change": change, "share": round(share, 4),
            "explains": f"explains {share:.0%} of the failures ({mine.height:,} of {total:,} failed attempts)"
            .replace("%", " %")}


#: Causes whose trigger is looked for: the largest ones, until they cover this share of the failures.
LEADING_SHARE = 0.9
LEADING_MAX = 8


def leading_causes(requests: pl.DataFrame, change_lines: pl.DataFrame,
                   explained: pl.DataFrame | None = None) -> list[dict[str, Any]]:
    """The causes that make up most failures, each with its count, share, explanation and trigger."""
    failed = requests.filter(pl.col("verdict") != "ok")
    if failed.height == 0:
        return []
    agg = [pl.len().alias("attempts"), pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last")]
    if "rule" in failed.columns:
        agg.append(pl.col("rule").drop_nulls().mode().sort().first().alias("rule"))
    counts = failed.group_by("root_cause").agg(agg).sort(["attempts", "root_cause"], descending=[True, False])
    texts = {}
    if explained is not None and "rule" in counts.columns and explained.height:
        texts = dict(zip(explained["rule"], explained["explanation"], strict=True))
    out, covered = [], 0
    for row in counts.head(LEADING_MAX).iter_rows(named=True):
        if covered >= LEADING_SHARE * failed.height:
            break
        covered += row["attempts"]
        explanation = texts.get(row.get("rule")) or f"{row['root_cause']}: no rule explains it further"
        out.append({"cause": row["root_cause"], "attempts": int(row["attempts"]),
                    "share": round(row["attempts"] / failed.height, 4), "first_failure": _iso(row["first"]),
                    "last_failure": _iso(row["last"]), "explanation": explanation,
                    "trigger": _trigger(requests, change_lines, row["root_cause"], failed.height)})
    return out


#: The attempts' columns :func:`summarize` reads.
_READ = ("attempt_id", "request_id", "ts", "method", "path", "verdict", "verdict_evidence", "root_cause", "rule",
         "last_attempt", "status_proxy", "status_client")


def summarize(requests: pl.DataFrame, change_lines: pl.DataFrame,
              explained: pl.DataFrame | None = None) -> dict[str, Any]:
    """Counts by verdict, cause, endpoint and status over time; first/last failure; longest run; triggers.

    ``causes`` lists the leading causes, each with the change that may have triggered it
    (``trigger``, scoped to the failures that cause explains); ``suspected_trigger`` is the
    dominant cause's. ``explained`` (rule, explanation), when given, words each cause.
    """
    # The columns a summary reads, alone: the filters and sorts below copy what they keep.
    requests = requests.select(c for c in _READ if c in requests.columns)
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
        "suspected_trigger": _trigger(requests, change_lines, dominant, failed.height),
        "causes": leading_causes(requests, change_lines, explained),
        "by_verdict_evidence": _counts(failed, "verdict_evidence") if "verdict_evidence" in failed.columns else {},
        "changes": [
            {"ts": _iso(r["ts"]), "source": r["source"], "kind": r["kind"], "label": r["label"],
             "service": r["service"], "version": r["version"], "previous_version": r["previous_version"],
             "text": r["text"], "file": r["file"], "line": r["line"]}
            for r in change_lines.head(200).iter_rows(named=True)
        ],
    }
