"""Cursors: a file is known by its first bytes, so renames, gzip, copy-truncate and truncation are
read right; a half-written last line waits for the next run."""

from __future__ import annotations

import gzip
import os

import pytest

from loganalyzer import cursors, sources


def run(files, known, tmp_path, complete=False):
    pieces, gone = cursors.advance([("s", str(f)) for f in files], known, tmp_path / "stage", 0.0, complete)
    text = {p.path: open(p.staged, "rb").read() if p.staged else b"" for p in pieces}
    return pieces, gone, text


def lines(n0, n1):
    return b"".join(b"2026-11-26 01:00:%02d line %d\n" % (i % 60, i) for i in range(n0, n1))


def test_appended_lines_are_read_once(tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(lines(0, 100))
    pieces, _, text = run([f], [], tmp_path)
    assert text[str(f)] == lines(0, 100) and pieces[0].status == "new"
    with f.open("ab") as out:
        out.write(lines(100, 150))
    again, _, text = run([f], [pieces[0].cursor], tmp_path)
    assert text[str(f)] == lines(100, 150)
    assert (again[0].status, again[0].first_line, again[0].new_lines) == ("grown", 101, 50)
    same, _, text = run([f], [again[0].cursor], tmp_path)
    assert same[0].status == "unchanged" and text[str(f)] == b""


def test_a_half_written_line_waits_for_the_next_run(tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(lines(0, 10) + b"2026-11-26 01:00:10 half")
    pieces, _, text = run([f], [], tmp_path)
    assert text[str(f)] == lines(0, 10)
    with f.open("ab") as out:
        out.write(b" and the rest\n")
    again, _, text = run([f], [pieces[0].cursor], tmp_path)
    assert text[str(f)] == b"2026-11-26 01:00:10 half and the rest\n"
    assert again[0].first_line == 11
    # told the logs are complete, a last line without its line end is read too
    with f.open("ab") as out:
        out.write(b"tail without end")
    last, _, text = run([f], [again[0].cursor], tmp_path, complete=True)
    assert text[str(f)] == b"tail without end\n"


def test_rename_then_gzip_reads_only_what_was_appended_before_the_rename(tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(lines(0, 200))
    pieces, _, _ = run([f], [], tmp_path)
    with f.open("ab") as out:
        out.write(lines(200, 210))  # written after the last run, just before rotation
    os.rename(f, tmp_path / "a.log.1")
    (tmp_path / "a.log.2.gz").write_bytes(gzip.compress((tmp_path / "a.log.1").read_bytes()))
    (tmp_path / "a.log.1").unlink()
    f.write_bytes(lines(210, 220))
    again, gone, text = run([tmp_path / "a.log.2.gz", f], [pieces[0].cursor], tmp_path)
    assert text[str(tmp_path / "a.log.2.gz")] == lines(200, 210)
    assert text[str(f)] == lines(210, 220)
    assert {p.path: p.status for p in again} == {str(tmp_path / "a.log.2.gz"): "rotated", str(f): "new"}
    assert gone == []


def test_copy_truncate(tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(lines(0, 100))
    pieces, _, _ = run([f], [], tmp_path)
    with f.open("ab") as out:
        out.write(lines(100, 120))
    (tmp_path / "a.log.1").write_bytes(f.read_bytes())  # copy, then truncate in place
    with f.open("r+b") as out:
        out.truncate(0)
    f.write_bytes(lines(500, 510))
    again, _, text = run([tmp_path / "a.log.1", f], [pieces[0].cursor], tmp_path)
    assert text[str(tmp_path / "a.log.1")] == lines(100, 120)
    assert text[str(f)] == lines(500, 510)


def test_truncated_in_place_and_rewritten_is_read_afresh(tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(lines(0, 100))
    pieces, _, _ = run([f], [], tmp_path)
    f.write_bytes(lines(300, 305))
    again, _, text = run([f], [pieces[0].cursor], tmp_path)
    assert again[0].status == "truncated" and text[str(f)] == lines(300, 305) and again[0].first_line == 1


def test_a_file_that_disappears_keeps_its_carried_lines(tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(lines(0, 10))
    pieces, _, _ = run([f], [], tmp_path)
    cur = pieces[0].cursor
    cur.carry, cur.carry_line = lines(8, 10), 9
    f.unlink()
    again, gone, text = run([], [cur], tmp_path)
    assert [p.status for p in again] == ["gone"] and text[cur.path] == lines(8, 10) and again[0].first_line == 9
    cur.carry = b""
    _, gone, _ = run([], [cur], tmp_path)
    assert [g.gone for g in gone] == [True]


def test_a_file_compressed_after_it_was_read_to_its_end_is_not_inflated(tmp_path, monkeypatch):
    f = tmp_path / "a.log"
    f.write_bytes(lines(0, 300))
    pieces, _, _ = run([f], [], tmp_path)
    (tmp_path / "a.log.1.gz").write_bytes(gzip.compress(f.read_bytes()))
    f.unlink()
    inflated = []
    real = cursors.new_bytes
    monkeypatch.setattr(cursors, "new_bytes", lambda *a, **k: inflated.append(a) or real(*a, **k))
    again, gone, text = run([tmp_path / "a.log.1.gz"], [pieces[0].cursor], tmp_path)
    assert [p.status for p in again] == ["unchanged"] and not again[0].staged and not inflated and gone == []


@pytest.mark.parametrize("ends", [b"\n", b"\r", b"\r\n"])
def test_a_plain_file_is_read_from_its_cursor_not_from_its_start(tmp_path, ends):
    """A log read to its cursor last night is not read again: only the bytes after the cursor are,
    whatever its line ends (a CR file is told by its start, which is probed, not read through)."""
    lines = [f"2026-12-01 00:00:{i % 60:02d} line {i}".encode() for i in range(20000)]
    data = ends.join(lines) + ends
    (tmp_path / "a.log").write_bytes(data)
    start = data.index(b"line 15000")
    start = data.rindex(ends, 0, start) + len(ends)
    stats = sources.ReadStats("utf-8")
    got = b"".join(sources.decompressed(str(tmp_path / "a.log"), stats, start))
    whole = b"".join(sources.decompressed(str(tmp_path / "a.log"), sources.ReadStats("utf-8")))
    assert got == whole[start:]
    assert stats.read_bytes == len(data) - start
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(data))
    assert b"".join(sources.decompressed(str(gz), sources.ReadStats("utf-8"), start)) == whole[start:]
