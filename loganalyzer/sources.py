"""Reading log files as streams of line chunks: plain, gzip, bzip2 or stdin, in any encoding.

A file is never held whole in memory: it is decompressed and decoded in blocks, cut into chunks
at line ends, and each chunk is split into a polars Series of lines. A background thread reads the
next chunk while the current one is parsed (decompression and the line splitter release the GIL).
"""

from __future__ import annotations

import bisect
import bz2
import codecs
import itertools
import os
import queue
import re
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import polars as pl


try:  # zlib-ng inflates gzip about twice as fast as the standard library's zlib
    from zlib_ng import zlib_ng as _zlib
except ImportError:  # pragma: no cover - a platform without zlib-ng wheels
    _zlib = zlib

#: Bytes of lines parsed at a time. Smaller chunks hold less in memory (two are parsed at once,
#: one is read ahead) and cost no more CPU: on 300 MB of access log, 16 MB chunks peaked at 335 MB
#: of memory, 8 MB ones at 227 MB, for the same CPU time.
CHUNK_BYTES = 8 << 20
#: Lines longer than this are cut just past it when read (and rejected by the parser, which
#: rejects every line longer than this): one enormous line costs no more memory than a block.
MAX_LINE_BYTES = 1 << 20
#: Bytes read at a time; no longer than a line may be, so a block holds at most one cut.
_BLOCK = MAX_LINE_BYTES
_FFFD = "\ufffd".encode()


class ReadError(Exception):
    """A file that cannot be opened or read at all."""


@dataclass
class ReadStats:
    """What reading one file found, filled in as the chunks are read."""

    encoding: str
    replaced: int = 0  # undecodable byte sequences replaced by U+FFFD
    read_bytes: int = 0  # bytes read from the file so far (compressed, for an archive): for progress
    text_bytes: int = 0  # bytes of text handed on so far (decompressed): what holding the lines costs
    complete: bool = False  # the file was read to its end (set before its last chunk is handed on)
    notes: list[str] = field(default_factory=list)


_stdin_cache: dict[str, str] = {}


def _spool_stdin() -> str:
    """stdin copied to a temporary file (removed at exit), block by block: it can be read only once,
    and detection, parsing and evidence all read it, but holding it in memory would not scale."""
    import atexit
    import os
    import shutil
    import tempfile

    fd, name = tempfile.mkstemp(prefix="loganalyzer-stdin-")
    atexit.register(lambda: os.path.exists(name) and os.unlink(name))
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, _BLOCK)
    return name


def _open(path: str) -> BinaryIO:
    if path == "-":
        if "-" not in _stdin_cache:
            _stdin_cache["-"] = _spool_stdin()
        return Path(_stdin_cache["-"]).open("rb")
    try:
        return Path(path).open("rb")
    except OSError as exc:
        raise ReadError(f"cannot read {path}: {exc.strerror}") from None


class _Counting:
    """A binary file that counts the bytes read from it into ``stats.read_bytes``."""

    def __init__(self, f: BinaryIO, stats: ReadStats) -> None:
        self._f, self._stats = f, stats

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._stats.read_bytes += len(data)
        return data


def archive_of(head: bytes) -> str | None:
    """"gzip" or "bzip2" when a file's first bytes are that archive's magic number, else None."""
    return "gzip" if head[:2] == b"\x1f\x8b" else "bzip2" if head[:3] == b"BZh" else None


def is_archive(path: str) -> bool:
    """Whether the file starts like an archive this reader inflates (False when it cannot be opened)."""
    try:
        with open(path, "rb") as f:
            return archive_of(f.read(3)) is not None
    except OSError:
        return False


def _blocks(path: str, stats: ReadStats, start: int = 0) -> Iterator[bytes]:
    """Decompressed bytes of a file, block by block; gzip and bzip2 are recognised by magic number.

    A truncated or corrupt archive yields what it holds and says so in ``stats.notes``.
    """
    with _open(path) as raw:
        f = _Counting(raw, stats)
        head = f.read(3)
        archive = archive_of(head)
        if archive is not None:
            try:
                yield from (_gunzip if archive == "gzip" else _bunzip)(f, head, path, stats)
                return
            except _NotArchive as exc:
                # Raised before anything was inflated: text that happens to start with the magic number.
                stats.notes.append(f"{path}: starts like a {archive} file but is not one ({exc}); read as text")
                raw.seek(0)
                stats.read_bytes = 0
                head = f.read(3)
        if start:  # plain text: read from there (the caller knows it is no archive)
            raw.seek(start)
            stats.read_bytes -= len(head)
        else:
            yield head
        while block := f.read(_BLOCK):
            yield block


class _NotArchive(Exception):
    """Data that starts with an archive's magic number but is not that archive, found before any
    of it was inflated."""


#: Compressed input fed to the inflater at a time: what a corrupt block can cost at most.
_GZ_STEP = 64 << 10


def _gzip_header(data: bytes) -> int | None:
    """The length of the gzip member header at the start of ``data`` (RFC 1952), None if incomplete."""
    if len(data) < 10 or data[:2] != b"\x1f\x8b" or data[2] != 8:
        return None
    flags, pos = data[3], 10
    if flags & 4:  # FEXTRA
        if len(data) < pos + 2:
            return None
        pos += 2 + int.from_bytes(data[pos:pos + 2], "little")
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            end = data.find(b"\0", pos)
            if end < 0:
                return None
            pos = end + 1
    if flags & 2:  # FHCRC
        pos += 2
    return pos if pos <= len(data) else None


def _gunzip(f: BinaryIO, head: bytes, path: str, stats: ReadStats) -> Iterator[bytes]:
    """Inflate gzip members one after another, at most one block of output per step.

    The deflate stream is inflated raw and its CRC checked here, so that a damaged trailer costs
    no line (the data is kept, and a note says the check failed), and a corrupt block mid-stream
    costs only what follows it: input goes in small steps, and everything inflated before the
    damage has been handed on.
    """
    data = head + f.read(_BLOCK)
    member = 0
    while data:
        start = _gzip_header(data)
        while start is None and len(data) < (1 << 16):
            more = f.read(_BLOCK)
            if not more:
                break
            data += more
            start = _gzip_header(data)
        if start is None:
            if member == 0:
                raise _NotArchive("no readable gzip header")
            else:
                stats.notes.append(f"{path}: {len(data):,} bytes after gzip member {member} are not gzip; not read")
            return
        member += 1
        d = _zlib.decompressobj(-zlib.MAX_WBITS)
        crc, size = 0, 0
        data = data[start:]
        while not d.eof:
            if not data:
                data = f.read(_BLOCK)
                if not data:
                    stats.notes.append(f"{path}: gzip file is truncated; read what it holds")
                    return
            step, data = data[:_GZ_STEP], data[_GZ_STEP:]
            try:
                out = d.decompress(step)
                while out or d.unconsumed_tail:
                    if out:
                        crc, size = zlib.crc32(out, crc), size + len(out)
                        yield out
                    if not d.unconsumed_tail:
                        break
                    out = d.decompress(d.unconsumed_tail)
            except _zlib.error as exc:
                if member == 1 and size == 0:
                    raise _NotArchive(str(exc)) from None
                stats.notes.append(f"{path}: gzip data is corrupt after {size:,} bytes ({exc}); "
                                   "the lines before the damage were read, the rest is unreadable")
                return
            if d.eof:
                data = d.unused_data + data
        while len(data) < 8:
            more = f.read(_BLOCK)
            if not more:
                break
            data += more
        if len(data) < 8:
            stats.notes.append(f"{path}: gzip trailer is missing (truncated); the data read is unchecked")
            return
        want_crc, want_size = int.from_bytes(data[:4], "little"), int.from_bytes(data[4:8], "little")
        if want_crc != crc or want_size != size & 0xFFFFFFFF:
            stats.notes.append(f"{path}: gzip check failed (CRC or size in the trailer does not match); "
                               "the lines read may be damaged")
        data = data[8:]
        if not data:
            data = f.read(_BLOCK)


def _bunzip(f: BinaryIO, head: bytes, path: str, stats: ReadStats) -> Iterator[bytes]:
    d = bz2.BZ2Decompressor()
    data = head + f.read(_BLOCK)
    inflated = False
    while data:
        try:
            out = d.decompress(data)
        except OSError as exc:
            if not inflated:
                raise _NotArchive(str(exc)) from None
            stats.notes.append(f"{path}: bzip2 data is corrupt ({exc}); read what came before")
            return
        if out:
            inflated = True
            yield out
        if d.eof:
            if d.unused_data:
                rest, d = d.unused_data, bz2.BZ2Decompressor()
                data = rest
                continue
            return
        data = f.read(_BLOCK)
    stats.notes.append(f"{path}: bzip2 file is truncated; read what it holds")


#: Bytes looked at to tell a file's line ends: a file whose start holds a lone CR and no LF ends
#: its lines in CR (classic Mac).
_LINE_END_PROBE = 64 << 10
_LONE_CR = re.compile(rb"\r(?!\n)")


def _cr_line_ends(blocks: Iterator[bytes], cr: bool | None = None) -> Iterator[bytes]:
    """Blocks with a lone CR made an LF when the file ends its lines in CR; other files as they are.

    The file decides, from its start: in a file of LF line ends a CR is part of a line (shown as
    an escape), so a CR planted in a logged field cannot forge a line. The byte is replaced in
    place, so offsets and sizes stay those of the file; a CR LF stays one line end. Files of LF
    ends pass through once the probe has seen an LF.
    """
    probe = b""
    it = iter(blocks)
    if cr is None:  # decided by the file's start, which these blocks are
        for block in it:
            probe += block
            if b"\n" in block or len(probe) >= _LINE_END_PROBE:
                break
        cr = not (probe.find(b"\n", 0, _LINE_END_PROBE) >= 0 or probe.find(b"\r", 0, _LINE_END_PROBE) < 0)
    if not cr:
        if probe:
            yield probe
        yield from it
        return
    # CR line ends. A CR at a block's end waits for the next block: it may be a CR LF's.
    held = b""
    for block in itertools.chain([probe], it):
        block = held + block if held else block
        held = b""
        if block.endswith(b"\r"):
            block, held = block[:-1], b"\r"
        if block:
            yield block.replace(b"\r", b"\n") if b"\r\n" not in block else _LONE_CR.sub(b"\n", block)
    if held:
        yield b"\n"


def _capped(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Blocks with every line longer than ``MAX_LINE_BYTES`` cut just past it (the rest dropped).

    Blocks are taken at most ``MAX_LINE_BYTES`` long, so a line inside a block (between two of
    its line ends) is never too long: only the line that runs on from earlier blocks needs
    counting, which two byte searches per block do. The cut keeps a few bytes past the limit, at
    a character boundary, so that the parser sees the line as too long.
    """
    run = 0  # bytes of the line that is still open at the end of the last block
    skipping = False  # that line was cut: drop it up to its end
    for big in blocks:
        for at in range(0, len(big), MAX_LINE_BYTES):
            block = big[at:at + MAX_LINE_BYTES] if len(big) > MAX_LINE_BYTES else big
            first = block.find(b"\n")
            head = len(block) if first < 0 else first
            if skipping:
                if first < 0:
                    continue
                block, skipping, head = block[first:], False, 0
            elif run + head > MAX_LINE_BYTES + 4:
                keep = MAX_LINE_BYTES + 4 - run  # >= 0: an open line is never cut short of this
                for _ in range(3):  # not inside a character (UTF-8 continuation bytes are 10xxxxxx)
                    if keep > 0 and block[keep] & 0xC0 == 0x80:
                        keep -= 1
                block = block[:keep] + (block[first:] if first >= 0 else b"")
                if first < 0:
                    skipping, run = True, run + keep
                    if block:
                        yield block
                    continue
                head = keep
            last = block.rfind(b"\n")
            run = run + len(block) if last < 0 else len(block) - last - 1
            yield block


def _utf8_chunks(path: str, stats: ReadStats, chunk_bytes: int) -> Iterator[bytes]:
    """UTF-8 bytes cut at line ends, about ``chunk_bytes`` each (re-encoded from other codecs).

    Blocks are collected and joined once per chunk; the cut is looked for in the last block only,
    so each byte is copied once on its way to the line splitter. Lines are cut at
    ``MAX_LINE_BYTES`` on the way (see :func:`_capped`), so a chunk is never much more than
    ``chunk_bytes``.
    """
    decoder = None
    if stats.encoding != "utf-8":
        decoder = codecs.getincrementaldecoder(stats.encoding)(errors="replace")

    def utf8() -> Iterator[bytes]:
        first = True
        for block in _blocks(path, stats):
            if decoder is not None:
                text = decoder.decode(block)
                stats.replaced += text.count("\ufffd")
                block = text.encode("utf-8")
            if first:
                block = block.removeprefix(codecs.BOM_UTF8)
                first = False
            if block:
                yield block
        if decoder is not None:
            tail = decoder.decode(b"", final=True)
            stats.replaced += tail.count("\ufffd")
            if tail:
                yield tail.encode("utf-8")

    pending: list[bytes] = []
    size = 0
    for block in _capped(_cr_line_ends(utf8())):
        pending.append(block)
        size += len(block)
        if size >= chunk_bytes:
            cut = block.rfind(b"\n") + 1
            if cut:
                pending[-1] = block[:cut]
                yield b"".join(pending)
                rest = block[cut:]
                pending, size = ([rest], len(rest)) if rest else ([], 0)
    stats.complete = True
    if pending:
        yield b"".join(pending)


def split_lines(data: bytes) -> tuple[pl.Series, int]:
    """Split UTF-8 bytes into lines in bulk; returns the lines and how many bytes were invalid UTF-8."""
    import numpy as np
    import polars as pl

    # numpy counts twice as fast as bytes.count, and without the GIL the parse threads need.
    n = int(np.count_nonzero(np.frombuffer(data, np.uint8) == 10)) + (0 if not data or data.endswith(b"\n") else 1)
    if n == 0:
        return pl.Series("text", [], dtype=pl.String), 0
    if b"\x1f" not in data:
        # polars' CSV reader with a separator that never occurs is a fast, parallel line splitter.
        for enc in ("utf8", "utf8-lossy"):
            try:
                df = pl.read_csv(data, has_header=False, separator="\x1f", quote_char=None,
                                 schema={"text": pl.String}, encoding=enc)
            except pl.exceptions.ComputeError:
                continue
            if df.height == n:
                lines = df["text"].fill_null("")
                return lines, _invalid(lines, data) if enc != "utf8" else 0
            break
    text = data.decode("utf-8", errors="replace")
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    lines = pl.Series("text", parts, dtype=pl.String).str.strip_suffix("\r")
    return lines, _invalid(lines, data) if "\ufffd" in text else 0


def _invalid(lines: pl.Series, data: bytes) -> int:
    return int(lines.str.count_matches("\ufffd", literal=True).sum()) - data.count(_FFFD)


def line_chunks(path: str, stats: ReadStats, chunk_bytes: int = CHUNK_BYTES) -> Iterator[pl.Series]:
    """The lines of a file as Series of about ``chunk_bytes`` each, read one chunk ahead."""
    q: queue.Queue = queue.Queue(maxsize=1)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for data in _utf8_chunks(path, stats, chunk_bytes):
                lines, invalid = split_lines(data)
                stats.replaced += invalid
                stats.text_bytes += len(data)
                while not stop.is_set():
                    try:
                        q.put(lines, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    worker = threading.Thread(target=produce, name=f"read {path}", daemon=True)
    worker.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def head(path: str, encoding: str, max_bytes: int = 1 << 20) -> tuple[pl.Series, ReadStats]:
    """The first lines of a file (about ``max_bytes``), for format detection. ``complete`` in the
    stats says whether they are all its lines (a small file is then read once)."""
    import polars as pl

    stats = ReadStats(encoding)
    for data in _utf8_chunks(path, stats, max_bytes):
        cut = data.rfind(b"\n", 0, max_bytes) + 1 if len(data) > max_bytes else len(data)
        stats.complete &= (cut or len(data)) == len(data)
        lines, invalid = split_lines(data[: cut or len(data)])
        stats.replaced += invalid
        stats.text_bytes += cut or len(data)
        return lines, stats
    return pl.Series("text", [], dtype=pl.String), stats


def lines_at(path: str, encoding: str, wanted: set[int], span: int = 1) -> dict[int, str]:
    """The text of the given 1-based lines (and ``span - 1`` lines after each), read from the file.

    The file is read once, up to the last line wanted; each chunk takes its lines from the sorted
    list of wanted ones (a binary search for where they start), so the cost is the reading.
    """
    if not wanted:
        return {}
    want = sorted({n + i for n in wanted for i in range(span)})
    out: dict[int, str] = {}
    last = want[-1]
    offset = 1
    stats = ReadStats(encoding)
    for data in _utf8_chunks(path, stats, CHUNK_BYTES):
        lines, _ = split_lines(data)
        lo, hi = bisect.bisect_left(want, offset), bisect.bisect_left(want, offset + len(lines))
        if hi > lo:
            hits = want[lo:hi]
            picked = lines.gather([n - offset for n in hits]).to_list()
            out.update(zip(hits, picked, strict=True))
        offset += len(lines)
        if offset > last:
            break
    return out


def decompressed(path: str, stats: ReadStats, start: int = 0, resumable: bool = False) -> Iterator[bytes]:
    """A file's bytes block by block, decompressed (gzip, bzip2), not decoded: what a cursor counts.
    A file of CR line ends has them as LF here too (the same length), as every reader sees them.

    From byte ``start`` of the decompressed stream: a plain file is read from there (a log read
    up to its cursor last night is not read again), an archive inflated from its start, unless
    ``resumable``: then an archive read in batches (each from where the last one stopped) goes on
    inflating where it was, in this process, instead of from its start each time."""
    if resumable and is_archive(path):
        return _resumed(path, stats, start)
    if start <= 0:
        return _cr_line_ends(_blocks(path, stats))
    with _open(path) as raw:
        head = raw.read(_LINE_END_PROBE)
    if archive_of(head) is not None:
        return _skipped(_cr_line_ends(_blocks(path, stats)), start)
    cr = head.find(b"\n") < 0 and head.find(b"\r") >= 0
    return _cr_line_ends(_blocks(path, stats, start), cr)


class _Inflating:
    """An archive's decompressed blocks, and where in the stream the last one handed out starts."""

    def __init__(self, blocks: Iterator[bytes]):
        self.blocks = blocks
        self.at = 0
        self.last = b""

    def covers(self, start: int) -> bool:
        return self.at <= start <= self.at + len(self.last)

    def read_from(self, start: int) -> Iterator[bytes]:
        if start < self.at + len(self.last):
            yield self.last[start - self.at:]
        for block in self.blocks:
            self.at, self.last = self.at + len(self.last), block
            yield block


#: Archives being read in batches, by identity (path, device, inode, size, mtime): a few at a time.
_INFLATING: dict[tuple, _Inflating] = {}
_INFLATING_KEPT = 16


def _resumed(path: str, stats: ReadStats, start: int) -> Iterator[bytes]:
    try:
        st = os.stat(path)
        key = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        return _skipped(_cr_line_ends(_blocks(path, stats)), start)
    found = _INFLATING.get(key)
    if found is None or not found.covers(start):
        found = _INFLATING[key] = _Inflating(_cr_line_ends(_blocks(path, stats)))
        while len(_INFLATING) > _INFLATING_KEPT:
            _INFLATING.pop(next(iter(_INFLATING)))
        return _skipped(found.read_from(0), start)
    return found.read_from(start)


def _skipped(blocks: Iterator[bytes], start: int) -> Iterator[bytes]:
    """``blocks`` less their first ``start`` bytes."""
    pos = 0
    for block in blocks:
        if pos + len(block) <= start:
            pos += len(block)
            continue
        yield block[start - pos:] if pos < start else block
        pos += len(block)
