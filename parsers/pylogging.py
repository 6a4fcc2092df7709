"""Python ``logging`` format strings (``%``- and ``{``-style) compiled into line regexes."""

from __future__ import annotations

import re

from . import timefmt
from .pattern import Assembled, Capture, Literal, Token, assemble

#: ``LogRecord`` attributes: (column, regex or None for "up to the next literal", type).
_ATTRIBUTES: dict[str, tuple[str, str | None, str]] = {
    "asctime": ("time", None, "time"),
    # logging's level names are upper case (DEBUG ... CRITICAL, and addLevelName's by convention);
    # a lower-case word there is a logger or message, which keeps "asctime name level" apart
    # from "asctime level message".
    "levelname": ("level", r"[A-Z]+", "level"),
    "levelno": ("levelno", r"\d+", "int"),
    "name": ("logger", None, "str"),
    "message": ("message", ".*", "str"),
    "process": ("pid", r"\d+", "int"),
    "processName": ("process_name", None, "str"),
    "thread": ("thread_id", r"\d+", "int"),
    "threadName": ("thread", None, "str"),
    "taskName": ("task", None, "str"),
    "module": ("module", None, "str"),
    "funcName": ("function", None, "str"),
    "filename": ("source_file", None, "str"),
    "pathname": ("source_path", None, "str"),
    "lineno": ("source_line", r"\d+", "int"),
    "msecs": ("msecs", r"\d+(?:\.\d+)?", "float"),
    "relativeCreated": ("relative_ms", r"\d+(?:\.\d+)?", "float"),
    "created": ("created", r"\d+\.\d+", "time"),
}

#: ``logging.Formatter``'s own default asctime: ``2026-11-24 10:15:02,120``.
DEFAULT_ASCTIME = timefmt.TimeLayout(
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}", "%Y-%m-%d %H:%M:%S,%3f"
)
EPOCH = timefmt.TimeLayout(r"\d+\.\d+", "epoch", has_offset=True)

#: Attributes that never hold white space (dotted names, file names): matched as one word, so a
#: logger before ": " cannot swallow a Java line's "1234 --- [main] c.e.Foo".
_ONE_WORD = {"name", "module", "funcName", "filename"}

_PERCENT = re.compile(r"%\((\w+)\)(-?)(\d*)(?:\.\d+)?[sdfrixXeEgG]")
_BRACE = re.compile(r"\{(\w+)(?:![rsa])?(?::([<>^]?)(\d*)[^}]*)?\}")


class FormatStringError(ValueError):
    """A logging format string that cannot be read."""


def compile_format(fmt: str, datefmt: str | None = None) -> Assembled:
    """Compile a ``logging.Formatter`` format string (and its ``datefmt``)."""
    style_brace = "%(" not in fmt and _BRACE.search(fmt) is not None
    rx = _BRACE if style_brace else _PERCENT
    layout = timefmt.from_strftime(datefmt) if datefmt else DEFAULT_ASCTIME
    toks: list[Token] = []
    pos = 0
    found = False
    for m in rx.finditer(fmt):
        found = True
        toks.append(Literal(fmt[pos : m.start()]))
        attr = m.group(1)
        align, width = (m.group(2) or "", m.group(3) or "")
        if attr not in _ATTRIBUTES:
            raise FormatStringError(f"unknown LogRecord attribute {attr!r} in {fmt!r}")
        column, regex, typ = _ATTRIBUTES[attr]
        if attr in _ONE_WORD:
            stop = fmt[m.end() : m.end() + 1]
            regex = r"\S+" if stop in ("", " ") else "[^\\s" + re.escape(stop) + "]+"
        left = align in ("-", "<") if not style_brace else align == "<" or (align == "" and width != "")
        pad_left = bool(width) and not left
        pad_right = bool(width) and left
        time_layout = (layout if attr == "asctime" else EPOCH) if typ == "time" else None
        toks.append(Capture(column, regex=regex, type=typ, layout=time_layout, pad_left=pad_left,
                            pad_right=pad_right, width=int(width) if width and typ == "level" else 0))
        pos = m.end()
    if not found:
        raise FormatStringError(f"no %(attribute)s fields in logging format {fmt!r}")
    if not any(isinstance(t, Capture) and t.type == "time" for t in toks):
        # logging.basicConfig's own "%(levelname)s:%(name)s:%(message)s" has no time at all
        raise FormatStringError(f"logging format {fmt!r} writes no %(asctime)s or %(created)f: "
                                "its lines cannot be placed in time")
    if "%(asctime)" in fmt or "{asctime" in fmt:
        if not timefmt.has_date(layout):
            raise FormatStringError(f"datefmt {datefmt!r} writes no date: lines cannot be placed in time")
    toks.append(Literal(fmt[pos:]))
    return assemble(toks)
