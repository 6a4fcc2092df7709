"""The schemas every stage reads: entries, attempts, evidence, the export, and their versions.

One module declares them so that no stage guesses a column's name or type. Formats map their own
fields onto the **entry** roles below; correlation and diagnosis read only these roles; the
**attempt** and **evidence** tables are what diagnosis hands to the export and the reports.

Every table is conformed before it leaves a stage (:func:`conform`): a column that a source did not
have is added as typed nulls, so that an all-null column is never typed as text (a missing client
log must not turn ``client_send`` into a string column).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loganalyzer.parsers import formats

if TYPE_CHECKING:
    import polars as pl

#: Bumped when a column of the export changes meaning or type; readers check it.
EXPORT_VERSION = "2"
#: Export versions this release reads back (``report``, ``trace --from``).
READABLE_EXPORT_VERSIONS = ("1", "2")

#: The source kinds (declared with the formats that read them), each with what its lines are about.
KINDS = formats.KINDS
KIND_ROLES = {
    "vac": "client: makes outbound calls",
    "nginx_access": "proxy: one line per request it answered",
    "nginx_error": "proxy: its own errors, naming the request and upstream",
    "crm": "upstream: handles inbound requests",
    "other": "none of the hops: read and shown, not correlated",
}


@dataclass(frozen=True)
class Column:
    """A column: its name, its type (a polars type's name; ``UTC`` for nanoseconds in UTC) and what it holds.

    Types are named rather than held so that reading the history's schema needs no polars (a scan
    that finds nothing new reads only SQLite)."""

    name: str
    type: str
    doc: str

    @property
    def dtype(self) -> pl.DataType:
        import polars as pl

        return pl.Datetime("ns", "UTC") if self.type == "UTC" else getattr(pl, self.type)


def __getattr__(name: str):
    if name == "UTC_NS":  # the time type of every frame, on first use
        import polars as pl

        return pl.Datetime("ns", "UTC")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _cols(*specs: tuple[str, str, str]) -> dict[str, Column]:
    return {name: Column(name, dtype, doc) for name, dtype, doc in specs}


#: Entry roles: what a parsed line means, whatever format wrote it. Formats may add columns of
#: their own (nginx variables, MDC keys); stages never rely on those.
ENTRY = _cols(
    ("ts", "UTC", "when the line was written, in UTC"),
    ("source", "Categorical", "the kind of source (one of KINDS)"),
    ("file", "Categorical", "the file it was read from"),
    ("line", "Int64", "its first line number in that file"),
    ("level", "String", "TRACE, DEBUG, INFO, NOTICE, WARN, ERROR or FATAL"),
    ("thread", "String", "the writer's thread (a worker of the upstream: the id-less link)"),
    ("logger", "String", "the logger or component"),
    ("message", "String", "the message, without the layout's prefix"),
    ("method", "String", "HTTP method of the request the line is about"),
    ("url", "String", "the URL as written (absolute for outbound calls)"),
    ("path", "String", "the URL's path"),
    ("status", "Int64", "HTTP status the line reports"),
    ("request_time", "Float64", "duration in seconds ($request_time, elapsed)"),
    ("request_id", "String", "a request or trace id shared with other hops"),
    ("exception", "String", "the exception raised (class name)"),
    ("exception_message", "String", "its message"),
    ("root_cause", "String", "the innermost cause's class (Java: the last 'Caused by:')"),
    ("root_cause_message", "String", "its message"),
    ("stack_trace", "String", "the stack trace as written"),
)
#: Roles correlation and diagnosis read; a frame without one gets it as typed nulls.
ENTRY_REQUIRED = ("ts", "source", "file", "line", "level", "message", "request_id")

#: One row per attempt: what each hop saw, the verdict, the cause, how it was linked.
ATTEMPT = _cols(
    ("attempt_id", "UInt32", "the attempt's number in this analysis"),
    ("request_id", "String", "the request id, when the logs carry one"),
    ("logical_id", "String", "the logical request (retries share it)"),
    ("attempt", "Int64", "1 for the first try of a logical request, 2 for the first retry, ..."),
    ("last_attempt", "Boolean", "the logical request's final attempt"),
    ("ts", "UTC", "when it started, on the reference clock"),
    ("method", "String", "HTTP method"),
    ("path", "String", "URL path"),
    ("status_client", "Int64", "status the client received"),
    ("status_proxy", "Int64", "status nginx sent ($status)"),
    ("status_upstream", "Int64", "status the upstream sent ($upstream_status)"),
    ("verdict", "String", "the hop where it died (see the rules' verdicts), or ok"),
    ("verdict_reason", "String", "why that verdict, in words"),
    ("verdict_evidence", "String", "strong: a line says so; thin: inferred from a status alone"),
    ("answered_by", "String", "who answered: client, proxy, upstream or none"),
    ("root_cause", "String", "the cause's name, or signature:<id> for an unnamed error"),
    ("root_cause_detail", "String", "a finer grain of the cause"),
    ("rule", "String", "the rule that named it"),
    ("link", "String", "how the client and proxy sides were paired"),
    ("confidence", "Float64", "1 / candidates the pairing was chosen from"),
    ("client_error", "String", "the client's error text"),
    ("elapsed_ms", "Float64", "the client's elapsed time"),
    ("request_time", "Float64", "$request_time"),
    ("upstream_response_time", "Float64", "$upstream_response_time"),
    ("upstream_addr", "String", "$upstream_addr"),
    ("connection", "Int64", "nginx's connection number"),
    ("client_addr", "String", "the client's address as nginx saw it"),
    ("user_agent", "String", "User-Agent"),
    # The hop spans, on the reference clock (the proxy's): what a waterfall draws.
    ("client_send", "UTC", "client sent"),
    ("client_done", "UTC", "client heard back or gave up"),
    ("proxy_start", "UTC", "proxy began"),
    ("proxy_end", "UTC", "proxy answered"),
    ("upstream_start", "UTC", "upstream began"),
    ("upstream_end", "UTC", "upstream answered"),
)

#: The lines behind each verdict and cause.
EVIDENCE = _cols(
    ("attempt_id", "UInt32", "the attempt"),
    ("role", "String", "verdict or cause"),
    ("kind", "String", "the source kind"),
    ("file", "String", "the file"),
    ("line", "Int64", "line number"),
    ("ts", "UTC", "when, on the reference clock"),
    ("level", "String", "its level"),
    ("link", "String", "how it was linked to the attempt"),
    ("confidence", "Float64", "1 / candidates"),
    ("text", "String", "the line as written, secrets masked"),
)


#: The scan's history (SQLite): one script per version, applied in order; ``PRAGMA user_version``
#: says how many have been. Times are ISO-8601 UTC text (``2026-11-26T01:00:00Z``) so that sqlite3,
#: Datasette and DuckDB read them as they are. Never edit a script once released: add one.
HISTORY_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (               -- one row per scan that committed
        run_id INTEGER PRIMARY KEY,
        started TEXT NOT NULL, finished TEXT NOT NULL,
        config_file TEXT, config_hash TEXT,
        data_from TEXT, data_to TEXT,  -- the attempts' times this run committed: [from, to)
        files_read INTEGER, bytes_read INTEGER,
        lines_read INTEGER, lines_parsed INTEGER, lines_rejected INTEGER, lines_unread INTEGER,
        attempts INTEGER, requests INTEGER, failed_attempts INTEGER,
        clock_offsets TEXT,            -- JSON: [{source, reference, seconds, pairs, method, applied}]
        notes TEXT                     -- JSON list
    );
    CREATE TABLE files_read (         -- what each run read of each file
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        path TEXT NOT NULL, identity TEXT NOT NULL, source TEXT,
        status TEXT,                   -- new, grown, rotated, truncated, unchanged, gone
        start_offset INTEGER, end_offset INTEGER, first_line INTEGER, lines INTEGER,
        lines_parsed INTEGER, lines_rejected INTEGER, lines_unread INTEGER
    );
    CREATE TABLE cursors (            -- where each file was left; the next run starts there
        cursor_id INTEGER PRIMARY KEY,
        identity TEXT NOT NULL, head_len INTEGER NOT NULL,
        path TEXT NOT NULL, device INTEGER, inode INTEGER, size INTEGER,
        offset INTEGER NOT NULL, lines INTEGER NOT NULL,
        source TEXT, format TEXT,
        carry BLOB, carry_line INTEGER,  -- its last lines, read again with the next run's
        last_growth REAL, gone INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE hourly (             -- per hour and endpoint, what one run committed
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        hour TEXT NOT NULL, endpoint TEXT NOT NULL,
        attempts INTEGER NOT NULL, requests INTEGER NOT NULL, failed INTEGER NOT NULL,
        request_time_p50 REAL, request_time_p95 REAL, request_time_p99 REAL,
        upstream_time_p50 REAL, upstream_time_p95 REAL, upstream_time_p99 REAL,
        longest_failure_run INTEGER NOT NULL
    );
    CREATE INDEX hourly_hour ON hourly(hour);
    CREATE TABLE hourly_counts (      -- the same hours, counted by verdict, cause and status
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        hour TEXT NOT NULL, endpoint TEXT NOT NULL,
        dimension TEXT NOT NULL,       -- verdict, root_cause, status_client, status_proxy, status_upstream
        value TEXT, n INTEGER NOT NULL
    );
    CREATE TABLE signatures (         -- every cause seen, with when it was first and last seen
        cause TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
        first_seen TEXT, last_seen TEXT, first_run INTEGER, last_run INTEGER,
        failed_attempts INTEGER NOT NULL,
        PRIMARY KEY (cause, detail)
    );
    CREATE TABLE failures (           -- every failed attempt, with its evidence below
        failure_id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        ts TEXT, endpoint TEXT, method TEXT, path TEXT,
        request_id TEXT, attempt INTEGER,
        verdict TEXT, verdict_reason TEXT, root_cause TEXT, root_cause_detail TEXT,
        status_client INTEGER, status_proxy INTEGER, status_upstream INTEGER, client_error TEXT,
        request_time REAL, upstream_response_time REAL
    );
    CREATE INDEX failures_ts ON failures(ts);
    CREATE TABLE evidence (           -- the lines behind each failure, as they read at scan time (masked)
        failure_id INTEGER NOT NULL REFERENCES failures(failure_id),
        role TEXT, kind TEXT, file TEXT, identity TEXT, line INTEGER, ts TEXT, text TEXT
    );
    CREATE TABLE breaches (           -- thresholds each run found breached
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        rule TEXT NOT NULL, subject TEXT, value REAL, threshold REAL, new INTEGER NOT NULL, message TEXT
    );
    CREATE TABLE sources_seen (       -- each configured source: when its files last grew
        source TEXT PRIMARY KEY, last_growth REAL, last_run INTEGER
    );
    CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT);
    """,
)
HISTORY_VERSION = len(HISTORY_MIGRATIONS)


def empty(schema: Mapping[str, Column]) -> pl.DataFrame:
    """A frame with no rows and every column of ``schema``, typed."""
    import polars as pl

    return pl.DataFrame(schema={c.name: c.dtype for c in schema.values()})


def conform(df: pl.DataFrame, schema: Mapping[str, Column], only: bool = True) -> pl.DataFrame:
    """``df`` with every column of ``schema``, in its order and type; missing ones as typed nulls.

    ``only=False`` keeps ``df``'s other columns after the schema's.
    """
    import polars as pl

    exprs = []
    for c in schema.values():
        if c.name in df.columns:
            exprs.append(_cast(pl.col(c.name), df.schema[c.name], c.dtype).alias(c.name))
        else:
            exprs.append(pl.lit(None, c.dtype).alias(c.name))
    if not only:
        exprs += [pl.col(n) for n in df.columns if n not in schema]
    return df.select(exprs)


def _cast(expr: pl.Expr, have: pl.DataType, want: pl.DataType) -> pl.Expr:
    import polars as pl

    if have == want:
        return expr
    if have == pl.Null:
        return expr.cast(want)
    if isinstance(want, pl.Datetime) and isinstance(have, pl.Datetime):
        return expr.dt.convert_time_zone("UTC").cast(want) if have.time_zone else expr.dt.replace_time_zone(
            "UTC").cast(want)
    if isinstance(want, pl.Datetime) and have == pl.String:
        return expr.str.to_datetime(time_zone="UTC", strict=False).cast(want)
    return expr.cast(want, strict=False)
