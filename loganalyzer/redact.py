"""Mask secrets in log text before it leaves the library; make control characters visible.

Log text is attacker-controlled and full of credentials. Every output goes through :func:`mask`
(polars) or :func:`mask_text` (one string): bearer tokens, Authorization/Cookie/API-key headers,
JWTs, URL user info, AWS keys, passwords and keys in ``key=value`` or JSON, secrets in query strings,
private key blocks. The patterns are data (``rules/secrets.toml``); :func:`add_patterns` adds the
user's, which replace their whole match.

:func:`printable` is for terminals: it turns every control character (C0, DEL, C1 — which includes
the 8-bit CSI ``U+009B``) into a visible escape, so that a log line cannot retitle, clear or move
the user's terminal; and the invisible format characters too (bidirectional overrides, zero-width
spaces), so that a line cannot show text in an order or a spelling other than its own.

:func:`mask_data` masks every string of an export (the JSON every report renders from) in one pass.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from typing import Any

import polars as pl

from loganalyzer import errors

MASK = "****"


def _builtin() -> dict:
    return tomllib.loads(resources.files("loganalyzer").joinpath("rules/secrets.toml").read_text(encoding="utf-8"))


_RULES = _builtin()
#: (regex, replacement) applied in order.
PATTERNS: list[tuple[str, str]] = [(s["pattern"], s["replace"]) for s in _RULES["secret"]]
#: Names of fields whose whole value is a secret (``password``, ``http_authorization``, ``apiKey``).
SECRET_FIELD = re.compile(_RULES["fields"]["pattern"])


def secret_field(name: str) -> bool:
    """Whether a field of this name holds a secret as its whole value."""
    return SECRET_FIELD.search(name) is not None


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


def mask_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Every text column of ``df`` masked; a column named as a secret (:func:`secret_field`) whole."""
    return df.with_columns(
        (pl.when(pl.col(c).is_not_null()).then(pl.lit(MASK)) if secret_field(c) else mask(pl.col(c))).alias(c)
        for c, t in df.schema.items() if t == pl.String)


def mask_text(text: str | None) -> str | None:
    """The same for one Python string."""
    if text is None:
        return None
    return pl.select(mask(pl.lit(text, pl.String))).item()


def mask_data(data: Any, skip: Iterable[str] = ()) -> Any:
    """Plain data (dicts, lists, strings: an export) with every string value masked; keys are kept,
    and so is whatever sits under a top-level key in ``skip``.

    The strings are masked together, as one polars column, so a large export costs one pass of the
    patterns rather than one per string.
    """
    found: list[str] = []

    def collect(x: Any) -> None:
        if isinstance(x, str):
            found.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                collect(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                collect(v)

    skipped = set(skip)
    top = data.items() if isinstance(data, dict) else [(None, data)]
    for k, v in top:
        if k not in skipped:
            collect(v)
    if not found:
        return data
    unique = pl.Series("t", found, dtype=pl.String).unique()
    masked = dict(zip(unique.to_list(), pl.select(mask(pl.lit(unique))).to_series().to_list(), strict=True))

    def rebuild(x: Any) -> Any:
        if isinstance(x, str):
            return masked[x]
        if isinstance(x, dict):
            return {k: rebuild(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [rebuild(v) for v in x]
        return x

    if isinstance(data, dict):
        return {k: (v if k in skipped else rebuild(v)) for k, v in data.items()}
    return rebuild(data)


#: C0, DEL and C1 controls; and the invisible format characters that make text read other than it
#: is (bidirectional overrides and isolates, zero-width spaces and joiners, the BOM, line and
#: paragraph separators, soft hyphen).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
                      "\u2066-\u206f\ufeff\ufff9-\ufffb]")
_NAMED = {"\x1b": "\\e", "\r": "\\r", "\x07": "\\a", "\x08": "\\b"}


def printable(text: str | None, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\e``, ``\\r``, ``\\x9b``,
    ``\\u202e``): nothing a log line holds can act on a terminal or hide what it says."""
    if not text:
        return text or ""
    if not keep_newlines:
        text = text.replace("\n", "\\n")
    return _CONTROL.sub(_escape, text)


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named:
        return named
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
