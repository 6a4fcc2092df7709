"""Rotated sets of log files (``x.log.2.gz``, ``x.log.1``, ``x.log``, ``x.log-20261126``), oldest first.

Kept apart from the loader so that a scan finds its files without importing the parsing stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

ROTATED = re.compile(r"^(?P<base>.+?)(?:\.(?P<n>\d+)|-(?P<date>\d{8}(?:\d{2})?))?(?P<z>\.gz|\.bz2)?$")


def rotation_key(path: Path) -> tuple[str, int, int, str]:
    """Sort key: rotated set, then age (``x.log.9`` is older than ``x.log.1``; the live file last)."""
    m = ROTATED.match(path.name)
    assert m is not None
    base = str(path.parent / m.group("base"))
    if m.group("n") is not None:
        return base, 0, -int(m.group("n")), ""
    if m.group("date") is not None:
        return base, 0, 0, m.group("date")
    return base, 1, 0, ""


def order_rotated(paths: Iterable[Path]) -> list[Path]:
    """Order files so each rotated set reads oldest first: ``x.log.2.gz, x.log.1, x.log``."""
    return sorted(paths, key=rotation_key)
