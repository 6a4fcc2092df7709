"""Diagnose: for each attempt, the hop where it died (the verdict), who answered, and why.

The verdict follows from what the lines mean: the client alone (it could not open a connection),
the proxy by itself (its error log names the failure, or it gave a status only it gives), or the
upstream (its status reached the proxy, or it dropped the connection). Each verdict says how
strong its evidence is: a 502 with no error line is most likely nginx's own answer, but nothing
proves it. The root cause comes from rules kept as data (``loganalyzer/rules/default.toml`` and
the user's files): the highest-priority rule whose conditions the attempt's evidence lines meet.
A failure no rule names is named by the signature of the errors at the hop where it died.
Every verdict and cause keeps the lines that prove it.

The vocabulary (verdict names, glosses, the verdict each nginx message class and proxy status
implies, client error classes, cause phrases, change lines) is read from the rules files; the code
knows only the readings the logs allow.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from loganalyzer import signatures
from loganalyzer.correlate import Correlation

#: Who can have produced an attempt's outcome.
ANSWERERS = ("client", "proxy", "upstream", "none")
#: The readings of the evidence whose verdict the rules name (see [outcomes] in the rules file).
OUTCOMES = ("success", "no_proxy_line", "unseen", "no_upstream", "upstream_5xx", "upstream_4xx")
EVIDENCE = ("strong", "thin")
_SOURCES = ("vac", "nginx_access", "nginx_error", "crm")
BUILTIN = "default.toml"


class RuleError(ValueError):
    """A rules file that cannot be read."""


@dataclass
class Condition:
    source: str
    text: str | None = None
    level: str | None = None
    status: list[int] | None = None
    client_error: str | None = None


@dataclass
class Rule:
    name: str
    cause: str
    priority: int
    explain: str
    advice: str
    when: list[Condition]
    detail: str | None = None
    verdicts: list[str] | None = None
    origin: str = "built-in"
    signature: str | None = None  # adopts this signature id instead of testing conditions


@dataclass
class Verdict:
    name: str
    gloss: str
    colour: str
    place: str
    answered: str
    failed: bool = True
    errors_from: list[str] = field(default_factory=list)


@dataclass
class ProxyStatus:
    status: list[int]
    verdict: str
    evidence: str
    gloss: str
    answered: str | None = None


@dataclass
class MessageClass:
    name: str
    pattern: str
    status: int
    verdict: str | None
    answered: str | None = None
    gloss: str | None = None


@dataclass
class ClientErrorClass:
    name: str
    pattern: str
    verdict: str | None = None


@dataclass
class ChangePattern:
    kind: str
    label: str
    source: str
    pattern: str
    release_label: str | None = None


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    proxy_statuses: list[ProxyStatus] = field(default_factory=list)
    message_classes: list[MessageClass] = field(default_factory=list)
    client_errors: list[ClientErrorClass] = field(default_factory=list)
    cause_phrases: dict[str, str] = field(default_factory=dict)
    library_frames: list[str] = field(default_factory=list)
    error_levels: list[str] = field(default_factory=list)
    severe_levels: list[str] = field(default_factory=list)
    changes: list[ChangePattern] = field(default_factory=list)

    @property
    def nginx_messages(self) -> list[tuple[str, str, int]]:
        """(class, pattern, status) of each nginx message class, in file order."""
        return [(m.name, m.pattern, m.status) for m in self.message_classes]

    @property
    def failed_verdicts(self) -> list[str]:
        return [v.name for v in self.verdicts.values() if v.failed]


# --------------------------------------------------------------------------------------------
# reading rules files


def _regex(where: str, key: str, value: str) -> None:
    """A rule's regex must compile in the engine that runs it (polars' Rust regex: no look-around,
    no backreferences), and in Python's (which reads its group names): checked at load, before
    any log is read."""
    try:
        re.compile(value)
    except re.error as exc:
        raise RuleError(f"{where}: bad {key} regex: {exc}") from None
    try:
        pl.select(pl.lit("", pl.String).str.contains(value))
    except pl.exceptions.PolarsError as exc:
        lines = [x.strip() for x in str(exc).splitlines()]
        reason = next((x[len("error:"):].strip() for x in lines if x.startswith("error:")), "not supported")
        raise RuleError(f"{where}: {key} regex {value!r} cannot run in the engine: {reason}") from None


def _known_keys(where: str, table: dict[str, Any], known: set[str]) -> None:
    if set(table) - known:
        raise RuleError(f"{where}: unknown key(s) {', '.join(sorted(set(table) - known))}")


def _check_verdict(where: str, name: Any, into: RuleSet) -> None:
    if name not in into.verdicts:
        raise RuleError(f"{where}: unknown verdict {name!r}")


def _check_answered(where: str, value: Any) -> None:
    if value is not None and value not in ANSWERERS:
        raise RuleError(f"{where}: answered must be one of {', '.join(ANSWERERS)}")


def _rule(table: dict[str, Any], origin: str, into: RuleSet) -> Rule:
    where = f"{origin}: rule {table.get('name') or table.get('cause', '?')!r}"
    _known_keys(where, table, {"name", "cause", "detail", "verdicts", "priority", "explain", "advice", "when",
                               "signature"})
    sig = table.get("signature")
    if not table.get("cause") or not (table.get("when") or sig):
        raise RuleError(f"{where}: 'cause' and 'when' are required")
    if sig and table.get("when"):
        raise RuleError(f"{where}: a rule has either 'when' or 'signature', not both")
    if sig:
        sig = sig if sig.startswith("signature:") else f"signature:{sig}"
    conds = []
    for c in table.get("when") or []:
        if c.get("source") not in _SOURCES:
            raise RuleError(f"{where}: each condition needs source = one of {', '.join(_SOURCES)}")
        extra = set(c) - set(Condition.__annotations__)
        if extra:
            raise RuleError(f"{where}: unknown condition key(s) {', '.join(sorted(extra))}")
        for key in ("text", "level", "client_error"):
            if c.get(key):
                _regex(where, key, c[key])
        conds.append(Condition(**c))
    for v in table.get("verdicts") or []:
        _check_verdict(where, v, into)
    detail = table.get("detail")
    name = table.get("name") or (f"{table['cause']}:{detail}" if detail else table["cause"])
    return Rule(name, table["cause"], int(table.get("priority", 50)), table.get("explain", ""),
                table.get("advice", ""), conds, detail, table.get("verdicts"), origin, sig)


def _replace_or_add(items: list, item: Any, key: str) -> None:
    for i, old in enumerate(items):
        if getattr(old, key) == getattr(item, key):
            items[i] = item
            return
    items.append(item)


def _parse_rules(text: str, origin: str, into: RuleSet) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{origin}: not valid TOML ({exc})") from None
    # Verdicts first: everything else names them.
    for t in data.get("verdict", []):
        where = f"{origin}: verdict {t.get('name', '?')!r}"
        _known_keys(where, t, {"name", "gloss", "colour", "place", "answered", "failed", "errors_from"})
        if not t.get("name") or "answered" not in t:
            raise RuleError(f"{where}: 'name' and 'answered' are required")
        _check_answered(where, t["answered"])
        bad = set(t.get("errors_from", [])) - set(_SOURCES)
        if bad:
            raise RuleError(f"{where}: errors_from names unknown source(s) {', '.join(sorted(bad))}")
        into.verdicts[t["name"]] = Verdict(t["name"], t.get("gloss", ""), t.get("colour", "#9aa3ad"),
                                           t.get("place", ""), t["answered"], bool(t.get("failed", True)),
                                           list(t.get("errors_from", [])))
    for key, value in (data.get("outcomes") or {}).items():
        if key not in OUTCOMES:
            raise RuleError(f"{origin}: [outcomes] has unknown reading {key!r} (known: {', '.join(OUTCOMES)})")
        _check_verdict(f"{origin}: [outcomes] {key}", value, into)
        into.outcomes[key] = value
    for t in data.get("proxy_status", []):
        where = f"{origin}: proxy_status {t.get('status')!r}"
        _known_keys(where, t, {"status", "verdict", "evidence", "gloss", "answered"})
        _check_verdict(where, t.get("verdict"), into)
        _check_answered(where, t.get("answered"))
        if t.get("evidence", "strong") not in EVIDENCE:
            raise RuleError(f"{where}: evidence must be 'strong' or 'thin'")
        statuses = [int(x) for x in (t["status"] if isinstance(t.get("status"), list) else [t.get("status")])]
        # A status declared again (by a user file) leaves its older declaration.
        for old in into.proxy_statuses:
            old.status = [x for x in old.status if x not in statuses]
        into.proxy_statuses = [p for p in into.proxy_statuses if p.status]
        into.proxy_statuses.append(ProxyStatus(statuses, t["verdict"], t.get("evidence", "strong"),
                                               t.get("gloss", ""), t.get("answered")))
    for m in data.get("nginx_message", []):
        where = f"{origin}: nginx_message {m.get('class', '?')!r}"
        _known_keys(where, m, {"class", "pattern", "status", "verdict", "answered", "gloss"})
        if not m.get("class") or not m.get("pattern"):
            raise RuleError(f"{where}: 'class' and 'pattern' are required")
        _regex(where, "pattern", m["pattern"])
        if m.get("verdict") is not None:
            _check_verdict(where, m["verdict"], into)
        _check_answered(where, m.get("answered"))
        _replace_or_add(into.message_classes, MessageClass(m["class"], m["pattern"], int(m.get("status", 0)),
                                                           m.get("verdict"), m.get("answered"), m.get("gloss")),
                        "name")
    for c in data.get("client_error", []):
        where = f"{origin}: client_error {c.get('class', '?')!r}"
        _known_keys(where, c, {"class", "pattern", "verdict"})
        _regex(where, "pattern", c.get("pattern", ""))
        if c.get("verdict") is not None:
            _check_verdict(where, c["verdict"], into)
        _replace_or_add(into.client_errors, ClientErrorClass(c["class"], c["pattern"], c.get("verdict")), "name")
    for c in data.get("cause", []):
        into.cause_phrases[c["name"]] = c.get("phrase", c["name"].replace("_", " "))
    sig = data.get("signatures") or {}
    if "library_frames" in sig:
        into.library_frames = list(sig["library_frames"])
    if "levels" in sig:
        into.error_levels = [lv.upper() for lv in sig["levels"]]
    if "severe_levels" in sig:
        into.severe_levels = [lv.upper() for lv in sig["severe_levels"]]
    for table in data.get("rule", []):
        _replace_or_add(into.rules, _rule(table, origin, into), "name")
    for c in data.get("change", []):
        where = f"{origin}: change {c.get('label', '?')!r}"
        _known_keys(where, c, {"kind", "label", "source", "pattern", "release_label"})
        if c.get("source") not in _SOURCES or not c.get("pattern") or not c.get("label"):
            raise RuleError(f"{where}: 'label', 'pattern' and source = one of {', '.join(_SOURCES)} are required")
        _regex(where, "pattern", c["pattern"])
        _replace_or_add(into.changes, ChangePattern(c.get("kind", "restart"), c["label"], c["source"], c["pattern"],
                                                    c.get("release_label")), "label")


def load_rules(user_files: list[str | Path] = ()) -> RuleSet:
    """The built-in vocabulary and rules, then the user's (a table with a built-in name replaces it)."""
    rules = RuleSet()
    builtin = resources.files("loganalyzer").joinpath("rules", BUILTIN)
    _parse_rules(builtin.read_text(encoding="utf-8"), f"built-in {BUILTIN}", rules)
    for path in user_files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(f"cannot read rules file {path}: {exc.strerror}") from None
        _parse_rules(text, str(path), rules)
    missing = [k for k in OUTCOMES if k not in rules.outcomes]
    if missing:
        raise RuleError(f"rules: [outcomes] must name the verdict of {', '.join(missing)}")
    return rules


def vocabulary(rules: RuleSet) -> dict[str, Any]:
    """The verdicts (gloss, colour, place, who answered) and cause phrases, as plain data for reports."""
    return {
        "verdicts": [{"name": v.name, "gloss": v.gloss, "colour": v.colour, "place": v.place,
                      "answered": v.answered, "failed": v.failed} for v in rules.verdicts.values()],
        "cause_phrases": dict(rules.cause_phrases),
    }


# --------------------------------------------------------------------------------------------
# evidence lines


def evidence_lines(corr: Correlation, frames: dict[str, pl.DataFrame], rules: RuleSet) -> pl.DataFrame:
    """Every linked entry with what rules look at: kind, level, text, status, client error, class.

    Also what a signature is built from: ``sig_class``, ``sig_message`` and ``stack``.
    """
    parts = []
    for kind, df in frames.items():
        if corr.links.height == 0:
            break
        mine = corr.links.filter(pl.col("kind") == kind)
        if mine.height == 0:
            continue
        proj = _projection(kind, df.with_row_index("row"))
        if kind == "nginx_error":  # classify the (few) error lines before they meet the rest
            proj = proj.with_columns(nginx_class(pl.col("text"), rules).alias("nginx_class"))
        parts.append(mine.join(proj, on="row", how="left"))
    if not parts:
        return pl.DataFrame(schema={"attempt_id": pl.UInt32, "kind": pl.String, "row": pl.UInt32,
                                    "nginx_class": pl.String})
    ev = pl.concat(parts, how="diagonal_relaxed")
    return ev if "nginx_class" in ev.columns else ev.with_columns(pl.lit(None, pl.String).alias("nginx_class"))


def nginx_class(text: pl.Expr, rules: RuleSet) -> pl.Expr:
    """The class of an nginx error message (first matching ``[[nginx_message]]``), else null."""
    cls = pl.lit(None, pl.String)
    for m in reversed(rules.message_classes):
        cls = pl.when(text.str.contains(m.pattern)).then(pl.lit(m.name)).otherwise(cls)
    return cls


def _projection(kind: str, df: pl.DataFrame) -> pl.DataFrame:
    def col(name: str, dtype=pl.String) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype).alias(name)

    text = col("message")
    # A client's error is its error field, else the message of its warnings and errors (HTTP
    # libraries write "Retrying ... after connection broken by NewConnectionError(...)").
    client_error = pl.coalesce(col("error"), pl.when(col("level").is_in(["WARN", "ERROR", "FATAL"]))
                               .then(col("message"))) if kind == "vac" else col("error")
    sig_class = col("error") if kind == "vac" else pl.lit(None, pl.String)
    sig_message = col("message")
    if kind in ("crm", "vac") and "exception" in df.columns:
        # The deepest exception says most; the log message is the fallback.
        exc = pl.coalesce(col("root_cause"), col("exception"))
        sig_class = pl.coalesce(exc, sig_class)
        sig_message = pl.when(exc.is_not_null()).then(
            pl.coalesce(pl.when(col("root_cause").is_not_null()).then(col("root_cause_message")),
                        col("exception_message"), pl.lit(""))).otherwise(col("message"))
    if kind == "crm":
        # Root cause first: rules that name an exception should find the deepest one.
        text = pl.concat_str([
            pl.format("{}: {}", col("root_cause"), col("root_cause_message").fill_null("")),
            pl.format("{}: {}", col("exception"), col("exception_message").fill_null("")),
            col("message"),
        ], separator="\n", ignore_nulls=True)
    return df.select(
        "row", pl.col("ts").alias("line_ts"), pl.col("file").cast(pl.String), "line", col("level"),
        text.alias("text"), col("status", pl.Int64).alias("status"), client_error.alias("client_error"),
        col("thread"), sig_class.alias("sig_class"), sig_message.alias("sig_message"),
        col("stack_trace").alias("stack"),
    )


# --------------------------------------------------------------------------------------------
# verdicts


def _lookup(expr: pl.Expr, mapping: dict, dtype=pl.String) -> pl.Expr:
    if not mapping:
        return pl.lit(None, dtype)
    return expr.replace_strict(mapping, default=None, return_dtype=dtype)


def verdicts(attempts: pl.DataFrame, ev: pl.DataFrame, have: set[str], upstream_logged_files: set[str],
             rules: RuleSet | None = None) -> pl.DataFrame:
    """Add ``verdict``, ``verdict_reason``, ``verdict_evidence`` and ``answered_by`` to the attempts.

    ``attempts`` needs ``attempt_id``, ``p_row`` (null: no proxy line), ``p_status_proxy``,
    ``p_status_upstream``, ``c_status_client`` and ``c_client_error``; ``ev`` the evidence lines
    (:func:`evidence_lines`); ``have`` the source kinds loaded; ``upstream_logged_files`` the
    access logs that record ``$upstream_status``. The nginx failure class of the attempt is
    added too (``nginx_class``, ``nginx_message``).

    ``verdict_evidence`` is "strong" when a line proves who answered and "thin" when the verdict
    is the likeliest reading only (a 502 with no error line; a status the upstream may or may not
    have sent, with no upstream status or line to tell).
    """
    if not isinstance(rules, RuleSet):  # None (or the class list older callers passed): the built-in rules
        rules = load_rules()
    out = rules.outcomes
    order = {m.name: i for i, m in enumerate(rules.message_classes)}
    failure = (
        ev.filter(pl.col("nginx_class").is_not_null())
        .with_columns(pl.col("nginx_class").replace_strict(order, default=99, return_dtype=pl.Int32).alias("__o"))
        .sort(["attempt_id", "__o"]).group_by("attempt_id").first()
        .select("attempt_id", "nginx_class", pl.col("text").alias("nginx_message"))
    )
    crm = ev.filter(pl.col("kind") == "crm").group_by("attempt_id").agg(
        pl.len().alias("__crm_lines"),
        pl.col("level").cast(pl.String).is_in(rules.severe_levels).any().alias("__crm_severe"),
        pl.col("level").cast(pl.String).is_in(["WARN", "WARNING"]).any().alias("__crm_warn"))
    access_file = ev.filter(pl.col("kind") == "nginx_access").group_by("attempt_id").agg(
        pl.col("file").first().alias("__af"))
    a = attempts.join(failure, on="attempt_id", how="left").join(crm, on="attempt_id", how="left") \
        .join(access_file, on="attempt_id", how="left")
    at_proxy = pl.col("p_row").is_not_null()
    status = pl.col("p_status_proxy").cast(pl.Int64)
    upstream = pl.col("p_status_upstream").cast(pl.Int64)
    client_status = pl.col("c_status_client").cast(pl.Int64)
    client_error = pl.col("c_client_error").cast(pl.String)
    cls = pl.col("nginx_class")
    logged = pl.col("__af").is_in(list(upstream_logged_files))
    access_loaded = pl.lit("nginx_access" in have)
    upstream_saw = pl.col("__crm_lines").fill_null(0) > 0

    by_status = {s: p for p in rules.proxy_statuses for s in p.status}
    own = status.is_in([s for s, p in by_status.items() if p.evidence == "strong"])
    likely_own = status.is_in([s for s, p in by_status.items() if p.evidence == "thin"])
    status_verdict = _lookup(status, {s: p.verdict for s, p in by_status.items()})
    status_gloss = _lookup(status, {s: p.gloss for s, p in by_status.items()})
    status_answered = _lookup(status, {s: p.answered for s, p in by_status.items() if p.answered})
    class_verdict = _lookup(cls, {m.name: m.verdict for m in rules.message_classes if m.verdict})
    class_answered = _lookup(cls, {m.name: m.answered for m in rules.message_classes if m.answered})
    class_gloss = _lookup(cls, {m.name: f" ({m.gloss})" for m in rules.message_classes if m.gloss}).fill_null("")
    # The first client error class (in file order) that says where the request died.
    client_verdict = pl.lit(None, pl.String)
    for c in reversed([c for c in rules.client_errors if c.verdict]):
        client_verdict = pl.when(client_error.fill_null("").str.contains(c.pattern)) \
            .then(pl.lit(c.verdict)).otherwise(client_verdict)

    def lit(key: str) -> pl.Expr:
        return pl.lit(out[key])

    def status_class(s: pl.Expr) -> pl.Expr:
        return pl.when(s >= 500).then(lit("upstream_5xx")).otherwise(lit("upstream_4xx"))

    upstream_known = logged & upstream.is_not_null()
    no_line = pl.format("the proxy logged {}; its access log has no $upstream_status and the upstream logged "
                        "nothing for it, so the {} is taken as the upstream's (thin evidence)", status, status)
    # (condition, verdict, reason, evidence, who answered or null for the verdict's own)
    # Only the upstream's log tells of the attempt: its own lines' levels say how it went.
    upstream_only = (pl.col("link") == "upstream only") if "link" in attempts.columns else pl.lit(False)
    steps: list[tuple[pl.Expr, pl.Expr, pl.Expr, str, pl.Expr | None]] = [
        (upstream_only & pl.col("__crm_severe").fill_null(False), lit("upstream_5xx"),
         pl.lit("the upstream logged an error while handling it (only its log was loaded: what was answered is "
                "not known)"), "thin", pl.lit("upstream")),
        (upstream_only & pl.col("__crm_warn").fill_null(False), lit("upstream_4xx"),
         pl.lit("the upstream logged a warning while handling it (only its log was loaded: what was answered is "
                "not known)"), "thin", pl.lit("upstream")),
        (upstream_only, lit("success"), pl.lit("the upstream logged no warning or error while handling it"),
         "thin", pl.lit("upstream")),
        (~at_proxy & client_status.is_between(200, 399), lit("success"),
         pl.format("the client got {}", client_status), "strong", None),
        (~at_proxy & client_verdict.is_not_null(), client_verdict,
         pl.format("the client could not open a connection ({}): the request never reached the proxy", client_error),
         "strong", None),
        (~at_proxy & client_status.is_not_null() & access_loaded, lit("unseen"),
         pl.format("the client got {} but no proxy line matches (is the proxy log complete?)", client_status),
         "thin", None),
        (~at_proxy & access_loaded, lit("no_proxy_line"),
         pl.format("no proxy line for this attempt; the client reported: {}", client_error.fill_null("nothing")),
         "thin", None),
        (~at_proxy, lit("unseen"),
         pl.format("no proxy log loaded to tell whether it got there (the client reported: {})",
                   pl.coalesce(client_status.cast(pl.String), client_error, pl.lit("nothing"))), "thin", None),
        (status.is_between(200, 399), lit("success"), pl.format("the proxy logged {}", status), "strong", None),
        (cls.is_not_null() & class_verdict.is_not_null(), class_verdict,
         pl.format("nginx: {}{}", pl.col("nginx_message").str.split(", client:").list.first(), class_gloss), "strong",
         class_answered),
        (own, status_verdict, pl.format("the proxy answered {} itself: {}", status, status_gloss), "strong",
         status_answered),
        (logged & upstream.is_null(), lit("no_upstream"),
         pl.format("the proxy answered {} with no upstream status: the upstream never answered", status),
         "strong", pl.lit("proxy")),
        (likely_own & cls.is_null(), status_verdict,
         pl.format("the proxy logged {} and no error line for it: {}{}", status, status_gloss,
                   pl.when(upstream_saw).then(pl.lit(" (the upstream did log lines for it)")).otherwise(pl.lit(""))),
         "thin", status_answered),
        (upstream_known & (upstream == status) & (status >= 400), status_class(upstream),
         pl.format("the upstream answered {}", upstream), "strong", pl.lit("upstream")),
        (upstream_known & (upstream >= 400), status_class(upstream),
         pl.format("the upstream answered {}; the proxy passed on {}", upstream, status), "strong",
         pl.lit("upstream")),
        (upstream_known & (status >= 400), status_class(status),
         pl.format("the upstream answered {} but the proxy sent {}", upstream, status), "strong", pl.lit("proxy")),
        ((status >= 400) & upstream_saw, status_class(status),
         pl.format("the proxy logged {} and the upstream logged handling the request", status), "strong", None),
        (status >= 400, status_class(status), no_line, "thin", None),
    ]
    fallback = (lit("unseen"), pl.format("the proxy logged {}", status.cast(pl.String).fill_null("no status")),
                "thin", None)

    def fold(pick) -> pl.Expr:
        expr = pl.when(steps[0][0]).then(pick(steps[0]))
        for step in steps[1:]:
            expr = expr.when(step[0]).then(pick(step))
        return expr.otherwise(pick((None, *fallback)))

    verdict = fold(lambda s: s[1])
    reason = fold(lambda s: s[2])
    evidence = fold(lambda s: pl.lit(s[3]))
    answered = fold(lambda s: s[4] if s[4] is not None else pl.lit(None, pl.String))
    default_answered = {v.name: v.answered for v in rules.verdicts.values()}
    return a.with_columns(verdict.alias("verdict"), reason.alias("verdict_reason"),
                          evidence.alias("verdict_evidence"), answered.alias("answered_by")) \
        .with_columns(pl.coalesce(pl.col("answered_by"), _lookup(pl.col("verdict"), default_answered))
                      .alias("answered_by")) \
        .drop("__af", "__crm_lines", "__crm_severe", "__crm_warn")


# --------------------------------------------------------------------------------------------
# root causes


def _mask(c: Condition) -> pl.Expr:
    m = pl.col("kind") == c.source
    if c.text:
        m &= pl.col("text").fill_null("").str.contains(c.text)
    if c.level:
        m &= pl.col("level").fill_null("").str.contains(f"^(?:{c.level})$")
    if c.status:
        m &= pl.col("status").is_in(c.status)
    if c.client_error:
        m &= pl.col("client_error").fill_null("").str.contains(c.client_error)
    return m


_CAUSE_COLS = {"root_cause": pl.String, "root_cause_detail": pl.String, "rule": pl.String}
_LINE_COLS = ["attempt_id", "kind", "row", "file", "line", "line_ts", "link", "confidence", "level"]


def root_causes(attempts: pl.DataFrame, ev: pl.DataFrame, rules: RuleSet) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pick each failed attempt's root cause; return attempts with cause columns and the cause evidence.

    A failed attempt no rule explains gets ``signature:<id>`` (or the cause of a rule that adopts
    that signature); completed attempts get ``none``. No failed attempt is left without a cause.
    """
    failed = attempts.filter(pl.col("verdict").is_in(rules.failed_verdicts)).select("attempt_id", "verdict")
    lines = ev.join(failed, on="attempt_id", how="inner")
    when_rules = [(i, r) for i, r in enumerate(rules.rules) if r.when]
    chosen = pl.DataFrame(schema={"attempt_id": pl.UInt32, **_CAUSE_COLS})
    cause_lines = pl.DataFrame(schema={c: ev.schema.get(c, pl.String) for c in _LINE_COLS if c in ev.columns})
    if lines.height and when_rules:
        chosen, cause_lines = _rule_causes(lines, failed, rules, when_rules)
    left = failed.join(chosen.select("attempt_id"), on="attempt_id", how="anti")
    if left.height:
        named, sig_lines = _signature_causes(left, lines, attempts, rules)
        chosen = pl.concat([chosen, named], how="vertical_relaxed")
        if sig_lines.height:
            cause_lines = pl.concat([cause_lines.select(_LINE_COLS), sig_lines.select(_LINE_COLS)],
                                    how="vertical_relaxed") if cause_lines.height else sig_lines
    out = attempts.join(chosen.select("attempt_id", *_CAUSE_COLS), on="attempt_id", how="left").with_columns(
        pl.when(pl.col("verdict").is_in(rules.failed_verdicts)).then(pl.col("root_cause"))
        .otherwise(pl.lit("none")).alias("root_cause"))
    if cause_lines.height == 0:
        cause_lines = pl.DataFrame(schema={"attempt_id": pl.UInt32, "row": pl.UInt32, "kind": pl.String})
    return out, cause_lines


def _rule_causes(lines: pl.DataFrame, failed: pl.DataFrame, rules: RuleSet,
                 when_rules: list[tuple[int, Rule]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    conds = {f"r{i}c{j}": cond for i, rule in when_rules for j, cond in enumerate(rule.when)}
    masks = list(conds)
    # Each condition is evaluated on the lines of its own source only.
    parts = []
    for (kind,), sub in lines.group_by(["kind"]):
        parts.append(sub.with_columns(
            [(_mask(c) if c.source == kind else pl.lit(False)).alias(n) for n, c in conds.items()]))
    lines = pl.concat(parts)
    hit = lines.group_by("attempt_id").agg([pl.col(n).any() for n in masks]).join(failed, on="attempt_id")
    fired = []
    for i, rule in when_rules:
        ok = pl.all_horizontal([pl.col(f"r{i}c{j}") for j in range(len(rule.when))])
        if rule.verdicts:
            ok &= pl.col("verdict").is_in(rule.verdicts)
        fired.append(hit.filter(ok).select("attempt_id", pl.lit(i).alias("rule_index"),
                                           pl.lit(rule.priority).alias("priority")))
    chosen = pl.concat(fired).sort(["attempt_id", "priority", "rule_index"], descending=[False, True, False]) \
        .unique("attempt_id", keep="first")
    # The evidence of the chosen rule: the lines that met its conditions.
    lines = lines.join(chosen.select("attempt_id", "rule_index"), on="attempt_id", how="inner")
    met = pl.lit(False)
    for i, rule in when_rules:
        any_cond = pl.any_horizontal([pl.col(f"r{i}c{j}") for j in range(len(rule.when))])
        met = pl.when(pl.col("rule_index") == i).then(any_cond).otherwise(met)
    cause_lines = lines.filter(met).drop(masks)
    details = _details(cause_lines, rules, when_rules)
    chosen = chosen.with_columns(
        pl.col("rule_index").replace_strict({i: r.cause for i, r in when_rules}, return_dtype=pl.String)
        .alias("root_cause"),
        pl.col("rule_index").replace_strict({i: r.name for i, r in when_rules}, return_dtype=pl.String)
        .alias("rule"),
    ).join(details, on="attempt_id", how="left")
    return chosen.select("attempt_id", *_CAUSE_COLS), cause_lines


def _details(cause_lines: pl.DataFrame, rules: RuleSet, when_rules: list[tuple[int, Rule]]) -> pl.DataFrame:
    """A fixed detail from the rule, else the text its regex captured as ``detail``."""
    exprs = pl.lit(None, pl.String)
    for i, rule in when_rules:
        if rule.detail:
            value = pl.lit(rule.detail)
        else:
            value = pl.lit(None, pl.String)
            for cond in rule.when:
                for field_name in ("text", "client_error"):
                    rx = getattr(cond, field_name)
                    if rx and "(?P<detail>" in rx:
                        group = re.compile(rx).groupindex["detail"]
                        value = pl.coalesce(value, pl.col(field_name).fill_null("").str.extract(rx, group))
        exprs = pl.when(pl.col("rule_index") == i).then(value).otherwise(exprs)
    return cause_lines.with_columns(exprs.alias("root_cause_detail")).group_by("attempt_id").agg(
        pl.col("root_cause_detail").drop_nulls().first())


def _signature_causes(left: pl.DataFrame, lines: pl.DataFrame, attempts: pl.DataFrame,
                      rules: RuleSet) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Name failed attempts no rule explains by the signature of the errors where they died.

    The error lines (``[signatures] levels``) of the sources the verdict names (``errors_from``,
    in that order; ``severe_levels`` first within a source) give the signature. An attempt with
    no such line is named by what is known of it (verdict and status), so it still groups with
    its like.
    """
    rank = pl.DataFrame(
        [(v.name, k, i) for v in rules.verdicts.values() for i, k in enumerate(v.errors_from)],
        schema={"verdict": pl.String, "kind": pl.String, "__rank": pl.Int32}, orient="row")
    level = pl.col("level").cast(pl.String).fill_null("").str.to_uppercase()
    severity = level.is_in(rules.severe_levels)
    is_error = level.is_in(rules.error_levels) | pl.col("nginx_class").is_not_null() \
        | ((pl.col("kind") == "vac") & pl.col("client_error").is_not_null())
    mine = lines.join(left.select("attempt_id"), on="attempt_id", how="inner") if lines.height else lines
    picked = pl.DataFrame(schema={"attempt_id": pl.UInt32, "__text": pl.String})
    sig_lines = pl.DataFrame()
    if mine.height and "sig_message" in mine.columns:
        has_text = pl.any_horizontal(pl.col(c).is_not_null() & (pl.col(c) != "")
                                     for c in ("sig_class", "sig_message", "stack"))
        mine = mine.join(rank, on=["verdict", "kind"], how="inner").filter(is_error & has_text)
        if mine.height:
            # One line per attempt first, then one signature per distinct error: masking and
            # walking stack traces is the costly part, and a failure repeats the same few errors.
            mine = mine.sort(["attempt_id", "__rank", severity.not_(), "line_ts", "line"]) \
                .unique("attempt_id", keep="first", maintain_order=True)
            message = pl.when(pl.col("kind") == "nginx_error") \
                .then(pl.col("sig_message").str.split(", client:").list.first()).otherwise(pl.col("sig_message"))
            # Stack traces are long: they are told apart by a hash rather than compared whole.
            mine = mine.with_columns(message.alias("__msg"), pl.col("stack").hash().alias("__sh"))
            keys = ["sig_class", "__msg", "__sh"]
            distinct = mine.unique(keys).select(*keys, signatures.signature(
                "sig_class", "__msg", "stack", rules.library_frames or None).alias("__text"))
            mine = mine.join(distinct, on=keys, how="left", nulls_equal=True)
            picked = mine.select("attempt_id", pl.col("__text").fill_null("(an error line without text)"))
            sig_lines = mine.drop("__text", "__rank", "__msg", "__sh")
    rest = left.join(picked.select("attempt_id"), on="attempt_id", how="anti").join(
        attempts.select("attempt_id", "p_status_proxy", "c_status_client", "c_client_error"), on="attempt_id",
        how="left")
    known = pl.coalesce(
        pl.format("the proxy logged {}", pl.col("p_status_proxy")),
        pl.format("the client got {}", pl.col("c_status_client")),
        pl.format("the client reported {}", signatures.mask(pl.col("c_client_error"))),
        pl.lit("no status"))
    rest = rest.select("attempt_id", pl.format("{} with no error line: {}", pl.col("verdict"), known)
                       .alias("__text"))
    named = pl.concat([picked, rest], how="vertical_relaxed")
    named = named.with_columns(signatures.signature_id(named["__text"]).alias("__id"))
    # Rules that adopt a signature (the highest priority wins where two adopt the same one).
    adopt = pl.DataFrame(
        [(r.signature, v, r.cause, r.detail, r.name, r.priority) for r in rules.rules if r.signature
         for v in (r.verdicts or rules.failed_verdicts)],
        schema={"__id": pl.String, "verdict": pl.String, "__cause": pl.String, "__detail": pl.String,
                "__rule": pl.String, "__p": pl.Int64}, orient="row",
    ).sort("__p", descending=True).unique(["__id", "verdict"], keep="first")
    named = named.join(left, on="attempt_id", how="left").join(adopt, on=["__id", "verdict"], how="left").select(
        "attempt_id",
        pl.coalesce("__cause", "__id").alias("root_cause"),
        pl.coalesce("__detail", "__text").alias("root_cause_detail"),
        pl.coalesce("__rule", "__id").alias("rule"),
    )
    return named, sig_lines


def rule_texts(rules: RuleSet) -> pl.DataFrame:
    """Explanation and advice per rule name, for reports."""
    return pl.DataFrame({"rule": [r.name for r in rules.rules], "explanation": [r.explain for r in rules.rules],
                         "advice": [r.advice for r in rules.rules]}, schema={"rule": pl.String,
                                                                             "explanation": pl.String,
                                                                             "advice": pl.String})


def cause_texts(failed: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """Explanation and advice for every ``rule`` the failed attempts name, never null.

    Rules give their own; a signature no rule adopts is explained by its text (the masked error
    and where it surfaced) and the advice says how to name it.
    """
    texts = rule_texts(rules)
    if failed.height == 0 or "rule" not in failed.columns:
        return texts
    sigs = failed.filter(pl.col("rule").str.starts_with("signature:")).group_by("rule").agg(
        pl.col("root_cause_detail").drop_nulls().first().alias("__t"), pl.len().alias("__n"))
    sig_texts = sigs.select(
        "rule",
        pl.format("No rule names this failure; {} failed attempt(s) share the error: {}", pl.col("__n"),
                  pl.col("__t").fill_null("(no error text)")).alias("explanation"),
        pl.format("Read its evidence lines; to name it, add a rule with signature = \"{}\" and its cause, "
                  "explanation and advice (loganalyzer analyze --rules FILE).", pl.col("rule")).alias("advice"),
    )
    out = pl.concat([texts.filter(~pl.col("rule").is_in(sig_texts["rule"].to_list())), sig_texts],
                    how="vertical_relaxed")
    return out.with_columns(
        pl.col("explanation").fill_null("").replace("", "No explanation was written for this rule."),
        pl.col("advice").fill_null(""))
