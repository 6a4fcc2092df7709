"""The scan's night as one self-contained HTML page: breaches (what is new first), the night's
numbers, trends across nights, and each failed attempt with its evidence. Rendered from the
scan's export alone; every text from the logs goes through the template's escaping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup

from .html import environment


def spark(values: list[float | None], width: int = 320, height: int = 60, percent: bool = False) -> Markup:
    """A line chart of numbers (oldest first) as inline SVG; only numbers go into it."""
    pts = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    if not pts:
        return Markup(f'<svg class="spark" width="{width}" height="{height}"></svg>')
    top = max(v for _, v in pts) or 1.0
    step = width / max(len(values) - 1, 1)
    coords = " ".join(f"{i * step:.1f},{height - 4 - (v / top) * (height - 8):.1f}" for i, v in pts)
    last = pts[-1][1]
    label = f"{last:.1%}" if percent else f"{last:,.3g}"
    dots = "".join(f'<circle cx="{i * step:.1f}" cy="{height - 4 - (v / top) * (height - 8):.1f}" r="2.5"></circle>'
                   for i, v in pts)
    return Markup(f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="last: {label}"><polyline points="{coords}"></polyline>{dots}</svg>'
                  f' <small>last: {label}</small>')


def render(export: dict[str, Any]) -> str:
    nights = list(reversed(export.get("nights", [])))  # oldest first
    causes = sorted({c for n in nights for c in n.get("causes", {})})
    trends = {
        "attempts": spark([n["attempts"] for n in nights]),
        "failure rate": spark([n["failure_rate"] for n in nights], percent=True),
        "p95 $request_time (s)": spark([n.get("request_time_p95") for n in nights]),
    }
    cause_trends = {c: spark([n.get("causes", {}).get(c, 0) for n in nights]) for c in causes}
    return environment().get_template("night.html.j2").render(
        e=export, trends=trends, cause_trends=cause_trends, nights=nights)


def write(export: dict[str, Any], path: str | Path) -> None:
    from loganalyzer.outputs import open_output

    with open_output(path) as f:
        f.write(render(export))
