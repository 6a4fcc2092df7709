"""How much memory an analysis of whole logs may take, checked while the logs are read.

:func:`loganalyzer.analyze` holds every parsed entry, so its memory grows with the logs: about
:data:`HELD_PER_BYTE` bytes for each byte of log text (the lines as decoded, after any
decompression). A gigabyte of logs, or a small ``.gz`` that inflates to one, would otherwise run
the machine out of memory and be killed with nothing said. The budget stops the reading instead,
as soon as the text read passes what the limit allows (before any for plain files whose sizes
already say so), with :class:`loganalyzer.errors.TooLarge`. ``parse`` and the nightly scan work in
bounded memory and take no budget.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from loganalyzer import errors, sources
from loganalyzer.units import size

#: Peak memory of ``analyze`` per byte of log text, measured on the benchmark's mixed incident
#: (``benchmarks/bench_perf.py``): 105 MB of logs peaked at 1.07 GB (0.93 GB above the imports),
#: 1.05 GB at 7.1 GB. The larger figure stands, so the estimate errs on the safe side.
HELD_PER_BYTE = 9
#: Share of the memory available at the start that an analysis may take by default.
AVAILABLE_SHARE = 0.8
#: Files smaller than this are never refused on their size (a small archive may still be).
_SMALL = 1 << 20


def available() -> int | None:
    """Bytes of memory the system can give without swapping (``MemAvailable``), else its physical
    memory; None when neither can be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def limit_of(value: Any) -> int | None:
    """The limit ``value`` names: ``"auto"`` (the default: :data:`AVAILABLE_SHARE` of the memory
    available now), a size (``"8GB"``, bytes as an int), or ``0``/``None``/``"none"``: no limit."""
    if value is None or value == 0 or (isinstance(value, str) and value.strip().lower() in ("none", "0")):
        return None
    if isinstance(value, str) and value.strip().lower() == "auto":
        free = available()
        return int(free * AVAILABLE_SHARE) if free else None
    return size(value, "max_memory")


def human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"  # pragma: no cover - the loop returns at GB


class Budget:
    """The log text an analysis may read whole: ``limit`` bytes of memory, None for no limit."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.text = 0  # bytes of log text read so far, over every file

    def check_sizes(self, paths: Iterable[str]) -> None:
        """Refuse before reading when the plain files alone are over the limit (archives are
        charged as they inflate)."""
        if self.limit is None:
            return
        total = 0
        for p in paths:
            if p == "-" or sources.is_archive(p):
                continue
            try:
                n = os.stat(p).st_size
            except OSError:
                continue  # reading it will say what is wrong
            total += n if n >= _SMALL else 0
        if total * HELD_PER_BYTE > self.limit:
            raise errors.TooLarge(self._message(total, "the files hold"), self._brief(total, "hold"))

    def charge(self, text_bytes: int) -> None:
        """Count ``text_bytes`` more of log text read; raise when the total is over the limit."""
        self.text += text_bytes
        if self.limit is not None and self.text * HELD_PER_BYTE > self.limit:
            raise errors.TooLarge(self._message(self.text, "reading stopped after"),
                                  self._brief(self.text, "passed"))

    def _brief(self, text: int, how: str) -> str:
        assert self.limit is not None
        return (f"the logs {how} {human(text)} of text, about {human(text * HELD_PER_BYTE)} held whole, over the "
                f"memory limit of {human(self.limit)}")

    def _message(self, text: int, how: str) -> str:
        assert self.limit is not None
        return (f"these logs are too large to analyse whole in the memory allowed: {how} {human(text)} of log "
                f"text, which would take about {human(text * HELD_PER_BYTE)} (about {HELD_PER_BYTE} bytes per "
                f"byte of text), over the limit of {human(self.limit)}; the nightly scan reads logs of any size "
                "in batches")
