"""The scan's units of work, free of global state so they run in this process or on Dask workers.

- :func:`parse_range`: read one byte range of one log (its carried lines first), parse it, and keep
  the entries where it ran; hands back only :class:`RangeStats` (counts, times, windows touched).
- :func:`partition`: the entries of one range that one time window (with its overlap) needs.
- :func:`window`: correlate and diagnose one window from its partitions; hands back the window's
  attempts and the evidence of its failures (text included), never the entries.
- :func:`carry_of`: the raw lines of a range from a time on, to carry over to the next batch or run.

The client only plans (which bytes of which file, the formats, zones and clock offsets) and merges.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import polars as pl

from loganalyzer import allocator, cursors, ingest, schema
from loganalyzer.ingest import Logs

if TYPE_CHECKING:
    from loganalyzer import correlate, diagnose

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RangeSpec:
    """What to read: ``carry`` (the lines held from before), then ``path`` from byte ``start``."""

    name: str  # the range's name in the entries' file column (unique in the batch)
    path: str
    start: int
    limit: int | None
    complete: bool
    carry: bytes
    first_line: int
    carried_lines: int
    kind: str | None
    zone: str | None
    encoding: str | None
    settings_file: str | None
    gone: bool = False  # the file is gone: only its carried lines are read
    formats: tuple[str, ...] = ()  # format files to read besides the settings' own
    zone_source: str | None = None  # how ``zone`` was decided, when it was (batching.decide)
    #: The format decided on the file's head (batching.decide): every range is read with it, as a
    #: whole load reads the file, instead of detecting one again; with the decision's figures
    #: (kind_evidence, kind_confidence, match_rate) for the file's row.
    format: str | None = None
    decided: dict[str, Any] | None = None


@dataclass
class RangeStats:
    """What reading and parsing a range found: all the client learns of it."""

    name: str
    got: int  # new bytes read
    new_lines: int
    more: bool
    parsed: int
    rejected: int
    unread: int
    format: str | None
    kinds: list[str]
    lo: datetime | None  # the entries' times on the reference clock
    hi: datetime | None
    notes: list[str] = field(default_factory=list)
    expiry: dict[str, datetime] = field(default_factory=dict)
    stats_row: dict[str, Any] = field(default_factory=dict)


@dataclass
class RangeResult:
    """A parsed range, kept where it was parsed."""

    stats: RangeStats
    frames: dict[str, pl.DataFrame]  # each with __t: the time on the reference clock
    data: bytes  # the bytes parsed (carry + new), for evidence text and carried lines
    ends: np.ndarray  # offsets of the line ends in data
    encoding: str
    carried: int = 0  # the first lines of data were carried from the batch before (read, not new)
    rejects: pd.DataFrame | None = None  # the new lines no format matched (line numbers in data)
    in_order: dict[str, bool] = field(default_factory=dict)  # per kind: its entries' __t never goes back


@dataclass
class Partition:
    """One range's entries for one window, with the bytes of their lines."""

    frames: dict[str, pl.DataFrame]
    stats_row: dict[str, Any]
    name: str
    data: bytes
    first_line: int  # the staged line number of data's first line
    encoding: str


def aligned(kind: str, shift: dict[str, float]) -> pl.Expr:
    """An entry's time on the reference clock."""
    return pl.col("ts") - pl.duration(microseconds=int(round(shift.get(kind, 0.0) * 1e6)))


def read_bytes(spec: RangeSpec) -> tuple[bytes, int, int, bool]:
    """carry + the new bytes of the range; returns (data, new bytes, new lines, more to read)."""
    return cursors.read_range(spec.path, spec.carry, spec.start, spec.complete, spec.limit, new=not spec.gone)


def parse_range(spec: RangeSpec, shift: dict[str, float], expiry_patterns: list[tuple[str, str]]) -> RangeResult:
    """Read and parse one range (see the module's docstring)."""
    allocator.return_large_buffers()  # on a worker too: each range's buffers are freed after its window
    data, got, new_lines, more = read_bytes(spec)
    stage = Path(tempfile.mkdtemp(prefix="loganalyzer-range-"))
    staged = stage / spec.name
    try:
        staged.write_bytes(data)
        opts: dict[str, Any] = {}
        if spec.kind:
            opts["as_"] = {str(staged): f"{spec.kind}:{spec.format}" if spec.format else spec.kind}
        if spec.zone:
            opts["tz"] = {str(staged): spec.zone}
        if spec.encoding:
            opts["encoding"] = {str(staged): spec.encoding}
        # A range is a batch's worth of a file: the scan's batches bound its memory, not a budget.
        logs = ingest.load([str(staged)], config=spec.settings_file, formats=spec.formats, max_memory="none",
                           **opts)
    finally:
        staged.unlink(missing_ok=True)
        os.rmdir(stage)
    frames = {}
    for kind, df in logs.polars.items():
        if df.height:
            frames[kind] = df.with_columns(pl.lit(spec.name).cast(pl.Categorical).alias("file"),
                                           aligned(kind, shift).alias("__t"))
    skip = spec.carried_lines
    parsed = sum(int((df["line"] > skip).sum()) for df in frames.values())
    rej = logs.rejects
    rej = rej[rej["line"] > skip].assign(file=spec.name) if len(rej) else rej
    rejected = len(rej)
    st = logs.stats.to_dict("records")
    row = dict(st[0]) if st else {}
    if spec.decided and row:
        row.update(spec.decided)
    row["file"] = spec.name
    lo = min((df["__t"].min() for df in frames.values()), default=None)
    hi = max((df["__t"].max() for df in frames.values()), default=None)
    fmt = row.get("format")
    stats = RangeStats(spec.name, got, new_lines, more, parsed, rejected, int(row.get("unread") or 0),
                       fmt if isinstance(fmt, str) else None, sorted(frames), lo, hi,
                       [n.replace(str(staged), spec.path) for n in logs.notes],
                       expiry_times(frames.get("vac"), expiry_patterns), row)
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    in_order = {kind: bool(df["__t"].is_sorted(nulls_last=True)) and df["__t"].null_count() == 0
                for kind, df in frames.items()}
    return RangeResult(stats, frames, data, ends, row.get("encoding") or "utf-8", skip, rej, in_order)


def range_stats(r: RangeResult) -> RangeStats:
    return r.stats


def window_bounds(w: int, width_s: float) -> tuple[datetime, datetime]:
    step = timedelta(seconds=width_s)
    return EPOCH + step * w, EPOCH + step * (w + 1)


def window_ids(lo: datetime, hi: datetime, width_s: float, overlap_s: float) -> range:
    """The windows whose span, widened by the overlap, holds a time in ``[lo, hi]``."""
    first = math.floor(((lo - EPOCH).total_seconds() - overlap_s) / width_s)
    last = math.floor(((hi - EPOCH).total_seconds() + overlap_s) / width_s)
    return range(first, last + 1)


#: Lines of a multi-line entry quoted as evidence, and so kept with a partition beyond its entries.
_SPAN = 8


def occupied(r: RangeResult, width_s: float) -> dict[int, int]:
    """The windows in which entries of ``r`` are (on the reference clock: where attempts start),
    with how many entries each holds."""
    found: dict[int, int] = {}
    for df in r.frames.values():
        epoch_s = df["__t"].drop_nulls().dt.epoch("us").cast(pl.Float64) / 1e6
        counts = (epoch_s / width_s).floor().cast(pl.Int64).value_counts()
        for w, n in counts.iter_rows():
            found[w] = found.get(w, 0) + n
    return found


def partition(r: RangeResult, w: int, width_s: float, overlap_s: float, last: int | None = None
              ) -> Partition | None:
    """The entries of ``r`` window ``w`` (to window ``last``, when given) sees: its span and the
    overlap on both sides."""
    a, _ = window_bounds(w, width_s)
    _, b = window_bounds(w if last is None else last, width_s)
    over = timedelta(seconds=overlap_s)
    frames = {}
    first = last = None
    for kind, df in r.frames.items():
        if r.in_order.get(kind):  # times in order (as most logs are): the window is a slice, found by halving
            t = df["__t"]
            lo = int(t.search_sorted(a - over, "left"))
            part = df.slice(lo, int(t.search_sorted(b + over, "right")) - lo)
        else:
            part = df.filter((pl.col("__t") >= a - over) & (pl.col("__t") <= b + over))
        if part.height:
            frames[kind] = part.drop("__t")
            lo = int(part["line"].min())
            hi = int((part["line"] + part.get_column("line_count").fill_null(1).cast(pl.Int64)
                      if "line_count" in part.columns else part["line"]).max())
            first = lo if first is None else min(first, lo)
            last = hi if last is None else max(last, hi)
    if not frames:
        return None
    last = last + _SPAN
    start = 0 if first <= 1 else int(r.ends[first - 2]) + 1
    end = len(r.data) if last > len(r.ends) else int(r.ends[last - 1]) + 1
    return Partition(frames, r.stats.stats_row, r.stats.name, r.data[start:end], first, r.encoding)



@dataclass
class WindowResult:
    """What one time window found: its attempts, the evidence of their failures, the clocks used."""

    attempts: pl.DataFrame  # schema.ATTEMPT, attempt_id local to the window
    evidence: pl.DataFrame  # schema.EVIDENCE, failed attempts only
    offsets: list[correlate.ClockOffset]
    dims: pl.DataFrame | None = None  # attempt_id, dimension, value (see loganalyzer.differences)

    def keep(self, keep_from: datetime | None, keep_until: datetime | None, nulls: bool) -> WindowResult:
        """Only the attempts that started in ``[keep_from, keep_until)`` (None: unbounded); those
        without a time with ``nulls``."""
        import polars as pl

        t = pl.col("ts")
        inside = pl.lit(True)
        if keep_from is not None:
            inside &= t >= keep_from
        if keep_until is not None:
            inside &= t < keep_until
        req = self.attempts.filter(inside.fill_null(nulls) if nulls else inside.fill_null(False))
        ids = req.select("attempt_id")
        return WindowResult(req, self.evidence.join(ids, on="attempt_id", how="semi"), self.offsets,
                            None if self.dims is None else self.dims.join(ids, on="attempt_id", how="semi"))


def shift_of(offsets: list[correlate.ClockOffset]) -> dict[str, float]:
    return {o.source: o.seconds for o in offsets if o.applied}


def analyze_window(logs: Logs, ruleset: diagnose.RuleSet, offsets: list[correlate.ClockOffset] | None,
                   redact_secrets: bool = True, full: bool = False) -> WindowResult:
    """Correlate and diagnose ``logs`` (one window and its overlap): every attempt, with the
    evidence of the failed ones. ``offsets``: the run's clock offsets (None: measure them here).
    ``full``: the evidence of every attempt, and each attempt's dimensions."""
    import polars as pl

    from loganalyzer import analysis

    a = analysis.analyze_logs(logs, ruleset, redact_secrets, offsets=offsets, extras=False, dimensions=full)
    req = schema.conform(a.attempts_frame(), schema.ATTEMPT)
    ev = a.evidence_frame()
    if full:
        return WindowResult(req, ev, a.offsets, a.dimensions)
    failed = req.filter(pl.col("verdict") != "ok").select("attempt_id")
    return WindowResult(req, ev.join(failed, on="attempt_id", how="semi"), a.offsets)


def window(parts: list[Partition | None], ruleset, offsets: list, keep_from: datetime | None,
           keep_until: datetime | None, nulls: bool, redact_secrets: bool, full: bool = False,
           held: frozenset[str] | None = None):
    """Correlate and diagnose one window from its partitions; the attempts it keeps, with evidence.
    ``ruleset``: the run's rules, loaded once by the client (a window never reads rule files).
    ``held``: the kinds the run's logs hold entries of (by default, those of the window)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return WindowResult(schema.empty(schema.ATTEMPT), schema.empty(schema.EVIDENCE), offsets)
    by_kind: dict[str, list[pl.DataFrame]] = {}
    for p in parts:
        for kind, df in p.frames.items():
            by_kind.setdefault(kind, []).append(df)
    frames = {k: pl.concat(v, how="diagonal_relaxed") for k, v in by_kind.items()}
    stats = pd.DataFrame([p.stats_row for p in parts])
    logs = HeldLogs(frames, stats, parts, held)
    return analyze_window(logs, ruleset, offsets, redact_secrets, full).keep(keep_from, keep_until, nulls)


class HeldLogs(Logs):
    """Parsed logs whose lines' text comes from the bytes each partition carries, not from files."""

    def __init__(self, frames: dict[str, pl.DataFrame], stats: pd.DataFrame, parts: list[Partition],
                 held: frozenset[str] | None = None):
        super().__init__(frames, pd.DataFrame({"file": [], "line": [], "kind": [], "text": [], "reason": []}),
                         stats, [])
        self._parts = parts
        self._held = held
        self._ends: dict[int, np.ndarray] = {}  # per partition: its line ends, found once

    @property
    def held(self) -> frozenset[str]:
        return super().held if self._held is None else self._held

    def text_of(self, file: str, lines, span: int = 1) -> dict[int, str]:
        out: dict[int, str] = {}
        want = sorted({n + i for n in lines for i in range(span)})
        for i, p in enumerate(self._parts):
            if p.name != file:
                continue
            ends = self._ends.get(i)
            if ends is None:
                ends = self._ends[i] = np.flatnonzero(np.frombuffer(p.data, dtype=np.uint8) == 10)
            for n in want:
                k = n - p.first_line
                if 0 <= k < len(ends) and n not in out:
                    start = 0 if k == 0 else int(ends[k - 1]) + 1
                    out[n] = p.data[start:int(ends[k])].decode(p.encoding, errors="replace").removesuffix("\r")
        return out


def carry_of(r: RangeResult, cut: datetime) -> tuple[bytes, int]:
    """The range's raw lines from its first entry at or after ``cut`` (reference clock) to its end,
    and that line's number in the range (0 when nothing is carried)."""
    first = None
    for df in r.frames.values():
        late = df.filter(pl.col("__t") >= cut)
        if late.height:
            n = int(late["line"].min())
            first = n if first is None else min(first, n)
    if first is None:
        return b"", 0
    start = 0 if first <= 1 else int(r.ends[first - 2]) + 1
    return r.data[start:], first


def expiry_times(client: pl.DataFrame | None, patterns: list[tuple[str, str]]) -> dict[str, datetime]:
    """The latest expiry time each pattern finds in the client's lines."""
    found: dict[str, datetime] = {}
    if client is None or client.height == 0 or "message" not in client.columns:
        return found
    for name, pattern in patterns:
        groups = client.select(pl.col("message").str.extract_groups(pattern).alias("g")).unnest("g")
        if "when" in groups.columns:
            t = groups["when"].drop_nulls().str.replace(" ", "T").str.to_datetime(time_zone="UTC", strict=False)
        else:
            t = pl.from_epoch(groups["epoch"].drop_nulls().cast(pl.Int64), time_unit="s").dt.replace_time_zone("UTC")
        t = t.drop_nulls()
        if len(t):
            latest = t.max()
            found[name] = max(found.get(name, latest), latest)
    return found


@dataclass
class RangeSummary:
    """What a bounded analysis keeps of a range's new lines (the carried ones were counted before)."""

    name: str
    counts: dict[str, pl.DataFrame]  # per kind: entries per second and class (analysis.timeline_counts)
    events: list[pl.DataFrame]  # per kind: its first notable entries (analysis.timeline_events)
    changes: pl.DataFrame  # summary.change_lines
    rejects: pd.DataFrame  # the first of the lines no format matched


#: Rejected lines a range's summary quotes (the export quotes 50 in all).
REJECT_SAMPLE = 50


def range_summary(r: RangeResult, change_patterns: list, max_events: int, redacted: bool) -> RangeSummary:
    """The timeline counts and events, change lines and rejects of ``r``'s new lines, times on the
    reference clock (a bounded analysis adds them up: every line counted once)."""
    from loganalyzer import analysis, summary

    frames = {}
    for kind, df in r.frames.items():
        new = df.filter(pl.col("line") > r.carried).drop("ts").rename({"__t": "ts"})
        if new.height:
            frames[kind] = new
    counts = {kind: analysis.timeline_counts(df, kind, 1) for kind, df in frames.items()}
    events = [analysis.timeline_events(df, kind, max_events, redacted) for kind, df in frames.items()]
    rejects = r.rejects.head(REJECT_SAMPLE) if r.rejects is not None else pd.DataFrame()
    return RangeSummary(r.stats.name, counts, events, summary.change_lines(frames, change_patterns), rejects)
