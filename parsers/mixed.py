"""Files whose lines follow more than one format.

Real files do: nginx's ``log_format`` changed by a reload (``combined`` lines, then ``main``, then
``combined`` again), a container's stdout carrying nginx access lines and its stderr the error
log in one stream, an application that prints a banner before its first log entry, a pool of
sample lines of many layouts that no one format reads.

:func:`split_by_format` gives every line to one format: an entry-start line to the candidate
that matches it (the file's dominant format when it matches, else the most specific match), a
line no candidate matches to the entry before it (a continuation, or a reject of that format).
:func:`parse_mixed` parses each format's lines with :func:`engine.parse` and numbers entries and
rejects by the input's lines, so concatenating its results gives every entry once and
``lines = parsed + continuation + rejected`` over the results; :func:`parse_stream` does the same
for a file read in chunks. :func:`is_mixed` is the cheap test that tells whether a file one
format reads needs this; :func:`pool_rate` tells whether formats together read a file none reads.

Typical use (ingest)::

    if mixed.is_mixed(sample, candidates):
        for fmt, result in mixed.parse_stream(chunks, candidates, zones):
            ...  # one result per format, each of its own kind; lines add up to the file's

Cost: one ``str.contains`` per candidate, each over the lines no candidate before it took, then
polars expressions; each line is parsed once, by its format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from . import engine
from .formats import Compiled

#: is_mixed: the best single format must explain less than this share of the sample ...
SINGLE_ENOUGH = 0.97
#: ... and the best pair of formats at least this much more (and ``MIN_GAIN_LINES`` lines more).
MIN_GAIN = 0.01
MIN_GAIN_LINES = 3
DETECT_SAMPLE = 1000
#: split_by_format: the format that starts at least this share of the entries is the file's own.
DOMINANT_SHARE = 0.5


@dataclass
class Segment:
    """The lines of one format: ``lines`` are 1-based numbers into the input, ascending;
    ``starts`` is how many of them start an entry."""

    format: Compiled
    lines: pl.Series
    starts: int = 0


def _starts(text: pl.Series, fmt: Compiled) -> pl.Series:
    """True where a line starts an entry of ``fmt``: its regex, or a JSON object with a time key."""
    if fmt.regex is None:
        objects = text.str.strip_chars_start().str.starts_with("{")
        if not objects.any():  # the usual case for text logs: no JSON parse at all
            return objects
        stripped = text.str.strip_chars()
        return (objects & stripped.str.json_path_match("$").is_not_null()).fill_null(False)
    return text.str.contains(fmt.regex).fill_null(False)


def _specificity(fmt: Compiled) -> tuple[int, int]:
    return len(fmt.columns), fmt.definition.priority


def _explained(text: pl.Series, starts: pl.Series, fmt: Compiled, foreign: pl.Series) -> pl.Series:
    """Lines ``fmt`` explains alone: its starts, plus for a multi-line format the lines it would
    take as continuations (after a start, not looking like another format's entry)."""
    if fmt.regex is None or fmt.definition.multiline_mode == "none":
        return starts
    return starts | (starts.cum_sum() > 0) & ~foreign


def _masks(text: pl.Series, candidates: list[Compiled]) -> tuple[list[Compiled], list[pl.Series]]:
    kept, masks = [], []
    for fmt in candidates:
        m = _starts(text, fmt)
        if m.any():
            kept.append(fmt)
            masks.append(m)
    return kept, masks


def is_mixed(lines: pl.Series, candidates: list[Compiled]) -> bool:
    """Whether several formats are needed to explain the lines (tested on the first lines).

    True when the best single format explains less than ``SINGLE_ENOUGH`` of the non-blank lines
    while the best pair explains clearly more (``MIN_GAIN`` and ``MIN_GAIN_LINES``). A banner or a
    few stray lines no candidate reads leave it False: a second format must explain them.
    """
    text = engine.lines_frame(lines.head(DETECT_SAMPLE))["text"]
    text = text.filter(text.str.strip_chars() != "")
    n = text.len()
    if n == 0:
        return False
    kept, masks = _masks(text, candidates)
    if len(kept) < 2:
        return False
    foreign = text.str.contains(engine.FOREIGN_START)
    explained = [_explained(text, m, f, foreign) for f, m in zip(kept, masks, strict=True)]
    single = max(int(e.sum()) for e in explained)
    if single >= SINGLE_ENOUGH * n:
        return False
    pair = max(int((a | b).sum()) for i, a in enumerate(explained) for b in explained[i + 1:])
    return pair - single >= max(MIN_GAIN * n, MIN_GAIN_LINES)


def pool_rate(lines: pl.Series, candidates: list[Compiled]) -> tuple[float, int]:
    """How well the candidates together read the lines, each line by the one that matches it:
    (rate, formats used). The rate counts as ``engine.match_rate`` does, so it meets the same bar
    as one format's: entry starts in full, continuation lines (after a start, not starting like
    some other entry) by half, over the non-blank lines."""
    text = engine.lines_frame(lines.head(DETECT_SAMPLE))["text"]
    text = text.filter(text.str.strip_chars() != "")
    if text.len() == 0:
        return 0.0, 0
    # Any JSON object "starts" a JSON format's entry here: only those that read the objects' time count.
    usable = [f for f in candidates if f.regex is not None or engine.match_rate(text, f)[1] > 0]
    chosen = _choose(text, usable)
    if chosen is None:
        return 0.0, 0
    starts = chosen["start"].is_not_null()
    used = [usable[i] for i in chosen["start"].drop_nulls().unique()]
    multiline = any(f.regex is not None and f.definition.multiline_mode != "none" for f in used)
    cont = ~starts & (starts.cum_sum() > 0) & ~text.str.contains(engine.FOREIGN_START)
    read = int(starts.sum()) + (0.5 * int(cont.sum()) if multiline else 0)
    return read / text.len(), len(used)


def split_by_format(lines: pl.Series, candidates: list[Compiled], first_line: int = 1) -> list[Segment]:
    """Give every line to one of the candidate formats; one :class:`Segment` per format used.

    An entry-start line goes to the dominant format (most entry starts in the first and last
    ``DETECT_SAMPLE`` lines, then the higher priority; at least ``DOMINANT_SHARE`` of the lines
    any candidate starts, else there is none) when it matches, else to the matching
    candidate with most captured groups, then the higher priority. Lines no candidate matches go
    with the entry before them (lines before the first entry go with the first entry's format,
    which rejects them). Segments are listed by their first line; no candidate matching any
    line gives ``[]``. ``first_line`` numbers the lines (a later chunk, a block of a larger input).

    Each candidate's regex runs once, over the lines no earlier candidate in that order took, so
    a file that is mostly one format costs little more than one pass.
    """
    chosen = _choose(engine.lines_frame(lines)["text"], candidates)
    return _segments(chosen, candidates, first_line) if chosen is not None else []


def _choose(text: pl.Series, candidates: list[Compiled]) -> pl.DataFrame | None:
    """Per line: ``start`` (index of the candidate whose entry it starts, or null) and ``fmt``
    (the candidate it goes to); None when no candidate matches any line."""
    n = text.len()
    if n == 0 or not candidates:
        return None
    sample = text if n <= 2 * DETECT_SAMPLE else pl.concat([text.head(DETECT_SAMPLE), text.tail(DETECT_SAMPLE)])
    masks = [_starts(sample, fmt) for fmt in candidates]
    counts = [int(m.sum()) for m in masks]
    dominant = max(range(len(candidates)), key=lambda i: (counts[i], candidates[i].definition.priority))
    any_start = masks[0]
    for m in masks[1:]:
        any_start = any_start | m
    # A file's own format goes first where it matches (a log_format change keeps its lines). A
    # pool of layouts, where no format starts most entries, has none: the most specific match wins.
    first = [dominant] if counts[dominant] >= DOMINANT_SHARE * int(any_start.sum()) else []
    rest = sorted((i for i in range(len(candidates)) if i not in first),
                  key=lambda i: (*_specificity(candidates[i]), counts[i]), reverse=True)
    choice = pl.Series("start", [None] * n, dtype=pl.Int32)
    open_rows = pl.int_range(0, n, eager=True, dtype=pl.UInt32)
    for i in [*first, *rest]:
        if open_rows.len() == 0:
            break
        hit = _starts(text.gather(open_rows), candidates[i])
        if hit.any():
            choice = choice.scatter(open_rows.filter(hit), i)
            open_rows = open_rows.filter(~hit)
    if choice.null_count() == n:
        return None
    return pl.DataFrame({"start": choice}).with_columns(pl.col("start").forward_fill().backward_fill().alias("fmt"))


def _segments(chosen: pl.DataFrame, candidates: list[Compiled], first_line: int) -> list[Segment]:
    numbered = chosen.with_row_index("line", offset=first_line).with_columns(pl.col("line").cast(pl.Int64))
    groups = numbered.group_by("fmt").agg(pl.col("line"), pl.col("start").is_not_null().sum().alias("n"))
    return [
        Segment(candidates[idx], pl.Series("line", line_list, dtype=pl.Int64), int(k))
        for idx, line_list, k in groups.sort(pl.col("line").list.first()).iter_rows()
    ]


def parse_mixed(lines: pl.Series, candidates: list[Compiled], zone: str | None | Mapping[str, str | None] = None,
                first_line: int = 1) -> list[tuple[Compiled, engine.ParseResult]]:
    """Parse a file of several formats: one (format, result) per format, lines numbered as in ``lines``.

    ``zone`` is one zone for naive timestamps, or a mapping from a format's kind (or name) to
    its zone. Each result's ``lines`` counts the lines given to that format, so the results add
    up to ``len(lines)``; entries and rejects keep the input's line numbers (counted from
    ``first_line``).
    """
    return _parse_segments(lines, split_by_format(lines, candidates, first_line), zone, first_line)


def _parse_segments(lines: pl.Series, segments: list[Segment], zone: str | None | Mapping[str, str | None],
                    first_line: int) -> list[tuple[Compiled, engine.ParseResult]]:
    out = []
    for seg in segments:
        fmt = seg.format
        z = zone.get(fmt.name, zone.get(fmt.kind)) if isinstance(zone, Mapping) else zone
        result = engine.parse(lines.gather(seg.lines - first_line), fmt, z)
        out.append((fmt, _renumber(result, seg.lines)))
    return out


def parse_stream(chunks: Iterable[pl.Series], candidates: list[Compiled],
                 zone: str | None | Mapping[str, str | None] = None) -> list[tuple[Compiled, engine.ParseResult]]:
    """:func:`parse_mixed` for a file that arrives in chunks, memory bounded by the chunk size.

    The lines from the chunk's last entry start onwards are held back and split with the next
    chunk, so a multi-line entry is never cut. Results are merged per format, lines numbered
    through the whole file; the dominant format is judged per chunk.
    """
    by_name: dict[str, tuple[Compiled, list[engine.ParseResult]]] = {}

    def add(results: list[tuple[Compiled, engine.ParseResult]]) -> None:
        for fmt, result in results:
            by_name.setdefault(fmt.name, (fmt, []))[1].append(result)

    held: pl.Series | None = None
    first = 1
    for chunk in chunks:
        lines = chunk if held is None else pl.concat([held, chunk])
        chosen = _choose(engine.lines_frame(lines)["text"], candidates)
        if chosen is None:
            # Nothing here starts an entry: the lines continue the held entry (or precede the
            # first one, and go with its format).
            held = lines
            continue
        starts = chosen["start"].is_not_null().arg_true()
        cut = int(starts[-1])
        if cut:
            add(_parse_segments(lines.head(cut), _segments(chosen.head(cut), candidates, first), zone, first))
            first += cut
        held = lines.slice(cut)
    if held is not None and len(held):
        add(parse_mixed(held, candidates, zone, first))
    return [(fmt, _merge(results)) for fmt, results in by_name.values()]


def _merge(results: list[engine.ParseResult]) -> engine.ParseResult:
    """One result from the results of several parts of a file in one format."""
    if len(results) == 1:
        return results[0]
    return engine.ParseResult(
        engine.concat_frames([r.entries for r in results]),
        pl.concat([r.rejects for r in results], how="vertical_relaxed"),
        sum(r.lines for r in results), sum(r.continuation for r in results), any(r.zone_assumed for r in results),
        sum(r.batched for r in results))


def _renumber(result: engine.ParseResult, numbers: pl.Series) -> engine.ParseResult:
    """Lines of a segment's parse (1..k) back to the input's line numbers."""

    def remap(df: pl.DataFrame) -> pl.DataFrame:
        if df.height == 0:
            return df
        return df.with_columns(numbers.gather(df["line"] - 1).alias("line"))

    return engine.ParseResult(remap(result.entries), remap(result.rejects), result.lines, result.continuation,
                              result.zone_assumed, result.batched)
