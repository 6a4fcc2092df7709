"""Signatures: one name for every occurrence of the same error, whatever its variable parts.

An error no rule names is still a failure worth counting. Its signature is the exception class,
the message with its variable parts masked (numbers, hex ids, uuids, quoted values, paths, urls
and addresses become placeholders) and the place in the application where it surfaced: the
first stack frame outside the libraries (Java) or the innermost frame (Python). Two requests
that failed the same way share the signature; :func:`signature_id` turns it into a short stable
name (``signature:1a2b3c4d``) a rule can adopt.

Everything here works on polars expressions, so it runs over whole frames.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import polars as pl

#: Longest signature text kept (a message can hold a whole request body).
MAX_CHARS = 300

# Masks, applied in this order; later ones must not see what earlier ones produced. Rust's regex
# has no look-around, so a token boundary is matched as "(^|non-word)" and put back as ${1}.
_MASKS: list[tuple[str, str]] = [
    (r"\b[A-Za-z][\w+.-]*://[^\s\"'<>)\]]+", "<url>"),
    (r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<uuid>"),
    (r"\"[^\"\n]*\"", "\"<q>\""),
    (r"(^|[^\w])'[^'\n]*'", "${1}'<q>'"),
    (r"(^|[\s(\[=:,])(?:[A-Za-z]:)?(?:[/\\][\w.@%+~-]+){2,}[/\\]?", "${1}<path>"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<ip>"),
    (r"(^|[^\w])0x[0-9a-fA-F]+\b", "${1}<hex>"),
    # A hex id holds both digits and letters a-f ("5f1d0c9e"); plain words and numbers do not.
    (r"(^|[^\w])[0-9a-fA-F]*(?:[0-9][0-9a-fA-F]*[a-fA-F]|[a-fA-F][0-9a-fA-F]*[0-9])[0-9a-fA-F]*\b", "${1}<hex>"),
    (r"(^|[^\w<])[-+]?\d+(?:[.,]\d+)*", "${1}<n>"),
    (r"\s+", " "),
]
_JAVA_FRAME = r"(?m)^\s*at [\w$.<>/]+\("
_PYTHON_FRAME = r"File \"[^\"]+\", line \d+, in [\w<>.]+"
_PYTHON_TRACE = r"Traceback \(most recent call last\)|(?m)^\s+File \""


@lru_cache(maxsize=1)
def _builtin() -> dict:
    text = resources.files("loganalyzer").joinpath("rules", "default.toml").read_text(encoding="utf-8")
    return tomllib.loads(text).get("signatures", {})


def library_frames() -> list[str]:
    """The built-in prefixes of stack frames that are library code, not the application's."""
    return list(_builtin().get("library_frames", []))


def _expr(value: pl.Expr | str | None) -> pl.Expr:
    if value is None:
        return pl.lit(None, pl.String)
    return pl.col(value) if isinstance(value, str) else value


def mask(text: pl.Expr | str) -> pl.Expr:
    """The text with its variable parts replaced by placeholders, whitespace folded."""
    out = _expr(text).cast(pl.String)
    for pattern, placeholder in _MASKS:
        out = out.str.replace_all(pattern, placeholder)
    return out.str.strip_chars()


def first_app_frame(stack: pl.Expr | str, library: Sequence[str] | None = None) -> pl.Expr:
    """Where the error surfaced in the application: ``pkg.Class.method`` or ``file.py:function``.

    Java: the first ``at`` frame whose class is outside ``library`` (the built-in prefixes by
    default), so ``com.example.OrderService.find`` rather than ``java.util.HashMap.get``. Python:
    the last frame of the traceback (the innermost call), as file name and function. Line numbers
    are left out: they move with every release while the place stays the same. Null when the
    stack names no such frame.
    """
    prefixes = library_frames() if library is None else list(library)
    s = _expr(stack).cast(pl.String).fill_null("")
    frames = s.str.extract_all(_JAVA_FRAME).list.eval(
        pl.element().str.replace(r"^\s*at ", "").str.strip_chars_end("("))
    if prefixes:
        lib = "^(?:" + "|".join(re.escape(p) for p in prefixes) + ")"
        frames = frames.list.eval(pl.element().filter(~pl.element().str.contains(lib)))
    java = frames.list.first()
    python = (s.str.extract_all(_PYTHON_FRAME).list.last()
              .str.replace(r"^File \"(?:[^\"]*[/\\])?([^\"/\\]+)\", line \d+, in (\S+)$", "${1}:${2}"))
    return pl.when(s.str.contains(_PYTHON_TRACE)).then(python).otherwise(java)


def signature(exception_type: pl.Expr | str | None, message: pl.Expr | str | None,
              stack: pl.Expr | str | None = None, library: Sequence[str] | None = None) -> pl.Expr:
    """The signature text: ``Class: masked message @ first application frame``.

    Each argument is a column name or an expression (``None`` for a part the source does not
    have). Only the message's first line is used (what follows is usually the position of the
    same error, e.g. Jackson's ``at [Source: ...; line: 5, column: 2]``). Parts that are missing
    are left out; a row with none of them gives null.
    """
    cls = _expr(exception_type).cast(pl.String).str.strip_chars()
    msg = mask(_expr(message).cast(pl.String).str.split("\n").list.first())
    frame = first_app_frame(stack, library) if stack is not None else pl.lit(None, pl.String)
    cls = pl.when(cls != "").then(cls)
    msg = pl.when(msg != "").then(msg)
    head = pl.when(cls.is_not_null() & msg.is_not_null()).then(pl.format("{}: {}", cls, msg)) \
        .otherwise(pl.coalesce(cls, msg))
    text = pl.when(frame.is_not_null() & head.is_not_null()).then(pl.format("{} @ {}", head, frame)) \
        .otherwise(pl.coalesce(head, frame))
    return text.str.slice(0, MAX_CHARS)


def signature_id(texts: pl.Series) -> pl.Series:
    """``signature:<8 hex digits>`` for each signature text (null stays null).

    The digest is computed once per distinct text (a failure has few), with a hash that does
    not change between runs or library versions, so a rule may name it.
    """
    distinct = texts.drop_nulls().unique().to_list()
    names = {t: "signature:" + hashlib.blake2b(t.encode("utf-8"), digest_size=4).hexdigest() for t in distinct}
    return texts.replace_strict(names, default=None, return_dtype=pl.String) if names else \
        pl.Series(texts.name, [None] * len(texts), dtype=pl.String)
