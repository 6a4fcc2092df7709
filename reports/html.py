"""The HTML report: one self-contained file (styles, script, data and charts inline; nothing fetched)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from . import model

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.globals.update(hms=lambda v: model.hms(v, ms=True), bar=share_bar, heat=heat,
                       edge=(model.EDGE_FIRST, model.EDGE_LAST))
    return env


@lru_cache(maxsize=4)
def asset(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _hex(colour: str | None) -> str | None:
    """A CSS hex colour, or None (a colour from the export goes into markup only when it is one)."""
    return colour if isinstance(colour, str) and re.fullmatch(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?", colour) else None


def share_bar(share: float, colour: str | None = None) -> Markup:
    """A small inline bar for a share in [0, 1], in the verdict's colour when given (numbers and a
    checked hex colour only: nothing from the logs)."""
    w = max(0.0, min(1.0, float(share or 0))) * 100
    fill = f' fill="{_hex(colour)}"' if _hex(colour) else ""
    return Markup('<svg class="bar" width="100" height="10" viewBox="0 0 100 10" aria-hidden="true">'
                  f'<rect class="bg" width="100" height="10"></rect><rect class="fg" width="{w:.1f}" height="10"{fill}>'
                  f'</rect></svg> <small>{share * 100:.1f}%</small>')


def heat(n: int, shade: float, colour: str | None) -> Markup:
    """A cross-table count over a bar of the verdict's colour, as long as its share of the largest cell."""
    w = max(0.0, min(1.0, float(shade or 0))) * 100
    fill = _hex(colour) or "#9aa3ad"
    return Markup(f'<svg class="heat" width="100%" height="6" viewBox="0 0 100 6" preserveAspectRatio="none" '
                  f'aria-hidden="true"><rect width="{w:.1f}" height="6" fill="{fill}"></rect></svg>{int(n):,}')


def verdict_css(vocab: model.Vocabulary) -> str:
    """The verdict colours of the export's vocabulary as CSS (a swatch per verdict, and the variables
    the page's accents use). Names and colours are checked: they come from a file a user may write."""
    names = [v for v in vocab.verdicts if re.fullmatch(r"[a-z_]+", v)]
    root = " ".join(f"--{v}: {vocab.colour(v)};" for v in names)
    return f"\n:root {{ {root} }}\n" + "\n".join(f".v-{v} {{ background: {vocab.colour(v)}; }}" for v in names) + "\n"


def script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' (so no '</script>' and no
    comment openers), and no U+2028/U+2029 line separators."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def render_html(data: dict[str, Any]) -> str:
    """The report for one JSON export (a dict), as an HTML string."""
    from loganalyzer import __version__
    from loganalyzer.redact import visible_data

    # Bidi overrides, zero-width and control characters in log text shown as escapes, never acted on.
    view = model.build(visible_data(data))
    css, js = asset("report.css") + verdict_css(view["page"]["vocab"]), asset("report.js")
    # Only this page's own script and style may run; nothing may be fetched (inline data: images only).
    csp = (f"default-src 'none'; script-src {_sha256(js)}; style-src {_sha256(css)}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    return environment().get_template("report.html.j2").render(
        page=view["page"], data_json=Markup(script_json(view["payload"])), css=Markup(css), js=Markup(js),
        csp=csp, version=__version__)
