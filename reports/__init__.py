"""Reports: the self-contained HTML incident report and the Markdown postmortem.

    >>> from loganalyzer import analyze, reports
    >>> a = analyze(["samples/trailing-comma/logs"])
    >>> reports.write_html(a, "report.html")          # or a dict loaded with reports.read_json()
    >>> reports.write_markdown(a, "postmortem.md")

Both render from the JSON export (``Analysis.to_dict()``), so a report made from a saved
``--json`` file is the same as one made right after the analysis.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import html, markdown, model, synthetic
from .html import render_html
from .markdown import render_markdown

__all__ = ["export", "html", "markdown", "model", "read_json", "render_html", "render_markdown", "synthetic",
           "write_html", "write_markdown"]


def export(analysis_or_dict: Any) -> dict[str, Any]:
    """The JSON export as plain data: an ``Analysis`` is exported and passed through JSON, so what is
    rendered is exactly what ``--json`` would have saved."""
    if isinstance(analysis_or_dict, dict):
        data = analysis_or_dict
    elif hasattr(analysis_or_dict, "write_json"):
        import io

        text = io.StringIO()
        analysis_or_dict.write_json(text)
        data = _loaded(text.getvalue())
    else:
        raise TypeError(f"expected an Analysis or its exported dict, got {type(analysis_or_dict).__name__}")
    _check(data, "the data")
    return data


def read_json(path: str | Path) -> dict[str, Any]:
    """Load a saved export (``loganalyzer analyze --json``); a file that is not one fails in one line."""
    from loganalyzer.ingest import LoadError

    try:
        with open(path, encoding="utf-8") as f:
            data = _loaded(f.read())
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise LoadError(f"{path}: not a loganalyzer JSON export (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path}: not a loganalyzer JSON export (invalid JSON at line {exc.lineno}, "
                        f"column {exc.colno})") from None
    _check(data, str(path))
    return data


class Export(dict):
    """An export read from its JSON text; ``invisible`` says whether that text holds a character
    pages show as an escape, so rendering need not encode the export again to find out."""

    invisible: bool | None = None


def _loaded(text: str) -> Any:
    from loganalyzer.redact import json_has_invisible

    invisible = json_has_invisible(text)  # before decoding: the search's copy of the text is gone
    data = json.loads(text)
    if not isinstance(data, dict):
        return data
    data = Export(data)
    data.invisible = invisible
    return data


def _check(data: Any, where: str) -> None:
    from loganalyzer.ingest import LoadError

    if not isinstance(data, dict) or "loganalyzer" not in data:
        raise LoadError(f"{where}: not a loganalyzer JSON export (no \"loganalyzer\" key; "
                        "write one with: loganalyzer analyze LOGS --json analysis.json)")
    from loganalyzer.schema import READABLE_EXPORT_VERSIONS

    if str(data["loganalyzer"]) not in READABLE_EXPORT_VERSIONS:
        raise LoadError(f"{where}: loganalyzer export format {data['loganalyzer']!r} is not supported "
                        f"(this release reads {', '.join(READABLE_EXPORT_VERSIONS)})")


def renderable(analysis_or_dict: Any) -> dict[str, Any]:
    """:func:`export`, for rendering: an ``Analysis``'s requests stay their JSON text
    (:class:`model.Records`), decoded only where a page shows one, and the table of all of them is
    read from the frame that text was encoded from. The pages are the same as from :func:`export`."""
    if isinstance(analysis_or_dict, dict) or not hasattr(analysis_or_dict, "attempts_frame"):
        return export(analysis_or_dict)
    import io

    from loganalyzer.analysis import export_frame, record_pieces
    from loganalyzer.outputs import write_json
    from loganalyzer.redact import frames_have_invisible

    a = analysis_or_dict
    text = io.StringIO()
    write_json(a.to_dict(requests=False), text)
    data = _loaded(text.getvalue())
    frame, evidence = a.attempts_frame(), a.evidence_frame()
    records = export_frame(frame, evidence) if frame.height else None
    # The records' text is the frames' text: searched there, not in the JSON encoded from it.
    invisible = bool(data.invisible) or frames_have_invisible(frame, evidence)
    # Pages escape invisible characters by walking the data (redact.visible_data): give it plain records.
    data["requests"] = ([json.loads(x) for piece in record_pieces(records) for x in piece.rstrip("\n").split("\n")]
                        if invisible else model.Records(records)) if records is not None else []
    data.invisible = invisible
    _check(data, "the data")
    return data


def write_html(analysis_or_dict: Any, path: str | Path) -> None:
    """Write the self-contained HTML report for an ``Analysis`` or its exported dict."""
    from loganalyzer.outputs import write_text

    write_text(path, render_html(renderable(analysis_or_dict)))


def write_markdown(analysis_or_dict: Any, path: str | Path) -> None:
    """Write the Markdown postmortem for an ``Analysis`` or its exported dict."""
    from loganalyzer.outputs import write_text

    write_text(path, render_markdown(renderable(analysis_or_dict)))
