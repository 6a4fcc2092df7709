"""Infer a line layout from the lines of a file that no format definition matches.

Many application logs follow one shape: a timestamp at the start of every entry line, then some
header fields (a level word, a bracketed thread or ``[pid]``, a logger name), a separator, and the
message; lines that do not start with a timestamp continue the entry above (stack traces, wrapped
messages). :func:`infer_format` finds that shape in a sample of the lines and writes it as an
ordinary format definition (``syntax = "regex"``, ``kind = "app"``) that the engine runs unchanged;
:func:`suggest_toml` writes the definition as TOML the user can keep and pass with ``--formats``.

How it works, on a sample (the first :data:`SAMPLE` lines; the per-line Python work is bounded by it):

1. Each line is tried against the timestamp shapes of :data:`TIME_SHAPES` at column 0, bare or in
   ``[...]``; the shape most lines start with wins, and its variant (``T`` or space, fraction
   digits, offset style) is read from the lines themselves.
2. The rest of each timestamp line is read as a sequence of header fields, each followed by a
   separator. A line's *signature* is that sequence (field kinds and separator punctuation).
3. The longest signature prefix that at least :data:`COVERAGE` of the timestamp lines share becomes
   the layout: fields the lines disagree about fall into the message rather than break the regex.
4. The regex is compiled and checked by the engine itself (``engine.match_rate``); the result is
   given up (``None``) unless it explains at least :data:`MIN_SHARE` of the sample.

Parsing whole files is the engine's job (one vectorised regex pass), not this module's::

    inference = infer_format(sample)      # None: no credible layout
    if inference is not None:
        fmt = inference.compiled          # a Compiled for engine.parse / engine.parse_stream
        rate = inference.share            # comparable with detection's match rates
        text = suggest_toml(inference)    # a definition file for --formats
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

from . import engine, stacktraces
from .formats import Compiled, FormatDef, compile_definition
from .timefmt import escape

#: Lines read to infer a layout (ingest samples the same number to detect formats).
SAMPLE = 1000
#: Share of sample lines (``engine.match_rate``) an inferred layout must explain; the same bar as
#: ``ingest.MIN_MATCH_RATE`` for a known format.
MIN_SHARE = 0.5
#: Share of timestamp lines a layout must read for its header fields to be kept.
COVERAGE = 0.9
#: Share of non-blank lines that must start with the timestamp, unless the other lines are stack
#: traces (a crash loop's log is mostly frames).
MIN_START_SHARE = 0.2
#: Inferred layouts lose every tie against a written definition.
PRIORITY = 1

# Level words, longest first so that WARNING is not read as WARN + "ING".
_LEVEL_WORDS = sorted(engine.LEVELS, key=len, reverse=True)
_LEVEL_ALT = "|".join(_LEVEL_WORDS)


def _compact_alternation(words: list[str]) -> str:
    """``WARN|WARNING|ERR|ERROR`` -> ``ERR(?:OR)?|WARN(?:ING)?``: the same words, easier to read."""
    roots = sorted(w for w in words if not any(v != w and w.startswith(v) for v in words))
    out = []
    for root in roots:
        tails = sorted(w[len(root):] for w in words if w != root and w.startswith(root))
        out.append(root + (f"(?:{'|'.join(tails)})?" if tails else ""))
    return "|".join(out)


#: The level group's regex in generated layouts: every level word the engine knows, in any case.
_LEVEL_RX = f"(?i:{_compact_alternation(list(engine.LEVELS))})"


# --------------------------------------------------------------------------------------------
# timestamps


@dataclass(frozen=True)
class TimeShape:
    """The timestamp of an inferred layout: its regex, how the engine reads it, and in words."""

    regex: str  # matches the text of the ``time`` group
    time_format: str  # strftime, or "iso" / "epoch" as format definitions take them
    label: str  # for the description: "ISO-8601, millis, no offset"
    msecs: str = ""  # regex after the time group holding ``(?P<msecs>...)`` (a 3-digit fraction)
    has_offset: bool = False
    yearless: bool = False


_ISO_LINE = re.compile(
    r"(\d{4}-\d{2}-\d{2})([T ])(\d{2}:\d{2}:\d{2})(?:([.,])(\d{1,9}))?(?:(Z)|( ?)([+-]\d{2}:?\d{2}))?")
_CLF_LINE = re.compile(r"\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}")
_SYSLOG_LINE = re.compile(
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2}(?:\.(\d{1,6}))?")
_SLASH_LINE = re.compile(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:([.,])(\d{1,9}))?")
_EPOCH_LINE = re.compile(r"(\d{10}|\d{13}|\d{16})(?:\.(\d{1,9}))?(?![\d.])")
# Epoch values taken for timestamps: 2001-09-09 .. 2100-01-01, so other numbers are not.
_EPOCH_RANGE = (1_000_000_000, 4_102_444_800)
# Digits only, date then time: "20120702.102240,672" (a strftime "%Y%m%d.%H%M%S" datefmt).
_COMPACT_LINE = re.compile(r"((?:19[7-9]|20\d)\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))([.T_-]?)"
                           r"((?:[01]\d|2[0-3])[0-5]\d[0-5]\d)(?:([.,])(\d{1,9}))?(?![\d])")


def _frac_rx(fracs: list[tuple[str, int] | None], chars: str = ".,") -> str:
    """Regex for the fractions seen: ``\\.\\d{3}``, or wider classes when lines differ."""
    seen = [f for f in fracs if f]
    if not seen:
        return ""
    marks = {c for c, _ in seen}
    digits = {n for _, n in seen}
    mark = escape(marks.pop()) if len(marks) == 1 else f"[{chars}]"
    body = mark + (rf"\d{{{digits.pop()}}}" if len(digits) == 1 else r"\d{1,9}")
    return body if len(seen) == len(fracs) else f"(?:{body})?"


def _frac_label(fracs: list[tuple[str, int] | None]) -> str:
    seen = [f for f in fracs if f]
    if not seen:
        return "seconds"
    digits = {n for _, n in seen}
    name = {3: "millis", 6: "micros", 9: "nanos"}.get(digits.pop(), "fraction") if len(digits) == 1 else "fraction"
    if {c for c, _ in seen} == {","}:
        name += " after a comma"
    return name if len(seen) == len(fracs) else f"{name} (not on every line)"


def _iso_shape(matches: list[re.Match]) -> TimeShape:
    seps = {m.group(2) for m in matches}
    fracs = [(m.group(4), len(m.group(5))) if m.group(4) else None for m in matches]
    offsets = []
    for m in matches:
        if m.group(6):
            offsets.append("Z")
        elif m.group(8):
            offsets.append(("space " if m.group(7) else "") + ("+hh:mm" if ":" in m.group(8) else "+hhmm"))
        else:
            offsets.append(None)
    styles = sorted({o for o in offsets if o})
    sep_rx = seps.pop() if len(seps) == 1 else "[T ]"
    regex = r"\d{4}-\d{2}-\d{2}" + sep_rx + r"\d{2}:\d{2}:\d{2}" + _frac_rx(fracs)
    if styles:
        alts = []
        for s in styles:
            rx = {"Z": "Z", "+hh:mm": r"[+-]\d{2}:\d{2}", "+hhmm": r"[+-]\d{4}"}[s.removeprefix("space ")]
            alts.append((" " if s.startswith("space ") else "") + rx)
        offset_rx = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        regex += offset_rx if None not in offsets else f"(?:{offset_rx})?"
    label = "ISO-8601" + (" with T" if sep_rx == "T" else "") + ", " + _frac_label(fracs) + ", "
    named = [s.removeprefix("space ") + (" after a space" if s.startswith("space ") else "") for s in styles]
    label += "no offset" if not styles else "offset " + " or ".join(named) + (
        "" if None not in offsets else " (not on every line)")
    time_format = "iso"
    kinds = set(fracs)
    if styles and styles[0].startswith("space ") and len(styles) == 1 and None not in offsets \
            and sep_rx != "[T ]" and len(kinds) == 1:
        # "2026-11-26 09:14:46 +0100": the ISO-8601 reader wants the offset attached, strftime does not.
        only = next(iter(kinds))
        if only is None:
            time_format = f"%Y-%m-%d{sep_rx}%H:%M:%S %z"
        elif only[1] == 6:
            time_format = f"%Y-%m-%d{sep_rx}%H:%M:%S{only[0]}%f %z"
    return TimeShape(regex, time_format, label, has_offset=bool(styles) and None not in offsets)


def _fixed_shape(base: str, strftime: str, fracs: list[tuple[str, int] | None], label: str) -> TimeShape:
    """A timestamp of fixed digits (``base``, read by ``strftime``) and an optional fraction."""
    kinds = set(fracs)
    if kinds == {None}:
        return TimeShape(base, strftime, label)
    only = next(iter(kinds))
    if len(kinds) == 1 and only is not None:
        mark, digits = only
        if digits == 6:
            return TimeShape(base + escape(mark) + r"\d{6}", f"{strftime}{mark}%f", label)
        if digits == 3:
            # strftime has no milliseconds; the engine adds a group named msecs to the time it reads.
            return TimeShape(base, strftime, label, msecs=escape(mark) + r"(?P<msecs>\d{3})")
    return TimeShape(base + _frac_rx(fracs), f"{strftime}.%f", label)


def _slash_shape(matches: list[re.Match]) -> TimeShape:
    fracs = [(m.group(1), len(m.group(2))) if m.group(1) else None for m in matches]
    return _fixed_shape(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", "%Y/%m/%d %H:%M:%S", fracs,
                        "yyyy/mm/dd HH:MM:SS, " + _frac_label(fracs) + ", no offset")


def _compact_shape(matches: list[re.Match]) -> TimeShape:
    # One separator between date and time: the one most lines use (lines with another continue entries).
    sep = Counter(m.group(2) for m in matches).most_common(1)[0][0]
    fracs = [(m.group(4), len(m.group(5))) if m.group(4) else None for m in matches if m.group(2) == sep]
    return _fixed_shape(r"\d{8}" + escape(sep) + r"\d{6}", f"%Y%m%d{sep}%H%M%S", fracs,
                        f"yyyymmdd{sep}HHMMSS, " + _frac_label(fracs) + ", no offset")


def _syslog_shape(matches: list[re.Match]) -> TimeShape:
    fracs = [(".", len(m.group(1))) if m.group(1) else None for m in matches]
    regex = r"[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}" + _frac_rx(fracs, ".")
    fmt = "%b %e %H:%M:%S" + (".%f" if any(fracs) else "")
    return TimeShape(regex, fmt, "syslog Mon dd HH:MM:SS, " + _frac_label(fracs) + ", no year, no offset",
                     yearless=True)


def _clf_shape(matches: list[re.Match]) -> TimeShape:
    return TimeShape(_CLF_LINE.pattern, "%d/%b/%Y:%H:%M:%S %z", "dd/Mon/yyyy:HH:MM:SS +zzzz", has_offset=True)


def _epoch_shape(matches: list[re.Match]) -> TimeShape:
    widths = {len(m.group(1)) for m in matches}
    fracs = [(".", len(m.group(2))) if m.group(2) else None for m in matches]
    width = widths.pop() if len(widths) == 1 else 10
    if width == 10:
        return TimeShape(r"\d{10}" + _frac_rx(fracs, "."), "epoch", "epoch seconds, " + _frac_label(fracs),
                         has_offset=True)
    # The ISO-8601 reader takes bare epoch numbers by their digit count (13: millis, 16: micros).
    unit = "millis" if width == 13 else "micros"
    return TimeShape(rf"\d{{{width}}}", "iso", f"epoch {unit}", has_offset=True)


def _epoch_ok(m: re.Match) -> bool:
    seconds = int(m.group(1)[:10])
    return _EPOCH_RANGE[0] <= seconds < _EPOCH_RANGE[1]


#: The timestamp shapes looked for at the start of lines: name -> (line regex, accept, shape builder).
TIME_SHAPES: dict[str, tuple[re.Pattern, Callable[[re.Match], bool], Callable[[list[re.Match]], TimeShape]]] = {
    "iso": (_ISO_LINE, lambda m: True, _iso_shape),
    "clf": (_CLF_LINE, lambda m: True, _clf_shape),
    "syslog": (_SYSLOG_LINE, lambda m: True, _syslog_shape),
    "slash": (_SLASH_LINE, lambda m: True, _slash_shape),
    "epoch": (_EPOCH_LINE, _epoch_ok, _epoch_shape),
    "compact": (_COMPACT_LINE, lambda m: True, _compact_shape),
}
# What may follow a timestamp: a separator, not a CSV comma or more digits.
_AFTER_TIME = re.compile(r"[ \t:|]|$")
_AFTER_BRACKET = re.compile(r"[ \t:|\[]|$")


@dataclass
class _TimeHit:
    line: int  # index in the sample
    end: int  # where the timestamp (and its closing bracket) ends
    match: re.Match


def _find_times(texts: list[str]) -> tuple[str, bool, list[_TimeHit]] | None:
    """The shape most lines start with: (shape name, bracketed, hits)."""
    best: tuple[str, bool, list[_TimeHit]] | None = None
    for name, (rx, accept, _) in TIME_SHAPES.items():
        for bracketed in (False, True):
            hits = []
            for i, text in enumerate(texts):
                start = 1 if bracketed else 0
                if bracketed and not text.startswith("["):
                    continue
                m = rx.match(text, start)
                if not m or not accept(m):
                    continue
                end = m.end()
                if bracketed:
                    if not text.startswith("]", end):
                        continue
                    end += 1
                if (_AFTER_BRACKET if bracketed else _AFTER_TIME).match(text, end):
                    hits.append(_TimeHit(i, end, m))
            if hits and (best is None or len(hits) > len(best[2])):
                best = (name, bracketed, hits)
    return best


# --------------------------------------------------------------------------------------------
# header fields


@dataclass(frozen=True)
class _Field:
    kind: str  # level | thread | pid | tag | logger | prog_pid | word
    style: str  # level: bare | bracket; logger: dotted | name | file_line | prog_pid
    sep: str  # separator key after the field: "_" (spaces), "" (none), or its punctuation
    start: int
    sep_text: str
    value: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.style, self.sep)


# Spaces after the punctuation belong to the separator; a tab there starts the message (logback
# writes "Logger : \tmessage" when the message begins with a tab).
_SEP = re.compile(r"([ \t]*)(---|--|::|[-:|])?( *)")
_LEVEL_BRACKET = re.compile(rf"\[ *({_LEVEL_ALT}) *\]", re.IGNORECASE)
_LEVEL_BARE = re.compile(rf"({_LEVEL_ALT})(?![\w.\[])", re.IGNORECASE)
_BRACKET = re.compile(r"\[([^\]\n]*)\]")
_PROG_PID = re.compile(r"([^\s\[\]:]+)\[(\d+)\](?=:)")
_FILE_LINE = re.compile(r"([\w.+-]+\.\w+:\d+)(?=:)")  # Go's log.Lshortfile: "main.go:12:"
_DOTTED = re.compile(r"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+)(?=[ \t:|]|$)")
_NAME_BEFORE_SEP = re.compile(r"([A-Za-z_][\w.$/-]*)(?=[ \t]*(?::|- |\|))")
_WORD = re.compile(r"([^\s\[\]]+)(?=[ \t])")
_MAX_BRACKETS = 3
_MAX_WORDS = 2


def _sep_key(text: str) -> str:
    punct = text.strip(" \t")
    return punct if punct else ("_" if text else "")


def _field_at(text: str, pos: int, seen: Counter) -> tuple[str, str, int, str] | None:
    """The header field starting at ``pos``: (kind, style, end, value), or None (the message starts)."""
    if not seen["level"]:
        m = _LEVEL_BRACKET.match(text, pos)
        if m:
            return "level", "bracket", m.end(), m.group(1)
        m = _LEVEL_BARE.match(text, pos)
        if m:
            return "level", "bare", m.end(), m.group(1)
    if seen["bracket"] < _MAX_BRACKETS:
        m = _BRACKET.match(text, pos)
        if m:
            value = m.group(1).strip()
            return ("pid" if value.isdigit() else "thread"), "bracket", m.end(), value
    if not seen["logger"]:
        for style, rx in (("prog_pid", _PROG_PID), ("file_line", _FILE_LINE), ("dotted", _DOTTED),
                          ("name", _NAME_BEFORE_SEP)):
            m = rx.match(text, pos)
            if m:
                return "logger", style, m.end(), m.group(1)
    return None


def _header(text: str, start: int) -> tuple[str, str, list[_Field]]:
    """Read the header fields after the timestamp: (separator text, separator key, fields)."""
    m = _SEP.match(text, start)
    time_sep = m.group(0)
    pos = m.end()
    fields: list[_Field] = []
    seen: Counter = Counter()
    while pos < len(text):
        found = _field_at(text, pos, seen)
        if found is None and seen["word"] < _MAX_WORDS:
            # A bare word is a field only when a known field follows it ("host prog[12]:").
            w = _WORD.match(text, pos)
            if w:
                after = _SEP.match(text, w.end())
                nxt = _field_at(text, after.end(), seen) if after.group(0) else None
                # ... but not a bare name before ":" ("debug message: ..." is a message).
                if nxt is not None and nxt[1] != "name":
                    found = ("word", "bare", w.end(), w.group(1))
        if found is None:
            break
        kind, style, end, value = found
        sep = _SEP.match(text, end)
        if not sep.group(0) and end < len(text) and not (text[end - 1] == "]" or text[end] == "["):
            break  # a field runs straight into text: not a field after all
        seen["bracket" if style == "bracket" and kind != "level" else kind] += 1
        if style == "prog_pid":
            seen["logger"] += 1
        fields.append(_Field(kind, style, _sep_key(sep.group(0)), pos, sep.group(0), value))
        pos = sep.end()
        if kind == "logger" and fields[-1].sep not in ("_", ""):
            # "logger - message", "name: message": the header ends at the logger's separator, unless
            # a level follows it ("app[12]: INFO message").
            if seen["level"] or not (_LEVEL_BRACKET.match(text, pos) or _LEVEL_BARE.match(text, pos)):
                break
    return time_sep, _sep_key(time_sep), fields


# --------------------------------------------------------------------------------------------
# regex assembly


_SPACES = re.compile(r"^([ \t]*)(.*?)([ \t]*)$", re.DOTALL)


def _space_rx(counts: list[str], padded: bool) -> str:
    """Regex for the spaces seen at one place: exact when always none or one and nothing pads them.

    A longer run is padding (``%-30c``, ``%-8s``): other values pad to other widths.
    """
    if len(set(counts)) == 1 and not padded and counts[0] in ("", " "):
        return counts[0]
    if all(c == "" for c in counts):
        return ""
    cls = "[ \\t]" if any("\t" in c for c in counts) else " "
    return cls + ("+" if all(counts) else "*")


def _sep_rx(texts: list[str], padded_before: bool, padded_after: bool) -> str:
    parts = [_SPACES.match(t).groups() for t in texts]  # type: ignore[union-attr]
    punct = parts[0][1]
    if not punct:
        return _space_rx([p[0] + p[2] for p in parts], padded_before or padded_after)
    before = _space_rx([p[0] for p in parts], padded_before or any(len(p[0]) > 1 for p in parts))
    after = _space_rx([p[2] for p in parts], padded_after)
    return before + escape(punct) + after


def _group(kind: str, taken: set[str], yearless: bool, first_word: bool, numeric: bool) -> str:
    base = {"thread": "thread", "pid": "pid", "logger": "logger", "level": "level"}.get(kind)
    if kind == "word":
        base = "host" if yearless and first_word else "pid" if numeric and "pid" not in taken else "field"
    if kind == "thread" and "thread" in taken:
        base = "tag"
    name, n = base or kind, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _field_rx(f: _Field, group: str, lazy: bool, pid_group: str = "pid") -> str:
    if f.kind == "level":
        body = f"(?P<{group}>{_LEVEL_RX})"
        return rf"\[ *{body} *\]" if f.style == "bracket" else body
    if f.kind == "pid":
        return rf"\[(?P<{group}>\d+)\]"
    if f.kind in ("thread", "tag"):
        return rf"\[ *(?P<{group}>[^\]]*?) *\]"
    if f.style == "prog_pid":
        return rf"(?P<{group}>[^\s\[\]:]+)\[(?P<{pid_group}>\d+)\]"
    if f.style == "file_line":
        return rf"(?P<{group}>\S+?:\d+)"
    return rf"(?P<{group}>\S+?)" if lazy else rf"(?P<{group}>\S+)"


@dataclass
class _Line:
    """One timestamp line of the sample, read into header fields."""

    text: str
    time_sep: str
    signature: tuple  # the time separator's key, then each field's key
    fields: list[_Field]


def _build_regex(shape: TimeShape, bracketed: bool, layout: tuple, lines: list[_Line]) -> tuple[str, list[str]]:
    """The full-line regex for a signature prefix, and the group names of its fields in order."""
    n = len(layout) - 1
    time = f"(?P<time>{shape.regex}){shape.msecs}"
    parts = ["^", rf"\[{time}\]" if bracketed else time]
    taken = {"time", "msecs", "message"}
    names: list[str] = []
    fields0 = lines[0].fields[:n]
    # Bare levels are padded by most writers (%-5p, %(levelname)-8s): allow any run of spaces around.
    padded = [f.kind == "level" and f.style == "bare" for f in fields0]
    parts.append(_sep_rx([ln.time_sep for ln in lines], False, bool(padded) and padded[0]))
    for i, f in enumerate(fields0):
        numeric = all(ln.fields[i].value.isdigit() for ln in lines)
        group = _group(f.kind, taken, shape.yearless, i == 0, numeric)
        names.append(group)
        pid_group = _group("pid", taken, False, False, True) if f.style == "prog_pid" else "pid"
        lazy = f.sep not in ("_", "")
        parts.append(_field_rx(f, group, lazy, pid_group))
        after_padded = i + 1 < n and padded[i + 1]
        parts.append(_sep_rx([ln.fields[i].sep_text for ln in lines], padded[i], after_padded))
    parts.append("(?P<message>.*)$")
    return "".join(parts), names


# --------------------------------------------------------------------------------------------
# the result


@dataclass
class Inference:
    """A layout inferred from a file's lines.

    ``definition`` is an ordinary format definition (regex syntax, kind ``app``) with two of the
    file's own lines as ``samples``; ``share`` is the share of sample lines it explains, measured as
    detection measures known formats (``engine.match_rate``); ``description`` says in words what
    was found. ``entries`` and ``lines`` count entry lines and non-blank lines in the sample;
    ``fields`` names the regex's groups in line order (``time``, ..., ``message``); ``naive`` says
    the timestamps carry no UTC offset (some lines at least), so the zone must come from the user.
    """

    definition: FormatDef
    share: float
    description: str
    entries: int
    lines: int
    fields: list[str] = field(default_factory=list)
    naive: bool = False  # timestamps without a UTC offset: read in the zone given (--tz), else UTC

    @cached_property
    def compiled(self) -> Compiled:
        """The definition compiled for ``engine.parse`` / ``engine.parse_stream``."""
        return compile_definition(self.definition)


def infer_format(lines: pl.Series, name: str = "inferred") -> Inference | None:
    """Infer the layout of ``lines`` (a file's lines, first ones first); None when none is credible.

    Looks at the first :data:`SAMPLE` lines. Returns None for text with no timestamp at the start of
    its lines (prose, binary data), timestamps followed by a comma (CSV), or a layout that explains
    less than :data:`MIN_SHARE` of the sample. Naive timestamps are read by the engine in the zone
    it is given (``--tz``); the definition names none.
    """
    sample = engine.lines_frame(lines.head(SAMPLE).cast(pl.String).fill_null(""))["text"]
    texts = sample.to_list()
    nonblank = sum(1 for t in texts if t.strip())
    if nonblank == 0:
        return None
    found = _find_times(texts)
    if found is None:
        return None
    shape_name, bracketed, hits = found
    if len(hits) < min(2, nonblank):
        return None
    shape = TIME_SHAPES[shape_name][2]([h.match for h in hits])
    parsed = []
    for h in hits:
        time_sep, time_key, fields = _header(texts[h.line], h.end)
        parsed.append(_Line(texts[h.line], time_sep, (time_key, *(f.key for f in fields)), fields))
    starts = {h.line for h in hits}
    first = min(starts)
    continuation = [t for i, t in enumerate(texts) if i > first and i not in starts and t.strip()]
    multiline = _multiline(continuation)
    if len(hits) < MIN_START_SHARE * nonblank and multiline not in ("java", "python"):
        return None
    best = _choose_layout(shape, bracketed, parsed, sample)
    if best is None:
        return None
    regex, names, layout, members = best
    definition = FormatDef(
        name=name, kind="app", syntax="regex", pattern=regex, priority=PRIORITY, time_format=shape.time_format,
        multiline=multiline, origin="inferred",
    )
    compiled = compile_definition(definition)
    share, n_starts = engine.match_rate(sample, compiled)
    if share < MIN_SHARE or n_starts == 0:
        return None
    definition.description = _describe(shape, bracketed, layout, members[0], names, multiline, len(continuation))
    # The proof is the engine's own parse: entry lines whose timestamps it cannot read do not count.
    result = engine.parse(sample, compiled, "UTC")
    if result.parsed < COVERAGE * n_starts:
        return None
    definition.samples = _samples(compiled, result, sample, shape)
    groups = [g for g in compiled.columns if g != "msecs"]
    return Inference(definition, share, definition.description, n_starts, nonblank, groups,
                     naive=not shape.has_offset)


def _multiline(continuation: list[str]) -> str:
    """How continuation lines attach: java or python when they hold that language's stack traces."""
    if not continuation:
        return "any"
    cont = pl.Series("text", continuation, dtype=pl.String)
    if (cont.str.contains(stacktraces.JAVA_FRAME) | cont.str.contains(r"^Caused by: ")).any():
        return "java"
    if cont.str.contains(r"^Traceback \(most recent call last\):").any():
        return "python"
    return "any"


def _choose_layout(shape: TimeShape, bracketed: bool, parsed: list[_Line], sample: pl.Series
                   ) -> tuple[str, list[str], tuple, list[_Line]] | None:
    """The longest signature prefix most timestamp lines share whose regex reads them."""
    counts: Counter = Counter()
    for ln in parsed:
        for k in range(1, len(ln.signature) + 1):
            counts[ln.signature[:k]] += 1
    need = COVERAGE * len(parsed)
    ranked = sorted((p for p, c in counts.items() if c >= need), key=lambda p: (len(p), counts[p]), reverse=True)
    starts = pl.Series("text", [ln.text for ln in parsed], dtype=pl.String)
    for layout in ranked:
        members = [ln for ln in parsed if ln.signature[: len(layout)] == layout]
        regex, names = _build_regex(shape, bracketed, layout, members)
        try:
            compiled = compile_definition(FormatDef(name="t", kind="app", syntax="regex", pattern=regex,
                                                    time_format=shape.time_format, origin="inferred"))
            read = int(starts.str.contains(compiled.regex).sum())  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a layout whose regex polars rejects is passed over
            continue
        if read >= need:
            return regex, names, layout, members
    return None


def _field_number(text: str, pos: int) -> int:
    """1-based number of the whitespace-separated field that starts at ``pos``."""
    return len(text[:pos].split()) + 1


def _describe(shape: TimeShape, bracketed: bool, layout: tuple, line: _Line, names: list[str], multiline: str,
              n_cont: int) -> str:
    parts = [f"timestamp {'in brackets ' if bracketed else ''}at column 0 ({shape.label})"]
    for f, group in zip(line.fields, names, strict=False):
        where = f"at field {_field_number(line.text, f.start)}"
        if f.kind == "level":
            parts.append(f"level {where}" + (" in brackets" if f.style == "bracket" else ""))
        elif f.kind == "pid":
            parts.append(f"[pid] {where}")
        elif f.kind == "thread":
            parts.append(f"{'thread' if group == 'thread' else group} in brackets")
        elif f.kind == "logger":
            punct = f.sep_text.strip(" \t")
            what = {"prog_pid": "program[pid]", "file_line": "file:line", "dotted": "dotted logger"}.get(
                f.style, "logger")
            # The separator as written, padding shown as one space.
            shown = (" " if f.sep_text[:1] in (" ", "\t") else "") + punct + (" " if f.sep_text.endswith(" ") else "")
            parts.append(f"{what} before {shown!r}" if punct else f"{what} {where}")
        else:
            parts.append(f"{group} {where}")
    if not any(f.kind == "level" for f in line.fields[: len(layout) - 1]):
        parts.append("no level")
    if multiline == "java":
        parts.append("Java stack traces attach to their entry")
    elif multiline == "python":
        parts.append("Python tracebacks attach to their entry")
    elif n_cont:
        parts.append(f"{n_cont} line(s) without a timestamp continue the entry above")
    if shape.yearless:
        parts.append("no year in the timestamps (read as this year)")
    elif not shape.has_offset:
        parts.append("no UTC offset (give the zone with --tz)")
    return ", ".join(parts)


def _samples(fmt: Compiled, result: engine.ParseResult, sample: pl.Series, shape: TimeShape) -> list[dict]:
    """Two of the file's own entry lines, with the values the engine read from them.

    ``ts`` is expected only when the lines carry their offset; naive times were read as UTC here.
    """
    entries = result.entries
    if entries.height == 0:
        return []
    singles = entries.filter(pl.col("line_count") == 1) if "line_count" in entries.columns else entries
    if singles.height == 0:
        singles = entries
    chosen = [singles.row(0, named=True)]
    levels = singles["level"] if "level" in singles.columns else None
    if levels is not None and levels.null_count() < singles.height:
        other = singles.filter(pl.col("level") != (chosen[0]["level"] or ""))
        if other.height:
            chosen.append(other.row(0, named=True))
    if len(chosen) == 1 and singles.height > 1:
        chosen.append(singles.row(singles.height - 1, named=True))
    out = []
    texts = sample.to_list()
    for row in chosen:
        line = texts[row["line"] - 1]
        expect: dict[str, str] = {}
        if shape.has_offset:  # a naive time's instant depends on the zone the user will give
            expect["ts"] = row["ts"].strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")
        for col in ("level", "thread", "pid", "logger", "message"):
            if col in fmt.columns and row.get(col) is not None:
                expect[col] = str(row[col])
        out.append({"line": line, "expect": expect})
    return out


# --------------------------------------------------------------------------------------------
# TOML


def _toml_str(text: str) -> str:
    """A TOML string: a literal '...' when it needs no escapes (regexes stay readable), else basic."""
    if "'" not in text and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return f"'{text}'"
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def suggest_toml(inference: Inference) -> str:
    """The inferred definition as a TOML file the user can save, edit and pass with ``--formats``.

    ``formats.parse_toml`` reads it back into the same definition; its ``samples`` are two of the
    file's own lines with the values they read as (``samples.check_samples`` verifies them).
    """
    d = inference.definition
    head = [
        f"# Format inferred from the lines of a log file: {inference.share:.0%} of the sampled lines read.",
        "# Check the field names and the regex, rename the format, then pass this file with --formats.",
        f"name = {_toml_str(d.name)}",
        f"kind = {_toml_str(d.kind)}",
        f"syntax = {_toml_str(d.syntax)}",
        f"priority = {d.priority}",
        f"description = {_toml_str(d.description)}",
        f"pattern = {_toml_str(d.pattern)}",
    ]
    if d.time_format:
        head.append(f"time_format = {_toml_str(d.time_format)}")
    if inference.naive:
        head.append("# timezone = 'Europe/Berlin'   # the zone the writer's clock used (its lines carry no offset)")
    if d.multiline:
        head.append(f"multiline = {_toml_str(d.multiline)}")
    if d.samples:
        head.append("samples = [")
        for s in d.samples:
            expect = ", ".join(f"{k} = {_toml_str(str(v))}" for k, v in s.get("expect", {}).items())
            head.append(f"  {{ line = {_toml_str(s['line'])}, expect = {{ {expect} }} }},")
        head.append("]")
    return "\n".join(head) + "\n"
