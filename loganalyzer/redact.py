"""Mask secrets in log text before it is shown: bearer tokens, Authorization headers, JWTs,
passwords and API keys (``password=…``, ``"api_key": "…"``, ``?token=…``)."""

from __future__ import annotations

import polars as pl

MASK = "****"

#: (regex, replacement) applied in order; replacements keep the name so readers know what was there.
PATTERNS: list[tuple[str, str]] = [
    (r"(?i)(authorization\s*[:=]\s*)(?:(bearer|basic|token|digest)\s+)?[^\s,;\"']+", "${1}${2} " + MASK),
    (r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{6,}", "${1} " + MASK),
    (r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", MASK),
    (r"(?i)([?&](?:api_?key|apikey|key|token|access_token|auth|password|passwd|secret|sig|signature)=)[^&\s\"']+",
     "${1}" + MASK),
    (r"(?i)\b((?:password|passwd|pwd|secret|client_secret|api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|"
     r"auth[_-]?token|token|private[_-]?key)\"?\s*[=:]\s*\"?)[^\s&\",;}]+", "${1}" + MASK),
]


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
