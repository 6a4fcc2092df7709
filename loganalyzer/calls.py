"""Client calls: outbound HTTP attempts rebuilt from what HTTP client libraries write themselves.

Two steps:

``client_calls(entries)``
    one row per log line that is about an outbound call: a request going out, an answer, a
    failure below HTTP, a retry announcement, the exception the caller got. Lines are recognised
    by the libraries' own wording (urllib3, requests, httpx/httpcore, aiohttp, urllib, OkHttp,
    Spring, Go net/http, Node), kept as data in ``rules/client_calls.toml`` and run as polars
    regular expressions over the whole message column, and by structured fields a key=value or
    JSON log already carries (method, path, url, status, error, attempt, elapsed_ms).

``client_attempts(calls)``
    one row per attempt, and the logical request each belongs to. With request ids (and attempt
    numbers) the ids say it. Without them the order of the lines does: within one lane (a file,
    and its thread where the log names threads) a send line opens an attempt, the next response or
    error closes it, a line that is a response by itself (httpx writes one line per request) is an
    attempt by itself, and the exception the application logged closes the attempt still open or,
    right after a library's own failure line, adds to that attempt. Retry lines chain attempts into
    one logical request; a log that never announces retries is grouped by "same call again soon
    after a failure" (``backoff_s``).

Connection failures (refused, wrong port, DNS, connect timeout) are attempts too: no status, an
``error_class``, and ``reached`` false. They never reached a proxy, and correlation must not look
for them there.

What the lines do not say stays unknown: urllib3 names no method for a failed attempt, writes its
retries on status only at DEBUG (at INFO a logical request retried on 500 shows as its final
give-up alone), and urllib.request writes nothing of its own. Lanes are threads, not loggers:
one call's lines come from several loggers (urllib3.connectionpool, urllib3.util.retry, the
application's).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

RULES_PATH = Path(__file__).with_name("rules") / "client_calls.toml"
#: The parts a rule's named groups may capture.
FIELDS = ("method", "url", "scheme", "host", "port", "status", "error", "retry_left", "elapsed_ms")
PHASES = ("send", "response", "error", "retry", "give_up")
#: Statuses after which a client commonly tries again (for grouping logs that never say "retry").
RETRYABLE_STATUS = (408, 429, 500, 502, 503, 504)
_NS = pl.Datetime("ns", "UTC")
_ABSOLUTE = r"^(?i)(https?)://(\[[0-9A-Fa-f:.]+\]|[^/:?#\s\"']+)(?::(\d+))?([^?#\s\"']*)"


@dataclass(frozen=True)
class Rule:
    """One wording: a regular expression whose named groups are call fields, and what it means."""

    name: str
    pattern: str
    phase: str
    retry: bool
    error_class: str | None  # None: classify the error text; "": no transport error
    source: str
    groups: tuple[str, ...]
    #: A regex of literals one of which every match contains (null: none, the rule runs on every line).
    prefilter: str | None = None


@dataclass(frozen=True)
class ErrorClass:
    name: str
    pattern: str
    reached: bool | None  # whether an attempt failing so can have reached the server


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    classes: tuple[ErrorClass, ...]
    #: Every rule's literals at once, case-insensitively (null: a rule has none).
    prefilter: str | None = None


class RulesError(Exception):
    """The rules file is not valid; the message says where."""


def _ascii_boundaries(pattern: str) -> str:
    """Word boundaries on ASCII: a Unicode one sends the regex engine to its slow path on any line
    with a non-ASCII character (an ellipsis in a token), and log wordings are ASCII."""
    return pattern.replace(r"\b", r"(?-u:\b)")


@lru_cache(maxsize=8)
def load_rules(path: str | Path | None = None) -> Rules:
    """Read and check the wordings file (default: the packaged ``rules/client_calls.toml``)."""
    p = Path(path) if path else RULES_PATH
    data = tomllib.loads(p.read_text(encoding="utf-8"))
    rules = []
    for i, r in enumerate(data.get("rule", [])):
        name = r.get("name", f"rule {i + 1}")
        if "pattern" not in r or r.get("phase") not in PHASES:
            raise RulesError(f"{p}: [[rule]] {name}: needs a pattern and a phase (one of {', '.join(PHASES)})")
        pattern = _ascii_boundaries(r["pattern"])
        groups = tuple(pl.Series([""]).str.extract_groups(pattern).struct.fields)
        unknown = [g for g in groups if g not in FIELDS and g != "code" and g != "cause"]
        if unknown:
            raise RulesError(f"{p}: [[rule]] {name}: unknown group(s) {', '.join(unknown)} "
                             f"(known: {', '.join(FIELDS)})")
        literals = r.get("literals")
        if literals is not None and (not isinstance(literals, list) or not literals
                                     or not all(isinstance(x, str) and x for x in literals)):
            raise RulesError(f"{p}: [[rule]] {name}: literals must be a list of non-empty strings")
        rules.append(Rule(name, pattern, r["phase"], bool(r.get("retry", False)), r.get("error_class"),
                          r.get("source", ""), groups, _literal_regex(literals, pattern)))
    classes = tuple(ErrorClass(c["name"], _ascii_boundaries(c["pattern"]), c.get("reached"))
                    for c in data.get("error_class", []))
    every = None
    if rules and all(x.prefilter for x in rules):
        every = _literal_regex(sorted({lit for x in data["rule"] for lit in x["literals"]}), "(?i)")
    return Rules(tuple(rules), classes, every)


def _literal_regex(literals: list[str] | None, pattern: str) -> str | None:
    """The literals as one alternation, with the pattern's case-insensitivity (the regex engine folds
    case the same way for both, so the prefilter is true wherever the pattern can match)."""
    if not literals:
        return None
    # Only the regex engine's metacharacters: it rejects escapes of some other characters.
    alternation = "|".join(re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", x) for x in literals)
    return f"(?i:{alternation})" if pattern.startswith("(?i)") else f"(?:{alternation})"


# --------------------------------------------------------------------------------------------
# lines


def _col(df: pl.DataFrame, name: str, dtype=pl.String) -> pl.Expr:
    return (pl.col(name).cast(dtype, strict=False) if name in df.columns else pl.lit(None, dtype)).alias(name)


def _text(df: pl.DataFrame) -> pl.Expr:
    """What the rules search: the message, the top exception and the root cause of a trace, an error field."""
    parts = [pl.col("message").cast(pl.String)]
    # Only from a real trace: a key=value line may have an "exception=" pair of its own.
    traced = pl.col("stack_trace").is_not_null() if "stack_trace" in df.columns else pl.lit(False)
    for cls, msg in (("exception", "exception_message"), ("root_cause", "root_cause_message")):
        if cls in df.columns:
            parts.append(pl.when(traced & pl.col(cls).is_not_null()).then(
                pl.concat_str([pl.col(cls), _col(df, msg).fill_null("")], separator=": ")))
    if "error" in df.columns:
        # JSON logs carry the trace in a field of its own (python-json-logger's exc_info).
        parts.append(pl.col("error").cast(pl.String))
    return pl.concat_str(parts, separator="\n", ignore_nulls=True)


def _classify(text: pl.Expr, classes: tuple[ErrorClass, ...]) -> pl.Expr:
    out = pl.lit(None, pl.String)
    for c in reversed(classes):
        out = pl.when(text.str.contains(c.pattern)).then(pl.lit(c.name)).otherwise(out)
    return out


def client_calls(entries: pl.DataFrame, rules: str | Path | None = None) -> pl.DataFrame:
    """The lines of one client log that are about outbound calls, one row each.

    ``entries``: parsed entries (``ts``, ``line``, ``message``, optionally ``row``, ``file``,
    ``level``, ``logger``, ``thread``, stack-trace columns and structured ``request_id``,
    ``method``, ``path``, ``url``, ``status``, ``attempt``, ``error``, ``elapsed_ms``).
    Without a ``row`` column, ``row`` is the entry's position in ``entries``.

    Returns, sorted by ``row``: ``row`` (u32), ``ts``, ``file``, ``line``, ``level``, ``logger``,
    ``thread``, ``phase`` (send | response | error | retry | give_up), ``retry`` (the line
    announces another attempt), ``retry_left`` (urllib3's ``Retry(total=)``), ``method``,
    ``url`` (as written: absolute or a path), ``scheme``, ``host``, ``port``, ``path`` (no query),
    ``status`` (i64), ``error_class``, ``error_text``, ``elapsed_ms``, ``request_id``,
    ``attempt`` (an attempt number the line carries), ``rule`` (the wording that matched, or
    ``fields`` for a line known by its structured fields only), ``after`` (the time of the line
    before it in its lane, its file and thread: any line, about a call or not).
    """
    r = load_rules(str(rules) if rules else None)
    df = entries if "row" in entries.columns else entries.with_row_index("row")
    df = df.with_columns(pl.col("row").cast(pl.UInt32), _text(df).alias("__text"))
    # The lane's line before each one (any line, not only call lines): a request whose sending
    # no line tells of (httpx writes one line, after the answer) went out after it.
    lane = [c for c in ("file", "thread") if c in df.columns]
    before = pl.col("ts").cast(_NS).shift(1)
    df = df.sort("row").with_columns((before.over(lane) if lane else before).alias("__after"))
    # Only the columns the rows below are made of: entries may carry many more.
    kept = ("row", "ts", "file", "line", "level", "logger", "thread", "method", "url", "path", "status", "error",
            "elapsed_ms", "request_id", "attempt", "__text", "__after")
    df = df.select([x for x in kept if x in df.columns])
    df = df.with_columns(_rule_index(df["__text"], r).alias("__rule"))
    s_method = _col(df, "method")
    s_status, s_error = _col(df, "status", pl.Int64), _col(df, "error")
    structured = s_method.is_not_null() | s_status.is_not_null() | s_error.is_not_null()
    df = df.filter(pl.col("__rule").is_not_null() | structured)
    if df.height == 0:
        return _empty_calls()
    # Lines known by their fields alone (a key=value or JSON log): an error, an answer, or a request.
    phase = (pl.when(s_error.is_not_null() & s_status.is_null()).then(pl.lit("error"))
             .when(s_status.is_not_null()).then(pl.lit("response")).otherwise(pl.lit("send")))
    c = df.join(_extracted(df, r), on="row", how="left").with_columns(
        pl.when(pl.col("__rule").is_null()).then(phase).otherwise(pl.col("__phase")).alias("__phase"),
        pl.col("__retry").fill_null(False), pl.col("__has_fixed").fill_null(False),
        pl.col("__rule_name").fill_null("fields")).sort("row")

    # Fields the wording gives win; the structured fields fill the rest.
    url = pl.coalesce(pl.col("__url"), _col(c, "url"), _col(c, "path"))
    c = c.with_columns(url.alias("__u"))
    absolute = pl.col("__u").str.extract_groups(_ABSOLUTE)
    c = c.with_columns(absolute.alias("__abs"))
    scheme = pl.coalesce(pl.col("__scheme").str.to_lowercase(), pl.col("__abs").struct.field("1").str.to_lowercase())
    host = pl.coalesce(pl.col("__host"), pl.col("__abs").struct.field("2")).str.strip_chars("[]")
    port = pl.coalesce(pl.col("__port").cast(pl.Int64, strict=False),
                       pl.col("__abs").struct.field("3").cast(pl.Int64, strict=False),
                       pl.when(pl.col("__abs").struct.field("2").is_not_null()).then(
                           pl.when(scheme == "https").then(pl.lit(443, pl.Int64)).otherwise(pl.lit(80, pl.Int64))))
    path = pl.when(pl.col("__abs").struct.field("2").is_not_null()).then(
        pl.col("__abs").struct.field("4").replace("", "/")).otherwise(
        pl.col("__u").str.extract(r"^([^?#\s]*)", 1))
    path = pl.when(path == "").then(None).otherwise(path)
    error_text = pl.coalesce(pl.col("__error"), _col(c, "error"))
    status = pl.coalesce(pl.col("__status").cast(pl.Int64, strict=False), _col(c, "status", pl.Int64))
    c = c.with_columns(error_text.alias("error_text"), status.alias("status"))
    classified = _classify(pl.col("error_text"), r.classes)
    # An error text no class names is "other", unless the line also has a status: then the text
    # is the client's word for that status (HTTPError), not a transport failure.
    fixed = pl.when(pl.col("__fixed_class") != "").then(pl.col("__fixed_class"))
    error_class = (pl.when(pl.col("__has_fixed")).then(fixed)
                   .when(pl.col("error_text").is_not_null()).then(
                       pl.coalesce(classified, pl.when(pl.col("status").is_null()).then(pl.lit("other")))))
    out = c.select(
        "row", pl.col("ts").cast(_NS), _col(c, "file"), _col(c, "line", pl.Int64), _col(c, "level"),
        _col(c, "logger"), _col(c, "thread"),
        pl.col("__phase").alias("phase"), pl.col("__retry").alias("retry"),
        pl.col("__retry_left").cast(pl.Int64, strict=False).alias("retry_left"),
        pl.coalesce(pl.col("__method").str.to_uppercase(), _col(c, "method").str.to_uppercase()).alias("method"),
        pl.col("__u").alias("url"), scheme.alias("scheme"), host.alias("host"), port.alias("port"),
        path.alias("path"), "status", error_class.alias("error_class"), "error_text",
        pl.coalesce(pl.col("__elapsed_ms").cast(pl.Float64, strict=False), _col(c, "elapsed_ms", pl.Float64))
        .alias("elapsed_ms"),
        _col(c, "request_id"), _col(c, "attempt", pl.Int64), pl.col("__rule_name").alias("rule"),
        pl.col("__after").alias("after"),
    )
    # A structured error alone (a JSON log's exc_info of any exception) is about a call only if
    # something else says so: a method, a status, a URL, a request id, or a transport error class.
    alone = ((pl.col("rule") == "fields") & pl.col("method").is_null() & pl.col("status").is_null()
             & pl.col("url").is_null() & pl.col("request_id").is_null() & (pl.col("error_class") == "other"))
    return out.filter(~alone.fill_null(False))


def _rule_index(text: pl.Series, r: Rules) -> pl.Series:
    """The first rule each text matches (i32; null: none), as a when/then chain of every rule would say.

    A rule's pattern runs only on the texts holding one of its literals and not matched by an
    earlier rule: a client's log is mostly lines about no call, and most rules match none.
    """
    which = np.full(len(text), -1, dtype=np.int32)
    every = text.str.contains(r.prefilter) if r.prefilter else text.is_not_null()
    left = np.flatnonzero(every.fill_null(False).to_numpy())  # positions not yet matched
    texts = text.gather(left)
    for i, rule in enumerate(r.rules):
        if len(left) == 0:
            break
        may = np.flatnonzero((texts.str.contains(rule.prefilter) if rule.prefilter
                              else texts.is_not_null()).fill_null(False).to_numpy())
        if len(may) == 0:
            continue
        hit = may[texts.gather(may).str.contains(rule.pattern).fill_null(False).to_numpy()]
        if len(hit) == 0:
            continue
        which[left[hit]] = i
        rest = np.ones(len(left), dtype=bool)
        rest[hit] = False
        left, texts = left[rest], texts.filter(pl.Series(rest))
    return pl.Series(which).replace(-1, None)


def _extracted(df: pl.DataFrame, r: Rules) -> pl.DataFrame:
    """``row`` and what the matching rule says of each line a rule matched: its groups, phase, flags."""
    matched = df.select("row", "__text", "__rule").filter(pl.col("__rule").is_not_null())
    parts = []
    for i, rule in enumerate(r.rules):
        sub = matched.filter(pl.col("__rule") == i)
        if sub.height == 0:
            continue
        g = pl.col("__text").str.extract_groups(rule.pattern)
        parts.append(sub.select(
            "row",
            *[(g.struct.field(f) if f in rule.groups else pl.lit(None, pl.String)).alias(f"__{f}") for f in FIELDS],
            pl.lit(rule.phase).alias("__phase"), pl.lit(rule.retry).alias("__retry"),
            pl.lit(rule.error_class, pl.String).alias("__fixed_class"),
            pl.lit(rule.error_class is not None).alias("__has_fixed"), pl.lit(rule.name).alias("__rule_name")))
    if parts:
        return pl.concat(parts, how="vertical_relaxed")
    return pl.DataFrame(schema={"row": pl.UInt32, **{f"__{f}": pl.String for f in FIELDS}, "__phase": pl.String,
                                "__retry": pl.Boolean, "__fixed_class": pl.String, "__has_fixed": pl.Boolean,
                                "__rule_name": pl.String})


def _empty_calls() -> pl.DataFrame:
    schema = {"row": pl.UInt32, "ts": _NS, "file": pl.String, "line": pl.Int64, "level": pl.String,
              "logger": pl.String, "thread": pl.String, "phase": pl.String, "retry": pl.Boolean,
              "retry_left": pl.Int64, "method": pl.String, "url": pl.String, "scheme": pl.String,
              "host": pl.String, "port": pl.Int64, "path": pl.String, "status": pl.Int64,
              "error_class": pl.String, "error_text": pl.String, "elapsed_ms": pl.Float64,
              "request_id": pl.String, "attempt": pl.Int64, "rule": pl.String, "after": _NS}
    return pl.DataFrame(schema=schema)


# --------------------------------------------------------------------------------------------
# attempts


def _unreached(rules: Rules) -> list[str]:
    return [c.name for c in rules.classes if c.reached is False]


def _sequence(c: pl.DataFrame, lane: list[str], attach_s: float) -> pl.DataFrame:
    """Number the attempts of each lane in line order (``__att``, 1-based; 0 = before any attempt).

    A send opens an attempt (a connection-level send, without a method, only when none is open);
    a response or error closes the open one, or is an attempt by itself when none is open or the
    open one is for another path; a give-up closes the open attempt, or adds to the attempt just
    closed by a library's failure line (same error class, within ``attach_s``, no retry announced),
    or else is an attempt by itself. Retry lines belong to the attempt open or just closed.
    """
    c = c.sort(lane + ["row"])
    kind = (pl.when(pl.col("phase") == "send").then(pl.lit("S"))
            .when(pl.col("phase").is_in(["response", "error"])).then(pl.lit("T"))
            .when(pl.col("phase") == "give_up").then(pl.lit("G")))
    c = _previous_event(c.with_columns(kind.alias("__k")), lane)
    # A retry line for another path than the last event's announces the retry of an attempt whose
    # send was not logged (urllib3 on a reused connection): it opens that attempt.
    opens = ((pl.col("phase") == "retry") & pl.col("path").is_not_null() & pl.col("__prev__p_path").is_not_null()
             & (pl.col("path") != pl.col("__prev__p_path")))
    c = c.with_columns(pl.when(opens).then(pl.lit("S")).otherwise(pl.col("__k")).alias("__k"))
    c = _previous_event(c.drop([x for x in c.columns if x.startswith("__prev__p_")]), lane)
    prev_k, prev_path = pl.col("__prev__p_k"), pl.col("__prev__p_path")
    is_open = prev_k.fill_null("") == "S"
    other_path = is_open & pl.col("path").is_not_null() & prev_path.is_not_null() & (pl.col("path") != prev_path)
    attach = ((prev_k.fill_null("") == "T") & ~pl.col("__prev__p_retry").fill_null(False)
              & (pl.col("error_class").is_null() | (pl.col("error_class") == pl.col("__prev__p_cls")).fill_null(False))
              & ((pl.col("ts") - pl.col("__prev__p_ts")) <= pl.duration(microseconds=int(attach_s * 1e6))))
    start = (pl.when(pl.col("__k") == "S").then(pl.col("method").is_not_null() | ~is_open)
             .when(pl.col("__k") == "T").then(~is_open | other_path)
             .when(pl.col("__k") == "G").then(~is_open & ~attach.fill_null(False))
             .otherwise(pl.lit(False)))
    # Two calls in flight in one lane: a request while another path's is open, or an answer for
    # another path than the open request's.
    mismatch = (pl.col("__k").is_in(["S", "T"]) & other_path).fill_null(False)
    c = c.with_columns(start.alias("__start"), mismatch.alias("__mismatch"))
    c = c.with_columns(pl.col("__start").cast(pl.UInt32).cum_sum().over(lane).alias("__att"))
    return c.drop([x for x in c.columns if x.startswith("__prev__p_")] + ["__k", "__start"])


def _previous_event(c: pl.DataFrame, lane: list[str]) -> pl.DataFrame:
    """``__prev__p_*``: kind, retry flag, error class, time and path of the lane's last event before each row."""
    event = pl.when(pl.col("__k").is_not_null()).then(
        pl.struct(pl.col("__k").alias("k"), pl.col("retry").alias("retry"), pl.col("error_class").alias("cls"),
                  pl.col("ts").alias("ts"), pl.col("path").alias("path")))
    return c.with_columns(event.shift(1).forward_fill().over(lane).alias("__prev")).unnest("__prev", separator="__p_")


def _aggregate(c: pl.DataFrame, by: list[str], unreached: list[str]) -> pl.DataFrame:
    sent = pl.col("ts").filter(pl.col("phase") == "send").min()
    heard = pl.col("ts").filter(pl.col("status").is_not_null() | pl.col("error_text").is_not_null()).max()
    aggs = [
        pl.col("request_id").drop_nulls().first(),
        pl.coalesce(sent, pl.col("ts").min()).alias("send"),
        # When no line tells of the sending, the request went out after the lane's line before
        # the attempt's first: the earliest it can have started.
        # (Rows are unique: the line at the smallest row, without sorting each group.)
        pl.coalesce(sent, pl.col("after").get(pl.col("row").arg_min()), pl.col("ts").min()).alias("opened"),
        pl.col("ts").max().alias("last_seen"),
        pl.coalesce(heard, pl.col("ts").max()).alias("done"),
        pl.col("method").drop_nulls().first(),
        pl.col("path").drop_nulls().first(),
        pl.col("url").filter(pl.col("url").str.contains("://", literal=True)).first().alias("__abs_url"),
        pl.col("url").drop_nulls().first().alias("__any_url"),
        pl.col("scheme").drop_nulls().first(),
        pl.col("host").drop_nulls().first(),
        pl.col("port").drop_nulls().first(),
        pl.col("status").drop_nulls().last().alias("status_client"),
        pl.col("error_text").drop_nulls().last().alias("client_error"),
        # A named class over "other": a later line may only restate the failure in other words.
        pl.coalesce(pl.col("error_class").filter(pl.col("error_class") != "other").last(),
                    pl.col("error_class").drop_nulls().last()).alias("error_class"),
        pl.col("elapsed_ms").drop_nulls().last(),
        pl.col("retry").any().alias("retried"),
        pl.col("retry_left").drop_nulls().last().alias("retry_left"),
        pl.col("row"),
        pl.col("file").first(),
        pl.col("line").min().alias("line"),
        pl.col("thread").drop_nulls().first(),
        pl.col("row").min().alias("__first"),
    ]
    # Lines of one attempt share the grouping keys: those are not aggregated again.
    a = c.group_by(by).agg([e for e in aggs if e.meta.output_name() not in by])
    reached = (pl.when(pl.col("status_client").is_not_null()).then(pl.lit(True))
               .when(pl.col("error_class").is_in(unreached)).then(pl.lit(False)))
    return a.with_columns(pl.coalesce("__abs_url", "__any_url").alias("url"), reached.alias("reached")).drop(
        "__abs_url", "__any_url")


def _failed() -> pl.Expr:
    return pl.col("error_class").is_not_null() | pl.col("status_client").is_in(list(RETRYABLE_STATUS))


def client_attempts(calls: pl.DataFrame, backoff_s: float = 3.0, attach_s: float = 1.0,
                    rules: str | Path | None = None) -> pl.DataFrame:
    """Attempts and logical requests from ``client_calls`` rows (of one or more client files).

    Lines with a request id: attempts by (id, attempt number) as the log numbers them, lines
    about the request without a number going to its last attempt; ids without attempt numbers
    are split into attempts by line order, as id-less lines are. Lines without an id: by line
    order within a lane (``file``, plus ``thread`` when known), see ``_sequence``.

    Logical requests: the request id where there is one; else attempts chained by retry lines
    (an attempt that announced a retry is continued by the next attempt of its lane, unless that
    one is for another path); else, in a file that never announces a retry, the same call
    (method, host, port, path) started within ``backoff_s`` of a failed attempt's end.

    Returns one row per attempt, sorted by ``send``, with the columns of
    ``correlate.vac_table`` — ``rid`` (u64 hash of the id, null without one), ``request_id``,
    ``attempt`` (i64, 1-based within the logical request), ``send``, ``opened`` (the earliest
    the request can have gone out: its send line, else the lane's line before the attempt's
    first), ``last_seen``, ``done`` (datetime[ns, UTC]), ``method``, ``path``, ``status_client``
    (i64), ``client_error`` (the error text), ``elapsed_ms``, ``row`` (list[u32] of entry rows),
    ``file``, ``line`` (first line) — and ``url``, ``scheme``, ``host``, ``port`` (i64), ``error_class``, ``reached``
    (false: a connection failure that cannot have reached any server; true: answered; null:
    unknown), ``retried`` (the attempt announced another), ``retry_left``, ``thread``,
    ``logical`` (the request id, else ``"<file>:<line>"`` of the logical request's first line)
    and ``attempts`` (the logical request's number of attempts).
    """
    unreached = _unreached(load_rules(str(rules) if rules else None))
    if calls.height == 0:
        return _empty_attempts()
    calls = calls.with_columns(pl.col("file").cast(pl.String).fill_null(""), pl.col("thread").cast(pl.String))
    with_id = calls.filter(pl.col("request_id").is_not_null())
    without = calls.filter(pl.col("request_id").is_null())
    if with_id.height and without.height:
        with_id, without = _absorb(with_id, without)
    parts = []
    if with_id.height:
        parts.append(_id_attempts(with_id, attach_s, unreached))
    if without.height:
        parts.append(_sequenced_attempts(without, backoff_s, attach_s, unreached))
    a = pl.concat(parts, how="diagonal_relaxed")
    a = a.with_columns(
        pl.when(pl.col("request_id").is_not_null()).then(pl.col("request_id").hash(seed=7)).alias("rid"),
        pl.col("send").cast(_NS), pl.col("last_seen").cast(_NS), pl.col("done").cast(_NS),
        pl.min_horizontal("opened", "send").cast(_NS).alias("opened"),
        pl.len().over("logical").cast(pl.Int64).alias("attempts"),
    ).sort(["send", "__first"])
    return a.select(ATTEMPT_COLUMNS)


#: The columns of ``client_attempts``, in order.
ATTEMPT_COLUMNS = ["rid", "request_id", "attempt", "send", "opened", "last_seen", "done", "method", "path",
                   "status_client", "client_error", "elapsed_ms", "row", "file", "line", "url", "scheme", "host",
                   "port", "error_class", "reached", "retried", "retry_left", "thread", "logical", "attempts"]


def _empty_attempts() -> pl.DataFrame:
    schema = {"rid": pl.UInt64, "request_id": pl.String, "attempt": pl.Int64, "send": _NS, "opened": _NS,
              "last_seen": _NS,
              "done": _NS, "method": pl.String, "path": pl.String, "status_client": pl.Int64,
              "client_error": pl.String, "elapsed_ms": pl.Float64, "row": pl.List(pl.UInt32), "file": pl.String,
              "line": pl.Int64, "url": pl.String, "scheme": pl.String, "host": pl.String, "port": pl.Int64,
              "error_class": pl.String, "reached": pl.Boolean, "retried": pl.Boolean, "retry_left": pl.Int64,
              "thread": pl.String, "logical": pl.String, "attempts": pl.Int64}
    return pl.DataFrame(schema=schema)


def _absorb(with_id: pl.DataFrame, without: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Id-less lines logged inside an id-bearing attempt, in its lane, belong to it.

    An application that writes request ids and lets its HTTP library log at DEBUG has both: the
    library's lines about the same call are not a second attempt.
    """
    lane = ["file", "__thread"]
    spans = with_id.with_columns(pl.col("thread").fill_null("").alias("__thread")).group_by(
        lane + ["request_id", "attempt"]).agg(pl.col("row").min().alias("__from"), pl.col("row").max().alias("__to"),
                                              pl.col("path").drop_nulls().first().alias("__path"))
    loose = without.with_columns(pl.col("thread").fill_null("").alias("__thread"))
    j = loose.sort("row").join_asof(spans.sort("__from"), left_on="row", right_on="__from", by=lane,
                                    strategy="backward", suffix="__span", check_sortedness=False)
    inside = (pl.col("__to").is_not_null() & (pl.col("row") <= pl.col("__to"))
              & (pl.col("path").is_null() | pl.col("__path").is_null() | (pl.col("path") == pl.col("__path"))))
    j = j.with_columns(inside.fill_null(False).alias("__in"))
    taken = j.filter("__in").with_columns(pl.col("request_id__span").alias("request_id"),
                                          pl.col("attempt__span").alias("attempt"))
    keep = list(without.columns)
    return (pl.concat([with_id, taken.select(keep)], how="vertical_relaxed").sort("row"),
            j.filter(~pl.col("__in")).select(keep))


def _id_attempts(c: pl.DataFrame, attach_s: float, unreached: list[str]) -> pl.DataFrame:
    """Attempts of lines with request ids: numbered by the log where it numbers them."""
    # An id is numbered when any of its lines carries a number: its highest one is then not null.
    last = c.group_by("request_id").agg(pl.col("attempt").max().alias("__last"))
    c = c.join(last, on="request_id", how="left", maintain_order="left")
    by_number = c.filter(pl.col("__last").is_not_null())
    by_order = c.filter(pl.col("__last").is_null()).drop("__last")
    parts = []
    if by_number.height:
        # Lines about the logical request (a final "giving up") carry no number: they go with its
        # last attempt.
        by_number = by_number.with_columns(pl.coalesce("attempt", "__last").alias("__att")).drop("__last")
        # By id and number alone, as correlate.vac_table does: a text log and a JSON log of the same
        # events give the same attempts, with the rows of both.
        a = _aggregate(by_number, ["request_id", "__att"], unreached)
        parts.append(a.rename({"__att": "attempt"}))
    if by_order.height:
        seq = _sequence(by_order, ["file", "request_id"], attach_s).drop("__mismatch")
        seq = seq.with_columns(pl.max_horizontal("__att", pl.lit(1, pl.UInt32)).alias("__att"))
        a = _aggregate(seq, ["file", "request_id", "__att"], unreached)
        a = a.with_columns(pl.col("__att").rank("ordinal").over("request_id").cast(pl.Int64).alias("attempt"))
        parts.append(a.drop("__att"))
    a = pl.concat(parts, how="diagonal_relaxed")
    return a.with_columns(pl.col("attempt").cast(pl.Int64), pl.col("request_id").alias("logical"))


def _sequenced_attempts(c: pl.DataFrame, backoff_s: float, attach_s: float, unreached: list[str]) -> pl.DataFrame:
    lane = ["file", "thread", "__sub"]
    c = c.with_columns(pl.lit("").alias("__sub"))
    seq = _sequence(c, lane, attach_s)
    mixed = seq.filter("__mismatch").select("file", "thread").unique()
    if mixed.height:
        # Calls interleaved in one lane (an asynchronous client, no thread names): where an answer
        # is for another path than the request open before it, pair requests and answers by path.
        c = c.join(mixed.with_columns(pl.lit(True).alias("__mixed")), on=["file", "thread"], how="left",
                   nulls_equal=True)
        c = c.with_columns(pl.when(pl.col("__mixed").fill_null(False)).then(pl.col("path").fill_null(""))
                           .otherwise(pl.lit("")).alias("__sub")).drop("__mixed")
        seq = _sequence(c, lane, attach_s)
    seq = seq.filter(pl.col("__att") > 0).drop("__mismatch")
    a = _aggregate(seq, lane + ["__att"], unreached).sort(lane + ["__att"])
    announces = seq.group_by("file").agg(pl.col("retry").any().alias("__announces"))
    a = a.join(announces, on="file", how="left")
    # Chains of retry lines: an attempt that announced a retry is continued by the next one.
    prev_retried = pl.col("retried").shift(1).over(lane).fill_null(False)
    prev_path = pl.col("path").shift(1).over(lane)
    same_path = (pl.col("path").is_null() | prev_path.is_null() | (pl.col("path") == prev_path)).fill_null(True)
    chained = prev_retried & same_path
    a = a.with_columns(chained.alias("__cont"))
    # Logs that never announce retries: the same call again within the backoff window after a failure.
    key = ["file", "method", "host", "port", "path"]
    b = a.sort(key + ["send", "__first"])
    gap = (pl.col("send") - pl.col("done").shift(1).over(key, order_by="send"))
    again = (_failed().shift(1).over(key, order_by="send").fill_null(False)
             & (gap <= pl.duration(microseconds=int(backoff_s * 1e6))).fill_null(False))
    b = b.with_columns(pl.when(pl.col("__announces")).then(pl.col("__cont")).otherwise(again).alias("__cont"))
    # Either way a logical request is a run of continued attempts: number the runs.
    group = pl.when(pl.col("__announces")).then(pl.concat_list(lane)).otherwise(pl.concat_list(
        [pl.col(k).cast(pl.String) for k in key]))
    b = b.with_columns(group.alias("__grp")).sort(["__grp", "send", "__first"])
    b = _runs(b)
    return b.drop("__announces", "__cont", "__grp", "__att", "__sub")


def _runs(b: pl.DataFrame) -> pl.DataFrame:
    """``logical`` and ``attempt`` for attempts whose ``__cont`` says they continue the previous one.

    Order: chained lanes by attempt number, window groups by send time (both are already the
    frame's order within ``__grp``)."""
    order = pl.when(pl.col("__announces")).then(pl.col("__att").cast(pl.Int64)).otherwise(
        pl.col("send").dt.epoch("us"))
    b = b.with_columns(order.alias("__ord")).sort(["__grp", "__ord", "__first"])
    b = b.with_columns((~pl.col("__cont")).cast(pl.UInt32).cum_sum().over("__grp").alias("__run"))
    first = pl.col("__first").min().over(["__grp", "__run"])
    line = pl.col("line").filter(pl.col("__first") == first).first().over(["__grp", "__run"])
    b = b.with_columns(
        pl.format("{}:{}", pl.col("file"), line).alias("logical"),
        (pl.int_range(pl.len()).over(["__grp", "__run"]) + 1).cast(pl.Int64).alias("attempt"),
    )
    return b.drop("__ord", "__run")
