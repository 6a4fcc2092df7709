"""Ingest: find the files, read them, pick their formats and zones, parse them into one schema.

``load(paths)`` is the library's entry point for parsing. It returns a :class:`Logs`: one pandas
DataFrame per source kind, the rejected lines, and one row of statistics per file, so that
``lines = parsed + continuation + rejected`` can be checked for every file (plus ``batched`` on the
left: the records a line of a batch, OTLP's, held beyond its first, each an entry or reject of its own).
"""

from __future__ import annotations

import codecs
import functools
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from loganalyzer import budget as budget_mod
from loganalyzer import config as config_mod
from loganalyzer import errors, progress, sources, timewindow
from loganalyzer import kinds as kinds_mod
from loganalyzer.parsers import containers, engine, infer, mixed
from loganalyzer.parsers.formats import KINDS, Compiled, DefinitionError, compile_definition, load_definitions
from loganalyzer.rotation import order_rotated

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported where frames are handed out, not here: `loganalyzer parse` never needs it.

COMMON_COLUMNS = ["ts", "source", "file", "line", "level", "request_id", "message"]
DETECT_SAMPLE = 1000
MIN_MATCH_RATE = 0.5
#: Files a directory walk passes over: they are not logs (reports, truth tables, configs, code).
NOT_LOGS = {
    ".csv", ".md", ".toml", ".yaml", ".yml", ".ini", ".conf", ".py", ".java", ".class", ".jar", ".html",
    ".htm", ".png", ".jpg", ".svg", ".pdf", ".parquet", ".db", ".sqlite", ".xml", ".sh", ".zip", ".tar",
    # Source code beside the logs it writes (a generator, a reproducer): read as code, never as a log.
    ".go", ".js", ".mjs", ".cjs", ".ts", ".rb", ".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".kt", ".scala",
    ".php", ".pl", ".lua", ".swift", ".ps1", ".bat", ".properties", ".gradle", ".css",
}


class LoadError(errors.InputError):
    """A problem with the input that stops the load; the message is one plain line."""


# --------------------------------------------------------------------------------------------
# options


@dataclass
class Options:
    """What the user told us about the sources (CLI flags or keyword arguments)."""

    tz: dict[str, str] = field(default_factory=dict)  # kind or path -> zone
    as_: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # path -> (kind, format)
    encoding: dict[str, str] = field(default_factory=dict)  # kind or path or "*" -> codec
    formats: list[str] = field(default_factory=list)  # user format files
    tz_from: dict[str, str] = field(default_factory=dict)  # key of tz -> where it was given

    def for_file(self, table: Mapping[str, str], path: str, kind: str | None) -> str | None:
        for key in (path, str(Path(path).resolve()) if path != "-" else "-", Path(path).name):
            if key in table:
                return table[key]
        if kind and kind in table:
            return table[kind]
        return table.get("*")


def check_zone(zone: str) -> str:
    m = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2}):?(\d{2})?", zone)
    if m:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes >= 60 or (hours == 14 and minutes):
            raise errors.UsageError(f"time zone offset {zone!r} is out of range (UTC-14:00 to UTC+14:00)")
        return f"{m.group(1)}{hours:02d}{minutes:02d}"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise errors.UsageError(f"unknown time zone {zone!r} (use an IANA name such as Europe/Berlin, "
                                "or +03:00)") from None
    return zone


def check_codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise errors.UsageError(f"unknown encoding {name!r}") from None


# --------------------------------------------------------------------------------------------
# finding files


def expand(paths: Iterable[str | Path]) -> tuple[list[str], list[str]]:
    """Files to read (``-`` for stdin) and notes about what was passed over.

    Each file is read once, however often it is named (twice, through a directory and by name, or
    through a link): files are told apart by device and inode. A FIFO, socket or device named on
    its own is refused (reading it could block for ever or never end).
    """
    files: list[str] = []
    notes: list[str] = []
    seen: dict[tuple[int, int], str] = {}

    def add(f: Path, named: bool) -> None:
        try:
            st = f.stat()
        except OSError as exc:
            raise LoadError(f"cannot read {f}: {exc.strerror}") from exc
        if not stat.S_ISREG(st.st_mode):
            if named:
                what = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else \
                    "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file"
                raise LoadError(f"{f} is {what}, not a log file (pipe it in as - instead)")
            notes.append(f"{f}: not a regular file; passed over")
            return
        key = (st.st_dev, st.st_ino)
        if key in seen:
            notes.append(f"{f}: the same file as {seen[key]}; read once")
            return
        seen[key] = str(f)
        files.append(str(f))

    for raw in paths:
        p = str(raw)
        if p == "-":
            if "-" not in files:
                files.append("-")
            continue
        path = Path(p)
        if path.is_dir():
            found = [f for f in path.rglob("*") if not f.name.startswith(".") and not f.is_dir()]
            logs = [f for f in found if _suffix(f) not in NOT_LOGS]
            skipped = len(found) - len(logs)
            if skipped:
                notes.append(f"{p}: passed over {skipped} file(s) that are not logs (by extension)")
            for f in order_rotated(logs):
                add(f, named=False)
        elif path.exists() or path.is_symlink():
            add(path, named=True)
        else:
            raise LoadError(f"no such file or directory: {p}")
    if not files:
        raise LoadError("no log files found in " + ", ".join(map(str, paths)))
    return files, notes


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for z in (".gz", ".bz2"):
        if name.endswith(z):
            name = name[: -len(z)]
    suffix = Path(name).suffix
    return "" if suffix[1:].isdigit() else suffix


# --------------------------------------------------------------------------------------------
# detection


@dataclass
class Detection:
    format: Compiled
    rate: float
    ranking: list[tuple[str, float]]


def detect(lines: pl.Series, candidates: list[Compiled]) -> Detection:
    """Try every candidate on a sample of lines; the best explained share wins, then priority."""
    sample = lines.head(DETECT_SAMPLE)
    frame = engine.detection_frame(sample)  # cleaned once for every candidate
    scored = []
    for fmt in candidates:
        rate, starts = engine.match_rate(sample, fmt, frame)
        scored.append((rate, starts > 0, fmt.definition.priority, fmt))
    scored.sort(key=lambda s: (round(s[0], 3), s[1], s[2]), reverse=True)
    best = scored[0]
    return Detection(best[3], best[0], [(s[3].name, s[0]) for s in scored])


# --------------------------------------------------------------------------------------------
# the result


class Logs(Mapping[str, "pd.DataFrame"]):
    """Parsed logs: ``logs["nginx_access"]`` is a pandas DataFrame; plus ``rejects``, ``stats``, ``notes``.

    The frames are kept as polars frames (``logs.polars[kind]``) and handed out as pandas on first
    access, so code that works in polars never pays for the conversion.
    """

    def __init__(self, frames: dict[str, pl.DataFrame], rejects: pd.DataFrame, stats: pd.DataFrame,
                 notes: list[str]):
        self.polars = frames
        self.rejects = rejects
        self.stats = stats
        self.notes = notes
        #: The ``since``/``until`` window asked for (UTC instants, None: open), or None without one.
        self.window: tuple[datetime | None, datetime | None] | None = None
        self._pandas: dict[str, pd.DataFrame] = {}

    def __getitem__(self, kind: str) -> pd.DataFrame:
        if kind not in KINDS:
            raise KeyError(f"{kind!r} is not a source kind (one of {', '.join(KINDS)})")
        if kind not in self._pandas:
            frame = self.polars.get(kind)
            self._pandas[kind] = to_pandas(frame, categories=True) if frame is not None else empty_frame(kind)
        return self._pandas[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self.polars)

    @property
    def held(self) -> frozenset[str]:
        """The kinds these logs hold entries of (a time window of logs names those of the whole)."""
        return frozenset(k for k, df in self.polars.items() if df.height)

    def __len__(self) -> int:
        return len(self.polars)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}: {v.height:,}" for k, v in self.polars.items())
        return f"<Logs {sizes}; {len(self.rejects):,} rejected lines>"

    def write(self, out: str | Path, redact_secrets: bool = True) -> int:
        """Write all entries, every kind in one table sorted by time: .parquet, .csv or .jsonl.

        Text columns are written with secrets masked unless ``redact_secrets`` is false."""
        if not self.polars:
            raise LoadError("nothing parsed, nothing written")
        df = pl.concat(list(self.polars.values()), how="diagonal_relaxed").sort("ts", maintain_order=True)
        if redact_secrets:
            from loganalyzer import redact

            df = redact.mask_frame(df)
        suffix = check_output_type(out)
        if suffix == ".parquet":
            df.write_parquet(out)
        elif suffix == ".csv":
            df.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")).write_csv(out)
        else:
            df.write_ndjson(out)
        return df.height

    def report(self, samples: int = 3) -> ParseReport:
        """The per-file statistics, notes and first rejected lines of each file, as :func:`parse_files`
        reports them."""
        stats = self.stats.astype(object).where(self.stats.notna(), None).to_dict("records")
        rej = self.rejects.groupby("file", sort=False).head(samples) if len(self.rejects) else self.rejects
        rejects = rej.astype(object).where(rej.notna(), None).to_dict("records")
        return ParseReport(stats, list(self.notes), rejects, len(self.rejects))

    def text_of(self, file: str, lines: Iterable[int], span: int = 1) -> dict[int, str]:
        """The text of some lines of a loaded file, read back from it (evidence for a report)."""
        row = self.stats[self.stats["file"] == file]
        encoding = row["encoding"].iloc[0] if len(row) else "utf-8"
        return sources.lines_at(file, encoding, set(lines), span)


ENTRY_OUTPUT_TYPES = (".parquet", ".csv", ".jsonl", ".ndjson")


def check_output_type(out: str | Path) -> str:
    """The file type entries can be written as, from the name's suffix; checked before any log is read."""
    if str(out) == "-":  # stdout: one entry per line, the one type written as it streams
        return ".jsonl"
    suffix = Path(out).suffix.lower()
    if suffix not in ENTRY_OUTPUT_TYPES:
        raise errors.UsageError(f"unknown file type {suffix or '(none)'}; use .parquet, .csv or .jsonl")
    return suffix


def empty_frame(kind: str) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in COMMON_COLUMNS})
    frame["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["line"] = pd.Series(dtype="Int64")
    return frame


@functools.cache
def _pandas_types() -> dict:
    import pandas as pd
    import pyarrow as pa

    return {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.bool_(): pd.BooleanDtype()}


#: Columns that name a thing from a short list (a level, a method, a client, a thread): pandas gets
#: them as ``category``, four bytes a row instead of a string each.
DIMENSIONS = {
    "level", "method", "protocol", "remote_addr", "remote_user", "http_user_agent", "http_referer",
    "upstream_addr", "server", "host", "client", "logger", "thread", "app_name", "app_group", "action",
    "strerror", "error", "kind", "reason", "source", "file",
}


def to_pandas(df: pl.DataFrame, categories: bool = False) -> pd.DataFrame:
    """Hand polars data to pandas: nullable integers stay integers, strings use pandas' str dtype.

    With ``categories`` (the parsed entries), columns in ``DIMENSIONS`` and text columns with no
    value at all become pandas categories."""
    small = [c for c, t in df.schema.items() if categories and t == pl.String
             and (c in DIMENSIONS or df[c].null_count() == df.height)]
    if small:
        df = df.with_columns(pl.col(small).cast(pl.Categorical))
    return df.to_arrow().to_pandas(types_mapper=_pandas_types().get)


# --------------------------------------------------------------------------------------------
# load


@dataclass
class _Source:
    """One file on its way through the load: chosen format and zone, then its parse result."""

    path: str
    kind: str
    fmt: Compiled
    rate: float
    encoding: str
    sample: pl.Series
    decision: kinds_mod.KindDecision | None = None
    wrapper: str | None = None  # a container runtime's wrapper around the lines (docker_json, cri, compose)
    mixed: bool = False  # lines of several formats (a log_format change, access and error lines interleaved)
    zone: str | None = None
    zone_source: str = ""
    result: engine.ParseResult | None = None
    read: sources.ReadStats | None = None
    #: A small file's sample is all of it: the parse that told its kind, and the read of it, kept
    #: to stand for the file's (so that it is read and parsed once).
    whole: tuple[engine.ParseResult, sources.ReadStats] | None = None


def load(
    paths: str | Path | Iterable[str | Path],
    *,
    tz: Mapping[str, str] | None = None,
    as_: Mapping[str, str] | None = None,
    encoding: str | Mapping[str, str] | None = None,
    formats: Iterable[str | Path] = (),
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    config: str | Path | None = None,
    pad_s: float | None = None,
    max_memory: int | str | None = None,
) -> Logs:
    """Parse log files into one DataFrame per source kind.

    ``paths``: files, directories (walked recursively, rotated sets read oldest first) or ``-``.
    ``tz``: zone per kind or per path for lines without an offset (``{"crm": "Asia/Shanghai"}``).
    ``as_``: ``{path: "kind"}`` or ``{path: "kind:format"}`` to skip detection.
    ``encoding``: one codec for all, or per kind/path.
    ``formats``: TOML files with more format definitions.
    ``config``: a settings file (default: ./loganalyzer.toml when present); arguments win over it.
    ``since``/``until``: keep the entries of this window, times as logged (see :mod:`loganalyzer.timewindow`).
    ``pad_s``: for a window that clock correction will apply later (:func:`loganalyzer.analyze`):
    files whose lines carry their own offset (or whose format names the zone) keep ``pad_s`` more
    on each side, and the others are not cut at all, since their clock may be whole zones off until
    corrected (see :func:`clock_trusted`). ``logs.window`` holds the window.
    ``max_memory``: the memory the entries may take, estimated from the text read (see
    :mod:`loganalyzer.budget`): a size (``"8GB"``), ``"auto"`` (most of the memory available now),
    or ``"none"``; None: the settings' ``max_memory``, else ``"auto"``. Logs over it raise
    :class:`loganalyzer.errors.TooLarge` as soon as that is known, before they fill the memory.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    opts, settings = _options(tz, as_, encoding, formats, config)
    limit = memory_limit(max_memory, settings)
    # Window bounds are read (and refused) before any log is.
    logs = _load(list(paths), opts, _bound(since, opts), _bound(until, opts), pad_s, budget_mod.Budget(limit))
    if settings.source:
        logs.notes.insert(0, f"settings read from {settings.source}")
    return logs


def memory_limit(max_memory: int | str | None, settings: config_mod.Settings) -> int | None:
    """The memory budget, in bytes (None: no limit), ``max_memory`` names as :func:`load` takes it."""
    from_settings = max_memory is None and settings.max_memory is not None
    try:
        return budget_mod.limit_of(settings.max_memory if from_settings else max_memory or "auto")
    except errors.ConfigError as exc:
        raise errors.ConfigError(f"{settings.source}: {exc}" if from_settings else str(exc)) from exc


def _options(tz, as_, encoding, formats, config) -> tuple[Options, config_mod.Settings]:
    try:
        settings = config_mod.read(config)
    except config_mod.ConfigError as exc:
        raise errors.ConfigError(str(exc)) from exc
    enc = {"*": encoding} if isinstance(encoding, str) else dict(encoding or {})
    opts = Options(
        tz={k: check_zone(v) for k, v in {**settings.tz, **(tz or {})}.items()},
        tz_from={**{k: f"set in {settings.source}" for k in settings.tz}, **{k: "given (--tz)" for k in tz or {}}},
        as_={k: _split_as(v) for k, v in {**settings.as_, **(as_ or {})}.items()},
        encoding={**settings.encoding, **enc},
        formats=settings.formats + [str(f) for f in formats],
    )
    return opts, settings


def _bound(value, opts: Options) -> timewindow.When | None:
    """A window bound: text as people type it (see :mod:`loganalyzer.timewindow`), or a time."""
    if value is None:
        return None
    if hasattr(value, "tzinfo"):
        return timewindow.When(instant=_utc(value))
    return timewindow.parse_when(str(value), zone=opts.tz.get("*"))


def _split_as(value: str) -> tuple[str, str | None]:
    kind, _, fmt = value.partition(":")
    if kind not in KINDS:
        raise errors.UsageError(f"{kind!r} is not a source kind (one of {', '.join(KINDS)})")
    return kind, fmt or None


#: Compiled definitions by the format files they came from (each one's path and text): a process
#: that loads many files or ranges (a batched analysis, a scan) compiles them once.
_COMPILED: dict[tuple, list[Compiled]] = {}


def _compiled_formats(opts: Options) -> list[Compiled]:
    try:
        key = tuple((str(f), Path(f).read_bytes()) for f in opts.formats)
    except OSError:
        key = None  # loading says what is wrong with the file
    if key is not None and key in _COMPILED:
        return _COMPILED[key]
    try:
        compiled = [compile_definition(d) for d in load_definitions(opts.formats)]
    except DefinitionError as exc:
        raise errors.FormatsError(str(exc)) from exc
    if key is not None:
        _COMPILED.clear()  # one set at a time: the formats of this process's runs
        _COMPILED[key] = compiled
    return compiled


def _reused(sample: pl.Series, recent: list[Compiled], candidates: list[Compiled]) -> Compiled | None:
    """A format an earlier file was read with, if detection would pick it for this file too.

    It must read every sampled line as an entry start, and no candidate that outranks it on a tie
    (a higher priority, or the same and listed before it) may read them all as well: then it is
    what :func:`detect` would choose, found by trying a few formats instead of all of them. A
    directory of one service's files, or a rotated set, pays for one full detection.
    """
    head = sample.head(DETECT_SAMPLE)
    # A JSON format reads objects only: without a line opening one it reads nothing (as in mixed.py).
    objects = bool(head.str.strip_chars_start().str.starts_with("{").any())
    frame = engine.detection_frame(head)  # scored by each format tried
    for fmt in recent:
        rate, starts = engine.match_rate(head, fmt, frame)
        if rate < 1.0 or not starts:
            continue
        at = next(i for i, c in enumerate(candidates) if c is fmt)
        prio = fmt.definition.priority
        rivals = [c for i, c in enumerate(candidates) if (c.regex is not None or objects)
                  and (c.definition.priority > prio or (c.definition.priority == prio and i < at))]
        if all(round(engine.match_rate(head, c, frame)[0], 3) < 1.0 for c in rivals):
            return fmt
    return None


def _choose(path: str, sample: pl.Series, compiled: list[Compiled], opts: Options,
            recent: list[Compiled] | None = None) -> tuple[Compiled, float, str | None]:
    """The format for one file; returns (format, match rate, why none fits or None).

    ``recent``: formats earlier files were read with, tried first (see :func:`_reused`)."""
    forced = opts.as_.get(path) or (opts.as_.get(Path(path).name) if path != "-" else None)
    candidates = compiled
    if forced:
        kind, name = forced
        candidates = [c for c in compiled if _serves(c.kind, kind) and (name is None or c.name == name)]
        if not candidates:
            names = ", ".join(c.name for c in compiled if c.kind == kind)
            raise errors.UsageError(f"{path}: no format {name!r} for kind {kind} (known: {names})")
        if name:
            return candidates[0], engine.match_rate(sample.head(DETECT_SAMPLE), candidates[0])[0], None
    if sample.len() == 0 or (sample.str.strip_chars() == "").all():
        return candidates[0], 0.0, "empty"
    if recent and not forced and (again := _reused(sample, recent, candidates)) is not None:
        return again, 1.0, None
    det = detect(sample, candidates)
    if det.rate < MIN_MATCH_RATE:
        name, rate = det.ranking[0]
        closest = f"the closest is {name} ({rate:.0%} of sampled lines)" if rate > 0 else \
            "no format matches any of its first lines"
        return det.format, det.rate, (
            f"{path}: matches no known format; {closest}"
            " — name one with --as KIND:FORMAT, or add a format with --formats FILE"
        )
    return det.format, det.rate, None


@functools.cache
def _plain_text() -> Compiled:
    return compile_definition(containers.PLAIN)


#: The share of a log's lines that formats pooled must read when nothing else reads it at all: the
#: lines they read are read, the rest rejected and shown. Below it, a few lines that happen to fit
#: a generic layout would make a foreign file look read.
LAST_RESORT_POOL_RATE = 0.25


def _pooled_source(path: str, pooled: tuple[Compiled, float], sample: pl.Series, opts: Options, codec: str,
                   wrapper: str | None) -> _Source:
    """The source of a file read per line with the pool of formats :func:`_pooled` chose."""
    fmt, rate = pooled
    decision, _ = _kind_of(path, fmt, sample, opts)
    return _Source(path, decision.kind, fmt, rate, codec, sample, decision, wrapper, True)


def _pooled(sample: pl.Series, compiled: list[Compiled], opts: Options, path: str,
            bar: float = MIN_MATCH_RATE) -> tuple[Compiled, float] | None:
    """(format, rate) when several formats together read the file that none reads alone: their
    pooled rate meets ``bar`` (by default the bar one format must meet), and beats a layout
    inferred from the lines."""
    if opts.as_.get(path) or opts.as_.get(Path(path).name):
        return None
    rate, used = mixed.pool_rate(sample.head(DETECT_SAMPLE), compiled)
    if used < 2 or rate < bar:
        return None
    guess = infer.infer_format(sample.head(infer.SAMPLE))
    if guess is not None and guess.share >= rate:
        return None
    return detect(sample, compiled).format, rate


#: A date with a clock time, a clock time, or an epoch (seconds to nanoseconds), anywhere in a line.
_TIME_ANYWHERE = (r"\d{4}[-/.]\d{2}[-/.]\d{2}[T ]\d{2}:\d{2}|\b\d{1,2}:\d{2}:\d{2}\b|"
                  r"\d{2}/[A-Za-z]{3}/\d{4}:\d{2}|\b1\d{9}(?:\d{3}){0,3}\b")
#: A file nothing reads is no log at all when fewer of its non-blank lines than this carry a time.
_TIMED_SHARE = 0.1


def _timed_share(sample: pl.Series) -> float:
    """Share of the non-blank lines that carry a time, where a format expects it or not: a log's
    entries do."""
    text = sample.head(DETECT_SAMPLE)
    text = text.filter(text.str.strip_chars() != "")
    return 1.0 if text.len() == 0 else float(text.str.contains(_TIME_ANYWHERE).mean() or 0)


def _serves(format_kind: str, kind: str) -> bool:
    """Whether a format of ``format_kind`` can read a file of ``kind``: application layouts serve
    both application sides (a Python or logback layout is a client's or a server's alike)."""
    if kind in kinds_mod.APP_SIDES:
        return format_kind in (*kinds_mod.APP_SIDES, "app")
    return format_kind == kind


def _kind_of(path: str, fmt: Compiled, sample: pl.Series, opts: Options
             ) -> tuple[kinds_mod.KindDecision, engine.ParseResult | None]:
    """The file's kind: given (--as), else from what its first entries say; and the parse of the
    sample, when one was needed (in the format's own zone, as a file without ``--tz`` is read)."""
    forced = opts.as_.get(path) or (opts.as_.get(Path(path).name) if path != "-" else None)
    if forced:
        return kinds_mod.KindDecision(forced[0], 1.0, "given", {}, False), None
    if fmt.kind in ("nginx_access", "nginx_error"):
        return kinds_mod.classify(pl.DataFrame(), fmt.kind), None
    result = engine.parse(sample.head(DETECT_SAMPLE), fmt, None)
    return kinds_mod.classify(result.entries, fmt.kind), result


def _whole_file(src: _Source) -> engine.ParseResult | None:
    """The sample's parse as the file's, when the sample is the whole file and the zone it was
    read in is the file's (naive times read alike: the zone given, else the format's, else UTC)."""
    if src.whole is None or src.mixed or src.wrapper:
        return None
    result, read = src.whole
    if (src.zone or src.fmt.zone or "UTC") != (src.fmt.zone or "UTC"):
        return None
    src.read = read
    return result


def suggest_format(path: str | Path, encoding: str = "utf-8") -> str:
    """A format definition (TOML) for a file, inferred from its own lines, to save and load as a formats file."""
    from loganalyzer import redact

    sample, _ = _sample(str(path), check_codec(encoding))
    # The layout is inferred from masked lines: the definition quotes them as its samples.
    sample = pl.select(redact.mask(pl.lit(sample))).to_series()
    guess = infer.infer_format(sample.head(infer.SAMPLE), name=Path(str(path)).stem.replace(".", "_") or "inferred")
    if guess is None:
        raise errors.InputError(f"{path}: no layout could be inferred from its lines (no timestamp at the start "
                                "of most lines)")
    return infer.suggest_toml(guess)


def _count_lines(path: str, codec: str) -> int:
    """Lines of a file nothing could read: they are counted as unread, never dropped unseen."""
    stats = sources.ReadStats(codec)
    try:
        return sum(len(chunk) for chunk in sources.line_chunks(path, stats))
    except sources.ReadError:
        return 0


def _sample(path: str, codec: str) -> tuple[pl.Series, sources.ReadStats]:
    try:
        return sources.head(path, codec)
    except sources.ReadError as exc:
        raise LoadError(str(exc)) from exc


def _plan(paths: list[str | Path], opts: Options) -> tuple[list[_Source], list[dict], list[str], list[Compiled]]:
    """Every file's format, kind and zone, from its first lines; and the files nothing reads."""
    files, notes = expand(paths)
    explicit = {str(p) for p in paths}
    compiled = _compiled_formats(opts)
    chosen: list[_Source] = []
    skipped = []
    recent: list[Compiled] = []  # formats earlier files were read with, latest first
    stacked: dict[int, list[tuple[_Source, sources.ReadStats]]] = {}  # small files by format
    for path in files:
        codec = check_codec(opts.for_file(opts.encoding, path, None) or "utf-8")
        raw, head_stats = _sample(path, codec)
        # A container runtime's wrapper: formats are detected on the application's own lines.
        wrapper = containers.detect_wrapper(raw)
        unwrapped = containers.unwrap(raw, wrapper) if wrapper else None
        sample = unwrapped.payload if unwrapped is not None else raw
        if wrapper:
            notes.append(f"{path}: a container log ({wrapper}); its application lines are read inside it")
        fmt, rate, problem = _choose(path, sample, compiled, opts, recent)
        kind_codec = opts.for_file(opts.encoding, path, fmt.kind) if not problem else None
        if kind_codec and check_codec(kind_codec) != codec:
            # An encoding named for the kind applies once the kind is known: read the start again.
            codec = check_codec(kind_codec)
            sample, _ = _sample(path, codec)
            fmt, rate, problem = _choose(path, sample, compiled, opts)
        if problem == "empty" and head_stats.notes:  # not empty: damaged before its first line
            notes.extend(head_stats.notes)
            skipped.append(_stat_row(path, codec, lines=len(sample), unread=len(sample)))
        elif problem == "empty":
            blank = len(sample) - int(sample.str.strip_chars().eq("").sum()) if len(sample) else 0
            notes.append(f"{path}: empty file" + (f" ({len(sample):,} blank lines)" if len(sample) and not blank
                                                   else ""))
            skipped.append(_stat_row(path, codec, lines=len(sample), unread=len(sample)))
        elif problem and (pooled := _pooled(sample, compiled, opts, path)) is not None:
            # No one format reads the file, but several do, each its own lines (a pool of layouts,
            # a log whose writer changed its layout): read it per line, and say so.
            notes.append(f"{path}: no one format reads it; each line is read with the format that matches it")
            chosen.append(_pooled_source(path, pooled, sample, opts, codec, wrapper))
        elif problem and (guess := infer.infer_format(sample.head(infer.SAMPLE))) is not None:
            # No definition fits, but the lines show a layout: read them with it, and say so.
            fmt, rate = guess.compiled, guess.share
            notes.append(f"{path}: matches no known format; read with a layout inferred from its lines "
                         f"({guess.description})")
            decision, _ = _kind_of(path, fmt, sample, opts)
            chosen.append(_Source(path, decision.kind, fmt, rate, codec, sample, decision))
        elif problem and wrapper in containers.TIMED_WRAPPERS:
            # A container runtime times every record: what no format reads is read as its messages.
            fmt, rate = _plain_text(), 0.0
            notes.append(f"{path}: no format reads the application lines inside its container log ({wrapper}); "
                         "each is read as a message timed by the container")
            decision = kinds_mod.classify(pl.DataFrame({"message": sample.head(DETECT_SAMPLE)}), fmt.kind)
            chosen.append(_Source(path, decision.kind, fmt, rate, codec, sample, decision, wrapper))
        elif problem and (timed := _timed_share(sample)) < _TIMED_SHARE:
            # Nothing reads it and its lines carry no time: prose, a catalog, a list of messages.
            why = f"{path}: matches no known format, and is not a log: {timed:.0%} of its lines carry a time"
            if path in explicit or path == "-":
                raise LoadError(why)
            unread = _count_lines(path, codec)
            notes.append(f"{why}; its {unread:,} lines were not read")
            skipped.append({**_stat_row(path, codec, lines=unread, unread=unread), "not_log": True})
        elif problem and (pooled := _pooled(sample, compiled, opts, path, LAST_RESORT_POOL_RATE)) is not None:
            # A log of many layouts, most of them unknown: what known layouts read is read, the
            # rest rejected and shown, which tells more than leaving every line unread.
            notes.append(f"{path}: no format reads most of its lines; the {pooled[1]:.0%} that known layouts read "
                         "are read per line, the rest rejected")
            chosen.append(_pooled_source(path, pooled, sample, opts, codec, wrapper))
        elif problem:
            if path in explicit or path == "-":
                raise LoadError(problem)
            unread = _count_lines(path, codec)
            notes.append(f"{problem}; its {unread:,} lines were not read")
            skipped.append(_stat_row(path, codec, lines=unread, unread=unread))
        else:
            forced = opts.as_.get(path) or opts.as_.get(Path(path).name)
            # A text format that reads every sampled line as an entry start leaves nothing for a
            # second format to explain: the file is not mixed, and the check is skipped.
            # (A match rate of exactly 1 means that: continuations count half.)
            whole = rate == 1.0 and fmt.regex is not None
            is_mixed = not forced and not whole and mixed.is_mixed(sample.head(DETECT_SAMPLE), compiled)
            if not wrapper and any(f is fmt for f in compiled):
                recent = [fmt] + [f for f in recent if f is not fmt][:2]
            src = _Source(path, "", fmt, rate, codec, sample, None, wrapper, is_mixed)
            chosen.append(src)
            small = head_stats.complete and len(sample) <= DETECT_SAMPLE and codec == head_stats.encoding
            if small and not forced and _stackable(src):
                stacked.setdefault(id(fmt), []).append((src, head_stats))
                continue
            src.decision, sample_result = _kind_of(path, fmt, sample, opts)
            src.kind = src.decision.kind
            if sample_result is not None and small:
                src.whole = (sample_result, head_stats)
        if chosen and chosen[-1].path == path:
            chosen[-1].wrapper = wrapper
    for group in stacked.values():
        _read_small_files(group)
    _assign_zones(chosen, opts, notes)
    return chosen, skipped, notes, compiled


#: Lines of small files parsed in one call (see :func:`_read_small_files`).
STACK_LINES = 50_000


def _stackable(src: _Source) -> bool:
    """Whether a small file can be parsed stacked with others of its format: a text format, not
    mixed or wrapped, naive times read alike in every line (not ISO times that may carry an offset
    each, which decide per file whether a zone was assumed), and, for a multi-line format, its
    first line an entry's first (so no entry runs on from the file before)."""
    fmt = src.fmt
    if fmt.regex is None or src.mixed or src.wrapper or len(src.sample) == 0:
        return False
    if fmt.zone is None and any(layout.chrono == "iso" for _, layout in engine.time_columns(fmt)):
        return False
    return fmt.definition.multiline_mode == "none" or bool(src.sample.head(1).str.contains(fmt.regex).item())


def _read_small_files(group: list[tuple[_Source, sources.ReadStats]]) -> None:
    """Small files of one format, whole in their samples: parsed together, a few hundred at once,
    each one's kind told from its own entries. The parse stands for the file's (as ``whole``)."""
    fmt = group[0][0].fmt
    at = 0
    while at < len(group):
        batch, lines = [], 0
        while at < len(group) and (not batch or lines + len(group[at][0].sample) <= STACK_LINES):
            batch.append(group[at])
            lines += len(group[at][0].sample)
            at += 1
        results = engine.parse_many([src.sample for src, _ in batch], fmt, None)
        decisions = kinds_mod.classify_many([r.entries for r in results], fmt.kind)
        for (src, read), result, decision in zip(batch, results, decisions, strict=True):
            src.decision, src.kind, src.whole = decision, decision.kind, (result, read)


def _load(paths: list[str | Path], opts: Options, since, until, pad_s: float | None = None,
          budget: budget_mod.Budget | None = None) -> Logs:
    budget = budget or budget_mod.Budget(None)
    progress.stage("detecting formats")
    chosen, skipped, notes, compiled = _plan(paths, opts)
    budget.check_sizes(sorted({src.path for src in chosen}))
    progress.stage("reading")
    parts: list[_Source] = []
    for src in chosen:
        if (whole := _whole_file(src)) is not None:
            budget.charge(src.read.text_bytes if src.read is not None else 0)
            src.result = whole
            parts.append(src)
            continue
        try:
            chunks = _charged(_chunks(src), src, budget)
            if src.mixed:
                parts.extend(_parse_mixed(src, chunks, compiled, opts, notes))
                continue
            if src.wrapper:
                src.result = _parse_wrapped(src, chunks)
            else:
                src.result = engine.parse_stream(chunks, src.fmt, src.zone)
        except sources.ReadError as exc:
            raise LoadError(str(exc)) from exc
        parts.append(src)
    for src in parts:
        assert src.result is not None
        _read_notes(src, notes, src.result.zone_assumed)
    return _assemble(parts, skipped, notes, since, until, pad_s)


def _parse_wrapped(src: _Source, chunks: Iterable[pl.Series]) -> engine.ParseResult:
    assert src.wrapper is not None
    if src.fmt is _plain_text():
        return containers.parse_plain_stream(chunks, src.wrapper)
    return containers.parse_stream(chunks, src.fmt, src.zone, src.wrapper)


def _read_notes(src: _Source, notes: list[str], zone_assumed: bool) -> None:
    """What reading and parsing one file found that the user should hear: damage, bytes replaced, zone assumed."""
    assert src.read is not None
    notes.extend(n for n in src.read.notes if n not in notes)  # parts of a mixed file share one reader
    if src.read.replaced:
        note = f"{src.path}: {src.read.replaced:,} undecodable byte sequence(s) replaced (read as {src.encoding})"
        if note not in notes:
            notes.append(note)
    if src.result is not None and src.result.batched:
        r = src.result
        notes.append(f"{src.path}: its lines hold batches of records ({src.fmt.definition.records}): "
                     f"{r.lines:,} lines, {r.lines + r.batched - r.continuation:,} records, each an entry "
                     "(or a reject) on its batch's line")
    if zone_assumed and not src.zone_source:
        src.zone, src.zone_source = "UTC", "assumed: no offset in the lines and no --tz given"
        note = (f"{src.path}: {src.kind} lines carry no UTC offset and no zone was given; "
                f"read as UTC (say --tz {src.kind}=Area/City)")
        if note not in notes:  # once per file, however many layouts it mixes
            notes.append(note)
    elif not src.zone_source:
        src.zone_source = "offset in each line"


def _parse_mixed(src: _Source, chunks, compiled: list[Compiled], opts: Options, notes: list[str]) -> list[_Source]:
    """A file of several formats: one part per format, each with its own kind (and zone)."""
    zones = {k: opts.for_file(opts.tz, src.path, k) for k in KINDS}
    zones = {k: z for k, z in zones.items() if z}
    if src.zone:
        zones.setdefault(src.kind, src.zone)
    results = (containers.parse_mixed_stream(chunks, compiled, src.wrapper, zones or None) if src.wrapper
               else mixed.parse_stream(chunks, compiled, zones or None))
    out = []
    for fmt, result in results:
        decision = kinds_mod.classify(result.entries.head(DETECT_SAMPLE), fmt.kind)
        part = _Source(src.path, decision.kind, fmt, src.rate, src.encoding, src.sample, decision, src.wrapper, True,
                       zones.get(decision.kind), src.zone_source if zones.get(decision.kind) else "")
        part.read, part.result = src.read, result
        out.append(part)
    names = ", ".join(f"{p.fmt.name} ({p.result.lines:,} lines)" for p in out)
    notes.append(f"{src.path}: lines of several formats, each read with its own: {names}")
    return out


def _assign_zones(chosen: list[_Source], opts: Options, notes: list[str]) -> None:
    """Zones for lines without an offset: given (--tz), named by the format, or inferred."""
    for src in chosen:
        given = opts.for_file(opts.tz, src.path, src.kind)
        if given:
            origin = opts.for_file(opts.tz_from, src.path, src.kind) or "given (--tz)"
            src.zone, src.zone_source = given, origin
        elif src.fmt.zone:
            src.zone, src.zone_source = src.fmt.zone, f"format {src.fmt.name}"
    _infer_error_log_zone(chosen, notes)


def _access_offsets(src: _Source) -> dict[str, int]:
    found = src.sample.str.extract(r"\[\d{2}/\w{3}/\d{4}:[\d:]{8} ([+-]\d{4})\]", 1).drop_nulls()
    return {k: v for k, v in found.value_counts().iter_rows()}


def _infer_error_log_zone(chosen: list[_Source], notes: list[str]) -> None:
    """nginx error logs have no offset; the access logs of the same server do. Use theirs.

    Access logs in the same directory count first; any access log loaded counts otherwise.
    """
    access = [s for s in chosen if s.kind == "nginx_access"]
    for src in chosen:
        if src.kind != "nginx_error" or src.zone:
            continue
        near = [a for a in access if Path(a.path).parent == Path(src.path).parent] or access
        offsets: dict[str, int] = {}
        for a in near:
            for off, n in _access_offsets(a).items():
                offsets[off] = offsets.get(off, 0) + n
        if offsets:
            offset = max(offsets, key=offsets.get)
            src.zone, src.zone_source = offset, f"inferred: the access log's offset {offset}"
            notes.append(f"{src.path}: nginx error logs carry no UTC offset; read as {offset}, "
                         "the offset of the access log beside it (say --tz nginx_error=Area/City to override)")


@dataclass
class _Tally:
    """The line accounting of one file, added up over its chunks."""

    lines: int = 0
    parsed: int = 0
    continuation: int = 0
    rejected: int = 0
    batched: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    upstream_status: bool = False  # whether the format logs $upstream_status
    zone_assumed: bool = False  # naive timestamps were read in a zone nobody named

    def add(self, r: engine.ParseResult) -> None:
        self.lines += r.lines
        self.parsed += r.parsed
        self.continuation += r.continuation
        self.rejected += r.rejected
        self.batched += r.batched
        if r.parsed:
            lo, hi = r.entries["ts"].min(), r.entries["ts"].max()
            self.first_ts = lo if self.first_ts is None or lo is None else min(self.first_ts, lo)
            self.last_ts = hi if self.last_ts is None or hi is None else max(self.last_ts, hi)
        self.upstream_status |= "upstream_status" in r.entries.columns
        self.zone_assumed |= r.zone_assumed


def _stat_row(path: str, encoding: str, src: _Source | None = None, lines: int = 0, unread: int = 0,
              tally: _Tally | None = None) -> dict:
    if tally is None and src is not None and src.result is not None:
        tally = _Tally()
        tally.add(src.result)
    t = tally
    return {
        "file": path, "kind": src.kind if src else None, "format": src.fmt.name if src else None,
        "lines": t.lines if t is not None else lines, "parsed": t.parsed if t is not None else 0,
        "continuation": t.continuation if t is not None else 0, "rejected": t.rejected if t is not None else 0,
        "batched": t.batched if t is not None else 0,
        "unread": unread,
        "kind_confidence": src.decision.confidence if src and src.decision else None,
        "kind_evidence": src.decision.describe() if src and src.decision else "",
        "match_rate": src.rate if src else None, "encoding": encoding,
        "replaced_bytes": src.read.replaced if src and src.read else 0,
        "zone": src.zone if src else None, "zone_source": src.zone_source if src else "",
        "first_ts": t.first_ts if t is not None else None, "last_ts": t.last_ts if t is not None else None,
        # Whether the format logs $upstream_status: then an empty one means no upstream answered.
        "logs_upstream_status": t is not None and t.upstream_status,
        "not_log": False,  # True: read by nothing, and its lines carry no time (prose, a catalog)
    }


# --------------------------------------------------------------------------------------------
# parse_files: the same load, one chunk at a time, for `loganalyzer parse`


@dataclass
class ParseReport:
    """What a streaming pass over the logs found: one row of statistics per file (as :attr:`Logs.stats`
    has), the first rejected lines of each file, and how many entries were written out."""

    stats: list[dict]
    notes: list[str]
    rejects: list[dict]  # file, line, kind, text, reason: the first ``samples`` of each file
    rejected: int  # every rejected line
    written: int | None = None


def parse_files(
    paths: str | Path | Iterable[str | Path],
    *,
    out: str | Path | None = None,
    samples: int = 3,
    tz: Mapping[str, str] | None = None,
    as_: Mapping[str, str] | None = None,
    encoding: str | Mapping[str, str] | None = None,
    formats: Iterable[str | Path] = (),
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    config: str | Path | None = None,
    redact_secrets: bool = True,
) -> ParseReport:
    """Parse log files as :func:`load` does, but one chunk at a time: no frame of a whole file is held.

    With ``out``, text columns are written with secrets masked unless ``redact_secrets`` is false.

    Each chunk is counted, and with ``out`` its entries (inside the ``since``/``until`` window) are
    written as they come, every kind in one table in file order (.parquet, .csv or .jsonl).
    Without ``out`` only what the counts need is read from each line: whether it is an entry, a
    continuation or a reject (and why), and its time; no other field is extracted.
    Peak memory is a few chunks, whatever the size of the logs; files of several formats and
    compose captures are the exception (each is parsed whole).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    suffix = check_output_type(out) if out is not None else None
    opts, settings = _options(tz, as_, encoding, formats, config)
    lo_bound, hi_bound = _bound(since, opts), _bound(until, opts)
    progress.stage("detecting formats")
    chosen, skipped, notes, compiled = _plan(list(paths), opts)
    if settings.source:
        notes.insert(0, f"settings read from {settings.source}")
    if out is not None and not chosen:
        raise LoadError("nothing parsed, nothing written")
    lo, hi = _window(chosen, lo_bound, hi_bound)
    writer = _EntryWriter(Path(out), suffix, redact_secrets) if out is not None else None
    stats, rejects, rejected, kept = list(skipped), [], 0, 0
    progress.stage("reading")
    try:
        for src in chosen:
            tallies: dict[int, tuple[_Source, _Tally]] = {}
            # Without an output only counts and times are shown: nothing else is extracted.
            for part, result in _stream(src, compiled, opts, notes, counting=writer is None):
                _, tally = tallies.setdefault(id(part), (part, _Tally()))
                tally.add(result)
                rejected += result.rejected
                shown = sum(1 for r in rejects if r["file"] == part.path and r["kind"] == part.kind)
                if result.rejected and shown < samples:
                    rejects.extend(result.rejects.head(samples - shown).with_columns(
                        file=pl.lit(part.path), kind=pl.lit(part.kind)).iter_rows(named=True))
                entries = _in_window(result.entries, lo, hi)
                kept += entries.height
                if writer is not None:
                    writer.add(_with_source(entries, part.kind, part.path))
            for part, tally in tallies.values():
                # A counting parse's entries carry their time alone: the layout says what it logs.
                tally.upstream_status |= writer is None and "upstream_status" in part.fmt.columns
                _read_notes(part, notes, tally.zone_assumed)
                stats.append(_stat_row(part.path, part.encoding, part, tally=tally))
        if writer is not None:
            progress.stage(f"finishing {out}")
        written = writer.close() if writer is not None else None
    finally:
        if writer is not None:
            writer.discard()
    if (lo is not None or hi is not None) and kept == 0:
        firsts = [r["first_ts"] for r in stats if r["first_ts"] is not None]
        lasts = [r["last_ts"] for r in stats if r["last_ts"] is not None]
        if firsts:
            notes.append(_empty_window_note(lo, hi, min(firsts), max(lasts)))
    return ParseReport(stats, notes, rejects, rejected, written)


def _chunks(src: _Source) -> Iterator[pl.Series]:
    """The file's chunks of whole lines, each reported to the progress listener (bytes read so far)."""
    src.read = sources.ReadStats(src.encoding)
    return progress.track(sources.line_chunks(src.path, src.read), src.path, lambda read=src.read: read.read_bytes)


def _charged(chunks: Iterator[pl.Series], src: _Source, budget: budget_mod.Budget) -> Iterator[pl.Series]:
    """``chunks`` as they are, each charged to ``budget`` (by the text read for it) before it is parsed."""
    if budget.limit is None:
        yield from chunks
        return
    charged = 0
    for chunk in chunks:
        assert src.read is not None
        budget.charge(src.read.text_bytes - charged)
        charged = src.read.text_bytes
        yield chunk


def _stream(src: _Source, compiled: list[Compiled], opts: Options, notes: list[str], counting: bool = False
            ) -> Iterator[tuple[_Source, engine.ParseResult]]:
    """The results of one file as they are parsed: chunk by chunk, or whole (mixed files, compose).

    ``counting``: entries hold their line and time only (:func:`engine.counting`)."""
    if (whole := _whole_file(src)) is not None:
        yield src, whole
        return
    try:
        chunks = _chunks(src)
        if src.mixed:
            for part in _parse_mixed(src, chunks, compiled, opts, notes):
                yield part, part.result
        elif src.wrapper:
            yield src, _parse_wrapped(src, chunks)
        else:
            fmt = engine.counting(src.fmt) if counting else src.fmt
            for result in engine.iter_parse(chunks, fmt, src.zone):
                yield src, result
    except sources.ReadError as exc:
        raise LoadError(str(exc)) from exc


def _window(chosen: list[_Source], since: timewindow.When | None, until: timewindow.When | None
            ) -> tuple[datetime | None, datetime | None]:
    """The window as instants. A time of day goes on the logs' first date, taken here from the
    first lines of each file (read before the files are: the whole load takes it from every entry)."""
    day: date | None = None
    if any(b is not None and b.instant is None for b in (since, until)):
        firsts = []
        for src in chosen:
            ts = engine.parse(src.sample, src.fmt, src.zone).entries["ts"]
            if ts.len() and ts.min() is not None:
                firsts.append(ts.min())
        day = min(firsts).date() if firsts else None
    return _resolve_window(since, until, day)


def _resolve_window(since: timewindow.When | None, until: timewindow.When | None, day: date | None
                    ) -> tuple[datetime | None, datetime | None]:
    lo = since.resolve(day) if since is not None else None
    hi = until.resolve(day) if until is not None else None
    if lo is not None and hi is not None and hi < lo:
        raise errors.UsageError(f"the window ends ({hi:%Y-%m-%d %H:%M:%S} UTC) before it starts "
                                f"({lo:%Y-%m-%d %H:%M:%S} UTC)")
    return lo, hi


def _in_window(df: pl.DataFrame, lo: datetime | None, hi: datetime | None) -> pl.DataFrame:
    if lo is not None:
        df = df.filter(pl.col("ts") >= lo)
    if hi is not None:
        df = df.filter(pl.col("ts") <= hi)
    return df


def _empty_window_note(lo: datetime | None, hi: datetime | None, first: datetime, last: datetime) -> str:
    def fmt(t):
        return f"{t:%Y-%m-%d %H:%M:%S}" if t is not None else "…"

    return (f"the window {fmt(lo)} to {fmt(hi)} UTC leaves no entry: the logs cover "
            f"{fmt(first)} to {fmt(last)} UTC (as logged, before clock offsets)")


def _with_source(entries: pl.DataFrame, kind: str, path: str) -> pl.DataFrame:
    """Entries with their kind and file, the common columns first (as :class:`Logs` frames have them)."""
    df = entries.with_columns(pl.lit(kind).alias("source"), pl.lit(path).alias("file"))
    first = [c for c in COMMON_COLUMNS if c in df.columns]
    return df.select(first + [c for c in df.columns if c not in first])


class _EntryWriter:
    """Entries written out as they are parsed, in bounded memory.

    Chunks of different files (and kinds) have different columns, and a Parquet or CSV file has
    one set: each chunk goes to a part file in a hidden folder beside the output, and
    :meth:`close` streams the parts, their columns united, into the output.
    """

    def __init__(self, out: Path, suffix: str, redact_secrets: bool = True):
        self.out, self.suffix, self.redact = out, suffix, redact_secrets
        stdout = str(out) == "-"
        self.dir = Path(tempfile.mkdtemp(prefix=".entries." if stdout else f".{out.name}.",
                                         dir=None if stdout else out.parent if str(out.parent) else "."))
        self.parts: list[Path] = []

    def add(self, df: pl.DataFrame) -> None:
        if df.height and self.redact:
            from loganalyzer import redact

            df = redact.mask_frame(df)
        if df.height:
            part = self.dir / f"{len(self.parts):06d}.parquet"
            df.write_parquet(part, compression="lz4", statistics=False)
            self.parts.append(part)

    def close(self) -> int:
        if not self.parts:
            frame = pl.DataFrame(schema={c: (pl.Datetime("ns", "UTC") if c == "ts" else pl.Int64 if c == "line"
                                              else pl.String) for c in COMMON_COLUMNS}).lazy()
        else:
            frame = pl.concat([pl.scan_parquet(p) for p in self.parts], how="diagonal_relaxed")
        n = frame.select(pl.len()).collect().item()
        if self.suffix == ".parquet":
            frame.sink_parquet(self.out)
        elif self.suffix == ".csv":
            frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")).sink_csv(self.out)
        elif str(self.out) == "-":
            sys.stdout.flush()
            frame.sink_ndjson(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            frame.sink_ndjson(self.out)
        return n

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _assemble(chosen: list[_Source], skipped: list[dict], notes: list[str], since, until,
              pad_s: float | None = None) -> Logs:
    by_kind: dict[str, list[pl.DataFrame]] = {}
    reject_frames = []
    stats = list(skipped)
    spans = [(src, r.entries["ts"].min(), r.entries["ts"].max()) for src in chosen
             if (r := src.result) is not None and r.parsed]
    # A time of day is on the logs' own date (the incident's, not today's), taken from the files
    # whose clocks need no zone correction when there are any.
    own = [first for src, first, _ in spans if first is not None and _own_zone(src)]
    firsts = [first for _, first, _ in spans if first is not None]
    lasts = [last for _, _, last in spans if last is not None]
    lo, hi = _resolve_window(since, until, min(own or firsts).date() if firsts else None)
    kept = 0
    for src in chosen:
        r = src.result
        assert r is not None
        stats.append(_stat_row(src.path, src.encoding, src))
        entries = r.entries
        if pad_s is None:
            entries = _in_window(entries, lo, hi)
        elif _own_zone(src):
            entries = _in_window(entries, _moved(lo, -pad_s), _moved(hi, pad_s))
        kept += entries.height
        # source and file repeat on every row: categorical columns hold each value once.
        by_kind.setdefault(src.kind, []).append(entries.with_columns(
            pl.lit(src.kind).cast(pl.Categorical).alias("source"),
            pl.lit(src.path).cast(pl.Categorical).alias("file")))
        if r.rejected:
            reject_frames.append(r.rejects.with_columns(pl.lit(src.path).alias("file"), pl.lit(src.kind).alias("kind")))
        src.result = None  # the frame lives on in by_kind only
    frames = {}
    for kind, parts in by_kind.items():
        df = engine.concat_frames(parts)
        first = [c for c in COMMON_COLUMNS if c in df.columns]
        frames[kind] = df.select(first + [c for c in df.columns if c not in first])
    if (lo is not None or hi is not None) and firsts and kept == 0:
        notes.append(_empty_window_note(lo, hi, min(firsts), max(lasts)))
    import pandas as pd

    if reject_frames:
        rej = pl.concat(reject_frames, how="diagonal_relaxed").select("file", "line", "kind", "text", "reason")
        rejects = to_pandas(rej)
    else:
        rejects = pd.DataFrame({"file": pd.Series(dtype="str"), "line": pd.Series(dtype="Int64"),
                                "kind": pd.Series(dtype="str"), "text": pd.Series(dtype="str"),
                                "reason": pd.Series(dtype="str")})
    stats_df = pd.DataFrame(stats)
    for col in ("lines", "parsed", "continuation", "rejected", "batched", "unread", "replaced_bytes"):
        stats_df[col] = stats_df[col].astype("Int64")
    logs = Logs(frames, rejects, stats_df, notes)
    if since is not None or until is not None:
        logs.window = (lo, hi)
    return logs


def _own_zone(src: _Source) -> bool:
    return clock_trusted(src.zone_source)


def clock_trusted(zone_source: str) -> bool:
    """Whether a file's times need no zone correction: each line carries its offset, or the format
    names its zone. A zone assumed, inferred or given (--tz, settings) may yet be corrected by whole
    zones, as the clock measurement finds them: a window cannot cut such a file before then."""
    return zone_source == "offset in each line" or zone_source.startswith("format ")


def _moved(t: datetime | None, seconds: float) -> datetime | None:
    return t + timedelta(seconds=seconds) if t is not None else None


def _utc(value):
    import pandas as pd

    ts = pd.Timestamp(value)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()
