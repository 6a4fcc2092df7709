"""Progress hooks: the library says what it is doing; whoever listens decides how to show it.

The library never draws anything. :func:`reporting` installs a :class:`Listener` for the length of
a ``with`` block (the command line installs one that draws a bar on a terminal); without one every
hook is a no-op costing one attribute lookup. Hooks are called per chunk of a file (about 8 MB) and
per stage, never per line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

T = TypeVar("T")


class Listener(Protocol):
    def file(self, path: str, size: int | None) -> object:
        """A file starts being read; ``size`` is its size on disk (None for stdin). Returns a handle."""

    def advance(self, handle: object, done: int) -> None:
        """``done`` bytes of that file (on disk) are read."""

    def stage(self, name: str) -> None:
        """A stage begins (the previous one, if any, has ended)."""


class _Silent:
    def file(self, path: str, size: int | None) -> object:
        return None

    def advance(self, handle: object, done: int) -> None:
        pass

    def stage(self, name: str) -> None:
        pass


_listener: Listener = _Silent()


@contextmanager
def reporting(listener: Listener) -> Iterator[Listener]:
    """Send the library's progress to ``listener`` inside the block."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield listener
    finally:
        _listener = previous


def stage(name: str) -> None:
    _listener.stage(name)


def track(chunks: Iterator[T], path: str, done: Callable[[], int]) -> Iterator[T]:
    """``chunks`` as they are, telling the listener after each how many bytes ``done()`` says are read."""
    if isinstance(_listener, _Silent):
        yield from chunks
        return
    try:
        size = None if path == "-" else os.stat(path).st_size
    except OSError:
        size = None
    handle = _listener.file(path, size)
    for chunk in chunks:
        _listener.advance(handle, done())
        yield chunk
    _listener.advance(handle, size if size is not None else done())


class Timings:
    """A listener's helper: how long each stage took (for ``-v``)."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, float]] = []
        self._started: tuple[str, float] | None = None

    def begin(self, name: str) -> None:
        self.end()
        self._started = (name, time.perf_counter())

    def end(self) -> None:
        if self._started:
            name, t0 = self._started
            self.stages.append((name, time.perf_counter() - t0))
            self._started = None
