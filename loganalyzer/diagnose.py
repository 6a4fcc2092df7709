"""Diagnose: for each attempt, the hop where it died (the verdict) and why (the root cause).

The verdict follows from which hop answered: the client alone, the proxy by itself (its error log
names the failure), or the upstream (its status reached the proxy, or it dropped the connection).
The root cause comes from rules kept as data (``parsers/rules/*.toml``): the highest-priority rule
whose conditions the attempt's evidence lines meet. Every verdict and cause keeps the lines that
prove it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from loganalyzer.correlate import Correlation

VERDICTS = ("ok", "client", "proxy", "upstream_crash", "upstream_error", "upstream_rejected", "unknown")
#: Statuses only nginx itself produces (the upstream never sent them).
PROXY_OWN_STATUS = [408, 413, 414, 444, 494, 495, 496, 497, 499]
PROXY_CLASSES = ["upstream_unreachable", "upstream_timeout", "body_too_large", "client_closed", "rate_limited"]


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


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    nginx_messages: list[tuple[str, str, int]] = field(default_factory=list)  # (class, pattern, status)
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (label, source, pattern)


_SOURCES = ("vac", "nginx_access", "nginx_error", "crm")


def _rule(table: dict[str, Any], origin: str) -> Rule:
    where = f"{origin}: rule {table.get('name') or table.get('cause', '?')!r}"
    known = {"name", "cause", "detail", "verdicts", "priority", "explain", "advice", "when"}
    if set(table) - known:
        raise RuleError(f"{where}: unknown key(s) {', '.join(sorted(set(table) - known))}")
    if not table.get("cause") or not table.get("when"):
        raise RuleError(f"{where}: 'cause' and 'when' are required")
    conds = []
    for c in table["when"]:
        if c.get("source") not in _SOURCES:
            raise RuleError(f"{where}: each condition needs source = one of {', '.join(_SOURCES)}")
        extra = set(c) - set(Condition.__annotations__)
        if extra:
            raise RuleError(f"{where}: unknown condition key(s) {', '.join(sorted(extra))}")
        for key in ("text", "level", "client_error"):
            if c.get(key):
                try:
                    re.compile(c[key])
                except re.error as exc:
                    raise RuleError(f"{where}: bad {key} regex: {exc}") from None
        conds.append(Condition(**c))
    for v in table.get("verdicts") or []:
        if v not in VERDICTS:
            raise RuleError(f"{where}: unknown verdict {v!r}")
    detail = table.get("detail")
    name = table.get("name") or (f"{table['cause']}:{detail}" if detail else table["cause"])
    return Rule(name, table["cause"], int(table.get("priority", 50)), table.get("explain", ""),
                table.get("advice", ""), conds, detail, table.get("verdicts"), origin)


def _parse_rules(text: str, origin: str, into: RuleSet) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{origin}: not valid TOML ({exc})") from None
    by_name = {r.name: i for i, r in enumerate(into.rules)}
    for table in data.get("rule", []):
        rule = _rule(table, origin)
        if rule.name in by_name:
            into.rules[by_name[rule.name]] = rule
        else:
            by_name[rule.name] = len(into.rules)
            into.rules.append(rule)
    for m in data.get("nginx_message", []):
        into.nginx_messages.append((m["class"], m["pattern"], int(m.get("status", 0))))
    for c in data.get("change", []):
        into.changes.append((c["label"], c["source"], c["pattern"]))


def load_rules(user_files: list[str | Path] = ()) -> RuleSet:
    """The built-in rules, then the user's (a user rule with a built-in rule's name replaces it)."""
    rules = RuleSet()
    folder = resources.files("loganalyzer.parsers").joinpath("rules")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            _parse_rules(entry.read_text(encoding="utf-8"), f"built-in {entry.name}", rules)
    for path in user_files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(f"cannot read rules file {path}: {exc.strerror}") from None
        _parse_rules(text, str(path), rules)
    return rules


# --------------------------------------------------------------------------------------------
# evidence lines


def evidence_lines(corr: Correlation, frames: dict[str, pl.DataFrame], rules: RuleSet) -> pl.DataFrame:
    """Every linked entry with what rules look at: kind, level, text, status, client error, class."""
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
        return pl.DataFrame(schema={"attempt_id": pl.UInt32, "kind": pl.String, "row": pl.UInt32})
    ev = pl.concat(parts, how="diagonal_relaxed")
    return ev if "nginx_class" in ev.columns else ev.with_columns(pl.lit(None, pl.String).alias("nginx_class"))


def nginx_class(text: pl.Expr, rules: RuleSet) -> pl.Expr:
    """The class of an nginx error message (first matching ``[[nginx_message]]``), else null."""
    cls = pl.lit(None, pl.String)
    for name, pattern, _status in reversed(rules.nginx_messages):
        cls = pl.when(text.str.contains(pattern)).then(pl.lit(name)).otherwise(cls)
    return cls


def _projection(kind: str, df: pl.DataFrame) -> pl.DataFrame:
    def col(name: str, dtype=pl.String) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype).alias(name)

    text = col("message")
    if kind == "crm":
        # Root cause first: rules that name an exception should find the deepest one.
        text = pl.concat_str([
            pl.format("{}: {}", col("root_cause"), col("root_cause_message").fill_null("")),
            pl.format("{}: {}", col("exception"), col("exception_message").fill_null("")),
            col("message"),
        ], separator="\n", ignore_nulls=True)
    return df.select(
        "row", pl.col("ts").alias("line_ts"), pl.col("file").cast(pl.String), "line", col("level"),
        text.alias("text"), col("status", pl.Int64).alias("status"), col("error").alias("client_error"),
        col("thread"),
    )


# --------------------------------------------------------------------------------------------
# verdicts


def verdicts(attempts: pl.DataFrame, ev: pl.DataFrame, have: set[str], upstream_logged_files: set[str],
             classes: list[str]) -> pl.DataFrame:
    """Add ``verdict`` and ``verdict_reason`` (and the nginx failure class) to the attempts."""
    order = {c: i for i, c in enumerate(classes)}
    failure = (
        ev.filter(pl.col("nginx_class").is_not_null())
        .with_columns(pl.col("nginx_class").replace_strict(order, default=99, return_dtype=pl.Int32).alias("__o"))
        .sort(["attempt_id", "__o"]).group_by("attempt_id").first()
        .select("attempt_id", "nginx_class", pl.col("text").alias("nginx_message"))
    )
    crm = ev.filter(pl.col("kind") == "crm").group_by("attempt_id").agg(
        pl.len().alias("crm_lines"), pl.col("level").is_in(["ERROR", "FATAL"]).any().alias("crm_error"))
    access_file = ev.filter(pl.col("kind") == "nginx_access").select("attempt_id", pl.col("file").alias("__af"))
    a = attempts.join(failure, on="attempt_id", how="left").join(crm, on="attempt_id", how="left") \
        .join(access_file, on="attempt_id", how="left")
    at_proxy = pl.col("p_row").is_not_null()
    status = pl.col("p_status_proxy").cast(pl.Int64)
    upstream = pl.col("p_status_upstream").cast(pl.Int64)
    cls = pl.col("nginx_class")
    logged = pl.col("__af").is_in(list(upstream_logged_files))
    errors_loaded = "nginx_error" in have
    upstream_known = logged & upstream.is_not_null()
    verdict = (
        pl.when(~at_proxy & pl.col("c_status_client").is_not_null() & ("nginx_access" in have))
        .then(pl.lit("unknown"))
        .when(~at_proxy & ("nginx_access" in have)).then(pl.lit("client"))
        .when(~at_proxy).then(pl.lit("unknown"))
        .when(status.is_between(200, 399)).then(pl.lit("ok"))
        .when(cls == "upstream_crash").then(pl.lit("upstream_crash"))
        .when(cls.is_in(PROXY_CLASSES)).then(pl.lit("proxy"))
        .when(status.is_in(PROXY_OWN_STATUS)).then(pl.lit("proxy"))
        .when(logged & upstream.is_null()).then(pl.lit("proxy"))
        .when(status.is_in([502, 504]) & ~pl.lit(errors_loaded)).then(pl.lit("unknown"))
        .when(pl.coalesce(upstream, status) >= 500).then(pl.lit("upstream_error"))
        .when(pl.coalesce(upstream, status) >= 400).then(pl.lit("upstream_rejected"))
        .otherwise(pl.lit("unknown"))
    )
    reason = (
        pl.when(~at_proxy & pl.col("c_status_client").is_not_null() & ("nginx_access" in have))
        .then(pl.format("the client got {} but no proxy line matches (is the proxy log complete?)",
                        pl.col("c_status_client")))
        .when(~at_proxy & ("nginx_access" in have)).then(
            pl.format("no proxy line for this attempt; the client reported: {}",
                      pl.col("c_client_error").fill_null("nothing")))
        .when(~at_proxy).then(pl.lit("no proxy log loaded to tell whether it got there"))
        .when(status.is_between(200, 399)).then(pl.format("the proxy logged {}", status))
        .when(cls.is_not_null()).then(
            pl.format("nginx: {}", pl.col("nginx_message").str.split(", client:").list.first()))
        .when(status.is_in(PROXY_OWN_STATUS)).then(pl.format("the proxy answered {} itself", status))
        .when(logged & upstream.is_null()).then(pl.format("the proxy answered {} without an upstream status", status))
        .when(status.is_in([502, 504]) & ~pl.lit(errors_loaded)).then(
            pl.format("{} without the proxy's error log: a crash, a timeout and an unreachable upstream look alike",
                      status))
        .when(upstream_known).then(pl.format("the upstream answered {}", upstream))
        .otherwise(pl.format("the upstream answered {} (no proxy failure logged)", status))
    )
    return a.with_columns(verdict.alias("verdict"), reason.alias("verdict_reason")).drop("__af")


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


def root_causes(attempts: pl.DataFrame, ev: pl.DataFrame, rules: RuleSet) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pick each failed attempt's root cause; return attempts with cause columns and the cause evidence."""
    failed = attempts.filter(pl.col("verdict") != "ok").select("attempt_id", "verdict")
    lines = ev.join(failed, on="attempt_id", how="inner")
    cause_cols = {"root_cause": pl.String, "root_cause_detail": pl.String, "rule": pl.String}
    if lines.height == 0 or not rules.rules:
        out = attempts.with_columns(
            pl.when(pl.col("verdict") == "ok").then(pl.lit("none")).otherwise(pl.lit("unknown")).alias("root_cause"),
            pl.lit(None, pl.String).alias("root_cause_detail"), pl.lit(None, pl.String).alias("rule"))
        return out, pl.DataFrame(schema={"attempt_id": pl.UInt32, "row": pl.UInt32, "kind": pl.String})
    conds = {f"r{i}c{j}": cond for i, rule in enumerate(rules.rules) for j, cond in enumerate(rule.when)}
    masks = list(conds)
    # Each condition is evaluated on the lines of its own source only.
    parts = []
    for (kind,), sub in lines.group_by(["kind"]):
        parts.append(sub.with_columns(
            [(_mask(c) if c.source == kind else pl.lit(False)).alias(n) for n, c in conds.items()]))
    lines = pl.concat(parts)
    hit = lines.group_by("attempt_id").agg([pl.col(n).any() for n in masks]).join(failed, on="attempt_id")
    fired = []
    for i, rule in enumerate(rules.rules):
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
    for i, rule in enumerate(rules.rules):
        any_cond = pl.any_horizontal([pl.col(f"r{i}c{j}") for j in range(len(rule.when))])
        met = pl.when(pl.col("rule_index") == i).then(any_cond).otherwise(met)
    cause_lines = lines.filter(met).drop(masks)
    details = _details(cause_lines, rules)
    names = [r.name for r in rules.rules]
    causes = [r.cause for r in rules.rules]
    chosen = chosen.with_columns(
        pl.col("rule_index").replace_strict(dict(enumerate(causes)), return_dtype=pl.String).alias("root_cause"),
        pl.col("rule_index").replace_strict(dict(enumerate(names)), return_dtype=pl.String).alias("rule"),
    ).join(details, on="attempt_id", how="left")
    out = attempts.join(chosen.select("attempt_id", *cause_cols), on="attempt_id", how="left").with_columns(
        pl.when(pl.col("verdict") == "ok").then(pl.lit("none"))
        .otherwise(pl.col("root_cause").fill_null("unknown")).alias("root_cause"))
    return out, cause_lines


def _details(cause_lines: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """A fixed detail from the rule, else the text its regex captured as ``detail``."""
    exprs = pl.lit(None, pl.String)
    for i, rule in enumerate(rules.rules):
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


def rule_texts(rules: RuleSet) -> pl.DataFrame:
    """Explanation and advice per rule name, for reports."""
    return pl.DataFrame({"rule": [r.name for r in rules.rules], "explanation": [r.explain for r in rules.rules],
                         "advice": [r.advice for r in rules.rules]})
