"""The scan's history: one SQLite file (stdlib ``sqlite3``, WAL), its migrations, its lock.

The tables are declared in :data:`loganalyzer.schema.HISTORY_MIGRATIONS` and documented in the
README; anyone can read them with ``sqlite3``, Datasette or DuckDB. A run writes everything it
learnt (results, cursors, carried lines) in one transaction: a run killed at any point leaves the
previous state as it was, and the next run does the work again.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loganalyzer import errors, schema
from loganalyzer.cursors import Cursor


class HistoryError(errors.InputError):
    """A history file that cannot be opened, or was written by a newer release."""


@contextmanager
def lock(path: str | Path) -> Iterator[None]:
    """Hold ``<history>.lock`` for the run; another run holding it is refused, not waited for."""
    name = f"{path}.lock"
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise HistoryError(f"cannot create the lock file {name}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = ""
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            except OSError:
                pass
            raise errors.Locked(f"another scan is running on {path}" + (f" (pid {holder})" if holder else "")) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock; a killed process releases it too


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (or create) the history and bring its schema up to date."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise HistoryError(f"cannot create the history {p}: folder {p.parent} does not exist")
    try:
        db = sqlite3.connect(p, isolation_level=None)  # transactions are begun explicitly
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{p} is not a loganalyzer history or is damaged ({exc}); move it aside, and the "
                           "next scan rebuilds it from the logs still on disk") from exc
    if version > schema.HISTORY_VERSION:
        raise HistoryError(f"{p} was written by a newer loganalyzer (history version {version}; "
                           f"this one knows up to {schema.HISTORY_VERSION})")
    if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise HistoryError(f"{p} is a SQLite file but not a loganalyzer history")
    migrate(db, version)
    return db


def set_aside(path: str | Path) -> Path | None:
    """Move a history (and its WAL files) aside as ``<name>.damaged-<time>``, so the next scan
    rebuilds it from the logs still on disk. Returns where it went (None when there was none)."""
    import time

    p = Path(path)
    if not p.exists():
        return None
    target = p.with_name(f"{p.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{p}{suffix}")
        if src.exists():
            src.rename(Path(f"{target}{suffix}"))
    return target


def migrate(db: sqlite3.Connection, version: int) -> None:
    """Apply the migrations after ``version``, each in its own transaction with its version number."""
    for n, script in enumerate(schema.HISTORY_MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {n}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    out, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            out.append("\n".join(current))
            current = []
    return [s for s in out if s.strip()]


def cursors(db: sqlite3.Connection) -> list[Cursor]:
    rows = db.execute("SELECT cursor_id, identity, head_len, path, device, inode, size, offset, lines, source, "
                      "format, carry, carry_line, last_growth, gone FROM cursors ORDER BY cursor_id").fetchall()
    return [Cursor(identity=r[1], head_len=r[2], path=r[3], device=r[4], inode=r[5], size=r[6], offset=r[7],
                   lines=r[8], source=r[9], fmt=r[10], carry=r[11] or b"", carry_line=r[12] or 0,
                   last_growth=r[13] or 0.0, gone=bool(r[14]), id=r[0]) for r in rows]


def save_cursors(db: sqlite3.Connection, items: list[Cursor]) -> None:
    for c in items:
        values = (c.identity, c.head_len, c.path, c.device, c.inode, c.size, c.offset, c.lines, c.source, c.fmt,
                  c.carry, c.carry_line, c.last_growth, int(c.gone))
        if c.id is None:
            db.execute("INSERT INTO cursors (identity, head_len, path, device, inode, size, offset, lines, source, "
                       "format, carry, carry_line, last_growth, gone) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", values)
        else:
            db.execute("UPDATE cursors SET identity=?, head_len=?, path=?, device=?, inode=?, size=?, offset=?, "
                       "lines=?, source=?, format=?, carry=?, carry_line=?, last_growth=?, gone=? "
                       "WHERE cursor_id=?", (*values, c.id))


def state(db: sqlite3.Connection) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM state")}


def set_state(db: sqlite3.Connection, values: dict[str, Any]) -> None:
    db.executemany("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                   [(k, json.dumps(v)) for k, v in values.items()])


def nights(db: sqlite3.Connection, before_run: int | None = None, limit: int = 30) -> list[dict[str, Any]]:
    """The runs that committed attempts, newest first, with their failure rate and p95 latency."""
    where = "WHERE r.attempts > 0" + (" AND r.run_id < ?" if before_run is not None else "")
    args: tuple = (before_run,) if before_run is not None else ()
    rows = db.execute(
        f"""SELECT r.run_id, r.started, r.data_from, r.data_to, r.attempts, r.failed_attempts,
                   (SELECT max(h.request_time_p95) FROM hourly h WHERE h.run_id = r.run_id)
            FROM runs r {where} ORDER BY r.run_id DESC LIMIT ?""", (*args, limit)).fetchall()
    out = [{"run_id": r[0], "started": r[1], "from": r[2], "to": r[3], "attempts": r[4], "failed": r[5],
            "failure_rate": (r[5] / r[4]) if r[4] else 0.0, "request_time_p95": r[6], "causes": {}} for r in rows]
    by_run = {n["run_id"]: n for n in out}
    if by_run:
        marks = ",".join("?" * len(by_run))
        for run_id, cause, n in db.execute(
                f"SELECT run_id, value, sum(n) FROM hourly_counts WHERE dimension='root_cause' AND value IS NOT NULL "
                f"AND run_id IN ({marks}) GROUP BY run_id, value", tuple(by_run)):
            by_run[run_id]["causes"][cause] = n
    return out


def causes_seen(db: sqlite3.Connection, before_run: int) -> set[tuple[str, str]]:
    """Causes (and their detail) that failed attempts of earlier runs had."""
    rows = db.execute("SELECT DISTINCT root_cause, coalesce(root_cause_detail, '') FROM failures WHERE run_id < ?",
                      (before_run,))
    return {(r[0], r[1]) for r in rows}


def totals(db: sqlite3.Connection) -> dict[str, Any]:
    """Counts over every run: what a Prometheus counter reports."""
    verdicts = dict(db.execute("SELECT value, sum(n) FROM hourly_counts WHERE dimension='verdict' GROUP BY value"))
    causes = dict(db.execute("SELECT value, sum(n) FROM hourly_counts WHERE dimension='root_cause' "
                             "AND value IS NOT NULL GROUP BY value"))
    lines = db.execute("SELECT coalesce(sum(lines_read),0), coalesce(sum(lines_rejected),0), "
                       "coalesce(sum(lines_unread),0), count(*) FROM runs").fetchone()
    return {"verdicts": verdicts, "causes": causes, "lines_read": lines[0], "lines_rejected": lines[1],
            "lines_unread": lines[2], "runs": lines[3]}
