"""Damaged archives: every line decoded before the damage is kept, and a note names the damage."""

from __future__ import annotations

import bz2
import gzip

import pytest

import loganalyzer
from tests.conftest import SAMPLES, accounted

RAW = (SAMPLES / "trailing-comma" / "logs" / "access.log").read_bytes()


def test_a_damaged_crc_trailer_keeps_every_line_and_says_so(write):
    data = bytearray(gzip.compress(RAW))
    data[-6] ^= 0xFF  # inside the CRC32 of the trailer
    logs = loganalyzer.load(write("access.log.gz", bytes(data)))
    assert int(logs.stats.iloc[0]["parsed"]) == 444
    assert any("gzip check failed" in n for n in logs.notes)
    accounted(logs)


def test_a_truncated_gzip_keeps_what_it_holds(write):
    data = gzip.compress(RAW)
    logs = loganalyzer.load(write("access.log.gz", data[: len(data) // 2]))
    row = logs.stats.iloc[0]
    assert 100 < row["parsed"] < 444 and any("truncated" in n for n in logs.notes)
    accounted(logs)


def test_concatenated_gzip_members_are_all_read(write):
    logs = loganalyzer.load(write("access.log.gz", gzip.compress(RAW) + gzip.compress(RAW)))
    assert int(logs.stats.iloc[0]["parsed"]) == 888


def test_a_truncated_single_block_bzip2_is_truncated_not_empty(write, tmp_path):
    data = bz2.compress(RAW)
    write("logs/access.log.bz2", data[: len(data) // 2])
    write("logs/error.log", (SAMPLES / "trailing-comma" / "logs" / "error.log").read_text())
    logs = loganalyzer.load(tmp_path / "logs")
    assert any("bzip2 file is truncated" in n for n in logs.notes)
    assert not any("empty file" in n for n in logs.notes)


@pytest.mark.parametrize(("magic", "archive"), [(b"\x1f\x8b", "gzip"), (b"\x1f\x8b\x08\x00", "gzip"),
                                                (b"BZh", "bzip2"), (b"BZh9", "bzip2")])
def test_text_that_starts_with_an_archive_magic_number_is_read_as_text(write, tmp_path, magic, archive):
    """Decompression that fails before anything is inflated: the file is text after all, read whole."""
    text = magic + b" junk before the log\n" + RAW
    write("logs/access.log", text)
    write("logs/error.log", (SAMPLES / "trailing-comma" / "logs" / "error.log").read_text())
    logs = loganalyzer.load(tmp_path / "logs")
    row = logs.stats.set_index("file").loc[str(tmp_path / "logs" / "access.log")]
    assert (row["lines"], row["parsed"], row["rejected"]) == (445, 444, 1)
    assert any(f"starts like a {archive} file but is not one" in n and "read as text" in n for n in logs.notes)
    accounted(logs)


def test_a_real_archive_damaged_after_its_start_is_still_an_archive(write):
    """Damage past the first inflated bytes keeps the archive reading (what came before is kept)."""
    data = bytearray(gzip.compress(RAW * 40, compresslevel=1))
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    logs = loganalyzer.load(write("access.log.gz", bytes(data)))
    assert int(logs.stats.iloc[0]["parsed"]) > 1000
    assert not any("read as text" in n for n in logs.notes)
    assert any("corrupt" in n or "check failed" in n for n in logs.notes)
