"""Mask secrets in log text before it leaves the library; make control characters visible.

Log text is attacker-controlled and full of credentials. Every output goes through :func:`mask`
(polars) or :func:`mask_text` (one string): bearer tokens, Authorization/Cookie/API-key headers,
JWTs, URL user info, AWS keys, passwords and keys in ``key=value`` or JSON, secrets in query strings,
private key blocks. The patterns are data (``rules/secrets.toml``); :func:`add_patterns` adds the
user's, which replace their whole match.

:func:`printable` is for terminals: it turns every control character (C0, DEL, C1 — which includes
the 8-bit CSI ``U+009B``) into a visible escape, so that a log line cannot retitle, clear or move
the user's terminal.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import polars as pl

from loganalyzer import errors

MASK = "****"


def _builtin() -> list[tuple[str, str]]:
    text = resources.files("loganalyzer").joinpath("rules/secrets.toml").read_text(encoding="utf-8")
    return [(s["pattern"], s["replace"]) for s in tomllib.loads(text)["secret"]]


#: (regex, replacement) applied in order.
PATTERNS: list[tuple[str, str]] = _builtin()


def add_patterns(patterns: list[str]) -> None:
    """Mask the whole match of each of the user's regexes too (checked with the engine that runs them)."""
    for p in patterns:
        try:
            pl.select(pl.lit("x").str.contains(p))
        except pl.exceptions.ComputeError as exc:
            raise errors.UsageError(f"mask pattern {p!r} is not a valid regex: {str(exc).splitlines()[0]}") from exc
        if (p, MASK) not in PATTERNS:
            PATTERNS.append((p, MASK))


def mask(expr: pl.Expr) -> pl.Expr:
    """The text of ``expr`` with secrets replaced by ``****``."""
    for pattern, repl in PATTERNS:
        expr = expr.str.replace_all(pattern, repl)
    return expr


def mask_text(text: str | None) -> str | None:
    """The same for one Python string."""
    if text is None:
        return None
    return pl.select(mask(pl.lit(text, pl.String))).item()


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NAMED = {"\x1b": "\\e", "\r": "\\r", "\x07": "\\a", "\x08": "\\b"}


def printable(text: str | None, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\e``, ``\\r``, ``\\x9b``):
    nothing a log line holds can act on a terminal."""
    if not text:
        return text or ""
    if not keep_newlines:
        text = text.replace("\n", "\\n")
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)
