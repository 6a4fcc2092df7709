"""Streaming parse: iter_parse over chunks, `parse` without holding a whole file, and the line-length cap."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from loganalyzer.parsers import engine
from loganalyzer.parsers.formats import compile_definition, load_definitions

import loganalyzer
from loganalyzer import ingest, sources
from loganalyzer.cli import cli

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "samples" / "trailing-comma" / "logs"
FORMATS = {d.name: compile_definition(d) for d in load_definitions()}
ACCESS = '10.0.0.1 - - [24/Nov/2026:10:15:0{n} +0300] "GET /a HTTP/1.1" 200 5 "-" "curl/8"\n'


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def _chunks(path: Path, chunk_bytes: int) -> list[pl.Series]:
    return list(sources.line_chunks(str(path), sources.ReadStats("utf-8"), chunk_bytes))


@pytest.mark.parametrize(("name", "fmt"), [("crm.log", "spring_boot_2"), ("access.log", "main")])
def test_iter_parse_in_small_chunks_gives_what_one_parse_gives(name, fmt):
    lines = pl.concat(_chunks(LOGS / name, 1 << 30))
    whole = engine.parse(lines, FORMATS[fmt], "UTC")
    pieces = [lines.slice(i, 41) for i in range(0, len(lines), 41)]
    results = list(engine.iter_parse(pieces, FORMATS[fmt], "UTC"))
    assert len(results) > 5  # really chunked
    # Chunks follow each other: every result's lines start after the previous result's.
    firsts = [r.entries["line"].min() for r in results if r.parsed]
    assert firsts == sorted(firsts)
    joined = engine.concat_results(results)
    assert (joined.lines, joined.parsed, joined.continuation, joined.rejected) == \
        (whole.lines, whole.parsed, whole.continuation, whole.rejected)
    # A stack trace that straddles a chunk boundary stays with its entry.
    assert joined.entries.equals(whole.entries.select(joined.entries.columns))
    assert engine.parse_stream(pieces, FORMATS[fmt], "UTC").entries.equals(joined.entries)


def test_iter_parse_of_nothing_yields_one_empty_result():
    results = list(engine.iter_parse([], FORMATS["combined"], None))
    assert len(results) == 1 and results[0].lines == 0 and results[0].entries.height == 0


def test_parse_files_counts_what_load_counts():
    logs = loganalyzer.load(LOGS)
    report = ingest.parse_files(LOGS, samples=2)
    want = logs.stats.set_index("file")
    assert len(report.stats) == len(want)
    for row in report.stats:
        w = want.loc[row["file"]]
        assert (row["lines"], row["parsed"], row["continuation"], row["rejected"]) == \
            (w["lines"], w["parsed"], w["continuation"], w["rejected"])
        assert row["first_ts"] == w["first_ts"] and row["last_ts"] == w["last_ts"]
        assert row["logs_upstream_status"] == w["logs_upstream_status"]
    assert report.rejected == len(logs.rejects)
    assert report.notes == logs.notes


def test_a_counting_parse_says_what_the_layout_logs(tmp_path):
    """Past its first chunk a file is counted (its entries carry their time alone): whether the
    access log records $upstream_status is told by its layout, as a full load tells it."""
    big = tmp_path / "access.log"
    big.write_bytes((LOGS / "access.log").read_bytes() * 40)  # past the sample read whole
    (row,) = ingest.parse_files(big).stats
    assert row["logs_upstream_status"] is True
    assert row["logs_upstream_status"] == bool(loganalyzer.load(big).stats["logs_upstream_status"].iloc[0])


def test_parse_out_writes_every_entry_once(tmp_path):
    logs = loganalyzer.load(LOGS)
    out = tmp_path / "entries.parquet"
    result = run("parse", LOGS, "--out", out)
    total = sum(len(logs[k]) for k in logs)
    assert result.exit_code == 0 and f"wrote {total:,} entries" in result.output
    df = pl.read_parquet(out)
    assert df.height == total
    assert df.select("file", "line").n_unique() == total
    assert set(df["source"].unique()) == set(logs)
    # No part file is left behind.
    assert [p.name for p in tmp_path.iterdir()] == ["entries.parquet"]


def test_parse_out_keeps_the_window_only(tmp_path):
    out = tmp_path / "entries.csv"
    result = run("parse", LOGS / "access.log", "--since", "2026-11-26T01:14:30Z", "--until", "2026-11-26T01:14:50Z",
                 "--out", out)
    assert result.exit_code == 0
    ts = pl.read_csv(out)["ts"].str.to_datetime(time_zone="UTC")
    assert ts.len() > 0
    assert ts.dt.strftime("%H:%M:%S").is_between("01:14:30", "01:14:50").all()
    whole = loganalyzer.load(LOGS / "access.log")["nginx_access"]
    assert ts.len() < len(whole)


def test_a_line_past_the_cap_is_cut_when_read_and_rejected(tmp_path):
    cap = sources.MAX_LINE_BYTES
    path = tmp_path / "access.log"
    path.write_text(ACCESS.format(n=1) + "y" * (5 * cap) + "\n" + ACCESS.format(n=2) + "z" * (cap + 100) + "\n"
                    + ACCESS.format(n=3))
    chunks = _chunks(path, 64 << 10)
    # Memory stays bounded: no line that reaches the parser is much longer than the cap.
    assert max(c.str.len_bytes().max() for c in chunks) <= cap + 4
    r = engine.parse_stream(chunks, FORMATS["combined"], None)
    assert (r.lines, r.parsed, r.rejected) == (5, 3, 2)
    assert r.rejects["line"].to_list() == [2, 4]
    assert r.rejects["reason"].str.contains("longer than 1,048,576 bytes").all()
    assert r.rejects["text"].str.len_chars().max() == engine.LONG_LINE_KEPT


def test_a_line_of_exactly_the_cap_is_read_whole(tmp_path):
    cap = sources.MAX_LINE_BYTES
    line = ACCESS.format(n=1).rstrip("\n")
    line = line + " " * (cap - len(line))  # still a combined line? trailing spaces do not match: a reject
    path = tmp_path / "a.log"
    path.write_text(line + "\n" + ACCESS.format(n=2))
    chunks = _chunks(path, 64 << 10)
    assert chunks[0][0] == line  # not cut
    r = engine.parse_stream(chunks, FORMATS["combined"], None)
    assert r.rejected == 1 and "does not match" in r.rejects["reason"][0]


def test_the_cap_counts_bytes_across_blocks_and_gzip(tmp_path):
    cap = sources.MAX_LINE_BYTES
    text = ("é" * (3 * cap // 2) + "\n") + ACCESS.format(n=1)
    path = tmp_path / "a.log.gz"
    path.write_bytes(gzip.compress(text.encode()))
    stats = sources.ReadStats("utf-8")
    chunks = list(sources.line_chunks(str(path), stats))
    first = chunks[0][0]
    # Cut at a character boundary: valid text, nothing replaced, just past the cap.
    assert cap < len(first.encode()) <= cap + 4 and set(first) == {"é"} and stats.replaced == 0
    assert chunks[-1][-1] == ACCESS.format(n=1).rstrip("\n")
