"""An analysis in bounded memory: logs too large to hold whole, read in batches and analysed in
time windows, into the same :class:`loganalyzer.Analysis` a whole analysis gives.

:func:`loganalyzer.analyze` turns to it when its memory budget (:mod:`loganalyzer.budget`) says the
logs would not fit. The files are read a batch at a time (a few megabytes of each, sized from the
budget) and each batch's time is cut into windows, correlated and diagnosed with their neighbours'
entries for :data:`OVERLAP_S` seconds around them (:mod:`loganalyzer.batching`, as the nightly
scan does); what the batches leave is all the export needs, kept as it goes:

- every attempt, with its evidence and the dimensions :mod:`loganalyzer.differences` compares
  (on disk between batches, in the run's temporary folder, and read back once all are in);
- per source, entries per second and class, and its first notable entries (the timeline);
- the change lines, the first rejected lines, and per file its counts and time range.

What it gives up: the parsed entries are not kept (``Analysis.entries`` holds the files' counts and
rejects, no frames), so a request cannot be traced afterwards; the clocks' offsets are measured on
the first :data:`loganalyzer.batching.HEAD_BYTES` of each file; a request without an id whose
retries fall in two windows may be counted as two; and a time window's verdicts are those of its
attempts among the entries of the window and its overlap, which is what a whole analysis sees
unless one request outlasts the overlap.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from loganalyzer import analysis, batching, correlate, diagnose, errors, ingest, progress, redact, scanwork, sources
from loganalyzer import differences as differences_mod
from loganalyzer import summary as summary_mod
from loganalyzer.budget import human

#: Seconds of log time correlated and diagnosed at once.
WINDOW_S = 3600.0
#: Seconds of its neighbours' entries each window also sees (the longest request it keeps whole).
OVERLAP_S = 300.0
#: Seconds before the point the slowest file has reached where a batch stops keeping attempts:
#: a request there may have lines in the next batch.
HOLD_S = 120.0
#: Entries correlated at once at most, in consecutive windows analysed as one (a whole batch, in
#: practice: the budget sized it).
GROUP_ENTRIES = 5_000_000
#: Log text a batch reads, at most and at least (the budget sets it between the two), shared
#: among the files by their sizes, so that they move through time together.
MAX_BATCH = 256 << 20
MIN_BATCH = 4 << 20
#: Memory an analysis takes before it reads a line (interpreter, polars, pandas, rules), measured
#: on this project's benchmark machine; and a batch's peak per byte of its text (its entries, the
#: windows' correlation, the bytes carried to the next one, what the allocator keeps): 227 MB for
#: 9 MB batches and 1.3 GB for 56 MB ones on the benchmark's incident.
FLOOR = 250 << 20
BATCH_PER_BYTE = 22
#: The peak of the last step (the kept attempts, evidence and dimensions read back as one,
#: summarised and exported, above the floor and what the allocator kept of the batches) per byte
#: they take, typed as the export types them: 2.14 on the benchmark's 1 GB incident (845 MiB kept,
#: a 2,055 MiB peak). Between batches they wait on disk, so the batches have the budget to
#: themselves; the attempts the logs will keep are foreseen from the first batch's, and refused
#: when this step would not fit.
FINAL_PER_KEPT = 2.2
#: A compressed file's text, per byte of it, as guessed before it is read.
ARCHIVE_RATIO = 8


def batch_bytes(limit: int | None) -> int:
    """The log text one batch reads, so that its peak fits the budget's share for batches."""
    if limit is None:
        return MAX_BATCH
    room = limit - FLOOR
    return int(max(MIN_BATCH, min(MAX_BATCH, room / BATCH_PER_BYTE)))


def _sizes(files: list[str]) -> dict[str, int]:
    """Each file's text, as guessed from its size."""
    sizes = {}
    for f in files:
        try:
            n = os.stat(f).st_size
        except OSError:
            n = 0
        sizes[f] = max(1, n * (ARCHIVE_RATIO if sources.is_archive(f) else 1))
    return sizes


def _total(files: list[str]) -> int:
    return sum(_sizes(files).values())


def shares(files: list[str], total: int) -> dict[str, int]:
    """Bytes of each file a batch reads: ``total`` shared by the files' sizes (of text, as guessed)."""
    sizes = _sizes(files)
    whole = sum(sizes.values())
    return {f: max(4 << 10, int(total * n / whole)) for f, n in sizes.items()}


def analyze(paths: Iterable[str | Path], ruleset: diagnose.RuleSet, *, tz: Mapping[str, str] | None = None,
            as_: Mapping[str, str] | None = None, encoding: str | Mapping[str, str] | None = None,
            formats: Iterable[str | Path] = (), since: str | None = None, until: str | None = None,
            redact_secrets: bool = True, config: str | Path | None = None, clock_correction: bool = True,
            limit: int | None = None, why: str = "", batch: int | None = None, window_s: float = WINDOW_S,
            overlap_s: float = OVERLAP_S, group: int = GROUP_ENTRIES) -> analysis.Analysis:
    """Analyse ``paths`` a batch and a time window at a time (see the module's docstring); options
    as :func:`loganalyzer.analyze`. ``limit``: the memory budget, in bytes (None: none), which sizes
    the batches; attempts too many for the last step to summarise and export within it raise
    :class:`loganalyzer.errors.TooLarge` (after the first batch, which foresees them).
    ``why``: what made the analysis bounded, for its notes. ``batch`` (bytes of log text read at
    once, shared among the files; default from ``limit``), ``window_s``, ``overlap_s`` and ``group``
    (:func:`loganalyzer.batching.run`): the batches and windows."""
    opts, settings = ingest._options(tz, as_, encoding, formats, config)
    files, notes = ingest.expand(list(paths) if not isinstance(paths, (str, Path)) else [paths])
    if "-" in files:
        raise errors.TooLarge(f"{why}; standard input cannot be read in batches: save it to a file")
    if not files:
        raise errors.InputError("no log file to read")
    since_w, until_w = ingest._bound(since, opts), ingest._bound(until, opts)
    settings_file = str(settings.source) if settings.source else None
    each = batch or batch_bytes(limit)
    share = shares(files, each)
    specs = [_spec(f, opts, settings_file, share[f]) for f in files]
    stage = Path(tempfile.mkdtemp(prefix="loganalyzer-bounded-"))
    try:
        progress.stage("detecting formats")
        zones = {k: v for k, v in opts.tz.items() if k in ingest.KINDS or k == "*"}
        codecs = {k: v for k, v in opts.encoding.items() if k in ingest.KINDS or k == "*"}
        specs, offsets = batching.decide(specs, ruleset, stage, settings_file, clock_correction, zones, codecs)
        run = _Run(files, ruleset, offsets or [], redact_secrets, limit, window_s, overlap_s, group, each,
                   _Spill(stage / "kept"))
        run.read(specs, since_w, until_w, _total(files))
        if settings.source:
            notes.insert(0, f"settings read from {settings.source}")
        return run.result(notes, why, run.each)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


class _Spill:
    """Frames kept between batches, on disk (Arrow IPC files, categories and all) until read back."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: dict[str, list[Path]] = {}

    def add(self, name: str, df: pl.DataFrame) -> None:
        files = self.files.setdefault(name, [])
        path = self.folder / f"{name}-{len(files):05d}.arrow"
        try:
            self.folder.mkdir(exist_ok=True)
            df.write_ipc(path, compression="lz4")
        except OSError as exc:  # as an output that cannot be written is told
            raise errors.LoganalyzerError(
                f"cannot write {path}: {exc.strerror or exc} (the attempts kept between batches wait there); free "
                "space there, or set TMPDIR to a disk with room") from exc
        files.append(path)

    def frame(self, name: str) -> pl.DataFrame | None:
        """Every frame added as ``name``, as one (None if none was), its files let go."""
        files = self.files.pop(name, [])
        if not files:
            return None
        # Compressed, so read into memory (not mapped): the files can go at once.
        frames = [pl.read_ipc(f) for f in files]
        for f in files:
            f.unlink(missing_ok=True)
        return pl.concat(frames, how="vertical_relaxed")


def _spec(path: str, opts: ingest.Options, settings_file: str | None, limit: int) -> scanwork.RangeSpec:
    """The first range of ``path``: its kind, zone and encoding when given for the path itself."""
    kind = opts.as_.get(path)
    zone = opts.tz.get(path)
    return scanwork.RangeSpec(Path(path).name, path, 0, limit, True, b"", 1, 0,
                              f"{kind[0]}:{kind[1]}" if kind and kind[1] else kind[0] if kind else None,
                              zone, opts.encoding.get(path), settings_file, formats=tuple(opts.formats))


class _Run:
    """The batches of one bounded analysis, and what they add up to."""

    def __init__(self, files: list[str], ruleset: diagnose.RuleSet, offsets: list[correlate.ClockOffset],
                 redacted: bool, limit: int | None, window_s: float, overlap_s: float, group: int, each: int,
                 spill: _Spill):
        self.files, self.ruleset, self.offsets, self.redacted, self.limit = files, ruleset, offsets, redacted, limit
        self.window_s, self.overlap_s, self.group, self.each = window_s, overlap_s, group, each
        self.hold_s = min(HOLD_S, overlap_s)
        self.windows: list[scanwork.WindowResult] = []
        self.spill = spill  # the attempts, evidence and dimensions kept, a batch's at a time
        self.kept = 0  # attempts kept
        self.counts: dict[str, list[pl.DataFrame]] = {}
        self.events: dict[str, list[pl.DataFrame]] = {}
        self.event_rows: dict[str, int] = {}
        self.changes: list[pl.DataFrame] = []
        self.rejects: list[pd.DataFrame] = []
        self.files_seen: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.batches = 0
        self.next_id = 0  # the next attempt's id
        self.read_bytes = 0  # new bytes read so far
        self.held = 0  # bytes the kept attempts, evidence and dimensions take (typed as exported)
        self.lo: datetime | None = None
        self.hi: datetime | None = None
        self.window: tuple[datetime | None, datetime | None] | None = None

    def read(self, specs: list[scanwork.RangeSpec], since, until, total: int) -> None:
        """Every batch of ``specs`` (``total``: the bytes of all the files, as guessed)."""
        ex = batching.InProcess()
        horizon = None
        kinds: frozenset[str] = frozenset()  # the kinds of entries read so far
        while specs:
            self.batches += 1
            specs = [replace(s, name=f"{self.batches:04d}-{n:05d}-{Path(s.path).name}") for n, s in enumerate(specs)]
            progress.stage(f"reading batch {self.batches}")
            batch = batching.run(specs, self.ruleset, self.offsets, window_s=self.window_s,
                                 overlap_s=self.overlap_s, hold_s=self.hold_s,
                                 horizon_prev=horizon, last_horizon=lambda _newest: None, ex=ex,
                                 redact_secrets=self.redacted, full=True, group=self.group, held=kinds)
            kinds = batch.held
            self._add(specs, batch, ex, since, until)
            horizon = batch.horizon
            if not batch.more:
                break
            nxt = []
            for spec, st, (carry, first) in zip(specs, batch.stats, batch.carries, strict=True):
                if st.more or carry:
                    lines = spec.carried_lines + st.new_lines
                    nxt.append(replace(spec, start=spec.start + st.got, carry=carry, carried_lines=carry.count(b"\n"),
                                       first_line=spec.first_line + (first - 1 if first else lines)))
            if self.batches == 1 and self.limit is not None:
                nxt = self._resized(nxt, total)
            carried = sum(len(s.carry) for s in nxt)
            if carried > max(2 * self.each, MIN_BATCH):
                # Lines that close together in time are correlated together: they cannot be split.
                raise errors.TooLarge(
                    f"these logs hold more text within {_span(self.overlap_s + self.hold_s)} of one another than "
                    f"the memory allowed can correlate at once: {human(carried)} of lines after "
                    f"{analysis._iso(horizon)} (a batch holds {human(self.each)})")
            # A batch in which no file could read on (each held half a batch of carried lines): grow it.
            if not any(st.got for st in batch.stats):
                nxt = [replace(s, limit=s.limit * 2) for s in nxt]
            specs = nxt

    def _resized(self, specs: list[scanwork.RangeSpec], total: int) -> list[scanwork.RangeSpec]:
        """After the first batch: the attempts all the logs will keep, foreseen from its own, refused
        when the last step could not summarise and export them within the limit."""
        assert self.limit is not None
        if not self.read_bytes:
            return specs
        foreseen = self.held / self.read_bytes * total
        if FLOOR + FINAL_PER_KEPT * foreseen > self.limit:
            self._refuse(f"these logs would keep about {human(foreseen)} of attempts (from the {self.kept:,} in "
                         f"the first {human(self.read_bytes)} of them), more than {human(self.limit)} can "
                         "summarise and export")
        each = batch_bytes(self.limit)
        share = shares([s.path for s in specs], each)
        self.each = each
        return [replace(s, limit=share[s.path]) for s in specs]

    def _refuse(self, why: str) -> None:
        assert self.limit is not None
        if self.limit <= FLOOR:
            why = (f"{human(self.limit)} is too little to read these logs in batches: an analysis takes about "
                   f"{human(FLOOR)} before it reads a line")
        raise errors.TooLarge(f"{why}; the nightly scan keeps a night's summary instead")

    def _kept(self, attempts: pl.DataFrame, since, until) -> pl.DataFrame:
        """The attempts that start inside ``since``/``until`` (a time of day goes on the date the
        logs start), as a whole analysis keeps them."""
        if since is None and until is None:
            return attempts
        if self.window is None:
            day = self.lo.date() if self.lo is not None else None
            self.window = (since.resolve(day) if since is not None else None,
                           until.resolve(day) if until is not None else None)
        return attempts.filter(analysis._inside(pl.col("ts"), self.window))

    def _add(self, specs: list[scanwork.RangeSpec], batch: batching.Batch, ex, since, until) -> None:
        table = [(s.name, s.path, s.first_line - 1) for s in specs]
        for st in batch.stats:
            if st.lo is not None:
                self.lo = st.lo if self.lo is None else min(self.lo, st.lo)
                self.hi = st.hi if self.hi is None else max(self.hi, st.hi)
        base = self.next_id
        attempts, evidence, dims = batching.merge(batch.windows, base=base - 1)  # ids from 0, as a whole analysis
        self.next_id += attempts.height
        attempts = self._kept(attempts, since, until)
        ids = attempts.select("attempt_id")
        # Typed as the export types them now, a batch at a time: read back, they need no casting.
        kept = [("attempts", analysis.schema.conform(attempts, analysis.schema.ATTEMPT)),
                ("evidence", analysis.schema.conform(batching.placed(evidence.join(ids, on="attempt_id", how="semi"),
                                                                     table), analysis.schema.EVIDENCE))]
        if dims is not None and dims.height:
            # Few distinct values (identifiers were left out in the window): held as categories.
            small = pl.col("dimension", "value").cast(pl.Categorical)
            kept.append(("dims", dims.join(ids, on="attempt_id", how="semi").with_columns(small)))
        for name, df in kept:
            self.held += df.estimated_size()
            self.spill.add(name, df)
        self.kept += attempts.height
        # Read on only while the last step will fit (after the first batch, as foreseen too).
        if batch.more and self.limit is not None and FLOOR + FINAL_PER_KEPT * self.held > self.limit:
            self._refuse(f"these logs hold more attempts than the memory allowed can summarise and export: "
                         f"{human(self.held)} for the first {self.kept:,}, too many for {human(self.limit)}")
        self.read_bytes += sum(st.got for st in batch.stats)
        summaries = ex.gather([ex.submit(scanwork.range_summary, f, self.ruleset.changes, 2000, self.redacted)
                               for f in batch.ranges])
        for spec, st, sm in zip(specs, batch.stats, summaries, strict=True):
            self._file(spec, st, sm)
            for kind, c in sm.counts.items():
                self.counts.setdefault(kind, []).append(c)
            for ev in sm.events:
                if ev.height:
                    kind = ev["source"][0]
                    room = 2000 - self.event_rows.get(kind, 0)
                    if room > 0:
                        self.events.setdefault(kind, []).append(batching.placed(ev.head(room), table))
                        self.event_rows[kind] = self.event_rows.get(kind, 0) + min(room, ev.height)
            if sm.changes.height:
                self.changes.append(batching.placed(sm.changes, table))
            if len(sm.rejects) and sum(len(r) for r in self.rejects) < scanwork.REJECT_SAMPLE:
                self.rejects.append(sm.rejects.assign(file=spec.path, line=sm.rejects["line"] + spec.first_line - 1))
            self.notes.extend(n for n in st.notes if n not in self.notes)

    def _file(self, spec: scanwork.RangeSpec, st: scanwork.RangeStats, sm: scanwork.RangeSummary) -> None:
        row = self.files_seen.get(spec.path)
        if row is None:
            row = self.files_seen[spec.path] = {**st.stats_row, "file": spec.path, "lines": 0, "parsed": 0,
                                                "continuation": 0, "rejected": 0, "batched": 0, "unread": 0,
                                                "replaced_bytes": 0}
        row["lines"] += st.new_lines
        row["parsed"] += st.parsed
        row["rejected"] += st.rejected
        row["unread"] += st.unread
        # Every new line is an entry's first, a continuation or a reject (batched records aside).
        row["continuation"] += max(0, st.new_lines - st.parsed - st.rejected)
        row["replaced_bytes"] += int(st.stats_row.get("replaced_bytes") or 0)
        for key, pick in (("first_ts", min), ("last_ts", max)):
            new = st.stats_row.get(key)
            if new is not None and not pd.isna(new):
                old = row.get(key)
                row[key] = new if old is None or pd.isna(old) else pick(old, new)
        if not isinstance(row.get("kind"), str) and isinstance(st.stats_row.get("kind"), str):
            row.update({k: st.stats_row[k] for k in ("kind", "format", "zone", "zone_source", "match_rate")
                        if k in st.stats_row})
        if spec.zone_source:  # its zone was decided on the file's head, and given to every batch
            row["zone_source"] = spec.zone_source
        row["logs_upstream_status"] = bool(row.get("logs_upstream_status")) or \
            bool(st.stats_row.get("logs_upstream_status"))

    def result(self, notes: list[str], why: str, each: int) -> analysis.Analysis:
        progress.stage("summarising")
        # Typed when kept (see _add): read back, sorted, and the pieces let go.
        attempts = self.spill.frame("attempts")
        evidence = None
        if attempts is not None:
            attempts = attempts.sort("ts", nulls_last=True)
            evidence = self.spill.frame("evidence")
        stats = _stats(self.files, self.files_seen)
        rejects = pd.concat(self.rejects, ignore_index=True).head(scanwork.REJECT_SAMPLE) if self.rejects else \
            pd.DataFrame({"file": [], "line": [], "kind": [], "text": [], "reason": []})
        logs = ingest.Logs({}, rejects, stats, notes + self.notes)
        logs.window = self.window
        notes = [o.describe() for o in self.offsets if o.applied]
        notes.append(f"{why}: analysed in {self.batches} batch{'es' if self.batches != 1 else ''} of about "
                     f"{human(each)} of log text, in windows of {_span(self.window_s)}; the parsed entries "
                     "were not kept, so requests cannot be traced from this analysis")
        if attempts is None or attempts.height == 0:
            a = analysis.Analysis(logs, analysis.schema.empty(analysis.schema.ATTEMPT),
                                  analysis.schema.empty(analysis.schema.EVIDENCE),
                                  {"attempts": 0, "requests": 0, "failed_attempts": 0, "by_verdict": {},
                                   "by_cause": {}}, self.offsets, self.ruleset, self.redacted,
                                  notes + ["no request attempts found: load a client (vac) log or a proxy "
                                           "access log"], None)
        else:
            assert evidence is not None
            changes = summary_mod.releases(pl.concat(self.changes, how="vertical_relaxed")) if self.changes \
                else summary_mod.releases(pl.DataFrame(schema=summary_mod.CHANGE_LINES))
            explained = diagnose.cause_texts(attempts.filter(pl.col("verdict") != "ok"), self.ruleset)
            # As categories still: a long table (an attempt by each of its dimensions), and few values.
            dims = self.spill.frame("dims")
            dims = differences_mod.narrow(dims) if dims is not None else None
            apart = differences_mod.separators(attempts, None, {}, self.redacted, dims=dims) if dims is not None \
                else []
            summarized = summary_mod.summarize(attempts, changes, explained)
            if self.redacted:
                summarized = redact.mask_data(summarized)
            a = analysis.Analysis(logs, attempts, evidence, summarized,
                                  self.offsets, self.ruleset, self.redacted, notes, None, apart)
        a.bounded = notes[-1]
        a.drawn_timeline = self._timeline(stats)
        return a

    def _timeline(self, stats: pd.DataFrame) -> dict[str, Any]:
        if self.lo is None or self.hi is None or not self.counts:
            return {"bucket_seconds": 0, "lanes": {}, "events": []}
        step = analysis.timeline_step(self.lo, self.hi)
        counts = {k: pl.concat(v) for k, v in self.counts.items()}
        events = [pl.concat(v, how="vertical_relaxed") for v in self.events.values()] or \
            [pl.DataFrame(schema={"ts": pl.Datetime("ns", "UTC"), "source": pl.String, "level": pl.String,
                                  "status": pl.Int64, "text": pl.String, "file": pl.String, "line": pl.Int64})]
        zones = {r["kind"]: analysis._none(r["zone"]) for r in stats.to_dict("records") if analysis._none(r["kind"])}
        return analysis.draw_timeline(counts, events, self.lo, self.hi, step, zones)


def _span(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min" if seconds >= 60 else \
        f"{seconds:g} s"


def _stats(files: list[str], seen: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per file, in the order given, as :attr:`loganalyzer.Logs.stats` has them."""
    rows = []
    for f in files:
        row = dict(seen.get(f) or {"file": f, "lines": 0, "parsed": 0, "continuation": 0, "rejected": 0,
                                     "batched": 0, "unread": 0, "replaced_bytes": 0})
        rows.append(row)
    return pd.DataFrame(rows)
