"""The common shape every line-layout compiler produces: literals and captured fields.

nginx ``log_format``, logback ``<pattern>`` and Python ``logging`` format strings all describe a line
as literal text with fields in between. Each compiler turns its notation into a list of
:class:`Literal` and :class:`Capture` tokens; :func:`assemble` turns the list into one anchored regex
with a named group per field. A field that has no regex of its own gets one from the literal that
follows it (``[^"]*`` before a quote, ``\\S*`` before a space), which is what makes "any
log_format" work without knowing every variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .timefmt import TimeLayout, escape

#: Column types the engine knows how to produce (see ``engine._cast``).
TYPES = ("str", "int", "float", "time", "level", "request", "list_str", "list_int", "list_float")


@dataclass
class Literal:
    text: str


@dataclass
class Capture:
    """One field of a line: its column name, regex (None: decided by what follows) and type."""

    name: str
    regex: str | None = None
    type: str = "str"
    layout: TimeLayout | None = None
    optional: bool = False
    # A timestamp that a delimiter closes ("[$time_local]") is matched up to the delimiter: the
    # timestamp parser checks it anyway, and the plain class extracts faster.
    loose: bool = False
    # Padding written by the producer (logback %5p, Python %(levelname)-8s): spaces to allow.
    pad_left: bool = False
    pad_right: bool = False
    # The producer's minimum width (``%-5level``, ``%(levelname)-8s``). With a padding flag and a
    # regex that is one character class repeated (``[A-Z]+``), the padding is matched exactly:
    # "INFO " then the literal, not "INFO" and any run of spaces, so a padded layout is told apart
    # from its unpadded twin. The padding is then inside the group (the level's reader strips it).
    width: int = 0


@dataclass
class Raw:
    """A regex fragment inserted as is (optional decorations such as Spring's ``[app] ``)."""

    regex: str
    captures: dict[str, str] = field(default_factory=dict)  # group name -> type


Token = Literal | Capture | Raw


def _group_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"\W", "_", name).strip("_") or "field"
    if base[0].isdigit():
        base = "f_" + base
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


def delimited(next_text: str, quoted_json: bool = False) -> str:
    """Regex for a field whose end is marked by the literal text that follows it."""
    if not next_text:
        return ".*"
    stop = next_text[0]
    if stop == " ":
        return r"\S*"
    if quoted_json and stop == '"':
        return r'(?:[^"\\]|\\.)*'
    return "[^" + ("\\" + stop if stop in "\\]^-[" else stop) + "]*"


def merge_literals(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for tok in tokens:
        if isinstance(tok, Literal) and out and isinstance(out[-1], Literal):
            out[-1] = Literal(out[-1].text + tok.text)
        elif not (isinstance(tok, Literal) and not tok.text):
            out.append(tok)
    return out


@dataclass
class Assembled:
    regex: str
    columns: dict[str, Capture]  # group name -> capture (type, layout)


def assemble(tokens: list[Token], quoted_json: bool = False) -> Assembled:
    """Build one anchored regex from tokens; group names are unique column names."""
    tokens = merge_literals(tokens)
    parts: list[str] = []
    columns: dict[str, Capture] = {}
    taken: set[str] = set()
    for i, tok in enumerate(tokens):
        if isinstance(tok, Literal):
            parts.append(_literal_regex(tok.text))
            continue
        if isinstance(tok, Raw):
            regex = tok.regex
            for group, typ in tok.captures.items():
                taken.add(group)
                columns[group] = Capture(group, type=typ)
            parts.append(regex)
            continue
        following = _following_text(tokens, i)
        if tok.regex is not None:
            body = tok.regex
        elif tok.layout is not None and not (tok.loose and following[:1] in ('"', "]", "|", ",")):
            body = tok.layout.regex
        else:
            body = delimited(following, quoted_json)
        if tok.regex is None and tok.layout is None and following == "" and _next_is_capture(tokens, i):
            body = body.replace("*", "*?") if body.endswith("*") else body + "?"
        group = _group_name(tok.name, taken)
        columns[group] = tok
        exact = exact_padding(body, tok.width, left=tok.pad_left) if tok.width and (tok.pad_left or tok.pad_right) \
            else None
        piece = f"(?P<{group}>{exact or body})"
        if tok.optional:
            piece = f"(?:{piece})?"
        if tok.pad_left and not exact:
            piece = " *" + piece
        if tok.pad_right and not exact:
            piece = piece + " *"
        parts.append(piece)
    return Assembled(ascii_digits("^" + "".join(parts) + "$"), columns)


_REPEATED_CLASS = re.compile(r"^(\\[A-Za-z]|\[[^\]]+\])[+*]$")


def exact_padding(body: str, width: int, left: bool) -> str | None:
    """A regex for ``body`` padded with spaces to ``width`` characters (on the left if ``left``).

    Only for a body that is one character class repeated (``[A-Z]+``, ``\\S+``); None otherwise.
    Values at least ``width`` long are not padded: ``(?:C{5,}|C{4} |C{3}  |...)`` for width 5.
    """
    m = _REPEATED_CLASS.match(body)
    if not m or width < 2:
        return None
    cls = m.group(1)
    shortest = 1 if body.endswith("+") else 0
    alts = [f"{cls}{{{width},}}"]
    for n in range(width - 1, shortest - 1, -1):
        chars = f"{cls}{{{n}}}" if n > 1 else (cls if n == 1 else "")
        pad = " " * (width - n)
        alts.append(pad + chars if left else chars + pad)
    return "(?:" + "|".join(alts) + ")"


def ascii_digits(regex: str) -> str:
    """``\\d`` -> ``[0-9]``: log digits are ASCII, and the smaller automaton extracts faster."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\" and i + 1 < len(regex):
            pair = regex[i : i + 2]
            out.append(("0-9" if in_class else "[0-9]") if pair == "\\d" else pair)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class and out and out[-1] != "[":
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def _literal_regex(text: str) -> str:
    # Literal text stays exact: generated regexes must be unambiguous ("one-pass") for the regex
    # engine to extract groups at full speed; " +" next to an optional field would break that.
    return escape(text)


def _following_text(tokens: list[Token], i: int) -> str:
    for tok in tokens[i + 1 :]:
        if isinstance(tok, Literal):
            return tok.text
        return ""
    return ""


def _next_is_capture(tokens: list[Token], i: int) -> bool:
    return i + 1 < len(tokens) and not isinstance(tokens[i + 1], Literal)
