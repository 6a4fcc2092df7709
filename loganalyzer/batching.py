"""Logs read in batches and analysed in time windows: the driver the nightly scan and a bounded
analysis (:mod:`loganalyzer.bounded`) share.

A batch is at most a few megabytes of each file (:class:`loganalyzer.scanwork.RangeSpec`). Its
ranges are parsed where the work runs (:func:`loganalyzer.scanwork.parse_range`); the time they
cover is cut into windows, each correlated and diagnosed with ``overlap`` seconds of its
neighbours' entries, so a request crossing a border is whole; a window keeps the attempts that
start inside it, up to the batch's horizon. The lines after ``horizon - overlap`` are carried to the
next batch, which reads them again with what follows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from loganalyzer import schema

if TYPE_CHECKING:
    import polars as pl

    from loganalyzer import correlate, diagnose, scanwork

#: Bytes of each range read on the client to decide its kind and zone and to measure the clocks.
HEAD_BYTES = 4 << 20


class InProcess:
    """Runs the units of work here, one after another (the default executor)."""

    class Done:
        def __init__(self, value):
            self.value = value

    @staticmethod
    def _resolve(v):
        if isinstance(v, InProcess.Done):
            return v.value
        if isinstance(v, list):
            return [InProcess._resolve(x) for x in v]
        return v

    def submit(self, fn, *args):
        return InProcess.Done(fn(*[self._resolve(a) for a in args]))

    def gather(self, futures: list) -> list:
        return [f.value for f in futures]


def decide(specs: list[scanwork.RangeSpec], ruleset: diagnose.RuleSet, stage: Path, settings_file: str | None,
           measure: bool, tz: dict[str, str] | None = None, encoding: dict[str, str] | None = None
           ) -> tuple[list[scanwork.RangeSpec], list[correlate.ClockOffset] | None]:
    """Kind and zone of each range from the heads of all of them, read together (an nginx error log
    takes the offset of the access log beside it); with ``measure``, the clock offsets too.

    ``tz``/``encoding``: per kind (or ``*``) as :func:`loganalyzer.load` takes them; a range's own
    ``zone``/``encoding`` wins."""
    from loganalyzer import correlate, scanwork
    from loganalyzer.ingest import load
    from loganalyzer.schema import KINDS

    stage.mkdir(parents=True, exist_ok=True)
    heads = {}
    for spec in specs:
        data, _, _, _ = scanwork.read_bytes(replace(spec, limit=HEAD_BYTES))
        path = stage / spec.name
        path.write_bytes(data)
        heads[spec.name] = str(path)
    as_, zones, enc = {}, dict(tz or {}), dict(encoding or {})
    for spec in specs:
        if spec.kind:
            as_[heads[spec.name]] = spec.kind
        if spec.zone:
            zones[heads[spec.name]] = spec.zone
        if spec.encoding:
            enc[heads[spec.name]] = spec.encoding
    logs = load(list(heads.values()), as_=as_, tz=zones, encoding=enc, config=settings_file,
                formats=specs[0].formats if specs else (), max_memory="none")
    records = logs.stats.to_dict("records")
    rows = {r["file"]: r for r in records}
    layouts = Counter(r["file"] for r in records)  # a file of several layouts has a row for each
    out = []
    for spec in specs:
        row = rows.get(heads[spec.name], {})
        kind = spec.kind or (row.get("kind") if isinstance(row.get("kind"), str) else None)
        zone, told = spec.zone, spec.zone_source
        # An inferred zone is decided once for every batch; one given by kind is passed on, as
        # the ranges are read under names of their own (one set in the settings applies there too).
        if zone is None and str(row.get("zone_source", "")).startswith(("inferred", "given")):
            zone = row.get("zone") if isinstance(row.get("zone"), str) else None
            told = row.get("zone_source") if zone else None
        # The format too, as a whole load decides it once per file (not for a file of several layouts,
        # nor where the kind came with one): no range detects it again.
        fmt, decided = None, None
        # (A kind given with its format, "crm:spring_boot_3", is no kind of KINDS: left as given.)
        if (kind in KINDS and kind != "other" and layouts[heads[spec.name]] == 1 and row.get("kind") == kind
                and isinstance(row.get("format"), str)):
            fmt = row["format"]
            decided = {k: row.get(k) for k in ("kind_evidence", "kind_confidence", "match_rate")}
        out.append(replace(spec, kind=kind, zone=zone, zone_source=told,
                           encoding=spec.encoding or _per_kind(encoding, kind), format=fmt, decided=decided))
    offsets = None
    if measure:
        frames = {k: df for k, df in logs.polars.items() if df.height}
        offsets = correlate.correlate(frames, ruleset.nginx_messages).offsets if frames else []
    for f in heads.values():
        Path(f).unlink(missing_ok=True)
    return out, offsets


def _per_kind(values: dict[str, str] | None, kind: str | None) -> str | None:
    if not values:
        return None
    base = kind.partition(":")[0] if kind else None
    return values.get(base) if base in values else values.get("*")


@dataclass
class Batch:
    """What one batch read and found."""

    ranges: list  # the parsed ranges (futures of scanwork.RangeResult, where the work ran)
    stats: list[scanwork.RangeStats]
    more: bool  # a file has more to read
    horizon: datetime | None  # the attempts kept start before it (None: all)
    windows: list[scanwork.WindowResult]
    carries: list[tuple[bytes, int]]  # per range: the lines carried to the next batch, and the first's number
    held: frozenset[str] = frozenset()  # the kinds found entries of, in this batch and those before


def run(specs: list[scanwork.RangeSpec], ruleset: diagnose.RuleSet, offsets: list[correlate.ClockOffset], *,
        window_s: float, overlap_s: float, hold_s: float, horizon_prev: datetime | None,
        last_horizon: Callable[[datetime], datetime | None], ex, redact_secrets: bool,
        expiry: list[tuple[str, str]] = (), full: bool = False, group: int = 0,
        held: frozenset[str] | None = None) -> Batch:
    """Parse ``specs`` (one range per file) and correlate and diagnose the windows they cover.

    ``horizon_prev``: where the previous batch's kept attempts ended. ``last_horizon(newest)``:
    the horizon when no file has more to read. ``full``: each window keeps the evidence of every
    attempt and the dimensions :mod:`loganalyzer.differences` compares (a bounded analysis's export
    needs them; the scan keeps failures only). ``group``: consecutive windows are analysed as one
    while they hold no more than this many entries together (0: each on its own); a window's cost
    is mostly fixed, and a batch of sparse logs may touch hundreds. ``held``: the kinds earlier
    batches found entries of (this batch's are added to them).
    """
    from loganalyzer import scanwork

    shift = scanwork.shift_of(offsets)
    futures = [ex.submit(scanwork.parse_range, spec, shift, list(expiry)) for spec in specs]
    stats = ex.gather([ex.submit(scanwork.range_stats, f) for f in futures])
    more = any(st.more for st in stats)
    timed = [st for st in stats if st.lo is not None]
    horizon = None
    results = []
    # A window sees the kinds of its own lines; the run's logs may hold others (in other windows,
    # or in a file whose kind is known and whose lines come in a later batch).
    held = frozenset(k for st in stats if st.parsed for k in st.kinds) | frozenset(s.kind for s in specs if s.kind) \
        | (held or frozenset())
    if timed:
        newest = max(st.hi for st in timed)
        if more:  # the files with more to read limit the batch: their next lines are later than these
            waiting = [st.hi for st in timed if st.more]
            horizon = (min(waiting) if waiting else newest) - timedelta(seconds=hold_s)
        else:
            horizon = last_horizon(newest)
        first_window = True
        # Only the windows where entries are (a batch may span days with its entries in minutes of
        # them), and with ``group``, runs of them analysed as one while their entries are that few.
        counts: dict[int, int] = {}
        for found in ex.gather([ex.submit(scanwork.occupied, f, window_s) for f in futures]):
            for w, n in found.items():
                counts[w] = counts.get(w, 0) + n
        pad = timedelta(seconds=overlap_s)
        for w, last in _runs(counts, group):
            a, _ = scanwork.window_bounds(w, window_s)
            _, b = scanwork.window_bounds(last, window_s)
            keep_from = max(a, horizon_prev) if horizon_prev is not None else a
            keep_until = min(b, horizon) if horizon is not None else b
            if keep_from >= keep_until:
                continue
            parts = [ex.submit(scanwork.partition, f, w, window_s, overlap_s, last)
                     for f, st in zip(futures, stats, strict=True)
                     if st.lo is not None and st.lo - pad <= b and st.hi + pad >= a]
            if parts:
                results.append(ex.submit(scanwork.window, parts, ruleset, offsets, keep_from, keep_until,
                                         first_window and horizon_prev is None, redact_secrets, full, held))
                first_window = False
    windows = ex.gather(results)
    carries = [(b"", 0)] * len(specs)
    if horizon is not None:
        cut = horizon - timedelta(seconds=overlap_s)
        carries = ex.gather([ex.submit(scanwork.carry_of, f, cut) for f in futures])
    return Batch(futures, stats, more, horizon, windows, carries, held)


def _runs(counts: dict[int, int], group: int) -> list[tuple[int, int]]:
    """The occupied windows as runs (first, last), each at most ``group`` entries unless one window
    alone holds more."""
    runs: list[tuple[int, int]] = []
    held = 0
    for w in sorted(counts):
        if runs and held + counts[w] <= group:
            runs[-1] = (runs[-1][0], w)
            held += counts[w]
        else:
            runs.append((w, w))
            held = counts[w]
    return runs


def merge(parts: list[scanwork.WindowResult], base: int = 0
          ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """One attempts table (ids renumbered across windows, from ``base + 1``), the evidence the
    windows kept, and their dimensions (None unless the windows computed them). A request without
    an id is named after its first attempt (``#N``): renamed with it."""
    import polars as pl

    attempts, evidence, dims = [], [], []
    for p in parts:
        if p.attempts.height == 0:
            continue
        ids = p.attempts.select("attempt_id", (pl.int_range(pl.len()) + base + 1).cast(pl.UInt32).alias("__new"))
        # "#N" names a request by its first attempt's id: renamed to the first kept attempt's new id.
        numbered = pl.col("logical_id").str.contains(r"^#\d+$").fill_null(False)
        a = p.attempts.join(ids, on="attempt_id", maintain_order="left")
        attempts.append(a.with_columns(
            pl.col("__new").alias("attempt_id"),
            pl.when(numbered).then(pl.format("#{}", pl.col("__new").min().over("logical_id")))
            .otherwise(pl.col("logical_id")).alias("logical_id")).drop("__new"))
        evidence.append(_renumbered(p.evidence, ids))
        if p.dims is not None:
            dims.append(_renumbered(p.dims, ids))
        base += p.attempts.height
    a = schema.conform(pl.concat(attempts), schema.ATTEMPT).sort("ts", nulls_last=True) if attempts \
        else schema.empty(schema.ATTEMPT)
    e = schema.conform(pl.concat(evidence), schema.EVIDENCE) if evidence else schema.empty(schema.EVIDENCE)
    d = pl.concat(dims, how="vertical_relaxed") if dims else None
    return a, e, d


def _renumbered(frame: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    return frame.join(ids, on="attempt_id").with_columns(pl.col("__new").alias("attempt_id")).drop("__new")


def placed(frame: pl.DataFrame, ranges: list[tuple[str, str, int]],
           extra: dict[str, list[str]] | None = None) -> pl.DataFrame:
    """``frame`` with its ``file`` (a range's name) and ``line`` (in the range) as the file's own.
    ``ranges``: (name, path, lines before the range's first) each; ``extra``: more text columns to
    add, a value per range."""
    import polars as pl

    table = pl.DataFrame(ranges, schema={"file": pl.String, "__path": pl.String, "__base": pl.Int64}, orient="row")
    table = table.with_columns(pl.Series(k, v, dtype=pl.String) for k, v in (extra or {}).items())
    return frame.with_columns(pl.col("file").cast(pl.String)).join(table, on="file", how="left").with_columns(
        pl.coalesce(pl.col("__path"), pl.col("file")).alias("file"),
        (pl.col("line") + pl.col("__base").fill_null(0)).alias("line")).drop("__path", "__base")
