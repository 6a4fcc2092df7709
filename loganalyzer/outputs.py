"""Where outputs are written: ``-`` (or a stream) for stdout, else a file replaced atomically.

A file output is written to a temporary file beside it and renamed over it when complete, so a
reader (a browser, cron's next step, node_exporter's textfile collector) never sees half a file and
a failed run leaves the previous one in place.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from loganalyzer import errors


def as_stdout(path: str | None) -> str | None:
    """``path``, or ``-`` when it names this process's stdout (``/dev/stdout``, ``/dev/fd/1``, or the
    file or pipe stdout is): such an output is written to stdout, and the human text goes to stderr."""
    if path is None or path == "-":
        return path
    if os.path.normpath(path) in ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"):
        return "-"
    try:
        here, out = os.stat(path), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no such file yet, or stdout is not a file (a test's capture)
        return path
    return "-" if (here.st_dev, here.st_ino) == (out.st_dev, out.st_ino) else path


def check_writable(path: str | Path, inputs: list[str | Path] = ()) -> None:
    """Fail before any work when ``path`` cannot be written, or would overwrite one of ``inputs``."""
    if str(path) == "-":
        return
    p = Path(path)
    if _special(p):  # /dev/null, a FIFO, a terminal: written in place, so only it needs to be writable
        if not os.access(p, os.W_OK):
            raise errors.UsageError(f"cannot write {p}: permission denied")
        return
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise errors.UsageError(f"cannot write {p}: no such directory {folder}")
    if not os.access(folder, os.W_OK):
        raise errors.UsageError(f"cannot write {p}: the directory {folder} is not writable")
    if not p.exists():
        return
    target = p.resolve()
    for i in map(Path, inputs):
        if i.is_dir():
            # A report inside a log directory is fine unless the walk reads it as a log.
            from loganalyzer.ingest import NOT_LOGS, _suffix

            if target.is_relative_to(i.resolve()) and _suffix(target) not in NOT_LOGS:
                raise errors.UsageError(f"refusing to overwrite {p}: it is one of the logs being read (in {i})")
        elif i.exists() and i.resolve() == target:
            raise errors.UsageError(f"refusing to overwrite {p}: it is one of the logs being read")


@contextlib.contextmanager
def open_output(target: str | Path | IO[str]) -> Iterator[IO[str]]:
    """A text stream for ``target``: stdout for ``-``, the stream itself, or an atomically replaced file."""
    if hasattr(target, "write"):
        yield target  # type: ignore[misc]
        return
    if str(target) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    p = Path(target)
    if _special(p):  # replacing it would put a regular file where a device or FIFO was
        try:
            with open(p, "w", encoding="utf-8") as f:
                yield f
        except OSError as exc:
            raise errors.LoganalyzerError(f"cannot write {p}: {exc.strerror or exc}") from exc
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
        os.replace(tmp, p)
    except OSError as exc:
        _discard(tmp)
        raise errors.LoganalyzerError(f"cannot write {p}: {exc.strerror or exc}") from exc
    except BaseException:
        _discard(tmp)
        raise


def _special(p: Path) -> bool:
    """``p`` exists and is neither a regular file nor a directory (a device, a FIFO, a socket)."""
    try:
        mode = p.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _discard(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def write_text(target: str | Path | IO[str], text: str, **_: Any) -> None:
    with open_output(target) as f:
        f.write(text)


#: Items of a long list encoded at a time by :func:`write_json`.
_JSON_BATCH = 2000


def write_json(data: dict[str, Any], f: IO[str], arrays: dict[str, Iterable[str]] | None = None) -> None:
    """``json.dump(data, f, ensure_ascii=False, default=str)``, byte for byte, many times faster.

    ``json.dump`` hands the file one small piece per value (millions of writes for a large export);
    here each top-level value, and a long list a batch of items at a time, is encoded in one call
    of the C encoder, so memory holds one batch's text, not the whole document's. ``arrays``: more
    top-level keys, after ``data``'s, each an array given as pieces of encoded items (JSON text,
    comma-separated items without the brackets).
    """
    import json

    def enc(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, default=str)

    f.write("{")
    for i, (key, value) in enumerate(data.items()):
        f.write((", " if i else "") + enc(key) + ": ")
        if isinstance(value, list) and len(value) > _JSON_BATCH:
            f.write("[")
            for j in range(0, len(value), _JSON_BATCH):
                f.write((", " if j else "") + enc(value[j:j + _JSON_BATCH])[1:-1])
            f.write("]")
        else:
            f.write(enc(value))
    for i, (key, pieces) in enumerate((arrays or {}).items(), start=len(data)):
        f.write((", " if i else "") + enc(key) + ": [")
        for j, piece in enumerate(p for p in pieces if p):
            f.write((", " if j else "") + piece)
        f.write("]")
    f.write("}")
