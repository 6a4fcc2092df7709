"""Line ends: LF, CR LF, and CR alone (classic Mac), told apart per file by the reader."""

from __future__ import annotations

import gzip

import polars as pl
import pytest

import loganalyzer
from loganalyzer import cursors, sources

ACCESS = '10.0.0.1 - - [24/Nov/2026:10:15:{s:02d} +0300] "GET /a/{s} HTTP/1.1" 200 5 "-" "curl/8"'
CRM = "2026-11-26 09:14:{s:02d}.070  INFO 1 --- [nio-8080-exec-1] c.e.Api : request {s} done"


def _lines(template: str, n: int) -> list[str]:
    return [template.format(s=i % 60) for i in range(n)]


def _read(path, chunk_bytes: int = sources.CHUNK_BYTES) -> list[str]:
    chunks = sources.line_chunks(str(path), sources.ReadStats("utf-8"), chunk_bytes)
    return pl.concat(list(chunks)).to_list()


@pytest.mark.parametrize("compressed", [False, True])
def test_a_file_of_cr_line_ends_is_read_line_by_line(tmp_path, compressed):
    lines = _lines(ACCESS, 50)
    data = ("\r".join(lines) + "\r").encode()
    path = tmp_path / ("cr.log.gz" if compressed else "cr.log")
    path.write_bytes(gzip.compress(data) if compressed else data)
    logs = loganalyzer.load(path)
    row = logs.stats.iloc[0]
    assert (row.lines, row.parsed, row.rejected) == (50, 50, 0)
    assert logs["nginx_access"]["path"].tolist() == [f"/a/{i}" for i in range(50)]


def test_cr_ends_are_split_across_chunks_and_blocks(tmp_path):
    """Small chunks, and a CR at a block's end that a CR LF's LF follows: each line once, none joined.
    (A CR LF past the file's start is one line end; a file that starts with one is a file of LF ends.)"""
    lines = _lines(CRM, 6000)
    ends = ["\r\n" if i % 7 == 0 and i > 1000 else "\r" for i in range(len(lines))]
    data = "".join(x + e for x, e in zip(lines, ends, strict=True)).encode()
    path = tmp_path / "crm.log"
    path.write_bytes(data)
    read = _read(path, chunk_bytes=8 << 10)
    assert read == lines
    # The same through blocks cut right between a CR and its LF.
    cut = data.index(b"\r\n", 70 << 10) + 1
    blocks = [data[:cut], data[cut:]]
    assert b"".join(sources._cr_line_ends(iter(blocks))).count(b"\n") == len(lines)


def test_a_cr_inside_a_line_of_an_lf_file_is_text_not_a_line_end(tmp_path):
    """A CR logged inside a field (an attacker's user agent) does not forge a line of its own."""
    forged = ACCESS.format(s=1).replace("curl/8", 'x\r10.6.6.6 - - [24/Nov/2026:10:15:09 +0300] "GET /forged')
    path = tmp_path / "access.log"
    path.write_text("\n".join([ACCESS.format(s=0), forged, ACCESS.format(s=2)]) + "\n", encoding="utf-8")
    read = _read(path)
    assert len(read) == 3 and "\r" in read[1]
    logs = loganalyzer.load(path)
    assert "/forged" not in logs["nginx_access"]["path"].tolist()
    assert logs.stats.iloc[0].lines == 3


def test_crlf_files_keep_one_line_end_per_line(tmp_path):
    lines = _lines(CRM, 300)
    path = tmp_path / "crm.log"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    assert _read(path, chunk_bytes=4 << 10) == lines


def test_evidence_lines_of_a_cr_file_are_its_own_lines(tmp_path):
    lines = _lines(CRM, 40)
    path = tmp_path / "crm.log"
    path.write_bytes("\r".join(lines).encode())
    assert sources.lines_at(str(path), "utf-8", {3, 40}) == {3: lines[2], 40: lines[39]}


def test_the_scan_reads_a_cr_file_in_whole_lines(tmp_path):
    """The scan's byte ranges end at line ends: a CR file's are found, and offsets are the file's."""
    lines = _lines(CRM, 30)
    data = ("\r".join(lines) + "\r").encode()
    path = tmp_path / "crm.log"
    path.write_bytes(data + b"half a line")
    got, new, count, more = cursors.read_range(str(path), b"", 0, complete=False, limit=None)
    assert (new, count, more) == (len(data), 30, False)
    assert got.decode().splitlines() == lines
    # Read on from where it stopped: the rest of the file, its offsets unchanged.
    rest, new, count, _ = cursors.read_range(str(path), b"", len(data), complete=True, limit=None)
    assert (rest, count) == (b"half a line\n", 1)
