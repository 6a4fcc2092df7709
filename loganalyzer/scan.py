"""The nightly scan: read what is new in every configured log, diagnose it, keep it, say what broke.

``scan(config) -> ScanResult`` is one library call; ``loganalyzer scan`` wraps it. A run:

1. takes the history's lock (another run holding it is refused: :class:`loganalyzer.errors.Locked`);
2. finds each configured source's files and reads, per file, only what was appended since the last
   run (:mod:`loganalyzer.cursors`), plus the lines it carried over from the last run;
3. parses them, measures the clocks' offsets once, and correlates and diagnoses in time windows
   (:func:`loganalyzer.scanwork.window`, free of global state, so windows can run anywhere), each window seeing
   its neighbours' entries for ``overlap`` seconds so a request that crosses a border is whole;
4. commits the attempts up to its horizon (the newest entry less ``hold``: later requests may
   still be in flight), and carries the lines after ``horizon - overlap`` over to the next run;
5. aggregates per hour and endpoint, checks the thresholds against the previous nights, and
   writes everything — results, cursors, carried lines — in one SQLite transaction.

When no file grew since the last run, the logs are taken as complete: what was held is committed.
"""

from __future__ import annotations

import glob as glob_mod
import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loganalyzer import allocator, batching, cursors, errors, history, schema
from loganalyzer import config as config_mod
from loganalyzer.rotation import order_rotated
from loganalyzer.units import duration, size

if TYPE_CHECKING:  # polars and the parsing and diagnosis stack are imported when a run has lines to read
    import polars as pl

    from loganalyzer import correlate, diagnose
    from loganalyzer import tally as tally_mod

#: Scan settings and their defaults (``[scan]``); durations are seconds or "90s", "5m", "1h", "2d".
SCAN_DEFAULTS: dict[str, Any] = {"history": "loganalyzer.db", "window": "1h", "overlap": "5m", "hold": "2m",
                                 "batch": "16MB", "scheduler": "", "workers": 0}
#: Thresholds and their defaults (``[thresholds]``).
THRESHOLD_DEFAULTS: dict[str, Any] = {
    "success_rate": 0.95,  # a night whose attempts succeed less often than this
    "baseline_nights": 7,  # the nights a night is compared with
    "sigma": 3.0,  # failure rate above the baseline's mean by this many standard deviations...
    "ratio": 2.0,  # ...or, with fewer than 3 baseline nights, this many times its mean
    "consecutive_failures": 3,  # this many failed attempts in a row at one endpoint
    "new_causes": True,  # a cause never seen on the baseline nights
    "p95_ratio": 2.0,  # p95 of $request_time above the baseline's by this factor
    "silent_hours": 24.0,  # a source whose files have not grown for this long
    "token_expiry_days": 7.0,  # a client credential the client logs as expiring within this many days
}
OUTPUT_KEYS = ("json", "html", "prom")
#: What a breach can be: the thresholds above, a new cause, a silent source.
BREACH_RULES = ("success_rate", "failure_rate", "p95_latency", "consecutive_failures", "new_cause", "silent_source",
                "token_expiry")
SOURCE_KEYS = ("name", "kind", "paths", "format", "zone", "encoding")
#: Entries above which the clocks are measured on the busiest window rather than on everything.
MEASURE_ALL_BELOW = 400_000


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.ConfigError(f"{what}: expected a number of processes (0: none), got {value!r}")
    return value


@dataclass
class Source:
    """A configured source: a name, its kind (detected when not given), the globs of its files."""

    name: str
    paths: list[str]
    kind: str | None = None
    format: str | None = None
    zone: str | None = None
    encoding: str | None = None


@dataclass
class ScanConfig:
    """A checked ``loganalyzer.toml`` for the scan; paths resolved against the file's folder."""

    settings: config_mod.Settings
    sources: list[Source]
    history: str
    window_s: float
    overlap_s: float
    hold_s: float
    thresholds: dict[str, Any]
    outputs: dict[str, str]
    batch_bytes: int = 32 << 20
    scheduler: str | None = None  # a Dask scheduler's address
    workers: int = 0  # or a local Dask cluster of this many processes

    @property
    def file(self) -> str | None:
        return self.settings.source

    @property
    def stage(self) -> Path:
        """A run's scratch folder beside the history (a killed run's is removed by the next)."""
        return Path(f"{self.history}.stage")

    @property
    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.settings.data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @classmethod
    def from_settings(cls, settings: config_mod.Settings) -> ScanConfig:
        where = settings.source or "the settings"
        unknown = set(settings.scan) - set(SCAN_DEFAULTS)
        if unknown:
            raise errors.ConfigError(f"{where}: unknown [scan] key(s) {', '.join(sorted(unknown))} "
                                     f"(known: {', '.join(SCAN_DEFAULTS)})")
        unknown = set(settings.thresholds) - set(THRESHOLD_DEFAULTS)
        if unknown:
            raise errors.ConfigError(f"{where}: unknown [thresholds] key(s) {', '.join(sorted(unknown))} "
                                     f"(known: {', '.join(THRESHOLD_DEFAULTS)})")
        unknown = set(settings.outputs) - set(OUTPUT_KEYS)
        if unknown:
            raise errors.ConfigError(f"{where}: unknown [outputs] key(s) {', '.join(sorted(unknown))} "
                                     f"(known: {', '.join(OUTPUT_KEYS)})")
        if not settings.sources:
            raise errors.ConfigError(f"{where}: no [[sources]] to scan")
        srcs = []
        from loganalyzer.parsers.formats import KINDS

        for i, s in enumerate(settings.sources, start=1):
            bad = set(s) - set(SOURCE_KEYS)
            if bad:
                raise errors.ConfigError(f"{where}: source {i}: unknown key(s) {', '.join(sorted(bad))} "
                                         f"(known: {', '.join(SOURCE_KEYS)})")
            paths = s.get("paths")
            if isinstance(paths, str):
                paths = [paths]
            if not paths or not all(isinstance(p, str) for p in paths):
                raise errors.ConfigError(f"{where}: source {i}: paths must be a glob or a list of globs")
            kind = s.get("kind")
            if kind is not None and kind not in KINDS:
                raise errors.ConfigError(f"{where}: source {i}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
            srcs.append(Source(str(s.get("name") or kind or f"source{i}"), [settings.here(p) for p in paths], kind,
                               s.get("format"), s.get("zone"), s.get("encoding")))
        names = [s.name for s in srcs]
        if len(set(names)) != len(names):
            raise errors.ConfigError(f"{where}: two sources share a name; give each its own name")
        sc = {**SCAN_DEFAULTS, **settings.scan}
        th = {**THRESHOLD_DEFAULTS, **settings.thresholds}
        for k, v in th.items():
            if k == "new_causes":
                if not isinstance(v, bool):
                    raise errors.ConfigError(f"{where}: thresholds.new_causes must be true or false")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise errors.ConfigError(f"{where}: thresholds.{k} must be a number ≥ 0, got {v!r}")
        window = duration(sc["window"], f"{where}: scan.window")
        if window <= 0:
            raise errors.ConfigError(f"{where}: scan.window must be longer than 0")
        return cls(settings, srcs, settings.here(str(sc["history"])), window,
                   duration(sc["overlap"], f"{where}: scan.overlap"), duration(sc["hold"], f"{where}: scan.hold"),
                   th, {k: settings.here(str(v)) for k, v in settings.outputs.items()},
                   size(sc["batch"], f"{where}: scan.batch"), str(sc["scheduler"]) or None,
                   _count(sc["workers"], f"{where}: scan.workers"))


def load_config(path: str | Path | None = None, start: str | Path | None = None,
                environ: dict[str, str] | None = None) -> ScanConfig:
    """The scan's settings: ``path``, else found as :func:`loganalyzer.config.find` finds them."""
    found = Path(path) if path is not None else config_mod.find(start, environ)
    if found is None:
        raise errors.ConfigError(f"no {config_mod.DEFAULT_NAME} here or in a folder above, and no "
                                 "$XDG_CONFIG_HOME/loganalyzer/config.toml; write one to say what to scan")
    try:
        settings = config_mod.read(found)
    except config_mod.ConfigError as exc:
        raise errors.ConfigError(str(exc)) from exc
    return ScanConfig.from_settings(settings)


STARTER = '''\
# loganalyzer settings: read by `loganalyzer analyze` and by the nightly `loganalyzer scan`.
# Paths are relative to this file's folder. Durations: 90s, 5m, 1h, 2d.

# [tz]                       # zone of lines that carry no UTC offset, per kind or per file
# crm = "Europe/Berlin"

[scan]
history = "loganalyzer.db"   # SQLite file: runs, hourly counts, failures with their evidence
window = "1h"                # correlate and diagnose this much time at once (bounds memory)
overlap = "5m"               # what each window also sees of its neighbours: the longest request
hold = "2m"                  # the newest requests may still be in flight: kept for the next run
batch = "16MB"               # read at most this much of each file at once (bounds memory)
# workers = 2                # run on a local Dask cluster of this many processes (the dask extra)
# scheduler = "tcp://scheduler:8786"   # or on an existing Dask cluster

# One table per source. kind: vac (the client), nginx_access, nginx_error, crm (the upstream);
# left out, it is detected. format, zone and encoding are optional too.
[[sources]]
kind = "nginx_access"
paths = ["/var/log/nginx/access.log*"]

[[sources]]
kind = "nginx_error"
paths = ["/var/log/nginx/error.log*"]

# [[sources]]
# kind = "crm"
# paths = ["/srv/crm/logs/crm.log*"]
# zone = "Europe/Berlin"

[thresholds]
success_rate = 0.95          # a night with fewer attempts succeeding
baseline_nights = 7          # nights each night is compared with
sigma = 3.0                  # failure rate above their mean by this many standard deviations
ratio = 2.0                  # (with fewer than 3 nights of history: this many times their mean)
consecutive_failures = 3     # failed attempts in a row at one endpoint
new_causes = true            # a cause never seen in the baseline nights
p95_ratio = 2.0              # p95 $request_time above the baseline's by this factor
silent_hours = 24            # a source whose files stopped growing

[outputs]                    # each optional
# json = "loganalyzer-night.json"
# html = "loganalyzer-night.html"
# prom = "/var/lib/prometheus/node-exporter/loganalyzer.prom"
'''


def init(folder: str | Path = ".") -> Path:
    """Write a commented starter ``loganalyzer.toml`` in ``folder``; an existing one is kept."""
    target = Path(folder) / config_mod.DEFAULT_NAME
    if not Path(folder).is_dir():
        raise errors.UsageError(f"{folder} is not a folder")
    if target.exists():
        raise errors.UsageError(f"{target} exists already; it was left as it is")
    target.write_text(STARTER, encoding="utf-8")
    return target


# --------------------------------------------------------------------------------------------
# the run


@dataclass
class ScanResult:
    """One run: what it read, what it found, what it breached. ``to_dict()`` is the JSON summary."""

    config_file: str | None
    history: str
    run_id: int | None
    started: datetime
    finished: datetime
    pieces: list[cursors.Piece]
    attempts: pl.DataFrame | None  # the committed attempts, when scan(keep_attempts=True) asked for them
    failures: pl.DataFrame | None
    hourly: pl.DataFrame | None
    breaches: list[dict[str, Any]]
    offsets: list[correlate.ClockOffset]
    lines: dict[str, int]
    notes: list[str] = field(default_factory=list)
    committed_from: datetime | None = None
    committed_to: datetime | None = None
    held_until_next_run: int = 0
    nights: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    evidence: pl.DataFrame | None = None  # the failures' lines, by real file, identity and line
    counts: dict[str, Any] | None = None  # the night's attempts counted (tally.NightTally.summary)

    @property
    def new(self) -> list[dict[str, Any]]:
        return [b for b in self.breaches if b["new"]]

    @property
    def nothing_new(self) -> bool:
        return not any(p.new_lines or p.staged for p in self.pieces)

    def summary(self) -> dict[str, Any]:
        counts = self.counts or {"attempts": 0, "requests": 0, "failed_attempts": 0, "success_rate": None,
                                 "by_verdict": {}, "by_cause": {}}
        return {**counts, "held_until_next_run": self.held_until_next_run}

    def to_dict(self) -> dict[str, Any]:
        """The night as plain data: the run, its summary, breaches (what is new first), the hours,
        the failed attempts with their evidence, and the previous nights for trends."""
        f = self.failures
        if f is not None:
            import polars as pl
        if f is not None and self.evidence is not None and self.evidence.height and f.height:
            lists = self.evidence.group_by("attempt_id", maintain_order=True).agg(
                pl.struct("role", "kind", "file", "line", "ts", "text").alias("evidence"))
            f = f.join(lists, on="attempt_id", how="left", maintain_order="left")
        return {
            "loganalyzer": schema.EXPORT_VERSION, "kind": "scan",
            "run": {"run_id": self.run_id, "config_file": self.config_file, "history": self.history,
                    "started": _iso(self.started), "finished": _iso(self.finished),
                    "finished_unix": self.finished.timestamp(),
                    "duration_seconds": round((self.finished - self.started).total_seconds(), 3),
                    "committed": {"from": _iso(self.committed_from), "to": _iso(self.committed_to)},
                    "lines": self.lines,
                    "files": [{"path": p.path, "source": p.cursor.source, "status": p.status, "from": p.start,
                               "to": p.end, "lines": p.new_lines} for p in self.pieces],
                    "clock_offsets": [{"source": o.source, "reference": o.reference, "seconds": round(o.seconds, 6),
                                       "pairs": o.pairs, "method": o.method, "applied": o.applied}
                                      for o in self.offsets],
                    "notes": self.notes},
            "summary": self.summary(),
            "breaches": sorted(self.breaches, key=lambda b: (not b["new"], b["rule"])),
            "hours": self.hourly.with_columns(pl.col(pl.Float64).round(6)).to_dicts() if self.hourly is not None
            else [],
            "failures_shown": f.height if f is not None else 0,  # the first; the history has every failure
            "failures": f.to_dicts() if f is not None else [],
            "nights": self.nights,
            "totals": self.totals,
            "rules": list(BREACH_RULES),
        }

    def write_json(self, path: str | Path) -> None:
        from loganalyzer.outputs import open_output

        with open_output(path) as out:
            json.dump(self.to_dict(), out, ensure_ascii=False, default=str)
            out.write("\n")


def _iso(ts) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def files_of(source: Source) -> list[str]:
    """A source's files, each rotated set oldest first."""
    found = set()
    for pattern in source.paths:
        found.update(p for p in glob_mod.glob(pattern, recursive=True) if Path(p).is_file())
    return [str(p) for p in order_rotated(Path(p) for p in found)]


def scan(cfg: ScanConfig, *, complete: bool = False, now: float | None = None, redact_secrets: bool = True,
         rebuild: bool = False, executor=None, scheduler: str | None = None, workers: int | None = None,
         on_cluster=None, keep_attempts: bool = False) -> ScanResult:
    """Run the scan ``cfg`` describes (see the module's docstring). ``complete``: the logs are
    finished, commit every attempt (nothing is held for a next run). ``now``: the wall clock, in
    seconds (tests pass their own). ``rebuild``: a history that cannot be opened is moved aside
    (:func:`loganalyzer.history.set_aside`) and a new one is built from the logs on disk.
    ``executor``: where the units of work run (:class:`loganalyzer.batching.InProcess` by default); or ``scheduler``
    (a Dask scheduler's address) or ``workers`` (a local Dask cluster of that many processes), the
    settings' own when not given (:mod:`loganalyzer.cluster`; ``on_cluster`` is told the dashboard's
    address). The results are the same wherever the work runs. ``keep_attempts``: the result's
    ``attempts`` holds every attempt the run committed (a few columns, about 46 bytes each);
    otherwise it is ``None`` and the night's memory does not grow with its attempts."""
    scheduler = scheduler or cfg.scheduler
    workers = workers or cfg.workers
    if executor is None and (scheduler or workers):
        from loganalyzer import cluster

        with cluster.executor(scheduler, workers) as ex:
            if on_cluster is not None:
                on_cluster(cluster.dashboard(ex))
            return scan(cfg, complete=complete, now=now, redact_secrets=redact_secrets, rebuild=rebuild,
                        executor=ex, keep_attempts=keep_attempts)
    started = datetime.now(UTC)
    wall = time.time() if now is None else now
    allocator.return_large_buffers()  # batch after batch in one process: their buffers must not pile up

    def rules() -> diagnose.RuleSet:
        # Loaded when there are lines to read, before any is read: a run that finds nothing new
        # imports none of the diagnosis stack and takes a moment.
        from loganalyzer import diagnose

        try:
            return diagnose.load_rules(cfg.settings.rules)
        except diagnose.RuleError as exc:
            raise errors.RulesError(str(exc)) from exc

    with history.lock(cfg.history):
        try:
            db = history.connect(cfg.history)
        except history.HistoryError:
            if not rebuild:
                raise
            history.set_aside(cfg.history)
            db = history.connect(cfg.history)
        stage = cfg.stage
        shutil.rmtree(stage, ignore_errors=True)  # a killed run's leftovers
        try:
            return _run(cfg, db, stage, rules, complete, wall, started, redact_secrets, executor, keep_attempts)
        finally:
            db.close()
            shutil.rmtree(stage, ignore_errors=True)


def _run(cfg: ScanConfig, db, stage: Path, rules: Callable[[], diagnose.RuleSet], complete: bool, wall: float,
         started: datetime, redact_secrets: bool, executor, keep_attempts: bool) -> ScanResult:

    files: list[tuple[str, str]] = []
    seen_paths: set[str] = set()
    by_source: dict[str, Source] = {}
    for src in cfg.sources:
        for path in files_of(src):
            if path not in seen_paths:
                seen_paths.add(path)
                files.append((src.name, path))
        by_source[src.name] = src
    known = history.cursors(db)
    previous = history.state(db)
    notes: list[str] = []
    if not files and not any(c.carry for c in known):
        globs = ", ".join(p for s in cfg.sources for p in s.paths)
        raise errors.InputError(f"no log file matches the configured sources ({globs})")
    horizon_prev = _parse_ts(previous.get("horizon"))
    night = _Night(horizon_prev, keep_attempts)
    limit = cfg.batch_bytes
    db.execute("BEGIN IMMEDIATE")
    try:
        run_id = db.execute("INSERT INTO runs (started, finished) VALUES (?, ?)",
                            (_iso(started), _iso(started))).lastrowid
        first = True
        while True:
            plans, gone = cursors.plan(files, known, wall, complete)
            todo = [p for p in plans if not p.unchanged]
            if first and not any(p.status not in ("unchanged", "gone") for p in todo):
                complete = True  # nothing arrived since the last run: what it held back is final now
            if first and not todo:
                # Read nothing, so import nothing of the parsing stack: this run takes a moment.
                db.execute("ROLLBACK")
                pieces = [cursors.Piece(p.path, p.cursor, p.start, p.start, p.first_line, 0, "unchanged")
                          for p in plans]
                empty = ScanResult(cfg.file, cfg.history, None, started, datetime.now(UTC), pieces, None, None,
                                   None, [], [], {"read": 0, "parsed": 0, "rejected": 0, "unread": 0}, notes)
                empty.breaches = _silent(cfg, db, pieces, wall)
                empty.notes.append("nothing new since the last run")
                empty.nights = history.nights(db, limit=30)
                empty.totals = history.totals(db)
                return empty
            if first:
                ruleset = rules()
            first = False
            settled, more, read_any = _batch(cfg, db, run_id, night, plans, by_source, ruleset, complete, wall,
                                             redact_secrets, executor or batching.InProcess(), limit)
            known = settled + gone
            if not more:
                break
            # A batch in which no file could read on (each held half a batch of carried lines): grow it.
            limit = limit * 2 if limit and not read_any else limit
        result = night.result(cfg, run_id, started, redact_secrets)
        result.notes = notes + result.notes
        _finish_run(db, cfg, run_id, result, night)
        result.breaches = (_thresholds(cfg, db, run_id, result, night.tally) + _silent(cfg, db, night.last_pieces, wall)
                           + _expiry_breaches(night.expiry, cfg.thresholds["token_expiry_days"], wall))
        db.executemany("INSERT INTO breaches (run_id, rule, subject, value, threshold, new, message) "
                       "VALUES (?,?,?,?,?,?,?)", [(run_id, b["rule"], b["subject"], b["value"], b["threshold"],
                                                   int(b["new"]), b["message"]) for b in result.breaches])
        history.save_cursors(db, known)
        _sources_seen(db, night.last_pieces, run_id)
        history.set_state(db, {"horizon": _iso(night.horizon) if night.horizon is not None else None,
                               "last_success": wall})
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    result.nights = history.nights(db, limit=30)
    result.totals = history.totals(db)
    result.finished = datetime.now(UTC)
    return result


#: The columns of a night's attempts kept when asked (``scan(keep_attempts=True)``), typed small
#: (categories, 16-bit statuses, 32-bit times). The hours and thresholds need none of them: see
#: :mod:`loganalyzer.tally`.
_KEPT = {"ts": None, "endpoint": "Categorical", "attempt": "Int32", "verdict": "Categorical",
         "root_cause": "Categorical", "root_cause_detail": "Categorical", "status_client": "Int16",
         "status_proxy": "Int16", "status_upstream": "Int16", "request_time": "Float32",
         "upstream_response_time": "Float32"}
#: Failed attempts a run keeps in memory for its JSON and report (all of them go to the history).
FAILURE_SAMPLE = 500


def _compact(attempts: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    from loganalyzer import summary as summary_mod

    a = attempts.with_columns(summary_mod.endpoint(pl.col("method"), pl.col("path")).alias("endpoint"))
    return a.select([pl.col(c) if t is None else pl.col(c).cast(getattr(pl, t)) for c, t in _KEPT.items()])


class _Night:
    """What the batches of one run add up to."""

    def __init__(self, horizon_prev: datetime | None, keep_attempts: bool = False):
        from loganalyzer import tally

        self.horizon_prev = horizon_prev
        self.horizon: datetime | None = horizon_prev
        self.tally = tally.NightTally()
        self.attempts: list[pl.DataFrame] | None = [] if keep_attempts else None
        self.failures: list[pl.DataFrame] = []
        self.evidence: list[pl.DataFrame] = []
        self.lines = {"read": 0, "parsed": 0, "rejected": 0, "unread": 0}
        self.offsets: list | None = None  # measured on the first batch, used by every window of the run
        self.expiry: dict[str, datetime] = {}
        self.notes: list[str] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.kinds: frozenset[str] = frozenset()  # the kinds of entries the run's batches found
        self.held = 0
        self.last_pieces: list[cursors.Piece] = []
        self.batches = 0
        self.decided: dict[str, tuple[str | None, str | None]] = {}  # path -> kind, zone

    def result(self, cfg: ScanConfig, run_id: int, started: datetime, redact_secrets: bool) -> ScanResult:
        import polars as pl

        attempts = None
        if self.attempts is not None:
            attempts = pl.concat(self.attempts, how="vertical_relaxed").sort("ts", nulls_last=True) \
                if self.attempts else _compact(schema.empty(schema.ATTEMPT))
        failures = pl.concat(self.failures, how="vertical_relaxed") if self.failures else \
            _failures_frame(schema.empty(schema.ATTEMPT), redact_secrets)
        evidence = pl.concat(self.evidence, how="vertical_relaxed") if self.evidence else None
        pieces = [cursors.Piece(f["path"], f["cursor"], f["start"], f["end"], f["first_line"], f["lines"],
                                f["status"]) for f in self.files.values()]
        r = ScanResult(cfg.file, cfg.history, run_id, started, datetime.now(UTC), pieces, attempts, failures,
                       self.tally.hourly(), [], self.offsets or [], self.lines, self.notes, self.horizon_prev,
                       self.horizon, self.held, evidence=evidence, counts=self.tally.summary())
        if self.batches > 1:
            r.notes.append(f"read in {self.batches} batches of at most {cfg.batch_bytes:,} bytes per file")
        return r


def _decide(cfg: ScanConfig, specs: list, ruleset, night: _Night) -> list:
    """Kind and zone of each new range (:func:`loganalyzer.batching.decide`); on a run's first batch,
    the clock offsets."""
    decided, offsets = batching.decide(specs, ruleset, cfg.stage, cfg.file, night.offsets is None)
    if night.offsets is None:
        night.offsets = offsets
    return decided


def _batch(cfg: ScanConfig, db, run_id: int, night: _Night, plans: list, by_source: dict[str, Source], ruleset,
           complete: bool, wall: float, redact_secrets: bool, ex, limit: int | None) -> tuple[list, bool, bool]:
    """Read, correlate, diagnose and store one batch of the run. Returns the files' cursors after
    it, whether any file has more to read, and whether any new bytes were read."""
    from loganalyzer import scanwork

    night.batches += 1
    live = [p for p in plans if not p.unchanged]
    specs = []
    for n, p in enumerate(live):
        src = by_source.get(p.cursor.source)
        specs.append(scanwork.RangeSpec(
            f"{night.batches:04d}-{n:05d}-{Path(p.path).name}", p.path, p.start, limit,
            complete, p.cursor.carry, p.first_line, p.cursor.carry.count(b"\n"), src.kind if src else None,
            src.zone if src else None, src.encoding if src else None, cfg.file, gone=p.status == "gone"))
    # Kinds and zones are decided once per file and run, on its first batch.
    fresh = [sp for sp in specs if sp.path not in night.decided]
    if fresh:
        for sp in _decide(cfg, fresh, ruleset, night):
            night.decided[sp.path] = (sp.kind, sp.zone)
    specs = [replace(sp, kind=night.decided[sp.path][0], zone=night.decided[sp.path][1]) for sp in specs]
    # When no file has more to read, this is the run's last batch: its horizon is the run's.
    batch = batching.run(specs, ruleset, night.offsets, window_s=cfg.window_s, overlap_s=cfg.overlap_s,
                         hold_s=cfg.hold_s, horizon_prev=night.horizon,
                         last_horizon=lambda newest: _horizon(newest, cfg, complete, wall),
                         ex=ex, redact_secrets=redact_secrets, expiry=expiry_patterns(), held=night.kinds)
    night.kinds = batch.held
    stats, more, horizon, carries = batch.stats, batch.more, batch.horizon, batch.carries
    for k in ("parsed", "rejected", "unread"):
        night.lines[k] += sum(getattr(st, k) for st in stats)
    night.lines["read"] += sum(st.new_lines for st in stats)
    for st in stats:
        night.notes.extend(n for n in st.notes if n not in night.notes)
        for name, when in st.expiry.items():
            night.expiry[name] = max(night.expiry.get(name, when), when)
    attempts, evidence, _ = batching.merge(batch.windows, base=night.tally.attempts)
    if horizon is not None and not more:
        night.held = sum(c[0].count(b"\n") for c in carries)
        night.notes.append(f"requests after {_iso(horizon)} may still be in flight: they are read again next run")
    night.horizon = horizon
    settled = []
    by_path = {p.path: p for p in plans}
    done = {}
    for spec, st, (carry, first) in zip(specs, stats, carries, strict=True):
        p = by_path[spec.path]
        cur = cursors.settle(p, st.got, st.new_lines, st.more, wall)
        cur.carry, cur.carry_line = carry, (spec.first_line + first - 1) if first else 0
        done[spec.path] = cur
        f = night.files.setdefault(p.path, {"path": p.path, "start": p.start, "first_line": p.first_line,
                                            "lines": 0, "status": p.status})
        f.update(cursor=cur, end=p.start + st.got, lines=f["lines"] + st.new_lines)
        if f["status"] == "unchanged" or (f["status"] == "grown" and not st.got and p.status == "grown"):
            f["status"] = "unchanged" if not st.got and p.status == "grown" else p.status
    for p in plans:
        cur = done.get(p.path, p.cursor)
        if p.unchanged:
            night.files.setdefault(p.path, {"path": p.path, "start": p.start, "first_line": p.first_line,
                                            "lines": 0, "status": "unchanged", "end": p.start, "cursor": cur})
        settled.append(cur)
    night.last_pieces = [cursors.Piece(f["path"], f["cursor"], f["start"], f["end"], f["first_line"], f["lines"],
                                       f["status"]) for f in night.files.values()]
    failures = _failures_frame(attempts, redact_secrets)
    table = [(s.name, s.path, done[s.path].identity, s.first_line - 1) for s in specs]
    mapped = _map_evidence(evidence, table)
    _insert_failures(db, run_id, failures, mapped)
    night.tally.add(attempts, horizon)
    if night.attempts is not None:
        night.attempts.append(_compact(attempts))
    room = FAILURE_SAMPLE - sum(f.height for f in night.failures)
    if room > 0:
        kept = failures.head(room)
        night.failures.append(kept)
        night.evidence.append(mapped.join(kept.select("attempt_id"), on="attempt_id", how="semi"))
    return settled, more, any(st.got for st in stats)


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _horizon(newest: datetime, cfg: ScanConfig, complete: bool, wall: float) -> datetime | None:
    """Where this run's committed attempts end: ``hold`` before the newest entry, as later requests
    may still be in flight; nowhere (commit all) when the logs are complete, or quiet: their newest
    entry is older than ``hold`` by the wall clock."""
    if complete or wall - newest.timestamp() > cfg.hold_s:
        return None
    return newest - timedelta(seconds=cfg.hold_s)


def _failures_frame(attempts: pl.DataFrame, redact_secrets: bool = True) -> pl.DataFrame:
    import polars as pl

    from loganalyzer import analysis, redact
    from loganalyzer import summary as summary_mod

    f = attempts.filter(pl.col("verdict") != "ok")
    if redact_secrets:  # paths and the client's error text come from the logs too
        f = f.with_columns(redact.mask(pl.col(c)).alias(c) for c in ("path", "client_error", "verdict_reason"))
    return f.select(
        "attempt_id", analysis.iso(pl.col("ts")).alias("ts"),
        summary_mod.endpoint(pl.col("method"), pl.col("path")).alias("endpoint"), "method", "path", "request_id",
        "attempt", "verdict", "verdict_reason", "root_cause", "root_cause_detail", "status_client", "status_proxy",
        "status_upstream", "client_error", "request_time", "upstream_response_time")


def _map_evidence(evidence: pl.DataFrame, ranges: list[tuple[str, str, str, int]]) -> pl.DataFrame:
    """Evidence cited by the real file, its identity and its real line number. ``ranges``: (name
    in the entries, path, identity, line number before the range's first line)."""
    import polars as pl

    from loganalyzer import analysis

    mapped = batching.placed(evidence, [(name, path, base) for name, path, _, base in ranges],
                             {"identity": [identity for _, _, identity, _ in ranges]})
    return mapped.with_columns(analysis.iso(pl.col("ts")).alias("ts"))


def _finish_run(db, cfg: ScanConfig, run_id: int, r: ScanResult, night: _Night) -> None:
    """The run's row, the files it read, and its hours, once every batch is in."""
    from loganalyzer import redact

    s = r.summary()
    db.execute(
        "UPDATE runs SET finished=?, config_file=?, config_hash=?, data_from=?, data_to=?, files_read=?, bytes_read=?, "
        "lines_read=?, lines_parsed=?, lines_rejected=?, lines_unread=?, attempts=?, requests=?, failed_attempts=?, "
        "clock_offsets=?, notes=? WHERE run_id=?",
        (_iso(datetime.now(UTC)), cfg.file, cfg.hash, _iso(r.committed_from), _iso(r.committed_to),
         sum(1 for f in night.files.values() if f["lines"]), sum(f["end"] - f["start"] for f in night.files.values()),
         r.lines["read"], r.lines["parsed"], r.lines["rejected"], r.lines["unread"], s["attempts"], s["requests"],
         s["failed_attempts"],
         json.dumps([{"source": o.source, "reference": o.reference, "seconds": o.seconds, "pairs": o.pairs,
                      "method": o.method, "applied": o.applied} for o in r.offsets]),
         json.dumps(redact.mask_text("\n".join(r.notes)).split("\n") if r.notes else []), run_id))
    db.executemany("INSERT INTO files_read (run_id, path, identity, source, status, start_offset, end_offset, "
                   "first_line, lines) VALUES (?,?,?,?,?,?,?,?,?)",
                   [(run_id, f["path"], f["cursor"].identity, f["cursor"].source, f["status"], f["start"], f["end"],
                     f["first_line"], f["lines"]) for f in night.files.values()])
    db.executemany(
        "INSERT INTO hourly (run_id, hour, endpoint, attempts, requests, failed, request_time_p50, request_time_p95, "
        "request_time_p99, upstream_time_p50, upstream_time_p95, upstream_time_p99, longest_failure_run) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", [(run_id, *row) for row in r.hourly.iter_rows()])
    db.executemany("INSERT INTO hourly_counts (run_id, hour, endpoint, dimension, value, n) VALUES (?,?,?,?,?,?)",
                   [(run_id, *row) for row in night.tally.counts()])


def _insert_failures(db, run_id: int, failures: pl.DataFrame, evidence: pl.DataFrame) -> None:
    """A batch's failed attempts, their evidence, and the signatures they add to."""
    ids = {}
    for row in failures.iter_rows(named=True):
        aid = row.pop("attempt_id")
        cur = db.execute(f"INSERT INTO failures (run_id, {', '.join(row)}) VALUES (?{', ?' * len(row)})",
                         (run_id, *row.values()))
        ids[aid] = cur.lastrowid
        db.execute(
            "INSERT INTO signatures (cause, detail, first_seen, last_seen, first_run, last_run, failed_attempts) "
            "VALUES (?,?,?,?,?,?,1) ON CONFLICT(cause, detail) DO UPDATE SET "
            "last_seen=max(coalesce(last_seen, excluded.last_seen), excluded.last_seen), last_run=excluded.last_run, "
            "first_seen=min(coalesce(first_seen, excluded.first_seen), excluded.first_seen), "
            "failed_attempts=failed_attempts+1",
            (row["root_cause"] or "unknown", row["root_cause_detail"] or "", row["ts"], row["ts"], run_id, run_id))
    if evidence.height:
        rows = [(ids[r[0]], *r[1:]) for r in evidence.select(
            "attempt_id", "role", "kind", "file", "identity", "line", "ts", "text").iter_rows() if r[0] in ids]
        db.executemany("INSERT INTO evidence (failure_id, role, kind, file, identity, line, ts, text) "
                       "VALUES (?,?,?,?,?,?,?,?)", rows)


def _sources_seen(db, pieces: list[cursors.Piece], run_id: int) -> None:
    growth: dict[str, float] = {}
    for p in pieces:
        if p.cursor.source:
            growth[p.cursor.source] = max(growth.get(p.cursor.source, 0.0), p.cursor.last_growth)
    db.executemany("INSERT INTO sources_seen (source, last_growth, last_run) VALUES (?,?,?) ON CONFLICT(source) "
                   "DO UPDATE SET last_growth=max(last_growth, excluded.last_growth), last_run=excluded.last_run",
                   [(k, v, run_id) for k, v in growth.items()])


# --------------------------------------------------------------------------------------------
# thresholds


def _breach(rule: str, subject: str | None, value: float | None, threshold: float | None, message: str,
            new: bool = False) -> dict[str, Any]:
    return {"rule": rule, "subject": subject, "value": value, "threshold": threshold, "new": new,
            "message": message}


def _thresholds(cfg: ScanConfig, db, run_id: int, r: ScanResult, tally: tally_mod.NightTally
                ) -> list[dict[str, Any]]:
    th = cfg.thresholds
    out: list[dict[str, Any]] = []
    if tally.attempts == 0:
        return out
    rate = tally.failed / tally.attempts
    base = history.nights(db, before_run=run_id, limit=int(th["baseline_nights"]))
    if 1 - rate < th["success_rate"]:
        out.append(_breach("success_rate", None, round(1 - rate, 6), th["success_rate"],
                           f"{1 - rate:.1%} of {tally.attempts:,} attempts succeeded "
                           f"(threshold {th['success_rate']:.0%})"))
    if base:
        rates = [n["failure_rate"] for n in base]
        mean = sum(rates) / len(rates)
        if len(rates) >= 3:
            sd = math.sqrt(sum((x - mean) ** 2 for x in rates) / (len(rates) - 1))
            limit = mean + th["sigma"] * sd
            if rate > limit and tally.failed:
                out.append(_breach("failure_rate", None, round(rate, 6), round(limit, 6),
                                   f"failure rate {rate:.2%} is above the last {len(rates)} nights' "
                                   f"{mean:.2%} + {th['sigma']:g}σ ({limit:.2%})"))
        elif mean > 0 and rate > th["ratio"] * mean:
            out.append(_breach("failure_rate", None, round(rate, 6), round(th["ratio"] * mean, 6),
                               f"failure rate {rate:.2%} is over {th['ratio']:g}× the last {len(rates)} "
                               f"night(s)' {mean:.2%}"))
        p95s = sorted(n["request_time_p95"] for n in base if n["request_time_p95"] is not None)
        tonight = r.hourly["request_time_p95"].max() if r.hourly.height else None
        if p95s and tonight is not None:
            median = p95s[len(p95s) // 2]
            if median > 0 and tonight > th["p95_ratio"] * median:
                out.append(_breach("p95_latency", None, float(tonight), th["p95_ratio"] * median,
                                   f"p95 $request_time {tonight:.3f}s is over {th['p95_ratio']:g}× the baseline's "
                                   f"{median:.3f}s"))
    n = int(th["consecutive_failures"])
    if n > 0:
        for endpoint, k, start in tally.longest_runs(n):
            out.append(_breach("consecutive_failures", endpoint, float(k), float(n),
                               f"{k} failed attempts in a row at {endpoint} from {_iso(start)}"))
    if th["new_causes"] and tally.failed:
        seen = history.causes_seen(db, run_id)
        # The baseline is every earlier run: a cause seen once before is not news tonight.
        for cause, detail, k, first in tally.causes():
            if (cause, detail) in seen or (cause, detail or "") in seen:
                continue
            name = cause + (f" ({detail})" if detail else "")
            out.append(_breach("new_cause", name, float(k), None,
                               f"new tonight: {name}, {k} failed attempt(s) from {_iso(first)}", new=True))
    return out


def expiry_patterns() -> list[tuple[str, str]]:
    """(name, regex) of the lines in which a client says when its credentials expire (rules data)."""
    import tomllib
    from importlib import resources

    data = tomllib.loads(resources.files("loganalyzer").joinpath("rules/expiry.toml").read_text(encoding="utf-8"))
    return [(e["name"], e["pattern"]) for e in data.get("expiry", [])]


def _expiry_breaches(found: dict[str, datetime], days: float, wall: float) -> list[dict[str, Any]]:
    """A credential the client's lines say expires within ``days`` of now (or has expired)."""
    if not days:
        return []
    now = datetime.fromtimestamp(wall, UTC)
    out = []
    for name, when in sorted(found.items()):
        left = (when - now).total_seconds() / 86400
        if left < days:
            what = "expired" if left < 0 else "expires"
            out.append(_breach("token_expiry", name, round(left, 3), float(days),
                               f"the client's {name} {what} {_iso(when)} ({left:.1f} days from now)"))
    return out


def _silent(cfg: ScanConfig, db, pieces: list[cursors.Piece], wall: float) -> list[dict[str, Any]]:
    """Sources whose files have not grown for ``silent_hours``."""
    hours = cfg.thresholds["silent_hours"]
    if not hours:
        return []
    last = dict(db.execute("SELECT source, last_growth FROM sources_seen"))
    for p in pieces:
        if p.cursor.source:
            last[p.cursor.source] = max(last.get(p.cursor.source) or 0.0, p.cursor.last_growth)
    out = []
    for src in cfg.sources:
        seen = last.get(src.name)
        if seen and wall - seen > hours * 3600:
            out.append(_breach("silent_source", src.name, round((wall - seen) / 3600, 2), float(hours),
                               f"{src.name}: its files have not grown for {(wall - seen) / 3600:.1f} h"))
        elif seen is None and not any(p.cursor.source == src.name for p in pieces) and not files_of(src):
            out.append(_breach("silent_source", src.name, None, float(hours),
                               f"{src.name}: no file matches {', '.join(src.paths)}"))
    return out
