"""Where each log file was left: its identity, the bytes and lines read, and reading what is new.

A file is known by the hash of its first bytes (decompressed), not by its name: ``access.log``
renamed to ``access.log.1`` and compressed to ``access.log.2.gz`` is still the file read last
night, and only what was appended since is read. The device and inode break ties (the same first
bytes in two files); a file shorter than what was read of it was truncated and is read afresh. A
half-written last line is left for the next run, unless the run is told the logs are complete.

Each run also carries the last minutes of every file over to the next (the ``carry`` bytes), so a
request whose lines straddle two runs is correlated with all of them, once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from loganalyzer import sources

#: Bytes of a file's start that identify it.
HEAD_BYTES = 4096


@dataclass
class Cursor:
    """What was read of one file, as the history keeps it."""

    identity: str  # sha256 of the first head_len bytes, decompressed
    head_len: int
    path: str  # where it was last seen
    device: int
    inode: int
    size: int  # bytes on disk when last seen
    offset: int  # decompressed bytes read, always up to a line end
    lines: int  # lines read
    source: str  # the configured source it belongs to
    fmt: str | None = None  # the format it was read with (kept, so every piece is read alike)
    carry: bytes = b""  # its last lines, read again with the next run's
    carry_line: int = 0  # the line number of carry's first line
    last_growth: float = 0.0  # when (wall clock, seconds) it last grew
    gone: bool = False
    id: int | None = None  # the history's row


@dataclass
class Piece:
    """The part of one file a run reads: what it carried over, then what is new."""

    path: str
    cursor: Cursor  # as it stands after this run
    start: int  # first new byte (decompressed)
    end: int  # end of the new bytes read
    first_line: int  # the line number of the staged text's first line
    new_lines: int
    status: str  # new, grown, unchanged, rotated, truncated, gone
    staged: str | None = None  # the file holding the text to parse (carry + new bytes)
    carried_lines: int = 0  # of which lines carried over from the last run
    more: bool = False  # the file has more to read than this batch took
    notes: list[str] = field(default_factory=list)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def head(path: str) -> bytes:
    """The first :data:`HEAD_BYTES` of a file, decompressed."""
    stats = sources.ReadStats("utf-8")
    got = bytearray()
    for block in sources.decompressed(path, stats):
        got += block
        if len(got) >= HEAD_BYTES:
            break
    return bytes(got[:HEAD_BYTES])


def match(path: str, st: os.stat_result, first: bytes, cursors: list[Cursor], claimed: set[int]) -> Cursor | None:
    """The cursor of the file that starts with ``first``: the same inode first, else the one read furthest."""
    found = [c for i, c in enumerate(cursors) if i not in claimed and 0 < c.head_len <= len(first)
             and _digest(first[: c.head_len]) == c.identity]
    if not found:
        return None
    same = [c for c in found if (c.device, c.inode) == (st.st_dev, st.st_ino)]
    return (same or sorted(found, key=lambda c: -c.offset))[0]


def _gzip_holds(path: str, length: int) -> bool:
    """Whether a gzip file's trailer says it holds ``length`` bytes (modulo 2**32): a log compressed
    by rotation after it was read to its end need not be inflated to learn there is nothing new."""
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b":
                return False
            f.seek(-4, os.SEEK_END)
            return int.from_bytes(f.read(4), "little") == length % (1 << 32)
    except OSError:
        return False


def new_bytes(path: str, start: int, complete: bool, limit: int | None, more: list[bool]) -> Iterator[bytes]:
    """The file's decompressed bytes from ``start``; without ``complete``, only up to the last line end.

    With ``limit``, it stops at the first line end after ``limit`` bytes and sets ``more[0]``.
    """
    stats = sources.ReadStats("utf-8")
    pending = b""
    given = 0
    for block in sources.decompressed(path, stats, start, resumable=True):
        if limit is not None and given >= limit:
            more[0] = True
            return
        data = pending + block
        if limit is not None and given + len(data) > limit:
            # Stop at the first line end past the limit: a batch is whole lines.
            nl = data.find(b"\n", max(0, limit - given))
            if nl >= 0:
                yield data[: nl + 1]
                more[0] = True
                return
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
            given += cut
            pending = data[cut:]
        else:
            pending = data
    if complete and pending:
        yield pending + b"\n"


@dataclass
class Plan:
    """What a run will read of one file: from where, after which carried lines."""

    source: str
    path: str
    cursor: Cursor  # as it was left
    status: str
    start: int
    first_line: int
    size: int  # on disk now
    unchanged: bool = False


def plan(files: Iterable[tuple[str, str]], known: list[Cursor], now: float, complete: bool = False
         ) -> tuple[list[Plan], list[Cursor]]:
    """Which bytes of ``files`` (``(source, path)`` pairs, rotated sets oldest first) are new.

    Returns a plan per file and the cursors of files no longer found: marked gone, they keep their
    carried lines (a plan of their own reads those, so nothing they held is lost).
    """
    claimed: set[int] = set()
    plans: list[Plan] = []
    for source, path in files:
        try:
            st = os.stat(path)
            first = head(path)
        except (OSError, sources.ReadError):
            continue  # vanished between listing and reading: the next run sees where it went
        if not first:
            continue  # empty: nothing to know it by yet
        old = match(path, st, first, known, claimed)
        status = "new"
        if old is not None:
            claimed.add(known.index(old))
            status = "grown" if old.path == path else "rotated"
            cur = replace(old, path=path, device=st.st_dev, inode=st.st_ino, gone=False)
            same = st.st_size == old.size and (old.device, old.inode) == (st.st_dev, st.st_ino)
            if (same or _gzip_holds(path, old.offset)) and not complete and not old.carry:
                plans.append(Plan(source, path, cur, "unchanged", cur.offset, cur.lines + 1, st.st_size, True))
                continue
            if same:  # nothing new, but lines carried from the last run to read again
                status = "unchanged"
        else:
            same_inode = next((c for i, c in enumerate(known) if i not in claimed
                               and (c.device, c.inode) == (st.st_dev, st.st_ino) and c.path == path), None)
            if same_inode is not None:  # the same file, its start rewritten: truncated and written again
                claimed.add(known.index(same_inode))
                status = "truncated"
            cur = Cursor(_digest(first), len(first), path, st.st_dev, st.st_ino, st.st_size, 0, 0, source,
                         last_growth=now)
        if len(first) > cur.head_len:
            cur = replace(cur, head_len=len(first), identity=_digest(first))
        plans.append(Plan(source, path, cur, status, cur.offset, cur.carry_line if cur.carry else cur.lines + 1,
                          st.st_size))
    gone = []
    for i, c in enumerate(known):
        if i in claimed or (c.gone and not c.carry):
            continue
        g = replace(c, gone=True)
        if c.carry:  # the file went, its last lines did not
            plans.append(Plan(c.source, c.path, g, "gone", c.offset, c.carry_line, c.size))
        else:
            gone.append(g)
    return plans, gone


def settle(p: Plan, got: int, lines: int, more: bool, now: float) -> Cursor:
    """The cursor after reading ``got`` bytes (``lines`` lines) of what ``p`` planned."""
    cur = p.cursor
    if p.status == "gone":
        return cur
    # The size on disk marks the file as read to its end; a file with more to read keeps the old one.
    return replace(cur, size=cur.size if more else p.size, offset=p.start + got, lines=cur.lines + lines,
                   last_growth=now if got else cur.last_growth)


def read_range(path: str, carry: bytes, start: int, complete: bool, limit: int | None, new: bool = True
               ) -> tuple[bytes, int, int, bool]:
    """``carry``, then the file's new bytes from ``start`` (at most about ``limit``); returns the
    bytes, how many are new, their lines, and whether the file has more. A file already carrying
    half a batch reads nothing new: it is ahead of the others in time, and waits for them."""
    more = [False]
    chunks = [carry]
    got = lines = 0
    if new and limit is not None and len(carry) >= limit // 2:
        more[0] = True
    elif new:
        for block in new_bytes(path, start, complete, limit, more):
            chunks.append(block)
            got += len(block)
            lines += block.count(b"\n")
    return b"".join(chunks), got, lines, more[0]


def advance(files: Iterable[tuple[str, str]], known: list[Cursor], stage: Path, now: float,
            complete: bool = False, limit: int | None = None) -> tuple[list[Piece], list[Cursor]]:
    """Read what is new in ``files`` into staged copies in ``stage`` (:func:`plan`, then the bytes).

    Each file with something to parse gets a staged copy: its carried-over lines, then its new
    bytes. ``limit``: read at most about this many new bytes of each file (a batch); a piece with
    more to read says so. A file already carrying half a batch reads nothing new: it is ahead of
    the others in time, and waits for them.
    """
    stage.mkdir(parents=True, exist_ok=True)
    plans, gone = plan(files, known, now, complete)
    pieces = []
    for n, p in enumerate(plans):
        cur = p.cursor
        if p.unchanged:
            pieces.append(Piece(p.path, cur, cur.offset, cur.offset, cur.lines + 1, 0, "unchanged"))
            continue
        staged = stage / f"{n:05d}-{Path(p.path).name}"
        data, got, lines, more = read_range(p.path, cur.carry, p.start, complete, limit,
                                            new=p.status != "gone")
        staged.write_bytes(data)
        status = "unchanged" if p.status == "grown" and not got else p.status
        pieces.append(Piece(p.path, settle(p, got, lines, more, now), p.start, p.start + got, p.first_line, lines,
                            status, str(staged) if (got or cur.carry) else None, cur.carry.count(b"\n"), more))
    return pieces, gone
