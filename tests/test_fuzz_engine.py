"""Property tests: any input through the parse engine, every format definition and the whole load.

Whatever the lines hold (random bytes, invalid UTF-8, NULs, CR-only line ends, ANSI colours,
very long lines, truncated JSON, lines of several layouts mixed, bits of real sample lines), the
engine raises nothing but the project's own errors, and every line is accounted for: parsed,
continuation, rejected or unread, adding up to the lines read, with no line number twice.

The budget is small for CI (a few seconds a test). ``HYPOTHESIS_PROFILE=ci`` (set when ``CI`` is)
makes the runs repeatable; ``HYPOTHESIS_PROFILE=fuzz`` is the long run, for minutes::

    HYPOTHESIS_PROFILE=fuzz python -m pytest tests/test_fuzz_engine.py

Edge inputs, and any input a fuzz run finds, are kept in ``REGRESSIONS`` below and run every time.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import lru_cache

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from loganalyzer.parsers import engine, mixed
from loganalyzer.parsers.formats import Compiled, builtin_definitions, compile_definition

import loganalyzer
from loganalyzer import errors, ingest


def budget(n: int):
    """``n`` examples (no deadline: the first call of a format compiles and warms it), or the fuzz
    profile's many."""
    fuzzing = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
    return settings(max_examples=settings().max_examples if fuzzing else n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@lru_cache(maxsize=1)
def formats() -> list[Compiled]:
    return [compile_definition(d) for d in builtin_definitions()]


@lru_cache(maxsize=1)
def sample_lines() -> list[str]:
    """Every built-in format's sample lines: real lines of every layout, to cut and mix."""
    out = []
    for d in builtin_definitions():
        for s in d.samples:
            out.extend(s["line"].split("\n"))
    return out


# ---------------------------------------------------------------------------------------- strategies

#: Characters that break naive parsers: NUL, ESC and ANSI, CR, DEL, C1, bidi overrides, zero-width,
#: the BOM, line separators, quotes, backslashes, braces, replacement character, astral plane.
NASTY = ["\x00", "\x1b[31m", "\x1b[0m", "\x1b]0;t\x07", "\r", "\x7f", "\x9b", "\u202e", "\u200b", "\ufeff",
         "\u2028", '"', "\\", "{", "}", "[", "]", "\ufffd", "\U0001f4a5", "\t", " ", "|", "=", ":", "-"]


@st.composite
def mutated_sample(draw) -> str:
    """A real sample line, cut short, with nasty characters spliced in, or doubled."""
    line = draw(st.sampled_from(sample_lines()))
    how = draw(st.sampled_from(["cut", "splice", "double", "as is", "json-cut"]))
    if how == "cut" and line:
        return line[: draw(st.integers(0, len(line)))]
    if how == "splice":
        at = draw(st.integers(0, len(line)))
        return line[:at] + draw(st.sampled_from(NASTY)) * draw(st.integers(1, 3)) + line[at:]
    if how == "double":
        return line + line
    if how == "json-cut":
        record = {"@timestamp": "2026-11-26T09:14:46.070Z", "level": "ERROR", "message": line,
                  "nested": {"a": [1, {"b": None}]}}
        text = json.dumps(record)
        return text[: draw(st.integers(1, len(text)))]
    return line


line_text = st.one_of(
    mutated_sample(),
    st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=80),
    st.lists(st.sampled_from(NASTY), max_size=12).map("".join),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "{", "\x00", " ", "é"]), st.integers(1000, 70_000)),
)
lines_st = st.lists(line_text, min_size=0, max_size=40)


def check_accounting(result: engine.ParseResult, n: int) -> None:
    assert result.lines == n
    assert result.parsed + result.continuation + result.rejected == n
    numbers = pl.concat([result.entries["line"].cast(pl.Int64), result.rejects["line"].cast(pl.Int64)])
    assert numbers.n_unique() == len(numbers), "a line counted twice"
    assert numbers.is_empty() or (numbers.min() >= 1 and numbers.max() <= n)


# ---------------------------------------------------------------------------------------- the engine

@budget(60)
@given(fmt=st.sampled_from(range(len(formats()))), lines=lines_st)
def test_any_lines_through_any_format(fmt, lines):
    """Every format definition, on any lines: no exception, every line in one bucket."""
    result = engine.parse(pl.Series("text", lines, dtype=pl.String), formats()[fmt], "UTC")
    check_accounting(result, len(lines))


def _same_count(full: engine.ParseResult, counted: engine.ParseResult) -> None:
    assert (counted.lines, counted.parsed, counted.continuation, counted.rejected, counted.zone_assumed) == \
        (full.lines, full.parsed, full.continuation, full.rejected, full.zone_assumed)
    assert counted.entries.columns == ["line", "ts"] or counted.entries.columns == full.entries.columns  # JSON
    assert counted.entries.equals(full.entries.select(counted.entries.columns))
    assert counted.rejects.equals(full.rejects)


@budget(60)
@given(fmt=st.sampled_from(range(len(formats()))), lines=lines_st)
def test_a_counting_parse_finds_what_the_full_parse_finds(fmt, lines):
    """The counting form of every format (what ``parse`` without an output runs): the same entries'
    lines and times, continuation lines and rejects, with their reasons, as the format itself."""
    series = pl.Series("text", lines, dtype=pl.String)
    _same_count(engine.parse(series, formats()[fmt], "UTC"), engine.parse(series, engine.counting(formats()[fmt]), "UTC"))


def test_every_sample_line_counts_as_the_full_parse_reads_it():
    """Each format's own sample lines (a stack trace among them) through both forms."""
    for fmt in formats():
        lines = [ln for d in builtin_definitions() for s in d.samples for ln in s["line"].split("\n")]
        series = pl.Series("text", lines, dtype=pl.String)
        counted = engine.counting(fmt)
        assert counted.counting == (fmt.regex is not None), fmt.name
        _same_count(engine.parse(series, fmt, None), engine.parse(series, counted, None))


@budget(25)
@given(lines=lines_st, cut=st.integers(1, 7))
def test_mixed_layouts_are_split_and_accounted(lines, cut):
    """Lines of several layouts in one file, read in chunks as a file is: every line accounted."""
    chunks = [pl.Series("text", lines[i:i + cut], dtype=pl.String) for i in range(0, len(lines), cut)]
    results = mixed.parse_stream(iter(chunks), formats(), None)
    if not results:  # only when no line starts an entry of any format (such a file is never read as mixed)
        assert mixed.split_by_format(pl.Series("text", lines, dtype=pl.String), formats()) == []
        return
    assert sum(r.lines for _, r in results) == len(lines)
    for _, r in results:
        assert r.parsed + r.continuation + r.rejected == r.lines


# ---------------------------------------------------------------------------------------- the load

#: Edge inputs run every time: the empty file, blank lines only, CR-only line ends, a UTF-32 BOM,
#: the line splitter's own separator byte; and the inputs fuzz runs found.
REGRESSIONS: list[bytes] = [
    b"",
    b"\n\n\n",
    b"\r\r\r2026-11-26 09:14:46,070 INFO [x] a\r",
    b"\xff\xfe\x00\x00garbage\n",
    b"\x1f\x1f\n\x1f",
    b"\x1f\x8b",  # found by the fuzz run: gzip's magic number and nothing else
]


def _file_bytes():
    structured = st.lists(line_text, max_size=30).flatmap(
        lambda ls: st.sampled_from(["\n", "\r\n", "\r"]).map(lambda end: end.join(ls).encode("utf-8", "replace")))
    return st.one_of(st.binary(max_size=2000), structured,
                     st.tuples(structured, st.binary(max_size=50)).map(lambda t: t[0] + t[1]))


def _lines_in(data: bytes) -> int:
    """Lines as a reader of this file counts them: ends of line, and a last line without one. A
    file with CRs and no LF ends its lines in CR (these files are shorter than the reader's probe)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    end = b"\r" if b"\n" not in data and b"\r" in data else b"\n"
    return data.count(end) + (0 if not data or data.endswith(end) else 1)


@budget(30)
@given(data=_file_bytes(), compressed=st.booleans())
@example(data=REGRESSIONS[0], compressed=False)
@example(data=REGRESSIONS[1], compressed=False)
@example(data=REGRESSIONS[2], compressed=False)
@example(data=REGRESSIONS[3], compressed=True)
@example(data=REGRESSIONS[4], compressed=False)
@example(data=REGRESSIONS[5], compressed=False)
def test_any_bytes_load_with_every_line_accounted(tmp_path_factory, data, compressed):
    """Any file in a directory: loaded, or refused with one of the project's errors; its lines are
    parsed, continuation, rejected or unread, and add up to the lines in the file. Bytes that start
    with a gzip or bzip2 magic number are an archive when they inflate at all (a damaged one is read
    as far as it goes, and a note says what was lost), text otherwise (and a note says so)."""
    folder = tmp_path_factory.mktemp("fuzz")
    name = "app.log.gz" if compressed else "app.log"
    (folder / name).write_bytes(gzip.compress(data) if compressed else data)
    try:
        logs = ingest.load([folder])
    except errors.LoganalyzerError:
        return
    rows = logs.stats.to_dict("records")  # a file of several layouts has a row for each
    assert {r["file"] for r in rows} == {str(folder / name)}
    row = {k: sum(int(r[k] or 0) for r in rows) for k in ("lines", "parsed", "continuation", "rejected", "unread",
                                                          "batched")}
    assert row["lines"] + row["batched"] == row["parsed"] + row["continuation"] + row["rejected"] + row["unread"]
    if not compressed and data.startswith((b"\x1f\x8b", b"BZh")) and row["lines"] != _lines_in(data):
        assert any(name in n for n in logs.notes), logs.notes
        return
    assert row["lines"] == _lines_in(data)
    kept = sum(len(f) for f in logs.polars.values())
    assert kept == row["parsed"]
    assert len(logs.rejects) == row["rejected"]


@budget(10)
@given(data=_file_bytes())
def test_any_bytes_analyse_without_a_crash(tmp_path_factory, data):
    """The whole analysis on any file: a result, or one of the project's errors."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "client.log").write_bytes(data)
    try:
        a = loganalyzer.analyze([folder])
    except errors.LoganalyzerError:
        return
    json.dumps(a.to_dict(), default=str)


@pytest.mark.parametrize("data", REGRESSIONS)
def test_regressions_load_as_one_file_named_alone(tmp_path, data):
    """Named on its own (not inside a directory), a file no format reads is refused in one line."""
    path = tmp_path / "x.log"
    path.write_bytes(data)
    try:
        logs = ingest.load([path])
    except errors.LoganalyzerError as exc:
        assert "\n" not in str(exc)
        return
    for row in logs.stats.to_dict("records"):
        assert row["lines"] == row["parsed"] + row["continuation"] + row["rejected"] + row["unread"]
