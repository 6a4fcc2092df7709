"""Durations and sizes as settings and options write them (``"90s"``, ``"5m"``, ``"256MB"``)."""

from __future__ import annotations

import re
from typing import Any

from loganalyzer import errors


def duration(value: Any, what: str) -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"1h"`` or ``"2d"``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
    if not m:
        raise errors.ConfigError(f"{what}: expected a duration such as 90s, 5m, 1h or 2d, got {value!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def size(value: Any, what: str) -> int:
    """Bytes from ``1048576``, ``"64KB"``, ``"256MB"`` or ``"1GB"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)i?B?\s*", str(value), re.I)
    if not m or float(m.group(1)) <= 0:
        raise errors.ConfigError(f"{what}: expected a size such as 64KB, 256MB or 1GB, got {value!r}")
    return int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()])
