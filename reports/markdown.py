"""The Markdown postmortem: summary, impact, key moments, root cause with evidence, action items.

Everything inserted into the template is escaped for Markdown by default (``finalize``), so log
text can neither format the page nor smuggle HTML into a wiki that renders it; log lines are
quoted in fenced code blocks whose fence is longer than any run of backticks inside.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jinja2

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


def action_items(causes: list[dict[str, Any]], trigger: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One item per clause of each cause's advice (split at ';'), most frequent cause first."""
    items = []
    seen = set()
    for c in causes:
        for clause in re.split(r";\s+", (c.get("advice") or "").strip().rstrip(".")):
            clause = clause.strip()
            if not clause or clause.lower() in seen:
                continue
            seen.add(clause.lower())
            item = {"text": clause[:1].upper() + clause[1:] + ".", "cause": c["name"], "attempts": c["attempts"],
                    "trigger": None}
            if trigger and trigger.get("change") and trigger.get("cause") == c["name"] and not any(
                    i["cause"] == c["name"] for i in items):
                item["trigger"] = trigger["change"]
            items.append(item)
    return items


def render_markdown(data: dict[str, Any]) -> str:
    from loganalyzer.redact import visible_data

    view = model.build(visible_data(data))  # invisible and control characters shown as escapes
    page = view["page"]
    top = page["causes"][0] if page["causes"] else None
    title = model.cause_phrase(top["name"], top["detail"]) if top else "no failures"
    if page["period"]:
        title += f" ({page['period'][0]} UTC)"
    text = environment().get_template("postmortem.md.j2").render(
        page=page, summary=page["summary"], title=title, actions=action_items(page["causes"], page["trigger"]))
    # at most one blank line in a row (quoted log lines are indented, so their blank lines are kept)
    return re.sub(r"\n{3,}", "\n\n", text)
