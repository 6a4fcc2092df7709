"""Apply a compiled format to the lines of one file, in bulk, with polars.

The hot path is three vectorised passes: one regex extraction over every line (Rust's regex
engine, run by polars on all cores), a cumulative sum that groups continuation lines under the
entry that starts them, and typed casts. No Python code runs per line, except the fallback parse
of timestamps polars could not read, which runs once per distinct failing value.

Every line ends up in exactly one place: an entry's first line, a continuation line attached to an
entry, or a rejected line with its reason.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from typing import TypeVar

import polars as pl
from dateutil import parser as dateutil_parser

from . import nginx, records, stacktraces, timefmt
from .formats import JSON_ROLES, REQUEST_ID_COLUMNS, Compiled
from .pattern import Capture
from .timefmt import TimeLayout

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)
_ANSI = r"\x1b\[[0-9;]*[A-Za-z]"

#: A line that starts like a log entry of *some* format. In a multi-line format a non-matching
#: line like this is rejected rather than taken as the previous entry's continuation.
FOREIGN_START = (
    r"^(?:\[?\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}"
    r"|\S+ \S+ \S+ \[\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] \""
    r"|\{\".*\}\s*$"
    r"|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} "
    # logfmt (slog, logrus): an entry opens with its time key
    r"|(?:time|ts|t)=\"?\d{4}-\d{2}-\d{2}[T ]\d{2}:)"
)

#: Types of well-known columns, wherever they come from (key=value pairs, JSON keys).
FIELD_TYPES = {
    "status": "int", "attempt": "int", "attempts": "int", "last_status": "int", "pid": "int",
    "connection": "int", "body_bytes_sent": "int", "bytes_sent": "int", "request_length": "int",
    "errno": "int", "tid": "int", "elapsed_ms": "float", "duration_ms": "float", "request_time": "float", "rt": "float",
    "upstream_status": "list_int", "us": "list_int",
    "upstream_response_time": "list_float", "urt": "list_float",
    "upstream_connect_time": "list_float", "uct": "list_float",
    "upstream_header_time": "list_float", "uht": "list_float",
    "upstream_addr": "list_str", "upstream": "list_str",
}
#: Short key=value names sites use for nginx variables (nginx's own docs write rt= uct= uht= urt=).
KV_ALIASES = {
    "rt": "request_time", "urt": "upstream_response_time", "uct": "upstream_connect_time",
    "uht": "upstream_header_time", "us": "upstream_status", "upstream": "upstream_addr",
    "conn": "connection",
}
LEVELS = {
    "TRACE": "TRACE", "FINEST": "TRACE", "FINER": "TRACE", "DEBUG": "DEBUG", "FINE": "DEBUG",
    "INFO": "INFO", "INFORMATION": "INFO", "NOTICE": "NOTICE", "WARN": "WARN", "WARNING": "WARN",
    "ERROR": "ERROR", "ERR": "ERROR", "SEVERE": "ERROR", "CRIT": "FATAL", "CRITICAL": "FATAL",
    "ALERT": "FATAL", "EMERG": "FATAL", "FATAL": "FATAL", "PANIC": "FATAL",
}
MAX_KV_KEYS = 64
MAX_TIME_FALLBACK = 20_000
#: Lines longer than this are rejected with a reason. The reader (``loganalyzer.sources``) cuts
#: them just past it, so a single enormous line costs no more memory than this.
MAX_LINE_BYTES = 1 << 20
#: How much of such a line a reject keeps as its text.
LONG_LINE_KEPT = 4096
#: Chunks parsed at once by :func:`iter_parse`: one regex extraction runs on one core, so chunks in
#: parallel are what use the others. More than four buys little and holds more chunks in memory.
PARSE_WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class ParseResult:
    """What one file gave: typed entries, rejected lines, and the line accounting."""

    entries: pl.DataFrame
    rejects: pl.DataFrame  # line, text, reason
    lines: int
    continuation: int
    zone_assumed: bool  # naive timestamps were read in a zone nobody named
    #: Records a line held beyond its first (a batch of OTLP records): each is an entry or a reject
    #: of its own, so ``lines + batched = parsed + continuation + rejected``.
    batched: int = 0

    @property
    def parsed(self) -> int:
        return self.entries.height

    @property
    def rejected(self) -> int:
        return self.rejects.height


def lines_frame(lines: pl.Series, first_line: int = 1) -> pl.DataFrame:
    """Number lines from ``first_line`` and clean what writers may add (CR of CRLF, ANSI colours)."""
    text = lines
    if text.str.ends_with("\r").any():
        text = text.str.strip_suffix("\r")
    if text.str.contains("\x1b", literal=True).any():
        text = text.str.replace_all(_ANSI, "")
    numbers = pl.int_range(first_line, first_line + len(text), eager=True, dtype=pl.Int64)
    return pl.DataFrame({"line": numbers, "text": text})


# --------------------------------------------------------------------------------------------
# detection


def detection_frame(lines: pl.Series) -> pl.DataFrame:
    """Sample lines cleaned and numbered, blank ones left out: what :func:`match_rate` scores."""
    return lines_frame(lines).filter(pl.col("text").str.strip_chars() != "")


def match_rate(lines: pl.Series, fmt: Compiled, frame: pl.DataFrame | None = None) -> tuple[float, int]:
    """Share of non-blank sample lines this format explains, and how many start an entry.

    ``frame`` is ``detection_frame(lines)`` when the caller scores many formats on the same lines.
    """
    df = detection_frame(lines) if frame is None else frame
    if df.height == 0:
        return 0.0, 0
    if fmt.regex is None:
        return _json_match_rate(df, fmt)
    starts = df["text"].str.contains(fmt.regex)
    n = int(starts.sum())
    if n == 0:
        return 0.0, 0
    if fmt.definition.multiline_mode == "none":
        return n / df.height, n
    seen = starts.cum_sum() > 0
    cont = ~starts & seen & ~df["text"].str.contains(FOREIGN_START)
    # Continuations are weaker evidence than starts: a format that explains a file mostly by
    # attaching lines to a few entries loses to one whose regex matches them.
    return (n + 0.5 * int(cont.sum())) / df.height, n


# --------------------------------------------------------------------------------------------
# parsing


def parse(lines: pl.Series, fmt: Compiled, zone: str | None, first_line: int = 1) -> ParseResult:
    """Parse lines with ``fmt``; naive timestamps are read in ``zone`` (UTC if None).

    ``first_line`` numbers the lines when this is a later chunk of a file (see :func:`iter_parse`).
    Entries keep their fields, not the line's text: evidence is read back from file and line.
    A line longer than ``MAX_LINE_BYTES`` is rejected (the reader cuts such lines, so its text is
    the start of the line only).
    """
    df = lines_frame(lines, first_line)
    too_long = df["text"].str.len_bytes() > MAX_LINE_BYTES
    if not too_long.any():
        return _parse_frame(df, fmt, zone)
    long = df.filter(too_long).select(
        "line", pl.col("text").str.slice(0, LONG_LINE_KEPT),
        pl.lit(f"line longer than {MAX_LINE_BYTES:,} bytes (cut when read)").alias("reason"))
    result = _parse_frame(df.filter(~too_long), fmt, zone)
    result.rejects = pl.concat([result.rejects, long], how="vertical_relaxed").sort("line")
    result.lines = df.height
    return result


def _parse_frame(df: pl.DataFrame, fmt: Compiled, zone: str | None) -> ParseResult:
    if df.height == 0:
        empty = pl.DataFrame(schema={"line": pl.Int64, "ts": pl.Datetime("ns", "UTC"), "level": pl.String,
                                     "request_id": pl.String, "message": pl.String})
        empty = empty.select("line", "ts") if fmt.counting else empty
        return ParseResult(empty, pl.DataFrame(schema={"line": pl.Int64, "text": pl.String, "reason": pl.String}),
                           0, 0, False)
    if fmt.regex is None:
        return _parse_json(df, fmt, zone)
    regex = fmt.regex
    mode = fmt.definition.multiline_mode
    presplit = _presplit_regex(fmt) if mode == "none" else None
    if presplit is None:
        # One lazy plan from extraction to typed columns, so polars spreads the work over all cores.
        lf = df.lazy().with_columns(pl.col("text").str.extract_groups(regex).alias("__g")).unnest("__g")
    else:
        lf = _extract_presplit(df, fmt, presplit).lazy()
    lf = _with_ts(lf, fmt, zone)
    # The time group is required in every layout, so it marks the lines the regex matched.
    is_start = pl.col(_TIME_TEXT).is_not_null()
    good = is_start & pl.col("ts").is_not_null()
    if mode == "none":
        if not fmt.counting:
            # One pass over the lines saves a check per column when nothing is escaped (the usual case).
            escapes = fmt.definition.syntax != "nginx" or bool(df["text"].str.contains("\\", literal=True).any())
            lf = _type_columns(lf, fmt, split=presplit is None, escapes=escapes)
        lf = lf.with_columns(good.alias("_good"))
    df = lf.collect()
    df, assumed = _repair_ts(df, fmt, zone)
    blank = pl.col("text").str.strip_chars() == ""
    bad_time = pl.format("unreadable timestamp {}", pl.col(_TIME_TEXT).fill_null("(none)"))
    if mode == "none":
        # Each line is an entry or a reject; reasons are worked out for the (few) rejects only.
        bad = df.filter(~pl.col("_good"))
        reason = (
            pl.when(is_start).then(bad_time)
            .when(blank).then(pl.lit("empty line"))
            .otherwise(pl.lit(f"does not match format {fmt.name}"))
        )
        rejects = bad.select("line", "text", reason.alias("reason"))
        entries = df.filter(pl.col("_good")) if bad.height else df
        if fmt.counting:
            return ParseResult(entries.select("line", "ts"), rejects, df.height, 0, assumed)
        entries = entries.drop("_good")
        continuation = 0
    else:
        # An entry starts at every matching line; its continuation lines share its number.
        df = df.with_columns(_entry=is_start.cum_sum())
        bad_starts = df.select((is_start & pl.col("ts").is_null()).any()).item()
        df = df.with_columns(_entry_ok=good.any().over("_entry") if bad_starts else pl.lit(True))
        foreign = ~blank & pl.col("text").str.contains(FOREIGN_START)
        kind = (
            pl.when(good).then(pl.lit("entry"))
            .when(~is_start & (pl.col("_entry") > 0) & pl.col("_entry_ok") & ~foreign).then(pl.lit("cont"))
            .otherwise(pl.lit("reject"))
        )
        reason = (
            pl.when(is_start).then(bad_time)
            .when(pl.col("_entry") == 0).then(
                pl.when(blank).then(pl.lit("empty line")).otherwise(pl.lit(f"before the first {fmt.name} entry")))
            .when(~pl.col("_entry_ok")).then(pl.lit("continues an entry rejected for its timestamp"))
            .when(blank).then(pl.lit("empty line"))
            .otherwise(pl.lit(f"looks like a line of another format, not {fmt.name}"))
        )
        df = df.with_columns(_kind=kind).with_columns(_reason=pl.when(pl.col("_kind") == "reject").then(reason))
        rejects = df.filter(pl.col("_kind") == "reject").select("line", "text", pl.col("_reason").alias("reason"))
        entries = df.filter(pl.col("_kind") == "entry")
        if fmt.counting:
            continuation = df.select((pl.col("_kind") == "cont").sum()).item()
            return ParseResult(entries.select("line", "ts"), rejects, df.height, continuation, assumed)
        cont = df.filter(pl.col("_kind") == "cont").select("_entry", "line", "text")
        continuation = cont.height
        entries = _attach_continuations(entries, cont, mode)
    helpers = ("_kind", "_reason", "_entry_ok", _TIME_TEXT)
    entries = entries.drop([c for c in helpers if c in entries.columns])
    entries = entries.drop("text")
    if mode != "none":
        entries = _type_columns(entries, fmt)
    entries = _post_process(entries, fmt)
    return ParseResult(entries, rejects, df.height, continuation, assumed)


_GROUP = re.compile(r"(?<!\\)\(\?P<(\w+)>")


#: id -> (format, its counting form); the format is held so that its id stays its own.
_COUNTING: dict[int, tuple[Compiled, Compiled]] = {}


def _counting(fmt: Compiled) -> Compiled:
    # msecs (Python logging's %(msecs)d) is part of the time when the layout's time lacks them.
    names = {n for n, _ in time_columns(fmt)} | ({"msecs"} & set(fmt.columns))
    regex = _GROUP.sub(lambda m: m.group(0) if m.group(1) in names else "(?:", fmt.regex)
    # What the regex engine reads back is the check: exactly the time groups, or the format as it is.
    groups = pl.Series([""], dtype=pl.String).str.extract_groups(regex).struct.fields
    if sorted(groups) != sorted(names):
        return fmt
    columns = {n: c for n, c in fmt.columns.items() if n in names}
    return Compiled(fmt.definition, regex, columns, [], fmt.zone, counting=True)


def counting(fmt: Compiled) -> Compiled:
    """``fmt`` reduced to what counting its lines needs: the regex captures the time fields only.

    It matches the same lines as ``fmt``, so a parse with it finds the same entries, continuation
    lines and rejects (with the same reasons), but its entries hold ``line`` and ``ts`` only:
    nothing else is extracted, typed or derived, and continuation lines are counted, not joined.
    A JSON format, or one whose groups cannot be told apart, is returned as it is.
    """
    if fmt.regex is None or fmt.counting or not time_columns(fmt):
        return fmt
    if (held := _COUNTING.get(id(fmt))) is None:
        held = _COUNTING[id(fmt)] = (fmt, _counting(fmt))
    return held[1]


def parse_many(parts: list[pl.Series], fmt: Compiled, zone: str | None) -> list[ParseResult]:
    """Several small files parsed in one call: their lines stacked, the result cut back into one
    per file, lines numbered in each. A parse of a few lines costs mostly its fixed overhead (some
    forty polars operations), so many small files cost about what one file of their lines costs.

    Each part of a multi-line format must start with an entry's first line (and a JSON format is
    not stacked), so that no entry runs from one file into the next.
    """
    sizes = [len(p) for p in parts]
    result = parse(pl.concat(parts), fmt, zone)
    ends, starts, at = [], [], 0
    for n in sizes:
        starts.append(at)
        at += n
        ends.append(at)
    ends_s, starts_s = pl.Series(ends, dtype=pl.Int64), pl.Series(starts, dtype=pl.Int64)

    def cut(df: pl.DataFrame) -> list[pl.DataFrame]:
        part = ends_s.search_sorted(df["line"], side="left")
        df = df.with_columns(pl.col("line") - starts_s.gather(part), part.alias("__part"))
        by = df.partition_by("__part", as_dict=True, include_key=False)
        empty = df.clear().drop("__part")
        return [by.get((i,), empty) for i in range(len(sizes))]

    out = []
    for n, entries, rejects in zip(sizes, cut(result.entries), cut(result.rejects), strict=True):
        out.append(ParseResult(entries, rejects, n, n - entries.height - rejects.height,
                               result.zone_assumed and entries.height > 0))
    return out


def iter_parse(chunks: Iterable[pl.Series], fmt: Compiled, zone: str | None) -> Iterator[ParseResult]:
    """Parse a file that arrives in chunks of lines: one result per chunk, in file order.

    Memory stays bounded by a few chunks: chunks are parsed ``PARSE_WORKERS`` at a time in threads
    (polars releases the GIL, so they use every core) while the next chunk is read. A multi-line
    entry (or a pretty-printed JSON object) may straddle two chunks: the lines from the last entry
    start onwards are held back and parsed with the next chunk, so every entry is parsed whole.
    Lines are numbered through the file. An empty input yields one empty result.
    """
    pending: deque[Future[ParseResult]] = deque()
    any_result = False
    with ThreadPoolExecutor(max_workers=PARSE_WORKERS, thread_name_prefix="parse") as pool:
        for lines, first_line in _whole_entries(chunks, fmt):
            pending.append(pool.submit(parse, lines, fmt, zone, first_line))
            while len(pending) >= PARSE_WORKERS:
                any_result = True
                yield pending.popleft().result()
        while pending:
            any_result = True
            yield pending.popleft().result()
    if not any_result:
        yield parse(pl.Series("text", [], dtype=pl.String), fmt, zone)


def parse_stream(chunks: Iterable[pl.Series], fmt: Compiled, zone: str | None) -> ParseResult:
    """The results of :func:`iter_parse` as one: every entry and reject of the file."""
    results = list(iter_parse(chunks, fmt, zone))
    return results[0] if len(results) == 1 else concat_results(results)


def concat_results(results: list[ParseResult]) -> ParseResult:
    """Results of consecutive chunks of one file as one result."""
    entries = concat_frames([r.entries for r in results])
    rejects = pl.concat([r.rejects for r in results], how="vertical_relaxed")
    return ParseResult(entries, rejects, sum(r.lines for r in results), sum(r.continuation for r in results),
                       any(r.zone_assumed for r in results), sum(r.batched for r in results))


def _whole_entries(chunks: Iterable[pl.Series], fmt: Compiled) -> Iterator[tuple[pl.Series, int]]:
    """Chunks cut where an entry starts (multi-line formats), with the number of their first line.

    A chunk is looked at once the next one has come (the reader is a chunk ahead anyway): the
    last chunk holds nothing back, so a file of one chunk is parsed in one call."""
    held: pl.Series | None = None
    first_line = 1
    multiline = fmt.regex is None or fmt.definition.multiline_mode != "none"
    it = iter(chunks)
    chunk = next(it, None)
    while chunk is not None:
        following = next(it, None)
        lines = chunk if held is None else pl.concat([held, chunk])
        held = None
        if multiline and following is not None:
            cut = _last_start(lines, fmt)
            lines, held = lines.head(cut), lines.slice(cut)
        if len(lines):
            yield lines, first_line
            first_line += len(lines)
        chunk = following


def _last_start(lines: pl.Series, fmt: Compiled) -> int:
    """Index of the last line that may start an entry (0 if none): looked for from the end, in
    growing windows, so the regex runs over a few lines of the chunk rather than all of them."""
    n = len(lines)
    window = 256
    while True:
        tail = lines.slice(max(0, n - window))
        # A JSON object may be pretty-printed over lines: hold back from the last line opening one.
        starts = (tail.str.starts_with("{") if fmt.regex is None else tail.str.contains(fmt.regex)).arg_true()
        if len(starts):
            return n - len(tail) + int(starts[-1])
        if len(tail) == n:
            return 0
        window *= 8


def concat_frames(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack frames; without copying when they share a schema (chunks of one file usually do)."""
    first = frames[0].schema
    if all(f.schema == first for f in frames[1:]):
        return pl.concat(frames, how="vertical", rechunk=False)
    return pl.concat(frames, how="diagonal_relaxed", rechunk=False)


def _attach_continuations(entries: pl.DataFrame, cont: pl.DataFrame, mode: str) -> pl.DataFrame:
    if cont.height == 0:
        return entries.with_columns(line_count=pl.lit(1, pl.Int32)).drop("_entry")
    if mode in ("java", "python", "any"):
        cont = stacktraces.mark_trace(cont, mode)
        exceptions = stacktraces.exceptions(cont, mode)
    else:
        cont = cont.with_columns(_trace=pl.lit(False))
        exceptions = None
    grouped = cont.group_by("_entry").agg(
        pl.col("text").filter(~pl.col("_trace")).str.join("\n").alias("_cont_msg"),
        pl.col("text").filter(pl.col("_trace")).str.join("\n").alias("stack_trace"),
        pl.len().cast(pl.Int32).alias("cont_lines"),
    )
    entries = entries.join(grouped, on="_entry", how="left", maintain_order="left")
    if exceptions is not None:
        entries = entries.join(exceptions, on="_entry", how="left", maintain_order="left")
    body = pl.col("_cont_msg")
    has_body = body.is_not_null() & (body.str.strip_chars() != "")
    target = "message" if "message" in entries.columns else None
    if target:
        entries = entries.with_columns(
            pl.when(has_body).then(pl.col(target) + "\n" + body.str.strip_chars_end()).otherwise(pl.col(target))
            .alias(target)
        )
    entries = entries.with_columns(
        stack_trace=pl.when(pl.col("stack_trace") != "").then(pl.col("stack_trace")),
        line_count=(pl.col("cont_lines").fill_null(0) + 1).cast(pl.Int32),
    )
    return entries.drop("_cont_msg", "_entry", "cont_lines")


# --------------------------------------------------------------------------------------------
# typing


def _null_dash(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_in(["-", ""])).then(None).otherwise(expr)


def _cast(expr: pl.Expr, typ: str) -> pl.Expr:
    if typ == "int":
        return expr.str.strip_chars().cast(pl.Int64, strict=False)
    if typ == "float":
        return expr.str.strip_chars().cast(pl.Float64, strict=False)
    return expr


def _last_of_list(expr: pl.Expr) -> pl.Expr:
    return expr.str.split(", ").list.last().str.split(" : ").list.last().str.strip_chars()


def _typed_list(df: Frame, name: str, typ: str) -> Frame:
    """``name`` becomes the last value typed (the upstream that answered), ``name_all`` the text."""
    raw = _null_dash(pl.col(name))
    last = _null_dash(_last_of_list(raw))
    return df.with_columns(last.pipe(_cast, typ[5:]).alias(name), raw.alias(f"{name}_all"))


def _unescape_nginx(expr: pl.Expr, json_escaped: bool) -> pl.Expr:
    """Undo nginx's escaping of quotes and backslashes (``\\x22``/``\\x5C``, or JSON's)."""
    if json_escaped:
        decoded = expr.str.replace_all(r'\"', '"', literal=True).str.replace_all(r"\\", "\\", literal=True)
        return pl.when(expr.str.contains("\\", literal=True)).then(decoded).otherwise(expr)
    decoded = expr.str.replace_all(r"\x22", '"', literal=True).str.replace_all(r"\x5C", "\\", literal=True)
    return pl.when(expr.str.contains(r"\x", literal=True)).then(decoded).otherwise(expr)


def _normalise_level(expr: pl.Expr) -> pl.Expr:
    up = expr.str.strip_chars().str.to_uppercase()
    return up.replace_strict(LEVELS, default=up, return_dtype=pl.String)


def split_request(df: Frame, column: str) -> Frame:
    """``GET /a/b?x=1 HTTP/1.1`` -> method, path, query, protocol (nulls where it is not a request).

    Splits on spaces rather than running a regex: request lines are three space-separated parts,
    and this is the widest column of an access log.
    """
    df = df.with_columns(
        pl.col(column).str.split_exact(" ", 2).struct.rename_fields(["__rm", "__t", "__p"]).alias("__rq")
    ).unnest("__rq")
    df = df.with_columns(
        pl.col("__t").str.splitn("?", 2).struct.rename_fields(["__path", "__query"]).alias("__tq")
    ).unnest("__tq")
    ok = pl.col("__rm").str.contains(r"^[A-Z][A-Z_-]*$") & pl.col("__t").is_not_null()
    return df.with_columns(
        pl.when(ok).then(pl.col("__rm")).alias("method"),
        pl.when(ok).then(pl.col("__path")).alias("path"),
        pl.when(ok).then(pl.col("__query")).alias("query"),
        pl.when(ok & pl.col("__p").str.contains(r"^[A-Z]+/[0-9.]+$")).then(pl.col("__p")).alias("protocol"),
    ).drop("__rm", "__t", "__p", "__path", "__query")


#: The request group of every access layout, and the same group with the request line's parts as
#: groups of their own. One extraction with the parts costs what one without them costs, and saves
#: :func:`split_request`'s passes (a third of the parse of a ``combined`` log). The parts exclude
#: backslashes, so a request with nginx's escapes takes the general path.
_REQUEST_GROUP = '"(?P<request>[^"]*)"'
_REQUEST_PARTS = ('"(?P<request>(?P<method>[A-Z][A-Z_-]*) (?P<path>[^ "?\\\\]*)(?:\\?(?P<query>[^ "\\\\]*))?'
                  ' (?P<protocol>[A-Z]+/[0-9.]+))"')
_REQUEST_SPLIT = ("method", "path", "query", "protocol")
#: Named groups up to which the regex engine resolves captures with its one-pass DFA. One more
#: group and it falls back to a slower engine: on a ``main`` log, 17 groups extract at half the
#: speed of 16.
ONEPASS_GROUPS = 16


def _presplit_regex(fmt: Compiled) -> str | None:
    """The format's regex with the request line split inside it, where that gives the same entries.

    Only for nginx layouts whose fields before the request each end at their own delimiter (a
    class that excludes it): the request's opening quote is then where it would be without the
    split. A wildcard (``.*``) or a lazy repeat before it could move the quote, so such a layout
    takes the general path.
    """
    d = fmt.definition
    regex = fmt.regex
    cap = fmt.columns.get("request")
    if (d.syntax != "nginx" or regex is None or cap is None or cap.type != "request"
            or regex.count(_REQUEST_GROUP) != 1 or any(c in fmt.columns for c in _REQUEST_SPLIT)):
        return None
    before = regex[:regex.index(_REQUEST_GROUP)]
    if re.search(r"(?<!\\)\.[*+]|[*+}]\?", before):
        return None
    split = regex.replace(_REQUEST_GROUP, _REQUEST_PARTS)
    return split if split.count("(?P<") <= ONEPASS_GROUPS else None


def _request_text(col: pl.Expr, fmt: Compiled) -> pl.Expr:
    """A request column as :func:`split_request` reads it: ``-`` is none, nginx's escapes undone."""
    if fmt.definition.syntax != "nginx":
        return col
    return _unescape_nginx(_null_dash(col), "escape=json" in fmt.definition.pattern)


def _extract_presplit(df: pl.DataFrame, fmt: Compiled, presplit: str) -> pl.DataFrame:
    """Groups of every line, the request's parts among them: lines the split regex does not match
    (an empty, escaped or malformed request, or not an entry at all) are extracted again with the
    format's own regex and their request split by :func:`split_request`."""
    out = df.with_columns(pl.col("text").str.extract_groups(presplit).alias("__g")).unnest("__g")
    missed = pl.col("method").is_null()
    if not out.select(missed.any()).item():
        return out
    rest = df.filter(out.select(missed).to_series())
    rest = rest.with_columns(pl.col("text").str.extract_groups(fmt.regex).alias("__g")).unnest("__g")
    parts = split_request(rest.select("line", _request_text(pl.col("request"), fmt).alias("__request")), "__request")
    rest = rest.join(parts.drop("__request"), on="line", how="left", maintain_order="left")
    return pl.concat([out.filter(~missed), rest.select(out.columns)]).sort("line")


def _type_columns(entries: Frame, fmt: Compiled, split: bool = True, escapes: bool = True) -> Frame:
    """Cast captured text to the column types the format declares; works on lazy frames too.

    ``split`` is False when the request line's parts were extracted with the other groups;
    ``escapes`` is False when no line holds a backslash, so nginx's escapes need no undoing."""
    syntax = fmt.definition.syntax
    names = entries.collect_schema().names() if isinstance(entries, pl.LazyFrame) else entries.columns
    present = {n: c for n, c in fmt.columns.items() if n in names}
    json_escaped = "escape=json" in fmt.definition.pattern
    exprs = []
    for name, cap in present.items():
        col = pl.col(name)
        if syntax == "nginx" and cap.type in ("str", "int", "float", "request"):
            col = _null_dash(col)
        if syntax == "nginx" and cap.type in ("str", "request") and escapes:
            col = _unescape_nginx(col, json_escaped)
        if cap.type in ("int", "float"):
            exprs.append(_cast(col, cap.type).alias(name))
        elif cap.type == "level":
            exprs.append(_normalise_level(col).alias(name))
        elif cap.type in ("str", "request") and syntax == "logback" and name != "message":
            # Padded fields (%15.15t) keep their padding inside brackets; blank means absent.
            stripped = col.str.strip_chars()
            exprs.append(pl.when(stripped != "").then(stripped).alias(name))
        elif cap.type in ("str", "request") and syntax == "nginx":
            exprs.append(col.alias(name))
    entries = entries.with_columns(exprs) if exprs else entries
    for name, cap in present.items():
        if cap.type.startswith("list_"):
            entries = _typed_list(entries, name, cap.type)
        elif cap.type == "request":
            # Extracted with the other groups, the parts move to where the split would add them.
            entries = split_request(entries, name) if split else entries.select(
                pl.all().exclude(_REQUEST_SPLIT), *_REQUEST_SPLIT)
    return entries


# --------------------------------------------------------------------------------------------
# time


def time_columns(fmt: Compiled) -> list[tuple[str, TimeLayout]]:
    cols = [(n, c.layout) for n, c in fmt.columns.items() if c.type == "time" and c.layout is not None]
    # Prefer the most precise clock: epoch seconds with milliseconds, then ISO, then the rest.
    return sorted(cols, key=lambda nc: {"epoch": 0, "iso": 1}.get(nc[1].chrono, 2))


def _parse_layout(expr: pl.Expr, layout: TimeLayout, zone: str) -> pl.Expr:
    if layout.chrono == "epoch":
        micros = (expr.cast(pl.Float64, strict=False) * 1_000_000).round().cast(pl.Int64)
        return pl.from_epoch(micros, time_unit="us").cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
    if layout.chrono == "iso":
        return _parse_iso(expr, zone)
    text = expr
    if layout.zulu:
        text = text.str.replace(r"Z$", "+00:00" if "%:z" in layout.chrono else "+0000")
    if "%:z" in layout.chrono:
        text = text.str.replace(r"([+-]\d{2})(\d{2})$", "${1}:${2}")
    parsed = text.str.to_datetime(layout.chrono, strict=False, time_unit="ns")
    if layout.has_offset:
        return parsed.dt.convert_time_zone("UTC")
    return _localise(parsed, zone)


@functools.lru_cache(maxsize=256)
def _has_dst(zone: str) -> bool:
    """Whether a zone's offset changed in the last ten years or changes in the next (DST, or a move)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    try:
        z = ZoneInfo(zone)
    except (ValueError, KeyError, OSError):
        return True
    now = datetime.now(UTC)
    offsets = {(now + timedelta(days=30 * k)).astimezone(z).utcoffset() for k in range(-120, 13)}
    return len(offsets) > 1


def _localise(naive: pl.Expr, zone: str) -> pl.Expr:
    """Naive wall-clock times in ``zone`` (an IANA name, or a fixed offset ``+0330``) to UTC."""
    m = re.fullmatch(r"([+-])(\d{2})(\d{2})", zone)
    if m:
        minutes = (int(m.group(2)) * 60 + int(m.group(3))) * (1 if m.group(1) == "+" else -1)
        return naive.dt.replace_time_zone("UTC") - pl.duration(minutes=minutes)
    # A wall-clock hour repeated when DST ends is told apart by file order: the second pass starts
    # where the times go back by half an hour or more. A time skipped when DST starts is unreadable.
    early = naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    if not _has_dst(zone):  # UTC and zones without transitions: nothing is ambiguous
        return early.dt.convert_time_zone("UTC")
    late = naive.dt.replace_time_zone(zone, ambiguous="latest", non_existent="null")
    went_back = (naive.diff() < pl.duration(minutes=-30)).fill_null(False).cast(pl.Int32).cum_sum() > 0
    return pl.when(went_back & (early != late)).then(late).otherwise(early).dt.convert_time_zone("UTC")


def _parse_iso(expr: pl.Expr, zone: str) -> pl.Expr:
    text = expr.str.strip_chars().str.replace(",", ".", literal=True).str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    text = text.str.replace(r"Z$", "+00:00")
    aware = pl.coalesce(
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="ns"),
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="ns"),
    ).dt.convert_time_zone("UTC")
    naive = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="ns")
    # JSON loggers (pino, OpenTelemetry) write epoch numbers: the digit count gives the unit.
    digits = expr.str.strip_chars()
    whole = digits.str.extract(r"^(\d{10,19})(?:\.\d+)?$", 1)
    scale = whole.str.len_chars().replace_strict({10: 1_000_000_000, 13: 1_000_000, 16: 1_000, 19: 1},
                                                  default=None, return_dtype=pl.Int64)
    nanos = pl.when(scale == 1_000_000_000).then(
        (digits.cast(pl.Float64, strict=False) * 1e9).round().cast(pl.Int64)  # seconds may have a fraction
    ).otherwise(whole.cast(pl.Int64, strict=False) * scale)
    epoch_ts = pl.from_epoch(nanos, time_unit="ns").dt.replace_time_zone("UTC")
    return pl.coalesce(aware, _localise(naive, zone), epoch_ts)


def _fallback_times(values: pl.Series, zone: str) -> pl.Series:
    """dateutil, once per distinct value polars could not read; None where dateutil cannot either."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    out = {}
    for v in values.unique().head(MAX_TIME_FALLBACK).to_list():
        try:
            dt = dateutil_parser.parse(v.replace(",", "."), fuzzy=False)
        except (ValueError, OverflowError, TypeError):
            out[v] = None
            continue
        out[v] = (dt if dt.tzinfo else dt.replace(tzinfo=tz)).astimezone(ZoneInfo("UTC"))
    return values.replace_strict(out, default=None, return_dtype=pl.Datetime("ns", "UTC"))


_TIME_TEXT = "__time_text"
_TS = pl.Datetime("ns", "UTC")


def _with_ts(frame: Frame, fmt: Compiled, zone: str | None) -> Frame:
    """Add ``ts`` (UTC) from the format's time fields, and ``__time_text`` for reject reasons."""
    cols = time_columns(fmt)
    if not cols:
        raise ValueError(f"format {fmt.name} has no timestamp field")
    the_zone = zone or fmt.zone or "UTC"
    ts = pl.coalesce([_parse_layout(pl.col(n), layout, the_zone).cast(_TS) for n, layout in cols])
    text = pl.coalesce([pl.col(n) for n, _ in cols])
    frame = frame.with_columns(ts.alias("ts"), text.alias(_TIME_TEXT))
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    if "msecs" in names and not any("f" in layout.chrono for _, layout in cols):
        msecs = (pl.col("msecs").cast(pl.Float64, strict=False) * 1000).round()
        frame = frame.with_columns((pl.col("ts") + pl.duration(microseconds=msecs)).cast(_TS)).drop("msecs")
    return frame.drop([n for n, _ in cols])


def _repair_ts(df: pl.DataFrame, fmt: Compiled, zone: str | None) -> tuple[pl.DataFrame, bool]:
    """Read what polars could not with dateutil; say whether naive times met an unnamed zone."""
    the_zone = zone or fmt.zone or "UTC"
    assumed = False
    if not (zone or fmt.zone):
        for _, layout in time_columns(fmt):
            if layout.chrono == "iso":
                has_offset = df[_TIME_TEXT].drop_nulls().str.contains(r"(?:Z|[+-]\d{2}:?\d{2})\s*$|^\d+(?:\.\d+)?$")
                assumed |= bool((~has_offset).any())
            elif not layout.has_offset:
                assumed |= bool(df[_TIME_TEXT].is_not_null().any())
    failing = pl.col("ts").is_null() & pl.col(_TIME_TEXT).is_not_null()
    if df.select(failing.any()).item():
        values = df.filter(failing)[_TIME_TEXT]
        repaired = _fallback_times(values, the_zone)
        lookup = pl.DataFrame({_TIME_TEXT: values, "__fixed": repaired}).unique(_TIME_TEXT)
        df = df.join(lookup, on=_TIME_TEXT, how="left", maintain_order="left").with_columns(
            pl.coalesce("ts", "__fixed").alias("ts")
        ).drop("__fixed")
        if "_good" in df.columns:
            df = df.with_columns((pl.col(_TIME_TEXT).is_not_null() & pl.col("ts").is_not_null()).alias("_good"))
    return df, assumed


# --------------------------------------------------------------------------------------------
# columns derived after grouping: tails, key=value pairs, derives, request id, level


def _post_process(entries: pl.DataFrame, fmt: Compiled) -> pl.DataFrame:
    d = fmt.definition
    if d.tail:
        entries = _nginx_tail(entries, d.tail)
    for column, regex in fmt.derives:
        if column in entries.columns:
            entries = _derive(entries, column, regex)
    if d.kv and d.kv in entries.columns:
        entries = expand_kv(entries, d.kv, drop=d.kv != "message")
    if fmt.kind == "vac" and "path" not in entries.columns and "url" in entries.columns:
        entries = entries.with_columns(
            pl.col("url").str.extract(r"^(?:[A-Za-z][\w+.-]*://[^/?#]*)?(/[^?#\s]*)", 1).alias("path")
        )
    return finish(entries, fmt)


def _nginx_tail(entries: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Split off the ``, client: …, server: …, request: "…"`` pairs nginx appends, in its fixed order.

    The tail starts at the last ``, <first key>: `` of the entry; one regex with an optional group
    per key reads it, each value either quoted or bare.
    """
    # nginx writes ", client: " once, before the others; splitting there is a plain substring search.
    # Lines without it (start-up, keepalive closes) are most lines and skip the rest.
    marker = f", {keys[0]}: "
    has = pl.col("message").str.contains(marker, literal=True)
    entries = entries.with_row_index("__i")
    tails = entries.filter(has).select("__i", "message")
    split = pl.col("message").str.splitn(marker, 2).struct.rename_fields(["__msg", "__tail"])
    tails = tails.with_columns(split.alias("__s")).unnest("__s").drop("message")
    parts = "".join(
        rf'(?:{", " if i else ""}{key}: (?:"(?P<{key}__q>[^"]*)"|(?P<{key}__b>[^,"]*)))?' for i, key in enumerate(keys)
    )
    tails = tails.with_columns((f"{keys[0]}: " + pl.col("__tail")).str.extract_groups(rf"(?s)^{parts}").alias("__t"))
    tails = tails.unnest("__t").select(
        "__i", "__msg", *[pl.coalesce(f"{key}__q", f"{key}__b").alias(key) for key in keys])
    tails = tails.with_columns(pl.when(pl.col(k) != "").then(pl.col(k)).alias(k) for k in keys)
    entries = entries.join(tails, on="__i", how="left", maintain_order="left").with_columns(
        pl.coalesce("__msg", "message").alias("message")).drop("__i", "__msg")
    if "request" in keys:
        entries = split_request(entries, "request")
    return entries


def _derive(entries: pl.DataFrame, column: str, regex: str) -> pl.DataFrame:
    groups = pl.col(column).str.extract_groups(regex)
    out = entries.with_columns(groups.alias("__d"))
    names = [f.name for f in out.schema["__d"].fields]
    exprs = []
    for n in names:
        new = pl.col("__d").struct.field(n)
        new = pl.when(new.str.strip_chars() != "").then(new.str.strip_chars())
        exprs.append(pl.coalesce(pl.col(n), new).alias(n) if n in entries.columns else new.alias(n))
    out = out.with_columns(exprs).drop("__d")
    return type_by_name(out, [n for n in names if n in FIELD_TYPES])


#: A key=value value: double-quoted, bare, or an unquoted nginx retry list "502, 200". Written so the
#: alternatives never start alike, which keeps the regex fast.
_KV_VALUE = r'("[^"]*"|[^\s",]*(?:,(?: [0-9.:-]+|[^\s",]*))*)'


def expand_kv(entries: pl.DataFrame, column: str, drop: bool = False) -> pl.DataFrame:
    """``key=value`` pairs inside ``column`` become columns, typed by name or by their values."""
    keys = _kv_keys(entries[column].head(KV_SAMPLE))
    entries, names = _extract_kv(entries, column, keys)
    # Keys the sample missed: rows with more "=" than pairs read may name them (a literal count is
    # cheap; an "=" inside a value only sends its row through the search again).
    pairs = pl.col(column).str.count_matches("=", literal=True)
    read = pl.sum_horizontal([pl.col(n).is_not_null() for n in names]) if names else pl.lit(0)
    missed = entries.filter(pairs > read)[column] if names else entries[column]
    more = [k for k in _kv_keys(missed) if k not in keys][: MAX_KV_KEYS - len(keys)]
    if more:
        entries, more_names = _extract_kv(entries, column, more)
        names += more_names
    if drop:
        entries = entries.drop(column)
    entries = type_by_name(entries, names)
    aliases = {KV_ALIASES[n]: n for n in names if n in KV_ALIASES and KV_ALIASES[n] not in entries.columns}
    if aliases:
        # rt=0.004 also fills request_time, typed as nginx's $request_time would be.
        entries = entries.with_columns(
            pl.col(f"{n}_all" if f"{n}_all" in entries.columns else n).alias(alias) for alias, n in aliases.items()
        )
        entries = type_by_name(entries, list(aliases), raw_columns={
            a: f"{n}_all" for a, n in aliases.items() if f"{n}_all" in entries.columns})
    return entries


_KV_KEY = r"(?:^|\s)[A-Za-z_][\w.-]*="
KV_SAMPLE = 20_000


def _kv_keys(values: pl.Series) -> list[str]:
    found = values.str.extract_all(_KV_KEY).explode().drop_nulls().str.strip_chars().str.strip_suffix("=")
    return found.value_counts(sort=True)[found.name].head(MAX_KV_KEYS).to_list() if found.len() else []


def _extract_kv(entries: pl.DataFrame, column: str, keys: list[str]) -> tuple[pl.DataFrame, list[str]]:
    exprs = []
    names = []
    for key in keys:
        value = pl.col(column).str.extract(rf"(?:^|\s){_rx_escape(key)}={_KV_VALUE}", 1)
        value = pl.when(value.str.starts_with('"')).then(value.str.slice(1, value.str.len_chars() - 2)).otherwise(value)
        name = key.replace(".", "_").replace("-", "_")
        names.append(name)
        if name in entries.columns and name != column:
            exprs.append(pl.coalesce(pl.col(name), value).alias(name))
        else:
            exprs.append(value.alias(name))
    return (entries.lazy().with_columns(exprs).collect() if exprs else entries), names


def _rx_escape(text: str) -> str:
    return "".join("\\" + c if c in ".-" else c for c in text)


def type_by_name(entries: pl.DataFrame, names: list[str], raw_columns: dict[str, str] | None = None
                  ) -> pl.DataFrame:
    """Type text columns by their well-known names (``FIELD_TYPES``), else by what all values look like."""
    raw_columns = raw_columns or {}
    text = [n for n in names if entries.schema[n] == pl.String]
    known = [n for n in text if n in FIELD_TYPES]
    unknown = [n for n in text if n not in FIELD_TYPES]
    for name in known:
        typ = FIELD_TYPES[name]
        if typ.startswith("list_"):
            if name in raw_columns:
                entries = entries.with_columns(pl.col(raw_columns[name]).alias(name))
            entries = _typed_list(entries, name, typ)
    entries = entries.with_columns(
        _cast(_null_dash(pl.col(n)), FIELD_TYPES[n]).alias(n) for n in known if not FIELD_TYPES[n].startswith("list_")
    )
    # Other columns become numbers only if every value is one: guess from a sample, then check all.
    guesses = {}
    for n in unknown:
        sample = _null_dash(pl.col(n)).drop_nulls().head(1000)
        ints, floats, count = entries.select(
            sample.str.contains(r"^-?\d{1,18}$").sum().alias("i"),
            sample.str.contains(r"^-?\d+\.\d+$").sum().alias("f"), sample.len().alias("n"),
        ).row(0)
        if count and ints == count:
            guesses[n] = "int"
        elif count and ints + floats == count:
            guesses[n] = "float"
    if guesses:
        cast = {n: _cast(_null_dash(pl.col(n)), t) for n, t in guesses.items()}
        lost = entries.select(
            (c.is_null() & _null_dash(pl.col(n)).is_not_null()).any().alias(n) for n, c in cast.items()
        ).row(0, named=True)
        entries = entries.with_columns(cast[n].alias(n) for n in guesses if not lost[n])
    return entries


def finish(entries: pl.DataFrame, fmt: Compiled) -> pl.DataFrame:
    """Common columns: ``level`` (normalised, or from the status for access logs) and ``request_id``."""
    roles = fmt.definition.fields
    rid_cols = roles.get("request_id", REQUEST_ID_COLUMNS)
    rid_cols = [rid_cols] if isinstance(rid_cols, str) else rid_cols
    present = [c for c in rid_cols if c in entries.columns and c != "request_id"]
    base = [pl.col("request_id")] if "request_id" in entries.columns else []
    candidates = [_null_dash(pl.col(c).cast(pl.String).str.strip_chars()) for c in present] + base
    rid = pl.coalesce(candidates) if candidates else pl.lit(None, pl.String)
    entries = entries.with_columns(rid.alias("request_id"))
    if fmt.kind == "nginx_access":
        status = pl.col("status") if "status" in entries.columns else pl.lit(None, pl.Int64)
        level = pl.when(status >= 500).then(pl.lit("ERROR")).when(status >= 400).then(pl.lit("WARN")).otherwise(
            pl.lit("INFO"))
        entries = entries.with_columns(level.alias("level"), _access_summary(entries.columns).alias("message"))
        entries = entries.drop("request") if "request" in entries.columns else entries
    elif "level" not in entries.columns:
        entries = entries.with_columns(pl.lit(None, pl.String).alias("level"))
    else:
        # Levels take a handful of values: normalise those, then map every row.
        seen = entries["level"].unique().drop_nulls()
        mapping = dict(zip(seen.to_list(), seen.to_frame().select(_normalise_level(pl.col("level")))["level"].to_list(),
                           strict=True))
        entries = entries.with_columns(pl.col("level").replace_strict(mapping, default=None, return_dtype=pl.String))
    if "message" not in entries.columns:
        entries = entries.with_columns(pl.lit(None, pl.String).alias("message"))
    return entries


def _access_summary(columns: list[str]) -> pl.Expr:
    """An access entry's message: the request line as logged; the whole line stays in the file."""
    if "request" in columns:
        return pl.col("request")
    if "method" in columns and "path" in columns:
        return pl.format("{} {}", pl.col("method"), pl.col("path"))
    return pl.lit(None, pl.String)


# --------------------------------------------------------------------------------------------
# JSON lines
#
# Keys are addressed by dotted paths, whether the writer nests objects ({"log": {"level": "ERROR"}})
# or writes dotted names ({"log.level": "ERROR"}): both are the key "log.level", in role lookup
# (JSON_ROLES, ``fields = { level = "log.level" }``) and in signatures. Nested objects are flattened:
# every leaf value becomes a column named by its path with dots as underscores (``log_level``), or by
# its role (``level``) when it plays one. Arrays are leaves (their JSON text).

#: A JSON string literal; removed before counting brackets, so braces inside values do not count.
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
#: Nesting depth below which objects are flattened into dotted keys; deeper objects stay JSON text.
MAX_JSON_DEPTH = 6
JSON_KEY_SAMPLE = 5000


def _json_units(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Group the lines of pretty-printed objects: one row per JSON object candidate.

    An object spans lines when a line opening ``{`` at column 0 opens more brackets than it closes
    (logback-ecs-encoder's ``stackTraceAsArray``, Jackson's pretty printer): the lines after it
    belong to it while the bracket depth counted from it stays above zero. Brackets are counted with
    string literals removed, all in one vectorised pass. Returns the units (``line`` of their first
    line, joined ``text``, ``_n`` lines, ``_key``) and, when lines were grouped, each line's ``_key``.
    """
    text = pl.col("text")
    opens = text.str.starts_with("{")
    # Most files hold one object per line: bracket counting only runs when some object is left open.
    if not df.select((opens & ~text.str.strip_chars_end().str.ends_with("}")).any()).item():
        return df.select("line", "text", pl.lit(1, pl.Int32).alias("_n"), pl.col("line").alias("_key")), None
    code = text.str.replace_all(_JSON_STRING, "")
    delta = code.str.count_matches(r"[{\[]").cast(pl.Int64) - code.str.count_matches(r"[}\]]").cast(pl.Int64)
    df = df.with_columns(_start=opens, _delta=delta)
    if not df.select((pl.col("_start") & (pl.col("_delta") > 0)).any()).item():
        return df.select("line", "text", pl.lit(1, pl.Int32).alias("_n"), pl.col("line").alias("_key")), None
    g = pl.col("_start").cast(pl.Int64).cum_sum()
    df = df.with_columns(_g=g)
    before = pl.col("_delta").cum_sum().over("_g") - pl.col("_delta")
    member = pl.col("_start") | ((pl.col("_g") > 0) & (before > 0))
    keyed = df.with_columns(pl.when(member).then(pl.col("_g")).otherwise(-pl.col("line")).alias("_key"))
    units = keyed.group_by("_key", maintain_order=True).agg(
        pl.col("line").first(), text.str.join("\n"), pl.len().cast(pl.Int32).alias("_n"))
    return units.sort("line"), keyed.select("line", "text", "_key")


def _json_checked(units: pl.DataFrame) -> pl.DataFrame:
    """Add ``_obj`` (the unit opens a JSON object) and ``_xesc`` (it was read after undoing nginx escapes).

    Validity is not checked here, which would parse every line once more: text that is not JSON
    yields no timestamp, and only those units are checked when their reject reason is written.
    nginx ``escape=default`` writes ``\\x22`` for a quote inside a value, which JSON forbids; that
    escape mode never writes a bare backslash, so doubling the backslash of every ``\\x`` makes such a
    line valid JSON and keeps the escape for the nginx decoder.
    """
    stripped = pl.col("text").str.strip_chars()
    units = units.with_columns(stripped.alias("text"), stripped.str.starts_with("{").alias("_obj"))
    retry = pl.col("_obj") & pl.col("text").str.contains(r"\x", literal=True)
    if not units.select(retry.any()).item():
        return units.with_columns(_xesc=pl.lit(False))
    retry = retry & pl.col("text").str.json_path_match("$").is_null()
    fixed = pl.col("text").str.replace_all(r"\x", r"\\x", literal=True)
    units = units.with_columns(retry.alias("_xesc"))
    return units.with_columns(pl.when(pl.col("_xesc")).then(fixed).otherwise(pl.col("text")).alias("text"))


def _json_valid(text: pl.Expr) -> pl.Expr:
    return text.str.json_path_match("$").is_not_null()


#: A key path: the names from the top object down (a flat dotted key is one name), or a raw JSON
#: path into an array (``$.exception[-1].exc_type``).
KeyPath = tuple[str, ...] | str
_DECODED = "__json"


def _json_sample(text: pl.Series, sample: int = 2000) -> dict[tuple[str, ...], bool]:
    """Leaf paths of a bounded sample of objects -> whether every value seen there is a scalar.

    Read with Python's json module: key discovery only, never per line of the file
    (:func:`_probe_roles` looks for role keys the sample missed).
    """
    found: dict[tuple[str, ...], bool] = {}
    for raw in text.head(sample).to_list():
        try:
            obj = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if isinstance(obj, dict):
            _flatten_keys(obj, (), found)
    return found


def _flatten_keys(obj: dict, prefix: tuple[str, ...], out: dict[tuple[str, ...], bool]) -> None:
    for key, value in obj.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value and len(path) < MAX_JSON_DEPTH:
            _flatten_keys(value, path, out)
        else:
            out[path] = out.get(path, True) and not isinstance(value, (dict, list))


def _json_keys(found: dict[tuple[str, ...], bool]) -> dict[str, list[KeyPath]]:
    """Dotted key -> the paths that hold it (a flat ``"log.level"`` and a nested ``log.level``)."""
    keys: dict[str, list[KeyPath]] = {}
    for path in found:
        keys.setdefault(".".join(path), []).append(path)
    return keys


def _json_schema(found: dict[tuple[str, ...], bool]) -> tuple[pl.Struct | None, frozenset]:
    """A struct type for decoding every object in one pass, and the leaf paths it reads.

    Only leaves that were scalars in the whole sample, under objects that were always objects,
    are decoded (as text, numbers included); the rest are read by JSON path.
    """
    prefixes = {p[:i] for p in found for i in range(1, len(p))}
    ok = {p for p, scalar in found.items()
          if scalar and p not in prefixes and not any(p[:i] in found for i in range(1, len(p)))}
    tree: dict = {}
    for p in sorted(ok):
        node = tree
        for seg in p[:-1]:
            node = node.setdefault(seg, {})
        node[p[-1]] = None

    def dtype(node: dict) -> pl.Struct:
        return pl.Struct({k: pl.String if v is None else dtype(v) for k, v in node.items()})

    return (dtype(tree) if tree else None), frozenset(ok)


def _json_decoded(objs: pl.DataFrame, schema: pl.Struct | None) -> tuple[pl.DataFrame, bool]:
    """Decode the objects once into ``__json``; False when they cannot be read with ``schema``.

    Lines that are not valid JSON would fail the decode: those are left out of it (their keys read
    as absent) on a second try; a value of another shape than the sample showed falls back to
    reading every key by JSON path.
    """
    if schema is None:
        return objs, False
    text = pl.col("text")
    for attempt in (text, pl.when(_json_valid(text)).then(text)):
        try:
            return objs.with_columns(attempt.str.json_decode(schema).alias(_DECODED)), True
        except pl.exceptions.PolarsError:
            continue
    return objs, False


def _probe_roles(text: pl.Series, keys: dict[str, list[KeyPath]], fmt: Compiled) -> dict[str, list[KeyPath]]:
    """Add role keys that only lines beyond the sample carry (an exception's ``error.type`` in a long file).

    A key is looked for only in lines holding its last name literally (a fast substring search),
    as a flat dotted key and as nested objects.
    """
    roles = _json_roles(keys, fmt)
    missing = [r for r in JSON_ROLES if r not in roles and not (fmt.kind == "nginx_access" and r != "time")]
    if not missing or text.len() <= JSON_KEY_SAMPLE:
        return keys
    keys = dict(keys)
    for role in missing:
        want = fmt.definition.fields.get(role, JSON_ROLES[role])
        for c in [want] if isinstance(want, str) else want:
            if "[" in c or c in keys:
                continue
            holding = text.filter(text.str.contains(f'"{c.rsplit(".", 1)[-1]}"', literal=True))
            if holding.len() == 0:
                continue
            paths = list(dict.fromkeys([(c,), tuple(c.split("."))]))
            present = [p for p in paths if holding.str.json_path_match(_json_path(p)).is_not_null().any()]
            if present:
                keys[c] = present
                break
    return keys


def _json_path(path: tuple[str, ...] | str) -> str:
    segments = (path,) if isinstance(path, str) else path
    return "$" + "".join(
        "." + s if s.isidentifier() else "['" + s.replace("\\", "\\\\").replace("'", "\\'") + "']" for s in segments)


def _key_paths(candidate: str, keys: dict[str, list[KeyPath]]) -> list[KeyPath]:
    """JSON paths for a role candidate: a dotted key, or a path into an array (``exception[-1].exc_type``)."""
    if "[" in candidate:
        base = candidate.split("[", 1)[0]
        return ["$." + candidate] if base in keys else []
    return keys.get(candidate, [])


def _json_roles(keys: dict[str, list[KeyPath]], fmt: Compiled) -> dict[str, tuple[str, list[KeyPath]]]:
    """Role -> (key, JSON paths) for time, level, message, request id, exception, ...: pinned, or usual names.

    nginx JSON access logs name their keys after nginx variables, so only the timestamp (and what the
    definition pins) is looked up by role there; every other key keeps its variable's name.
    """
    pinned = fmt.definition.fields
    roles = {}
    for role, usual in JSON_ROLES.items():
        if fmt.kind == "nginx_access" and role != "time" and role not in pinned:
            continue
        want = pinned.get(role)
        if isinstance(want, list):
            # A definition's own list is read per line, first present key first: OTLP writes
            # timeUnixNano where the source gave a time and only observedTimeUnixNano elsewhere.
            present = [(c, _key_paths(c, keys)) for c in want]
            present = [(c, p) for c, p in present if p]
            if present:
                roles[role] = (present[0][0], [p for _, paths in present for p in paths])
            continue
        candidates = [want] if isinstance(want, str) else usual
        for c in candidates:
            paths = _key_paths(c, keys)
            if paths:
                roles[role] = (c, paths)
                break
    return roles


def _json_value(paths: list[KeyPath], decoded: frozenset | None = None) -> pl.Expr:
    """The text of a key: a field of the decoded struct when it was decoded, else read by JSON path."""
    values = []
    for p in paths:
        if decoded is not None and p in decoded:
            value = pl.col(_DECODED)
            for seg in p:
                value = value.struct.field(seg)
        else:
            value = pl.col("text").str.json_path_match(p if isinstance(p, str) else _json_path(p))
        values.append(value)
    return values[0] if len(values) == 1 else pl.coalesce(values)


def _json_signature(fmt: Compiled) -> list[tuple[str, str | None]]:
    """What every line of this layout carries, from the definition's ``pattern`` (syntax json).

    ``pattern`` lists dotted keys separated by spaces; ``key=REGEX`` also requires the value (as
    text) to match. Detection uses it to tell layouts apart that share a timestamp key.
    """
    out = []
    for item in fmt.definition.pattern.split():
        key, _, regex = item.partition("=")
        out.append((key, regex or None))
    return out


def _json_fits(units: pl.DataFrame, fmt: Compiled, keys: dict[str, list[KeyPath]]) -> pl.Expr:
    """Objects with a timestamp under the format's time key that carry its signature."""
    roles = _json_roles(keys, fmt)
    if "time" not in roles:
        return pl.lit(False)
    fits = pl.col("_obj") & _json_value(roles["time"][1]).is_not_null()
    for key, regex in _json_signature(fmt):
        paths = _key_paths(key, keys)
        if not paths:
            return pl.lit(False)
        value = _json_value(paths)
        fits = fits & (value.is_not_null() if regex is None else value.str.contains(regex).fill_null(False))
    return fits


def _json_match_rate(df: pl.DataFrame, fmt: Compiled) -> tuple[float, int]:
    units, _ = _json_units(df)
    units = _json_checked(units)
    if fmt.definition.records:
        units = records.expand(units.filter(pl.col("_obj")), fmt.definition.records).records
    keys = _json_keys(_json_sample(units.filter(pl.col("_obj"))["text"]))
    ok = units.filter(_json_fits(units, fmt, keys))
    if fmt.definition.records:  # a batch line counts once, when every record in it fits
        fit = units.with_columns(_json_fits(units, fmt, keys).alias("__fit")).group_by("_key").agg(
            pl.col("__fit").all(), pl.col("_n").first())
        ok = fit.filter("__fit")
    return int(ok["_n"].sum()) / df.height, ok.height


#: Column names the engine itself uses: a JSON key of that name becomes ``<name>_field``.
_RESERVED = {"line", "text", "ts", "file", "source", "row", "_n", "_key", "_xesc", "_obj", "line_count"}


def _json_column(role: str | None, key: str) -> str:
    if role:
        return role
    name = re.sub(r"\W", "_", key.lstrip("@_")).strip("_") or "field"
    return f"{name}_field" if name in _RESERVED else name


def _nginx_json_types(entries: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Type nginx JSON access columns as the text access formats type the same variables.

    An empty variable is ``""`` under ``escape=json`` and ``-`` under ``escape=default``: both are
    absent. Numbers may be written as strings. ``\\x22``-style escapes are undone on the objects that
    carried them.
    """
    xesc = pl.col("_xesc")
    decoded = {}
    for name in names:
        cap = nginx.capture_for(name)
        if cap.type in ("str", "request"):
            col = _null_dash(pl.col(name))
            decoded[name] = pl.when(xesc).then(_unescape_nginx(col, json_escaped=False)).otherwise(col)
        elif cap.type in ("int", "float"):
            decoded[name] = _cast(_null_dash(pl.col(name)), cap.type)
    entries = entries.with_columns(e.alias(n) for n, e in decoded.items())
    for name in names:
        typ = nginx.capture_for(name).type
        if typ.startswith("list_"):
            entries = _typed_list(entries, name, typ)
        elif typ == "request":
            entries = split_request(entries, name)
    columns = entries.columns
    fills = []
    if "method" not in columns and "request_method" in columns:
        fills.append(pl.col("request_method").alias("method"))
    if "path" not in columns:
        uri = next((c for c in ("request_uri", "uri") if c in columns), None)
        if uri:
            fills.append(pl.col(uri).str.extract(r"^([^?#\s]*)", 1).alias("path"))
    return entries.with_columns(fills) if fills else entries


def _json_levels(entries: pl.DataFrame, fmt: Compiled) -> pl.DataFrame:
    """Numeric levels (pino's 30, GELF's syslog 3) read through the definition's ``fields.levels`` table."""
    table = fmt.definition.fields.get("levels")
    if not isinstance(table, dict) or "level" not in entries.columns:
        return entries
    mapping = {str(k): str(v) for k, v in table.items()}
    level = pl.col("level").str.strip_chars()
    return entries.with_columns(level.replace_strict(mapping, default=level, return_dtype=pl.String).alias("level"))


def _json_stack_text(entries: pl.DataFrame) -> pl.DataFrame:
    """``stack_trace`` as text: an array of lines (ECS ``stackTraceAsArray``) joined, structured ones dropped.

    GELF writers without ``_error_stack_trace`` put the trace in ``full_message`` after the message:
    it is taken when it holds a Java or Python frame.
    """
    if "stack_trace" not in entries.columns and "full_message" in entries.columns:
        full = pl.col("full_message")
        has_frame = full.str.contains(r"\n(?:\s+at \S|  File \")")
        entries = entries.with_columns(pl.when(has_frame).then(full).alias("stack_trace"))
    if "stack_trace" not in entries.columns:
        return entries
    st = pl.col("stack_trace")
    joined = st.str.json_decode(pl.List(pl.String)).list.join("\n")
    return entries.with_columns(
        pl.when(st.str.starts_with('["')).then(joined)
        .when(st.str.starts_with("[") | st.str.starts_with("{")).then(None)
        .otherwise(st).str.strip_chars_end().alias("stack_trace"))


_ISO_LAYOUT = TimeLayout(r".*", "iso", has_offset=True)


def _json_rejects(df: pl.DataFrame, lines: pl.DataFrame | None, bad: pl.DataFrame) -> pl.DataFrame:
    """One reject per line, with the line as written: a failing multi-line object accounts for all its lines."""
    if lines is None:
        return df.join(bad.select(pl.col("_key").alias("line"), "reason"), on="line").select("line", "text", "reason")
    return lines.join(bad.select("_key", "reason"), on="_key").select("line", "text", "reason")


def _parse_json(df: pl.DataFrame, fmt: Compiled, zone: str | None) -> ParseResult:
    """JSON lines: one entry per JSON object (a line, or the lines of a pretty-printed one) with a timestamp."""
    units, lines = _json_units(df)
    units = _json_checked(units)
    objs = units.filter(pl.col("_obj"))
    batched, no_records, batch_continuation = 0, None, 0
    if fmt.definition.records:
        # A line holding a batch of records: each record is an entry (or a reject) on that line.
        expanded = records.expand(objs, fmt.definition.records)
        objs, batched, no_records = expanded.records, expanded.batched, expanded.empty
        batch_continuation = int((objs.unique("_key")["_n"] - 1).sum()) if objs.height else 0
        units = units.filter(~pl.col("_obj"))
    found = _json_sample(objs["text"], sample=JSON_KEY_SAMPLE)
    keys = _probe_roles(objs["text"], _json_keys(found), fmt)
    roles = _json_roles(keys, fmt)
    blank = pl.col("text").str.strip_chars() == ""
    bad = units.filter(~pl.col("_obj")).with_columns(
        pl.when(blank).then(pl.lit("empty line")).otherwise(pl.lit("not a JSON object")).alias("reason"))
    if no_records is not None:
        bad = pl.concat([bad, no_records], how="diagonal_relaxed")
    empty = pl.DataFrame(schema={"line": pl.Int64, "ts": pl.Datetime("ns", "UTC"), "level": pl.String,
                                 "request_id": pl.String, "message": pl.String})
    if "time" not in roles:
        names = ", ".join(list(keys)[:8]) or "(no keys)"
        reason = pl.when(_json_valid(pl.col("text"))).then(pl.lit(f"no timestamp key among {names}")).otherwise(
            pl.lit("not a JSON object"))
        failing = objs.with_columns(reason.alias("reason"))
        if fmt.definition.records:
            rejects = pl.concat([_json_rejects(df, lines, bad), _record_rejects(failing)], how="vertical_relaxed")
            return ParseResult(empty, rejects.sort("line"), df.height, batch_continuation, False, batched)
        bad = pl.concat([bad, failing], how="diagonal_relaxed")
        return ParseResult(empty, _json_rejects(df, lines, bad).sort("line"), df.height, 0, False)
    schema, decodable = _json_schema(found)
    objs, done = _json_decoded(objs, schema)
    decoded = decodable if done else None
    columns = {role: _json_value(paths, decoded).alias(role) for role, (_, paths) in roles.items()}
    used = {key for key, _ in roles.values()}
    nginx_kind = fmt.kind == "nginx_access"
    for key, paths in keys.items():
        if len(columns) >= MAX_KV_KEYS + len(roles):
            break
        if key in used:
            continue
        name = _json_column(None, key)
        if nginx_kind:
            name = nginx.RENAMED.get(name, name)
        if name not in columns:
            columns[name] = _json_value(paths, decoded).alias(name)
    entries = objs.select("line", "text", "_n", "_key", "_xesc", *columns.values())
    caps = {"time": Capture("time", type="time", layout=_ISO_LAYOUT)}
    if nginx_kind:
        # $time_local in a JSON access log: read it as the text formats do.
        entries = entries.with_columns(pl.col("time").alias("__time_local"))
        caps["__time_local"] = Capture("__time_local", type="time", layout=timefmt.NGINX_TIME_LOCAL)
    jfmt = Compiled(fmt.definition, None, caps, fmt.derives, fmt.zone)
    entries = _with_ts(entries, jfmt, zone)
    entries, assumed = _repair_ts(entries, jfmt, zone)
    reason = pl.when(_json_valid(pl.col("text"))).then(
        pl.format("unreadable timestamp {}", pl.col(_TIME_TEXT).fill_null("(none)"))).otherwise(
        pl.lit("not a JSON object")).alias("reason")
    untimed = entries.filter(pl.col("ts").is_null())
    record_rejects = None
    if fmt.definition.records:
        # A record without a time is a reject of its own, with its text, on its line.
        record_rejects = _record_rejects(untimed.with_columns(reason))
        untimed = untimed.head(0)
    unread = untimed.select("_key", reason)
    bad = pl.concat([bad.select("_key", "reason"), unread], how="vertical_relaxed")
    entries = entries.filter(pl.col("ts").is_not_null()).drop(_TIME_TEXT, "text")
    continuation = int((entries["_n"] - 1).sum()) if entries.height else 0
    if fmt.definition.records:
        continuation = batch_continuation
    entries = entries.with_columns(pl.col("_n").alias("line_count"))
    if nginx_kind:
        entries = _nginx_json_types(entries, [n for n in columns if n in entries.columns and n != "time"])
    else:
        entries = type_by_name(entries, [n for n in entries.columns if n in FIELD_TYPES])
        entries = _json_levels(entries, fmt)
        entries = _json_stack_text(entries)
        entries = stacktraces.fill_exceptions(entries)
    entries = entries.drop("_n", "_key", "_xesc")
    if "url" in entries.columns and "path" not in entries.columns:
        entries = entries.with_columns(
            pl.col("url").str.extract(r"^(?:[A-Za-z][\w+.-]*://[^/?#]*)?(/[^?#\s]*)", 1).alias("path")
        )
    for column, regex in fmt.derives:
        if column in entries.columns:
            entries = _derive(entries, column, regex)
    if fmt.definition.kv and "message" in entries.columns:
        entries = expand_kv(entries, "message")
    entries = finish(entries, jfmt)
    rejects = _json_rejects(df, lines, bad)
    if record_rejects is not None:
        rejects = pl.concat([rejects, record_rejects], how="vertical_relaxed")
    return ParseResult(entries, rejects.sort("line"), df.height, continuation, assumed, batched)


def _record_rejects(failing: pl.DataFrame) -> pl.DataFrame:
    """Records of a batch line that give no entry: one reject each, with the record's text."""
    return failing.select("line", "text", "reason")
