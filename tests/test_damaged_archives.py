"""Damaged archives: every line decoded before the damage is kept, and a note names the damage."""

from __future__ import annotations

import bz2
import gzip

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
