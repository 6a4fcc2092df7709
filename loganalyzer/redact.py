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
from collections.abc import Callable, Iterable
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
#: Cheap regexes, one of which every secret's match contains (its own pattern when none is given).
HINTS: list[str] = [s.get("hint", s["pattern"]) for s in _RULES["secret"]]
#: Names of fields whose whole value is a secret (``password``, ``http_authorization``, ``apiKey``).
SECRET_FIELD = re.compile(_RULES["fields"]["pattern"])
#: A password told in prose as a plain word or number, with the words prose puts there instead.
TOLD: dict[str, Any] = _RULES["told"]
HINTS.append(TOLD["hint"])


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
            HINTS.append(p)


def mask(expr: pl.Expr) -> pl.Expr:
    """The text of ``expr`` with secrets replaced by ``****``."""
    return expr.map_batches(mask_series, return_dtype=pl.String)


def mask_series(text: pl.Series) -> pl.Series:
    """:func:`mask` for a Series. The patterns run only on distinct values that hold one of the
    hints (one pass of literal alternatives), so a column of a million paths or user agents costs
    a scan, not a dozen regex replacements per row."""
    if text.dtype != pl.String:
        text = text.cast(pl.String)
    values = text.drop_nulls().unique()
    hint = "|".join(f"(?:{h})" for h in HINTS)
    candidates = values.filter(values.str.contains(hint))
    if candidates.len() == 0:
        return text
    masked = _told(pl.select(_replace_all(pl.lit(candidates))).to_series())
    changed = candidates != masked
    if not changed.any():
        return text
    return text.replace(candidates.filter(changed), masked.filter(changed))


def _told(values: pl.Series) -> pl.Series:
    """The first password told in each value as a plain word or number masked, unless the word is
    one prose uses there (``[told]`` in the rules: "password is incorrect", "is 8 characters")."""
    found = pl.col("v").str.extract_groups(TOLD["pattern"])
    word = found.struct.field("value").str.to_lowercase()
    after = found.struct.field("next").str.strip_chars().str.to_lowercase()
    keep = word.is_in(TOLD["keep_words"]) | pl.any_horizontal(word.str.ends_with(e) for e in TOLD["keep_endings"])
    keep = keep | (word.str.contains(r"^[0-9]+$") & after.is_in(TOLD["units"]).fill_null(False))
    hit = word.is_not_null() & ~keep
    return pl.DataFrame({"v": values}).select(
        pl.when(hit).then(pl.col("v").str.replace(TOLD["pattern"], TOLD["replace"])).otherwise(pl.col("v"))
    ).to_series().alias(values.name)


def _replace_all(expr: pl.Expr) -> pl.Expr:
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
    return _map_strings(data, lambda s: pl.select(mask(pl.lit(s))).to_series(), skip)


def _map_strings(data: Any, transform: Callable[[pl.Series], pl.Series], skip: Iterable[str]) -> Any:
    """``data`` rebuilt with each distinct string value replaced by ``transform`` of it (one call)."""
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
    new = dict(zip(unique.to_list(), transform(unique).to_list(), strict=True))

    def rebuild(x: Any) -> Any:
        if isinstance(x, str):
            return new[x]
        if isinstance(x, dict):
            return {k: rebuild(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [rebuild(v) for v in x]
        return x

    if isinstance(data, dict):
        return {k: (v if k in skipped else rebuild(v)) for k, v in data.items()}
    return rebuild(data)


#: Characters a terminal or a page would act on or hide rather than show: C0 (but tab and
#: newline), DEL and C1 controls, and every invisible format character (Unicode's Cf, Zl, Zp):
#: bidirectional overrides and isolates, zero-width spaces and joiners, the BOM, the soft hyphen,
#: line and paragraph separators, the tag characters that can hide text. Code point ranges.
_INVISIBLE = [(0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C),
              (0x6DD, 0x6DD), (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E),
              (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF),
              (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
              (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F)]
_CONTROL = re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in _INVISIBLE) + "]")
#: The same class for polars' regex engine (which finds the few strings that hold one).
_CONTROL_PL = "[" + "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in _INVISIBLE) + "]"
_NAMED = {"\x1b": "\\e", "\r": "\\r", "\x07": "\\a", "\x08": "\\b"}


def printable(text: str | None, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\e``, ``\\r``, ``\\x9b``,
    ``\\u202e``): nothing a log line holds can act on a terminal or hide what it says."""
    if not text:
        return text or ""
    if not keep_newlines:
        text = text.replace("\n", "\\n")
    return _CONTROL.sub(_escape, text)


def visible_data(data: Any) -> Any:
    """Plain data (an export) with :func:`printable` applied to every string that needs it, newlines
    kept: for pages and documents (the HTML report, the Markdown postmortem) that show log text.

    Data read from JSON text may say whether that text holds such a character (an ``invisible``
    attribute, set by ``loganalyzer.reports.export`` and ``read_json`` from :func:`json_has_invisible`);
    other data is encoded once to find out.
    """
    import json

    # Most exports hold no such character: one search of the JSON text tells, where the walk
    # through every value of a large export takes many times longer.
    invisible = getattr(data, "invisible", None)
    if invisible is None:
        invisible = json_has_invisible(json.dumps(data, ensure_ascii=False, default=str))
    return _map_strings(data, _visible, ()) if invisible else data


def json_has_invisible(text: str) -> bool:
    """Whether JSON text holds a character :func:`printable` would show as an escape, raw or escaped."""
    return json_lines_have_invisible(pl.Series([text], dtype=pl.String))


def frames_have_invisible(*frames: pl.DataFrame) -> bool:
    """Whether a text column of ``frames`` holds a character :func:`printable` would show as an escape
    (what :func:`json_lines_have_invisible` finds in their JSON text, without encoding it)."""
    for df in frames:
        for name, dtype in df.schema.items():
            if dtype in (pl.String, pl.Categorical) and df[name].cast(pl.String).str.contains(_CONTROL_PL).any():
                return True
    return False


def json_lines_have_invisible(lines: pl.Series) -> bool:
    """:func:`json_has_invisible` of JSON texts (lines of NDJSON, say), searched one by one."""
    return bool(lines.str.contains(_CONTROL_PL + "|" + _ESCAPED_CONTROL).any())


#: What the characters of _INVISIBLE below U+0020 look like in JSON text, newline and tab apart
#: (an escaped backslash before such letters matches too, which only sends the data the long way).
_ESCAPED_CONTROL = r"\\(?:[bfr]|u00[01][0-9a-fA-F])"


def _visible(strings: pl.Series) -> pl.Series:
    hit = strings.str.contains(_CONTROL_PL).fill_null(False)
    if not hit.any():
        return strings
    fixed = pl.Series([printable(s, keep_newlines=True) for s in strings.filter(hit)], dtype=pl.String)
    return strings.scatter(hit.arg_true(), fixed)


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named:
        return named
    cp = ord(ch)
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"
