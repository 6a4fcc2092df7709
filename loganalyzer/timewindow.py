"""Times people type for a window (``--since``/``--until``), read as they mean them.

Accepted: ``now``; ``today``, ``yesterday`` (midnight); relative times back from now (``-2h``,
``2h``, ``30m ago``, ``1d``, ``90s``, ``1h30m``); a time of day ``HH:MM[:SS]`` (on the logs' own
date: the incident's, not today's); an ISO date or date-time, with an offset or ``Z`` (taken as
given) or without (in the zone given, else UTC). Anything else is refused before any log is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from loganalyzer import errors

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RELATIVE = re.compile(r"^-?\s*((?:\d+(?:\.\d+)?\s*(?:s|sec|m|min|h|d|w)\s*)+)(?:\s*ago)?$", re.I)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(sec|min|s|m|h|d|w)", re.I)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")


@dataclass(frozen=True)
class When:
    """A parsed window bound: an instant, or a time of day to place on the logs' date."""

    instant: datetime | None = None
    clock: time | None = None
    zone: str | None = None

    def resolve(self, on: date | None) -> datetime:
        """The UTC instant; a time of day goes on ``on`` (the logs' first date), else today (UTC)."""
        if self.instant is not None:
            return self.instant
        day = on or datetime.now(UTC).date()
        assert self.clock is not None
        return _localise(datetime.combine(day, self.clock), self.zone)


def _zone(zone: str | None):
    if not zone:
        return UTC
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
    if m:
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return timezone(delta if m.group(1) == "+" else -delta)
    return ZoneInfo(zone)


def _localise(naive: datetime, zone: str | None) -> datetime:
    return naive.replace(tzinfo=_zone(zone)).astimezone(UTC)


def parse_when(text: str, *, now: datetime | None = None, zone: str | None = None) -> When:
    """Read one window bound; ``zone`` places times written without an offset (default UTC)."""
    raw = text.strip()
    low = raw.lower()
    now = now or datetime.now(UTC)
    if low == "now":
        return When(instant=now)
    if low in ("today", "yesterday"):
        day = now.astimezone(_zone(zone)).date() - timedelta(days=1 if low == "yesterday" else 0)
        return When(instant=_localise(datetime.combine(day, time()), zone))
    m = _RELATIVE.match(low)
    if m:
        seconds = sum(float(n) * _UNITS[u.lower()] for n, u in _PART.findall(m.group(1)))
        return When(instant=now - timedelta(seconds=seconds))
    m = _CLOCK.match(raw)
    if m:
        hh, mm = int(m.group(1)), int(m.group(2))
        ss = int(m.group(3) or 0)
        us = int((m.group(4) or "0").ljust(6, "0"))
        if hh > 23 or mm > 59 or ss > 59:
            raise errors.UsageError(f"{text!r} is not a time of day")
        return When(clock=time(hh, mm, ss, us), zone=zone)
    iso = raw.replace("Z", "+00:00")
    if re.match(r"^\d{4}-\d{2}-\d{2} \d", iso):
        iso = iso.replace(" ", "T", 1)
    try:
        if not re.match(r"^\d{4}-\d{2}-\d{2}", iso):
            raise ValueError(iso)
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise errors.UsageError(
            f"cannot read the time {text!r}: say now, yesterday, -2h, 30m ago, 09:14, or an ISO time "
            "such as 2026-11-26T09:14:00+03:00") from None
    if parsed.tzinfo is None:
        return When(instant=_localise(parsed, zone))
    return When(instant=parsed.astimezone(UTC))
