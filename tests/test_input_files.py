"""Files named twice, links, special files and blank files: each read once, refused, or accounted."""

from __future__ import annotations

import os

import pytest

import loganalyzer
from loganalyzer import analyze, redact
from tests.conftest import SAMPLES

LOGS = SAMPLES / "trailing-comma" / "logs"


def test_a_file_named_twice_or_through_a_link_is_read_once(tmp_path):
    link = tmp_path / "again.log"
    link.symlink_to(LOGS / "access.log")
    once = analyze(LOGS)
    twice = analyze([LOGS, LOGS / "access.log", link, LOGS / "vac.log"])
    assert len(twice.requests) == len(once.requests) == 444
    assert [o.seconds for o in twice.offsets] == [o.seconds for o in once.offsets]
    assert sum("read once" in n for n in twice.entries.notes) == 3


@pytest.mark.parametrize("make", ["fifo", "device"])
def test_special_files_named_on_their_own_are_refused(tmp_path, make):
    if make == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    else:
        path = "/dev/zero"
    with pytest.raises(loganalyzer.LoadError, match="not a log file"):
        loganalyzer.load(path)


def test_a_fifo_inside_a_directory_is_passed_over(tmp_path, write):
    os.mkfifo(tmp_path / "pipe.log")
    write("access.log", (LOGS / "access.log").read_text()[:2000].rsplit("\n", 1)[0] + "\n")
    logs = loganalyzer.load(tmp_path)
    assert any("pipe.log: not a regular file" in n for n in logs.notes)


def test_a_whitespace_only_file_has_every_line_in_a_bucket(write):
    logs = loganalyzer.load([write("blank.log", "  \n\n \t\n"), LOGS / "access.log"])
    row = logs.stats[logs.stats["file"].str.endswith("blank.log")].iloc[0]
    assert row["lines"] == 3 and row["unread"] == 3
    for r in logs.stats.itertuples():
        assert r.lines == r.parsed + r.continuation + r.rejected + r.unread


@pytest.mark.parametrize("text,secret", [
    ("GET https://bob:hunter2@api.example/x", "hunter2"),
    ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ('{"Authorization": "Basic dXNlcjpwYXNz"}', "dXNlcjpwYXNz"),
    ("Cookie: session=abc123def", "abc123def"),
    ("Set-Cookie: sid=s3cr3t; HttpOnly", "s3cr3t"),
    ("X-Api-Key: 9f8e7d6c5b", "9f8e7d6c5b"),
    ("client_secret=cs-42-xyz", "cs-42-xyz"),
    ("POST /token?client_secret=qqq&grant_type=x", "qqq"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJhbGciOiJIUzI1NiJ9"),
])
def test_every_secret_kind_is_masked(text, secret):
    assert secret not in redact.mask_text(text)


def test_control_characters_are_made_visible():
    shown = redact.printable("a\x1b]0;pwned\x07b\x9b2Jc\rd\x08e\x00")
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in shown)
    assert "\\e]0;pwned\\a" in shown and "\\x9b" in shown


def test_a_user_mask_pattern_is_checked_and_applied():
    with pytest.raises(loganalyzer.UsageError, match="not a valid regex"):
        redact.add_patterns(["("])
    redact.add_patterns([r"cust-\d{6}"])
    try:
        assert redact.mask_text("id cust-123456 ok") == "id **** ok"
    finally:
        redact.PATTERNS.remove((r"cust-\d{6}", redact.MASK))
