"""The HTML report: one self-contained file (styles, script, data and charts inline; nothing fetched)."""

from __future__ import annotations

import base64
import hashlib
import json
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
    env.globals.update(hms=lambda v: model.hms(v, ms=True), bar=share_bar,
                       edge=(model.EDGE_FIRST, model.EDGE_LAST))
    return env


@lru_cache(maxsize=4)
def asset(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def share_bar(share: float) -> Markup:
    """A small inline bar for a share in [0, 1] (numbers only: nothing from the logs)."""
    w = max(0.0, min(1.0, float(share or 0))) * 100
    return Markup('<svg class="bar" width="100" height="10" viewBox="0 0 100 10" aria-hidden="true">'
                  f'<rect class="bg" width="100" height="10"></rect><rect class="fg" width="{w:.1f}" height="10">'
                  f'</rect></svg> <small>{share * 100:.1f}%</small>')


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
    css, js = asset("report.css"), asset("report.js")
    # Only this page's own script and style may run; nothing may be fetched (inline data: images only).
    csp = (f"default-src 'none'; script-src {_sha256(js)}; style-src {_sha256(css)}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    return environment().get_template("report.html.j2").render(
        page=view["page"], data_json=Markup(script_json(view["payload"])), css=Markup(css), js=Markup(js),
        csp=csp, version=__version__)
