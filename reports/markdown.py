"""The Markdown postmortem, from the export alone: metadata, summary, impact, timeline, root causes
(primary, contributing, background) with their triggers, evidence, detection, recovery, action items.

Everything inserted into the template is escaped for Markdown by default (``finalize``), so log
text can neither format the page nor smuggle HTML into a wiki that renders it; log lines are
quoted in fenced code blocks whose fence is longer than any run of backticks inside.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import jinja2
import polars as pl

from . import model
from .html import TEMPLATES


class Md(str):
    """Text already in Markdown: inserted as is."""


_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LEADING = re.compile(r"^(\s*)([#+=>-]|\d+[.)])")


def escape(value: Any) -> str:
    """Plain text for a Markdown paragraph or table cell: one line, no formatting, no HTML."""
    if isinstance(value, Md):
        return value
    if value is None:
        return ""
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def para(value: Any) -> Md:
    """Escaped text that starts a line: a leading '#', '-', '+', '>' or '1.' does not make it a
    heading, a list item or a quote."""
    def fix(m: re.Match[str]) -> str:
        mark = m.group(2)
        return m.group(1) + (mark[:-1] + "\\" + mark[-1] if mark[0].isdigit() else "\\" + mark)

    return Md(_LEADING.sub(fix, escape(value)))


def code(value: Any) -> Md:
    """An inline code span (safe in a table cell: '|' escaped, as GFM requires)."""
    text = "" if value is None else str(value).replace("\r", " ").replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return Md(f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}")


def block(value: Any, indent: int = 0, lang: str = "text") -> Md:
    """A fenced code block (indented, to sit inside a list item)."""
    text = "" if value is None else str(value).replace("\r", "").rstrip("\n")
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    pad = " " * indent
    return Md("\n".join(pad + line for line in [fence + lang, *text.split("\n"), fence]))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False,
                             finalize=escape, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(code=code, block=block, para=para,
                       num=lambda n: Md(f"{n or 0:,}"), pct=lambda x: Md(f"{x:.1%}"))
    env.globals.update(hms=lambda v: Md(model.hms(v, ms=True)), md=Md)
    return env


#: A cause seen in at least this many of the logs' ten equal time slices, and not the leading one,
#: is background: a steady trickle (a few 404s all along), apart from the incident's causes.
BACKGROUND_SLICES = 7
#: The peak failure rate is measured over windows of a twentieth of the period the logs cover.
PEAK_WINDOWS = 20

#: Words in a cause's advice that say what kind of action it is (the advice is data, in the rules).
_ACTION_TYPES = (("detect", r"\b(alert|monitor|dashboard|detect|watch)"),
                 ("mitigate", r"\b(roll ?back|restart|revert|raise|increase|scale|retry|fail ?over|disable)"))


def action_type(advice: str) -> str:
    """mitigate, prevent or detect, from the advice's own verbs (prevent when none says otherwise)."""
    for kind, pattern in _ACTION_TYPES:
        if re.search(pattern, advice, re.I):
            return kind
    return "prevent"


def action_items(causes: list[dict[str, Any]], trigger: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One item per cause with advice, its advice whole (one action per cause, not one per clause);
    causes that give the same advice share the item. Most frequent cause first."""
    items: list[dict[str, Any]] = []
    by_text: dict[str, dict[str, Any]] = {}
    for c in causes:
        advice = (c.get("advice") or "").strip()
        if not advice:
            continue
        text = advice[:1].upper() + advice[1:]
        text = text if text.endswith(".") else text + "."
        item = by_text.get(text.lower())
        if item:
            item["causes"].append(c["name"])
            item["attempts"] += c["attempts"]
            continue
        item = by_text[text.lower()] = {"text": text, "type": action_type(advice), "causes": [c["name"]],
                                        "attempts": c["attempts"], "trigger": None}
        if trigger and trigger.get("change") and trigger.get("cause") == c["name"]:
            item["trigger"] = trigger["change"]
        items.append(item)
    return items


def _slices(payload: dict[str, Any], cause: str, n: int = 10) -> int:
    """In how many of ``n`` equal slices of the covered period the cause failed an attempt."""
    counts = (payload.get("agg") or {}).get("cause", {}).get(cause) or []
    if not counts:
        return 0
    size = max(len(counts) / n, 1)
    return len({int(i // size) for i, c in enumerate(counts) if c})


def cause_roles(causes: list[dict[str, Any]], payload: dict[str, Any]) -> dict[str, str]:
    """primary (the leading cause, and any with at least half its failures), contributing, or
    background (failing all along the logs, not only in the incident)."""
    roles: dict[str, str] = {}
    if not causes:
        return roles
    lead = causes[0]["attempts"]
    for n, c in enumerate(causes):
        if n == 0 or c["attempts"] * 2 >= lead:
            roles[c["name"]] = "primary"
        elif _slices(payload, c["name"]) >= BACKGROUND_SLICES:
            roles[c["name"]] = "background"
        else:
            roles[c["name"]] = "contributing"
    return roles


def peak_rate(payload: dict[str, Any], windows: int = PEAK_WINDOWS) -> dict[str, Any] | None:
    """The window (a ``windows``-th of the covered period) with the highest share of failed attempts,
    among windows busy enough to say (at least a quarter of the busiest one's attempts)."""
    agg = payload.get("agg") or {}
    by_verdict = agg.get("verdict") or {}
    n = agg.get("n") or 0
    if not by_verdict or not n:
        return None
    k = max(1, -(-n // windows))  # buckets per window
    total = [sum(sum(v[i:i + k]) for v in by_verdict.values()) for i in range(0, n, k)]
    ok = [sum((by_verdict.get("ok") or [0] * n)[i:i + k]) for i in range(0, n, k)]
    busiest = max(total, default=0)
    best = None
    for w, t in enumerate(total):
        if t and t * 4 >= busiest:
            share = (t - ok[w]) / t
            if best is None or share > best[0]:
                best = (share, w, t)
    if not best or best[0] == 0:
        return None
    share, w, t = best
    start = payload["base"] + agg["t0"] + w * k * agg["step"]
    return {"share": share, "failed": t - ok[w], "attempts": t, "step": model.seconds_text(k * agg["step"] / 1000),
            "from": datetime.fromtimestamp(start / 1000, tz=UTC).isoformat()}


def _at(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def recovery(df: pl.DataFrame, summary: dict[str, Any]) -> dict[str, Any] | None:
    """The first successful attempt after the last failure (None when the logs end failing)."""
    last = model.epoch_ms(summary.get("last_failure"))
    if last is None:
        return None
    later = df.filter(~pl.col("failed") & (pl.col("ts") > last)).sort("ts").head(1)
    if later.height == 0:
        return None
    r = later.row(0, named=True)
    return {"at": _at(r["ts"]), "after": model.seconds_text((r["ts"] - last) / 1000),
            "endpoint": f"{r['method'] or ''} {r['path'] or ''}".strip()}


def detection(df: pl.DataFrame, summary: dict[str, Any]) -> dict[str, Any] | None:
    """The first symptom a user could see: the first failed attempt, as its client saw it."""
    first = df.filter(pl.col("failed") & pl.col("ts").is_not_null()).sort(["ts", "attempt_id"]).head(1)
    if first.height == 0 or not summary.get("first_failure"):
        return None
    r = first.row(0, named=True)
    status = r["status_client"] or r["status_proxy"]
    seen = f"answered {status}" if status else f"failed ({r['client_error'] or 'no answer'})"
    return {"at": _at(r["ts"]), "endpoint": f"{r['method'] or ''} {r['path'] or ''}".strip(), "seen": seen,
            "verdict": r["verdict"]}


def local_clock(zone: str | None):
    """A function giving a time in the hosts' own zone ("+0300" or Area/City), or None."""
    if not zone:
        return None
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{2}):?(\d{2})", zone)
    try:
        if m:
            sign = -1 if m.group(1) == "-" else 1
            tz = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
        else:
            from zoneinfo import ZoneInfo

            tz = ZoneInfo(zone)
    except (ValueError, KeyError, OSError):
        return None

    def at(value: Any) -> str:
        dt = model.parse_ts(value)
        return model.hms(dt.astimezone(tz), ms=True) if dt else "-"
    return at


def render_markdown(data: dict[str, Any]) -> str:
    """The postmortem for one JSON export, shaped as postmortem authors write them: metadata, summary,
    impact, timeline, root causes (primary, contributing, background) with their triggers, what set
    the failures apart, evidence (a line per cause), detection, recovery, action items, lessons
    (to write), supporting information."""
    from loganalyzer import __version__
    from loganalyzer.redact import visible_data

    view = model.build(visible_data(data), embed=False)  # invisible and control characters as escapes
    page, payload = view["page"], view["payload"]
    summary = page["summary"]
    top = page["causes"][0] if page["causes"] else None
    title = page["vocab"].phrase(top["name"], top["detail"]) if top else "no failures"
    if page["period"]:
        title += f" ({page['period'][0]} UTC)"
    local = local_clock(page["local_zone"])
    first, last = model.parse_ts(summary.get("first_failure")), model.parse_ts(summary.get("last_failure"))
    duration = model.seconds_text((last - first).total_seconds()) if first and last else None
    text = environment().get_template("postmortem.md.j2").render(
        page=page, summary=summary, title=title, actions=action_items(page["causes"], page["trigger"]),
        roles=cause_roles(page["causes"], payload), peak=peak_rate(payload), duration=duration,
        recovery=recovery(view["frame"], summary), detection=detection(view["frame"], summary), local=local,
        zone=page["local_zone"], version=__version__)
    # at most one blank line in a row (quoted log lines are indented, so their blank lines are kept)
    return re.sub(r"\n{3,}", "\n\n", text)
