"""logback ``<pattern>`` layouts (and Spring Boot's defaults built on them) compiled into line regexes.

Only the first line of an event is described by the pattern: everything after ``%n`` (the
``%wEx`` stack trace Spring Boot appends) arrives as continuation lines, which the engine attaches.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from . import timefmt
from .pattern import Assembled, Capture, Literal, Raw, Token, assemble

_LEVEL = r"[A-Za-z]+"
_CONVERTERS_IGNORED = {
    "ex", "exception", "throwable", "xEx", "xException", "xThrowable", "rEx", "rootException",
    "wEx", "wex", "nopex", "nopexception", "caller",
}
_COLOUR_WRAPPERS = {
    "clr", "highlight", "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white", "gray",
    "boldRed", "boldGreen", "boldYellow", "boldBlue", "boldMagenta", "boldCyan", "boldWhite", "faint",
}
_WORDS = {
    **dict.fromkeys(("d", "date"), "time"),
    **dict.fromkeys(("p", "le", "level"), "level"),
    **dict.fromkeys(("t", "thread"), "thread"),
    **dict.fromkeys(("c", "lo", "logger"), "logger"),
    **dict.fromkeys(("C", "class"), "class"),
    **dict.fromkeys(("M", "method"), "method_name"),
    **dict.fromkeys(("L", "line"), "source_line"),
    **dict.fromkeys(("F", "file"), "source_file"),
    **dict.fromkeys(("m", "msg", "message"), "message"),
    **dict.fromkeys(("r", "relative"), "relative_ms"),
    **dict.fromkeys(("cn", "contextName"), "context_name"),
    "marker": "marker",
    "x": "ndc",  # log4j's nested diagnostic context (TTCC layout)
    "kvp": "kvp",
    "sn": "sequence_number",
    "sequenceNumber": "sequence_number",
    "applicationName": "app_name",
}
_INT_FIELDS = {"source_line", "relative_ms", "sequence_number", "pid"}

#: Spring Boot's logging properties, as a user's pasted pattern refers to them (``${PID:- }``).
#: Each renders a regex fragment (optional decorations are optional groups) and the derived
#: columns it implies.
# Spring Boot's default correlation is "[traceId(32)-spanId(16)] ", or "[" + 49 spaces + "] " with
# no span; matching that shape keeps it apart from the [thread] before it.
_CORRELATION = Raw(r"(?:\[(?P<correlation>[0-9A-Za-z]{8,32}-[0-9A-Za-z]{8,16}| *)\] )?", {"correlation": "str"})
_SPRING_PROPERTIES: dict[str, list[Token]] = {
    "PID": [Capture("pid", regex=r"\d*", type="int")],
    "LOG_CORRELATION_PATTERN": [_CORRELATION],
    "LOGGED_APPLICATION_NAME": [Raw(r"(?:\[(?P<app_name>[^\]]*)\] )?", {"app_name": "str"})],
    "LOG_EXCEPTION_CONVERSION_WORD": [],
}
_ESB = {
    "APPLICATION_NAME": Raw(r"(?:\[(?P<app_name>[^\]]*)\] )?", {"app_name": "str"}),
    # Lazy (??): with both [name] and [group] optional, "[name] [thread]" must not read as a group.
    "APPLICATION_GROUP": Raw(r"(?:\[(?P<app_group>[^\]]*)\] )??", {"app_group": "str"}),
}
#: Sleuth-era Boot 2.x apps extend ``%5p`` with ``[app,traceId,spanId(,exportable)]``; Spring
#: Boot's own default is plain ``%5p``. Both are accepted where ``LOG_LEVEL_PATTERN`` is used.
_SLEUTH = Raw(r"(?: \[(?P<sleuth>[^\]]*)\])?", {"sleuth": "str"})

#: Columns these decorations break into (regex over the decoration's text).
IMPLIED_DERIVES = {
    "correlation": r"^(?P<trace_id>[0-9A-Za-z]+)-(?P<span_id>[0-9A-Za-z]+)$",
    "sleuth": r"^(?P<app_name>[^,]*)(?:,(?P<trace_id>[^,]*))?(?:,(?P<span_id>[^,]*))?",
}


class PatternError(ValueError):
    """A logback pattern that cannot be read."""


@dataclass
class LogbackLayout:
    assembled: Assembled
    derives: list[tuple[str, str]] = field(default_factory=list)  # (column, regex)
    zone: str | None = None


def compile_pattern(pattern: str, properties: dict[str, str] | None = None) -> LogbackLayout:
    """Compile a logback pattern; ``properties`` substitute ``${NAME}`` references."""
    parser = _Parser(pattern.strip(), properties or {})
    toks = parser.parse_sequence(top=True)
    assembled = assemble(toks)
    if not any(c.type == "time" for c in assembled.columns.values()):
        # %r (milliseconds since start-up, log4j's TTCC layout) is not a time: entries cannot be dated.
        raise PatternError(f"logback pattern {pattern!r} has no %d: its lines cannot be placed in time")
    derives = [(col, rx) for col, rx in IMPLIED_DERIVES.items() if col in assembled.columns]
    return LogbackLayout(assembled, derives, parser.zone)


class _Parser:
    def __init__(self, text: str, properties: dict[str, str]):
        self.text = text
        self.pos = 0
        self.properties = properties
        self.zone: str | None = None
        self.done = False  # reached %n: the rest describes later lines

    def error(self, msg: str) -> PatternError:
        return PatternError(f"{msg} at column {self.pos + 1} of logback pattern {self.text!r}")

    def parse_sequence(self, top: bool = False) -> list[Token]:
        out: list[Token] = []
        while self.pos < len(self.text) and not self.done:
            ch = self.text[self.pos]
            if ch == ")" and not top:
                return out
            if ch == "%":
                out.extend(self.parse_conversion())
            elif self.text.startswith("${", self.pos):
                out.extend(self.parse_property())
            elif ch == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                out.append(Literal({"n": "", "t": "\t"}.get(nxt, nxt)))
                self.pos += 2
            else:
                out.append(Literal(ch))
                self.pos += 1
        return out

    def parse_braced(self) -> str | None:
        if not self.text.startswith("{", self.pos):
            return None
        depth, start = 0, self.pos
        while self.pos < len(self.text):
            c = self.text[self.pos]
            depth += c == "{"
            depth -= c == "}"
            self.pos += 1
            if depth == 0:
                return self.text[start + 1 : self.pos - 1]
        raise self.error("unclosed '{'")

    def resolve(self, text: str) -> str:
        """Substitute ``${NAME:-default}`` inside a conversion option (``%d{${FORMAT:-...}}``)."""
        return re.sub(
            r"\$\{([\w.]+)(?::-([^}]*))?\}",
            lambda m: self.properties.get(m.group(1), m.group(2) or ""),
            text,
        )

    def parse_property(self) -> list[Token]:
        body = self.parse_braced_dollar()
        name, sep, default = body.partition(":-")
        if name in self.properties:
            return _Parser(self.properties[name], self.properties).parse_sequence(top=True)
        if name == "LOG_LEVEL_PATTERN":
            inner = _Parser(default or "%5p", self.properties).parse_sequence(top=True)
            return inner + ([_SLEUTH] if not default or default.strip() == "%5p" else [])
        if name == "LOG_DATEFORMAT_PATTERN":
            return [self.time_capture(default or "yyyy-MM-dd HH:mm:ss.SSS")]
        if name in _SPRING_PROPERTIES:
            return list(_SPRING_PROPERTIES[name])
        if sep:
            return _Parser(default, self.properties).parse_sequence(top=True)
        return [Capture(name.lower().replace(".", "_"))]

    def parse_braced_dollar(self) -> str:
        self.pos += 1  # at '{'
        body = self.parse_braced()
        assert body is not None
        return body

    def time_capture(self, option: str, zone: str | None = None) -> Capture:
        """``%d{option}``, or log4j2's ``%d{option}{zone}`` (the second braces name the writer's zone)."""
        try:
            layout = timefmt.from_java(option)
        except timefmt.TimeFormatError as exc:
            raise self.error(str(exc)) from None
        if zone and not layout.zone:
            if not timefmt.is_zone(zone.strip()):
                raise self.error(f"time zone {zone!r} of %d is not a known zone")
            layout = dataclasses.replace(layout, zone=zone.strip())
        if not timefmt.has_date(layout):
            # log4j2's default %d{HH:mm:ss.SSS}: the day would have to be invented.
            raise self.error(f"date pattern {option!r} writes no date, so lines cannot be placed in time")
        if layout.zone:
            self.zone = layout.zone
        return Capture("time", type="time", layout=layout)

    def parse_conversion(self) -> list[Token]:
        self.pos += 1
        if self.pos >= len(self.text):
            raise self.error("pattern ends with '%'")
        if self.text[self.pos] == "%":
            self.pos += 1
            return [Literal("%")]
        m = re.compile(r"(-)?(\d+)?(?:\.(-)?(\d+))?").match(self.text, self.pos)
        assert m is not None
        left_align, min_width = bool(m.group(1)), m.group(2)
        self.pos = m.end()
        word_m = re.compile(r"[A-Za-z]+").match(self.text, self.pos)
        word = word_m.group() if word_m else ""
        self.pos = word_m.end() if word_m else self.pos
        inner: list[Token] | None = None
        if self.text.startswith("(", self.pos):
            self.pos += 1
            inner = self.parse_sequence()
            if not self.text.startswith(")", self.pos):
                raise self.error("unclosed '('")
            self.pos += 1
        options = []
        while (opt := self.parse_braced()) is not None:
            options.append(self.resolve(opt))
        if word == "n":
            self.done = True
            return []
        if inner is not None:
            if word == "esb":
                return [_ESB.get(options[0] if options else "", Raw(""))] if not inner else inner
            return inner  # colour wrappers, %replace(...) and grouping keep their content's shape
        if word in _COLOUR_WRAPPERS:
            return []
        if word == "esb":
            return [_ESB[options[0]]] if options and options[0] in _ESB else []
        if word in _CONVERTERS_IGNORED:
            return []
        if word in ("X", "mdc"):
            if not options:
                return [Capture("mdc")]
            key = options[0].split(":-")[0]
            return [Capture(key, optional=False)]
        if word in ("property",):
            return [Capture((options[0] if options else "property").lower())]
        if word not in _WORDS:
            raise self.error(f"unknown conversion word %{word}")
        column = _WORDS[word]
        if column == "time":
            return [self.time_capture(options[0] if options else "", options[1] if len(options) > 1 else None)]
        pad_left = bool(min_width) and not left_align
        pad_right = bool(min_width) and left_align
        if column == "level":
            return [Capture("level", regex=_LEVEL, type="level", pad_left=pad_left, pad_right=pad_right,
                            width=int(min_width) if min_width else 0)]
        if column == "logger":
            return [Capture("logger", regex=r"\S+", pad_left=pad_left, pad_right=pad_right)]
        if column == "message":
            return [Capture("message", regex=".*")]
        if column == "app_name":
            return [_SPRING_PROPERTIES["LOGGED_APPLICATION_NAME"][0]]
        typ = "int" if column in _INT_FIELDS else "str"
        regex = r"\d+" if typ == "int" else None
        return [Capture(column, regex=regex, type=typ, pad_left=pad_left, pad_right=pad_right)]
