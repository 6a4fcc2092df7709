"""--since/--until read what people type; a window that leaves nothing says what the logs cover."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

import loganalyzer
from loganalyzer import timewindow
from tests.conftest import SAMPLES

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text,want", [
    ("now", "2026-11-26T12:00:00"), ("-2h", "2026-11-26T10:00:00"), ("2h", "2026-11-26T10:00:00"),
    ("30m ago", "2026-11-26T11:30:00"), ("1h30m", "2026-11-26T10:30:00"), ("yesterday", "2026-11-25T00:00:00"),
    ("today", "2026-11-26T00:00:00"), ("2026-11-26T04:14:40+03:00", "2026-11-26T01:14:40"),
    ("2026-11-26 01:14:40", "2026-11-26T01:14:40"), ("2026-11-26T01:14:40Z", "2026-11-26T01:14:40"),
])
def test_instants(text, want):
    got = timewindow.parse_when(text, now=NOW).resolve(None)
    assert got.replace(tzinfo=None).isoformat() == want


def test_a_time_of_day_is_on_the_logs_date_and_in_the_zone_given():
    w = timewindow.parse_when("09:14", zone="Europe/Berlin")
    assert w.resolve(date(2026, 11, 26)).isoformat() == "2026-11-26T08:14:00+00:00"


@pytest.mark.parametrize("text", ["garbage", "25:00", "1 hour-ish", "2026-13-40"])
def test_garbage_is_refused(text):
    with pytest.raises(loganalyzer.UsageError):
        timewindow.parse_when(text, now=NOW)


def test_a_window_that_leaves_nothing_says_what_the_logs_cover():
    logs = loganalyzer.load(SAMPLES / "trailing-comma" / "logs" / "access.log", since="2030-01-01T00:00:00Z")
    assert any("leaves no entry: the logs cover 2026-11-26 01:14:19" in n for n in logs.notes)


def test_a_clock_time_window_cuts_the_incident():
    a = loganalyzer.analyze(SAMPLES / "trailing-comma" / "logs", since="01:14:40")
    assert 0 < len(a.requests) < 444 and (a.requests["ts"] >= "2026-11-26 01:14:40+00:00").all()
