"""Timestamp layouts: from the notations log writers use to a regex and a chrono format.

Every format definition names how its timestamps are written, in the writer's own notation:
Java's ``SimpleDateFormat`` letters (logback ``%d{...}``), C ``strftime`` (Python ``datefmt``), or
one of nginx's variables. :class:`TimeLayout` holds the two things the engine needs: a regex that
matches the text inside a line, and a chrono format string that polars parses in bulk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TimeLayout:
    """How one timestamp field is written.

    ``regex`` matches the text (no groups); ``chrono`` is the polars/chrono parse format, or
    ``"epoch"`` for seconds since 1970 (nginx ``$msec``), or ``"iso"`` for ISO-8601 of any
    precision with or without an offset. ``has_offset`` says whether the text carries its own UTC
    offset (then it wins over any configured zone). ``zone`` is a zone named by the layout itself
    (logback's ``%d{pattern, Zone}``). ``zulu`` marks layouts whose offset may be written ``Z``.
    """

    regex: str
    chrono: str
    has_offset: bool = False
    zone: str | None = None
    zulu: bool = False


def has_date(layout: TimeLayout) -> bool:
    """Whether text in this layout names a day (a year and a month and day, or a day of the year).

    A time of day alone (logback ``%d{HH:mm:ss.SSS}``) cannot place an entry in time: parsers
    would have to invent the date.
    """
    if layout.chrono in ("epoch", "iso"):
        return True
    c = layout.chrono
    year = "%Y" in c or "%y" in c
    day = ("%d" in c or "%e" in c) and any(m in c for m in ("%m", "%b", "%B"))
    return year and (day or "%j" in c or "%F" in c)


ISO_REGEX = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
ISO = TimeLayout(ISO_REGEX, "iso", has_offset=True, zulu=True)

NGINX_TIME_LOCAL = TimeLayout(
    r"\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}", "%d/%b/%Y:%H:%M:%S %z", has_offset=True
)
NGINX_TIME_ISO8601 = TimeLayout(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", "%Y-%m-%dT%H:%M:%S%:z", has_offset=True
)
NGINX_MSEC = TimeLayout(r"\d+\.\d{3}", "epoch", has_offset=True)
NGINX_ERROR = TimeLayout(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", "%Y/%m/%d %H:%M:%S")

_MONTH_OR_DAY_NAME = "[A-Za-z]{3,9}"
_META = set("\\.^$|?*+()[]{}")


def escape(text: str) -> str:
    """Escape regex metacharacters only, so generated patterns stay readable."""
    return "".join("\\" + c if c in _META else c for c in text)


class TimeFormatError(ValueError):
    """A timestamp layout this module cannot translate."""


def is_zone(name: str) -> bool:
    """Whether ``name`` is an IANA zone this machine knows (``Europe/Moscow``, ``UTC``, ``GMT+0``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*", name):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


#: log4j2's ``%d{NAME}`` shorthands (``FixedDateFormat.FixedFormat``) that are date patterns.
_LOG4J2_NAMED = {
    "DEFAULT": "yyyy-MM-dd HH:mm:ss,SSS",
    "DEFAULT_MICROS": "yyyy-MM-dd HH:mm:ss,SSSSSS",
    "DEFAULT_NANOS": "yyyy-MM-dd HH:mm:ss,SSSSSSSSS",
    "ISO8601_BASIC": "yyyyMMdd'T'HHmmss,SSS",
    "ISO8601_OFFSET_DATE_TIME_HHMM": "yyyy-MM-dd'T'HH:mm:ss,SSSX",
    "ISO8601_OFFSET_DATE_TIME_HHCMM": "yyyy-MM-dd'T'HH:mm:ss,SSSXXX",
    "DATE": "dd MMM yyyy HH:mm:ss,SSS",
    "COMPACT": "yyyyMMddHHmmssSSS",
    "ABSOLUTE": "HH:mm:ss,SSS",
    "ABSOLUTE_MICROS": "HH:mm:ss,SSSSSS",
    "ABSOLUTE_NANOS": "HH:mm:ss,SSSSSSSSS",
}
#: log4j2's epoch shorthands: seconds, and milliseconds (which the ISO reader knows by their 13 digits).
_LOG4J2_EPOCH = {
    "UNIX": TimeLayout(r"\d{9,10}", "epoch", has_offset=True),
    "UNIX_MILLIS": TimeLayout(r"\d{13}", "iso", has_offset=True),
}


def from_java(pattern: str) -> TimeLayout:
    """Translate a ``SimpleDateFormat`` / ``DateTimeFormatter`` pattern, as logback's ``%d{…}`` takes.

    Logback's options are understood too: ``ISO8601`` (logback's default), and a trailing
    ``, Zone/Name`` naming the zone the writer used; so are log4j2's named formats
    (``DEFAULT``, ``ISO8601_BASIC``, ``DATE``, ``COMPACT``, ``UNIX``, ``UNIX_MILLIS``, ...).
    """
    zone = None
    if "," in pattern and not pattern.strip().startswith("'"):
        head, _, tail = pattern.rpartition(",")
        if is_zone(tail.strip()):
            pattern, zone = head, tail.strip()
    pattern = pattern.strip()
    if pattern == "ISO8601":
        # logback and log4j 1 write "2026-11-26 09:14:46,070", log4j2 "2026-11-26T09:14:46,070":
        # one layout reads both.
        return TimeLayout(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2},\d{3}", "iso", zone=zone)
    if pattern in _LOG4J2_EPOCH:
        return _LOG4J2_EPOCH[pattern]
    pattern = _LOG4J2_NAMED.get(pattern, pattern)
    if pattern == "":
        pattern = "yyyy-MM-dd HH:mm:ss,SSS"
    regex: list[str] = []
    chrono: list[str] = []
    has_offset = zulu = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end == -1:
                raise TimeFormatError(f"unclosed quote in date pattern {pattern!r}")
            literal = pattern[i + 1 : end] or "'"
            regex.append(escape(literal))
            chrono.append(literal.replace("%", "%%"))
            i = end + 1
            continue
        if not ch.isalpha():
            regex.append(escape(ch))
            chrono.append("%%" if ch == "%" else ch)
            i += 1
            continue
        j = i
        while j < len(pattern) and pattern[j] == ch:
            j += 1
        n = j - i
        i = j
        if ch in "yu":
            regex.append(r"\d{2}" if n == 2 else r"\d{4}")
            chrono.append("%y" if n == 2 else "%Y")
        elif ch in "ML":
            if n >= 4:
                regex.append(_MONTH_OR_DAY_NAME)
                chrono.append("%B")
            elif n == 3:
                regex.append("[A-Za-z]{3}")
                chrono.append("%b")
            else:
                regex.append(r"\d{1,2}" if n == 1 else r"\d{2}")
                chrono.append("%m")
        elif ch in "dHhmsk":
            regex.append(r"\d{1,2}" if n == 1 else r"\d{2}")
            chrono.append({"d": "%d", "H": "%H", "h": "%I", "m": "%M", "s": "%S", "k": "%H"}[ch])
        elif ch == "S":
            regex.append(rf"\d{{{n}}}")
            chrono.append({3: "%3f", 6: "%6f", 9: "%9f"}.get(n, "%f"))
        elif ch == "a":
            regex.append("[AaPp][Mm]")
            chrono.append("%p")
        elif ch == "E":
            regex.append(_MONTH_OR_DAY_NAME if n >= 4 else "[A-Za-z]{3}")
            chrono.append("%A" if n >= 4 else "%a")
        elif ch in "XxZ":
            has_offset = True
            if ch == "X":
                zulu = True
            colon = (ch in "Xx" and n >= 3) or (ch == "Z" and n == 5)
            # Writers configured with another width still write a readable offset: accept both
            # +01:00 and +0100 (the engine normalises before parsing).
            sign = r"[+-]\d{2}:?\d{2}" if colon else r"[+-]\d{2}(?::?\d{2})?" if n == 1 else r"[+-]\d{4}"
            regex.append(f"(?:Z|{sign})" if ch == "X" else sign)
            chrono.append("%:z" if colon else "%z")
        else:
            raise TimeFormatError(f"date pattern letter {ch!r} in {pattern!r} is not supported")
    return TimeLayout("".join(regex), "".join(chrono).strip(), has_offset=has_offset, zone=zone, zulu=zulu)


_STRFTIME = {
    "Y": (r"\d{4}", "%Y"),
    "y": (r"\d{2}", "%y"),
    "m": (r"\d{2}", "%m"),
    "d": (r"\d{2}", "%d"),
    "e": (r"[ \d]\d", "%e"),
    "H": (r"\d{2}", "%H"),
    "I": (r"\d{2}", "%I"),
    "M": (r"\d{2}", "%M"),
    "S": (r"\d{2}", "%S"),
    "f": (r"\d{6}", "%6f"),
    "p": (r"[AP]M", "%p"),
    "b": (r"[A-Za-z]{3}", "%b"),
    "B": (_MONTH_OR_DAY_NAME, "%B"),
    "a": (r"[A-Za-z]{3}", "%a"),
    "A": (_MONTH_OR_DAY_NAME, "%A"),
    "j": (r"\d{3}", "%j"),
    "z": (r"[+-]\d{4}", "%z"),
    "T": (r"\d{2}:\d{2}:\d{2}", "%H:%M:%S"),
    "F": (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    "%": ("%", "%%"),
}


def from_strftime(fmt: str) -> TimeLayout:
    """Translate a C ``strftime`` format (Python ``logging``'s ``datefmt``).

    One code beyond C's is understood, for writers whose fraction comes and goes (Go's ``log``
    with or without ``Lmicroseconds``): ``%.f``, an optional ``.`` and 1-9 digits.
    """
    regex: list[str] = []
    chrono: list[str] = []
    has_offset = False
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if fmt.startswith("%.f", i):
            regex.append(r"(?:\.\d{1,9})?")
            chrono.append("%.f")
            i += 3
            continue
        if ch == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            if code == "Z":
                regex.append(r"[A-Za-z_/+-]*")
                if chrono and chrono[-1] == " ":
                    chrono.pop()
            elif code in _STRFTIME:
                r, c = _STRFTIME[code]
                regex.append(r)
                chrono.append(c)
                has_offset |= code == "z"
            else:
                raise TimeFormatError(f"strftime code %{code} in {fmt!r} is not supported")
            i += 2
        else:
            regex.append(escape(ch))
            chrono.append(ch)
            i += 1
    return TimeLayout("".join(regex), "".join(chrono).strip(), has_offset=has_offset)
