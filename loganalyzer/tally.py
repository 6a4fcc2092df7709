"""What a night's attempts add up to, kept batch by batch in memory that does not grow with the night.

The scan commits its attempts in batches whose time ranges are disjoint and increasing (each
batch keeps ``[previous horizon, horizon)``). :class:`NightTally` folds each batch in as it comes:

- counts (attempts, requests, failures by verdict and cause; the history's hourly counts) are summed;
- runs of failed attempts in a row, per endpoint and per hour and endpoint, are carried from one
  batch to the next as one weighted row per endpoint whose last attempt failed, so a run across a
  batch border counts whole;
- latency percentiles are exact: an hour's latencies are kept until the horizon has passed the
  hour's end (no later batch can add to it), then reduced to its percentiles and dropped.

So the memory is the open hour's latencies plus small tables, not a row per attempt of the night;
the results equal those computed over the whole night at once (``tests/test_tally.py``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

#: The history's hourly count dimensions; ``root_cause`` counts failed attempts only.
COUNT_DIMENSIONS = ("verdict", "root_cause", "status_client", "status_proxy", "status_upstream")
#: Hourly latency columns: (name in the history, attempt column).
LATENCIES = (("request_time", "request_time"), ("upstream_time", "upstream_response_time"))
PERCENTILES = (50, 95, 99)
_HOUR = timedelta(hours=1)


def _runs(a: pl.DataFrame, keys: list[str], carry: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Failure runs in ``a`` (sorted by time; ``__f``: failed) per ``keys``, the carried runs
    (``keys``, ``from``, ``w``: their length) joined to the first run of their group. Returns every
    run (``keys``, ``n``, ``from``) and the carry for the next batch: each group's trailing run."""
    import polars as pl

    x = pl.concat([
        carry.select(*keys, pl.col("from").alias("ts"), pl.lit(True).alias("__f"), "w"),
        a.select(*keys, "ts", "__f", pl.lit(1, pl.UInt32).alias("w")),
    ], how="vertical_relaxed")
    # Row order within each group is kept by over(): the carried row comes first, then the batch in time order.
    x = x.with_columns((pl.col("__f") != pl.col("__f").shift(1).over(keys)).fill_null(True)
                       .cum_sum().over(keys).alias("__run"))
    runs = x.filter(pl.col("__f")).group_by(*keys, "__run").agg(
        pl.col("w").sum().alias("n"), pl.col("ts").first().alias("from"))
    last = x.group_by(keys).agg(pl.col("__f").last(), pl.col("__run").last()).filter(pl.col("__f"))
    carried = last.join(runs, on=[*keys, "__run"]).select(*keys, "from", pl.col("n").cast(pl.UInt32).alias("w"))
    return runs.drop("__run"), carried


def _longest(runs: pl.DataFrame) -> pl.DataFrame:
    """The longest run per endpoint (``endpoint``, ``n``, ``from``); of equally long ones, the first."""
    return runs.select("endpoint", "n", "from").sort("n", "from", descending=[True, False], nulls_last=True) \
        .group_by("endpoint", maintain_order=True).first()


class NightTally:
    """A night's attempts folded in batch by batch (see the module's docstring)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.requests = 0
        self.failed = 0
        self.by_verdict: Counter[str] = Counter()
        self.by_cause: Counter[str] = Counter()
        self._counts: list[pl.DataFrame] = []  # per batch: hour, endpoint, dimension, value, n
        self._hours: list[pl.DataFrame] = []  # per batch: __h, endpoint, attempts, requests, failed
        self._open: list[pl.DataFrame] = []  # latencies of hours a later batch may still add to
        self._closed: list[pl.DataFrame] = []  # percentiles of finished hours
        self._hour_runs: list[pl.DataFrame] = []  # longest run per hour and endpoint, per batch
        self._night_runs: list[pl.DataFrame] = []  # longest run per endpoint (with its start), per batch
        self._causes: list[pl.DataFrame] = []  # per batch: cause, detail, n, first
        self._carry_hour: pl.DataFrame | None = None
        self._carry_night: pl.DataFrame | None = None

    def add(self, attempts: pl.DataFrame, horizon: datetime | None) -> None:
        """Fold in a batch's attempts (any order; ``endpoint`` computed if missing): every later
        batch's attempts are at ``horizon`` or after it (``None``: not known, the hours stay open)."""
        import polars as pl

        from loganalyzer import analysis
        from loganalyzer import summary as summary_mod

        if "endpoint" not in attempts.columns:
            attempts = attempts.with_columns(summary_mod.endpoint(pl.col("method"), pl.col("path")).alias("endpoint"))
        a = attempts.select(
            "ts", pl.col("endpoint").cast(pl.String), "attempt", pl.col("verdict").cast(pl.String),
            pl.col("root_cause").cast(pl.String), pl.col("root_cause_detail").cast(pl.String),
            *[pl.col(c).cast(pl.Int16) for c in COUNT_DIMENSIONS[2:]],
            *[pl.col(col).cast(pl.Float32) for _, col in LATENCIES],
        ).sort("ts", nulls_last=True, maintain_order=True).with_columns(
            pl.col("ts").dt.truncate("1h").alias("__h"), (pl.col("verdict") != "ok").alias("__f"))
        if a.height == 0:
            if horizon is not None:
                self._close(horizon)
            return
        failed = a.filter(pl.col("__f"))
        self.attempts += a.height
        self.requests += int((a["attempt"] == 1).sum())
        self.failed += failed.height
        self.by_verdict.update(dict(a.group_by("verdict").len().iter_rows()))
        self.by_cause.update(dict(failed.group_by("root_cause").len().iter_rows()))
        hour = analysis.iso(pl.col("__h")).alias("hour")
        for dim in COUNT_DIMENSIONS:
            rows = failed if dim == "root_cause" else a
            self._counts.append(rows.group_by(hour, "endpoint", pl.col(dim).cast(pl.String).alias("value")).agg(
                pl.len().alias("n")).select("hour", "endpoint", pl.lit(dim).alias("dimension"), "value", "n"))
        self._hours.append(a.group_by("__h", "endpoint").agg(
            pl.len().alias("attempts"), (pl.col("attempt") == 1).sum().alias("requests"),
            pl.col("__f").sum().alias("failed")))
        self._open.append(a.select("__h", "endpoint", *[col for _, col in LATENCIES]))
        keys_h, keys_n = ["__h", "endpoint"], ["endpoint"]
        empty_h = pl.DataFrame(schema={"__h": a.schema["__h"], "endpoint": pl.String, "from": a.schema["ts"],
                                       "w": pl.UInt32})
        runs, self._carry_hour = _runs(a, keys_h, self._carry_hour if self._carry_hour is not None else empty_h)
        self._hour_runs.append(runs.group_by(keys_h).agg(pl.col("n").max()))
        runs, self._carry_night = _runs(a, keys_n, self._carry_night if self._carry_night is not None
                                        else empty_h.drop("__h"))
        self._night_runs.append(_longest(runs))
        self._causes.append(failed.group_by(pl.col("root_cause").fill_null("unknown").alias("cause"),
                                            pl.col("root_cause_detail").fill_null("").alias("detail")).agg(
            pl.len().alias("n"), pl.col("ts").min().alias("first")))
        self._squash()
        if horizon is not None:
            self._close(horizon)

    def _squash(self) -> None:
        """Keep each small table one frame: hundreds of batches' pieces would cost more than their rows."""
        import polars as pl

        def one(parts: list[pl.DataFrame], keys: list[str], *agg: pl.Expr) -> list[pl.DataFrame]:
            return [pl.concat(parts, how="vertical_relaxed").group_by(keys).agg(*agg)] if len(parts) > 1 else parts

        self._counts = one(self._counts, ["hour", "endpoint", "dimension", "value"], pl.col("n").sum())
        self._hours = one(self._hours, ["__h", "endpoint"], pl.col("attempts", "requests", "failed").sum())
        self._hour_runs = one(self._hour_runs, ["__h", "endpoint"], pl.col("n").max())
        if len(self._night_runs) > 1:
            self._night_runs = [_longest(pl.concat(self._night_runs))]
        self._causes = one(self._causes, ["cause", "detail"], pl.col("n").sum(), pl.col("first").min())

    def _close(self, horizon: datetime | None) -> None:
        """Reduce to percentiles the hours that end at or before ``horizon`` (all, when ``None``:
        the night is over)."""
        import polars as pl

        if not self._open:
            return
        lat = pl.concat(self._open, how="vertical_relaxed") if len(self._open) > 1 else self._open[0]
        done = pl.lit(True) if horizon is None else (pl.col("__h") + _HOUR <= horizon).fill_null(False)
        finished = lat.filter(done)
        if finished.height:
            self._closed.append(finished.group_by("__h", "endpoint").agg(
                *[pl.col(col).quantile(p / 100, "linear").alias(f"{name}_p{p}")
                  for name, col in LATENCIES for p in PERCENTILES]))
        rest = lat.filter(~done) if finished.height else lat
        self._open = [rest] if rest.height else []

    # ----------------------------------------------------------------------------------------
    # what the night adds up to (after the last batch)

    def summary(self) -> dict[str, Any]:
        """Attempts, requests, failed attempts, success rate, and counts by verdict and by cause."""
        def ordered(c: Counter[str]) -> dict[str, int]:
            return {str(k): int(v) for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0] is None, str(kv[0])))}

        return {"attempts": self.attempts, "requests": self.requests, "failed_attempts": self.failed,
                "success_rate": round(1 - self.failed / self.attempts, 6) if self.attempts else None,
                "by_verdict": ordered(self.by_verdict), "by_cause": ordered(self.by_cause)}

    def hourly(self) -> pl.DataFrame:
        """Per hour and endpoint: attempts, requests, failures, latency percentiles, longest failure run."""
        import polars as pl

        from loganalyzer import analysis

        self._close(None)
        q = [f"{name}_p{p}" for name, _ in LATENCIES for p in PERCENTILES]
        cols = ["hour", "endpoint", "attempts", "requests", "failed", *q, "longest_failure_run"]
        if not self._hours:
            return pl.DataFrame(schema={c: pl.String if c in ("hour", "endpoint") else
                                        (pl.Float64 if c in q else pl.Int64) for c in cols})
        keys = ["__h", "endpoint"]
        out = self._hours[0]
        for part in (pl.concat(self._closed, how="vertical_relaxed").group_by(keys).first(), self._hour_runs[0]
                     .rename({"n": "longest_failure_run"})):
            out = out.join(part, on=keys, how="left", nulls_equal=True)
        return out.with_columns(analysis.iso(pl.col("__h")).alias("hour"), pl.col("longest_failure_run").fill_null(0)
                                ).select(cols).sort("hour", "endpoint").with_columns(
            pl.col("attempts", "requests", "failed", "longest_failure_run").cast(pl.Int64),
            pl.col(q).cast(pl.Float64))

    def counts(self) -> list[tuple[str | None, str, str, str | None, int]]:
        """The history's hourly counts: (hour, endpoint, dimension, value, n)."""
        if not self._counts:
            return []
        return list(self._counts[0].select("hour", "endpoint", "dimension", "value", "n").iter_rows())

    def longest_runs(self, at_least: int) -> list[tuple[str, int, datetime | None]]:
        """Per endpoint, its longest run of failed attempts in a row if ``at_least`` long: (endpoint,
        length, first attempt's time), by endpoint."""
        import polars as pl

        if not self._night_runs:
            return []
        return list(self._night_runs[0].filter(pl.col("n") >= at_least).sort("endpoint")
                    .select("endpoint", "n", "from").iter_rows())

    def causes(self) -> list[tuple[str, str, int, datetime | None]]:
        """Failed attempts per (cause, detail), most first: (cause, detail, n, first time)."""
        if not self._causes:
            return []
        return list(self._causes[0].sort(["n", "cause", "detail"], descending=[True, False, False])
                    .select("cause", "detail", "n", "first").iter_rows())
