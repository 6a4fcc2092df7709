"""Format definitions as data: load them from TOML and compile them for the engine.

A definition is a small table (see ``parsers/formats/*.toml`` for the built-in ones)::

    name = "combined"             # unique; user files may replace a built-in by reusing its name
    kind = "nginx_access"         # vac | nginx_access | nginx_error | crm
    syntax = "nginx"              # nginx | logback | python | regex | json
    pattern = "..."               # the log_format / logback pattern / logging format / regex
    priority = 50                 # breaks ties in detection: the more specific format wins

Optional keys: ``description``, ``timezone`` (the zone the writer uses when lines carry no
offset), ``datefmt`` (python), ``time_format`` (regex: strftime, ``iso`` or ``epoch``),
``multiline`` (``none`` | ``java`` | ``python`` | ``any``), ``kv`` (a column whose ``key=value``
pairs become columns), ``tail`` (nginx error-log trailing ``, key: value`` pairs), ``vars``
(nginx: regex per variable), ``properties`` (logback: text per ``${NAME}``), ``derive`` (a list of
``{from = COLUMN, pattern = REGEX}``: named groups become columns), ``fields`` (column roles:
``request_id = ["xrid", "rid"]``; for JSON: which keys hold timestamp, level, message, …),
``types`` (column -> int | float | str), ``records`` (JSON: where a line holds a batch of records,
as a path whose ``[]`` segments are arrays, ``resourceLogs[].scopeLogs[].logRecords[]``; each record
is an entry of its own, see ``records.py``).

A user file holds one such table, or several under ``[[format]]``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import logback, nginx, pylogging, timefmt
from .pattern import Assembled, Capture, ascii_digits

KINDS = ("vac", "nginx_access", "nginx_error", "crm", "other")
#: What a format definition may say it writes: one of KINDS, or ``app`` for an application layout
#: whose lines may be a client's or an upstream's (which one is decided from what the lines say).
FORMAT_KINDS = (*KINDS, "app")
#: The hops of a request; ``other`` is a log that is none of them (read and shown, not correlated).
HOPS = KINDS[:4]
SYNTAXES = ("nginx", "logback", "python", "regex", "json")
MULTILINE = ("none", "java", "python", "any")
_DEFAULT_MULTILINE = {"vac": "python", "nginx_access": "none", "nginx_error": "any", "crm": "java", "app": "any",
                      "other": "any"}

#: Columns that can hold the request id, most trusted first. A client-supplied id
#: (``X-Request-ID``) wins over one the proxy generated, since that is the id the client logs.
REQUEST_ID_COLUMNS = [
    "request_id_client", "http_x_request_id", "xrid", "x_request_id", "requestId", "request_id",
    "req_id", "reqId", "rid", "req", "nginx_request_id", "traceId", "trace_id", "correlationId", "correlation_id",
    "X_Request_ID",
]

#: JSON keys recognised without configuration, per role, as dotted paths: ``log.level`` is the flat
#: key ``"log.level"`` and the nested ``{"log": {"level": ...}}`` alike; ``exception[-1].exc_type``
#: reads into an array. The first key present in a file plays the role.
JSON_ROLES: dict[str, list[str]] = {
    "time": ["@timestamp", "timestamp", "time", "ts", "datetime", "date", "asctime", "@t", "time_iso8601",
             "time_local", "msec", "timeMillis", "instant.epochSecond"],
    "level": ["level", "levelname", "severity", "log.level", "lvl", "@l", "loglevel", "_level_name"],
    "message": ["message", "msg", "@m", "event", "text", "short_message"],
    "request_id": ["request_id", "requestId", "req_id", "reqId", "x_request_id", "trace_id", "traceId",
                   "correlation_id", "correlationId", "rid", "trace.id"],
    "span_id": ["span_id", "spanId", "span.id"],
    "logger": ["logger", "logger_name", "name", "log.logger", "_log_logger", "_logger_name",
               "loggerName"],
    "thread": ["thread", "thread_name", "threadName", "process.thread.name", "_process_thread_name",
               "_thread_name"],
    "method": ["method", "http_method", "http.request.method"],
    "url": ["url", "uri", "path", "url.full", "url.path"],
    "status": ["status", "status_code", "http_status", "http.response.status_code"],
    "attempt": ["attempt", "retry", "try"],
    "error": ["error", "err"],
    # Structured exceptions fill the columns a text stack trace fills (see stacktraces.py).
    "exception": ["error.type", "err.type", "err.name", "_error_type", "throwable_class",
                  "exception[0].exc_type", "thrown.name"],
    "exception_message": ["error.message", "err.message", "_error_message", "throwable_message",
                          "exception[0].exc_value", "thrown.message"],
    "root_cause": ["throwable_root_cause_class", "exception[-1].exc_type"],
    "root_cause_message": ["throwable_root_cause_message", "exception[-1].exc_value"],
    "stack_trace": ["error.stack_trace", "stack_trace", "err.stack", "_error_stack_trace", "exc_info",
                    "exception", "stacktrace", "exc_text"],
}


class DefinitionError(ValueError):
    """A format definition that is incomplete or cannot be compiled."""


@dataclass
class FormatDef:
    name: str
    kind: str
    syntax: str
    pattern: str = ""
    priority: int = 0
    description: str = ""
    timezone: str | None = None
    datefmt: str | None = None
    time_format: str | None = None
    multiline: str | None = None
    kv: str | None = None
    tail: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    derive: list[dict[str, str]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    #: Real lines this format must read, as lnav's format files carry them: ``[{line = "...",
    #: expect = {column = value}}]`` (``line`` may hold several lines: a trace).
    samples: list[dict[str, Any]] = field(default_factory=list)
    records: str | None = None
    origin: str = "built-in"

    @classmethod
    def from_table(cls, table: dict[str, Any], origin: str) -> FormatDef:
        known = set(cls.__dataclass_fields__) - {"origin"}
        unknown = set(table) - known
        where = f"{origin}: format {table.get('name', '?')!r}"
        if unknown:
            raise DefinitionError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("name", "kind", "syntax"):
            if not table.get(key):
                raise DefinitionError(f"{where}: '{key}' is required")
        if table["kind"] not in FORMAT_KINDS:
            raise DefinitionError(f"{where}: kind must be one of {', '.join(FORMAT_KINDS)}")
        if table["syntax"] not in SYNTAXES:
            raise DefinitionError(f"{where}: syntax must be one of {', '.join(SYNTAXES)}")
        if table["syntax"] != "json" and not table.get("pattern"):
            raise DefinitionError(f"{where}: 'pattern' is required for syntax {table['syntax']}")
        if table.get("multiline") not in (None, *MULTILINE):
            raise DefinitionError(f"{where}: multiline must be one of {', '.join(MULTILINE)}")
        if table.get("records") is not None:
            if table["syntax"] != "json":
                raise DefinitionError(f"{where}: 'records' is for syntax json")
            try:
                from . import records  # polars: only for a definition that has batches

                records.parse_path(table["records"])
            except ValueError as exc:
                raise DefinitionError(f"{where}: {exc}") from None
        for i, sample in enumerate(table.get("samples", [])):
            if not isinstance(sample, dict) or not isinstance(sample.get("line"), str) or \
                    set(sample) - {"line", "expect", "description", "entries"} or \
                    not isinstance(sample.get("entries", 1), int):
                raise DefinitionError(f"{where}: samples[{i}] must be a table with 'line' and optional 'expect' "
                                      "and 'entries' (a number)")
        return cls(**table, origin=origin)

    @property
    def multiline_mode(self) -> str:
        return self.multiline or _DEFAULT_MULTILINE[self.kind]


@dataclass
class Compiled:
    """A definition ready for the engine."""

    definition: FormatDef
    regex: str | None  # full-line regex with named groups; None for JSON
    columns: dict[str, Capture]
    derives: list[tuple[str, str]]
    zone: str | None  # zone named by the layout itself (logback %d{..., Zone}) or the definition
    #: Reduced to its time fields (:func:`loganalyzer.parsers.engine.counting`): entries hold only
    #: ``line`` and ``ts``.
    counting: bool = False

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def kind(self) -> str:
        return self.definition.kind


def parse_toml(text: str, origin: str) -> list[FormatDef]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{origin}: not valid TOML ({exc})") from None
    tables = data["format"] if "format" in data else [data]
    if not isinstance(tables, list):
        raise DefinitionError(f"{origin}: 'format' must be an array of tables ([[format]])")
    return [FormatDef.from_table(t, origin) for t in tables]


def builtin_definitions() -> list[FormatDef]:
    out: list[FormatDef] = []
    folder = resources.files(__package__).joinpath("formats")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            out.extend(parse_toml(entry.read_text(encoding="utf-8"), f"built-in {entry.name}"))
    return out


def load_definitions(user_files: list[str | Path] = ()) -> list[FormatDef]:
    """Built-in definitions plus the user's; a user definition replaces a built-in of the same name."""
    by_name = {d.name: d for d in builtin_definitions()}
    for path in user_files:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise DefinitionError(f"cannot read formats file {p}: {exc.strerror}") from None
        for d in parse_toml(text, str(p)):
            by_name[d.name] = d
    return list(by_name.values())


def compile_definition(d: FormatDef) -> Compiled:
    """Compile one definition; errors name the definition and where it came from."""
    try:
        compiled = _compile(d)
    except (nginx.LogFormatError, logback.PatternError, pylogging.FormatStringError,
            timefmt.TimeFormatError) as exc:
        raise DefinitionError(f"{d.origin}: format {d.name!r}: {exc}") from None
    for what, regex in [("pattern", compiled.regex)] + [(f"derive from {c}", r) for c, r in compiled.derives]:
        if regex is not None:
            _engine_accepts(d, what, regex)
    return compiled


def _engine_accepts(d: FormatDef, what: str, regex: str) -> None:
    """The engine (polars' Rust regex) must run the regex: no look-around, no backreferences.
    Checked when the definition is compiled, before any log is read."""
    import polars as pl

    try:
        pl.select(pl.lit("", pl.String).str.contains(regex))
    except pl.exceptions.PolarsError as exc:
        lines = [x.strip() for x in str(exc).splitlines()]
        reason = next((x[len("error:"):].strip() for x in lines if x.startswith("error:")), "not supported")
        raise DefinitionError(f"{d.origin}: format {d.name!r}: {what}: the regex cannot run in the engine: "
                              f"{reason}") from None


def _compile(d: FormatDef) -> Compiled:
    derives = [(x["from"], x["pattern"]) for x in d.derive]
    zone = d.timezone
    if d.syntax == "json":
        return Compiled(d, None, {}, derives, zone)
    if d.syntax == "nginx":
        assembled, _ = nginx.compile_log_format(d.pattern, d.vars)
    elif d.syntax == "logback":
        layout = logback.compile_pattern(d.pattern, d.properties)
        assembled = layout.assembled
        derives = layout.derives + derives
        zone = zone or layout.zone
    elif d.syntax == "python":
        assembled = pylogging.compile_format(d.pattern, d.datefmt)
    else:
        assembled = _compile_regex(d)
    for col, typ in d.types.items():
        if col in assembled.columns:
            assembled.columns[col].type = typ
    return Compiled(d, assembled.regex, assembled.columns, derives, zone)


def _compile_regex(d: FormatDef) -> Assembled:
    import re

    try:
        groups = list(re.compile(d.pattern.replace("(?P<", "(?P<")).groupindex)
    except re.error as exc:
        raise DefinitionError(f"{d.origin}: format {d.name!r}: bad regex: {exc}") from None
    columns: dict[str, Capture] = {}
    for g in groups:
        if g == "time":
            tf = d.time_format or "iso"
            if tf == "iso":
                layout = timefmt.ISO
            elif tf == "epoch":
                layout = timefmt.NGINX_MSEC
            else:
                layout = timefmt.from_strftime(tf)
            columns[g] = Capture(g, type="time", layout=layout)
        elif g == "level":
            columns[g] = Capture(g, type="level")
        elif g == "request":
            columns[g] = Capture(g, type="request")
        else:
            columns[g] = Capture(g, type=nginx.capture_for(g).type)
    regex = d.pattern if d.pattern.startswith("^") else "^" + d.pattern
    return Assembled(ascii_digits(regex), columns)
