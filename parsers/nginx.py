"""nginx ``log_format`` directives, pasted as written in nginx.conf, compiled into line regexes."""

from __future__ import annotations

import re

from . import timefmt
from .pattern import Assembled, Capture, Literal, Token, assemble

#: Variables whose values hold several comma/colon-separated entries when nginx retried
#: upstreams or followed internal redirects ("10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80").
UPSTREAM_LISTS = {
    "upstream_addr": "list_str",
    "upstream_status": "list_int",
    "upstream_response_time": "list_float",
    "upstream_connect_time": "list_float",
    "upstream_header_time": "list_float",
    "upstream_response_length": "list_int",
    "upstream_bytes_received": "list_int",
    "upstream_bytes_sent": "list_int",
    "upstream_cache_status": "list_str",
}
INT_VARS = {
    "status", "body_bytes_sent", "bytes_sent", "request_length", "connection", "connection_requests",
    "pid", "remote_port", "server_port", "content_length", "sent_http_content_length",
}
FLOAT_VARS = {"request_time"}
TIME_VARS = {
    "time_local": timefmt.NGINX_TIME_LOCAL,
    "time_iso8601": timefmt.NGINX_TIME_ISO8601,
    "msec": timefmt.NGINX_MSEC,
}
# One value ("-" included) or a list; items exclude quotes so a quoted list stays unambiguous,
# which keeps the regex "one-pass" and its extraction fast.
_LIST_ITEM = r'[^\s,"]+'
_LIST = rf"{_LIST_ITEM}(?:(?:, | : ){_LIST_ITEM})*"
VAR_REGEX = {
    "status": r"\d{3}",
    "remote_addr": r"\S+",
    "request_time": r"\d+(?:\.\d+)?|-",
    "connection": r"\d+",
}


class LogFormatError(ValueError):
    """A log_format directive that cannot be read."""


def split_directive(text: str) -> tuple[str, str]:
    """Return ``(format string, escape mode)`` from a pasted ``log_format`` directive.

    Accepts the whole directive (``log_format main escape=json '...' '...';``), just the quoted
    strings, or the bare format text.
    """
    body = text.strip()
    escape = "default"
    m = re.match(r"log_format\s+\S+\s*", body)
    if m:
        body = body[m.end():]
        em = re.match(r"escape=(\w+)\s*", body)
        if em:
            escape, body = em.group(1), body[em.end():]
    if body[:1] not in ("'", '"'):
        return body.rstrip(";").strip(), escape
    pieces: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in "'\"":
            j, buf = i + 1, []
            while j < len(body) and body[j] != ch:
                if body[j] == "\\" and j + 1 < len(body):
                    nxt = body[j + 1]
                    buf.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                    j += 2
                    continue
                buf.append(body[j])
                j += 1
            if j >= len(body):
                raise LogFormatError(f"unclosed {ch} quote in log_format: {text.strip()[:80]!r}")
            pieces.append("".join(buf))
            i = j + 1
        elif ch.isspace():
            i += 1
        elif ch == ";":
            break
        else:
            raise LogFormatError(f"unexpected {ch!r} between quoted strings in log_format: {text.strip()[:80]!r}")
    return "".join(pieces), escape


def tokens(fmt: str, var_regex: dict[str, str] | None = None) -> list[Token]:
    """Tokenise a log_format string into literals and variable captures."""
    overrides = var_regex or {}
    out: list[Token] = []
    pos = 0
    for m in re.finditer(r"\$(?:\{(\w+)\}|(\w+))", fmt):
        out.append(Literal(fmt[pos : m.start()]))
        name = m.group(1) or m.group(2)
        out.append(capture_for(name, overrides.get(name)))
        pos = m.end()
    out.append(Literal(fmt[pos:]))
    return out


#: Columns named differently from their variable. ``$request_id`` is nginx's own id for the
#: request; the common ``request_id`` column prefers the id the client sent (``X-Request-ID``).
RENAMED = {"request_id": "nginx_request_id"}


def capture_for(name: str, override: str | None = None) -> Capture:
    if name in RENAMED:
        return Capture(RENAMED[name], regex=override or r"[0-9a-f]{32}|-")
    if name in TIME_VARS:
        return Capture(name, regex=override, type="time", layout=TIME_VARS[name], loose=True)
    if name in UPSTREAM_LISTS:
        return Capture(name, regex=override or _LIST, type=UPSTREAM_LISTS[name])
    if name == "request":
        return Capture(name, regex=override, type="request")
    typ = "int" if name in INT_VARS else "float" if name in FLOAT_VARS else "str"
    regex = override or VAR_REGEX.get(name)
    if regex is None and typ == "int":
        regex = r"\d+|-"
    return Capture(name, regex=regex, type=typ)


def compile_log_format(text: str, var_regex: dict[str, str] | None = None) -> tuple[Assembled, str]:
    """Compile a pasted directive; returns the assembled regex and the escape mode."""
    fmt, escape = split_directive(text)
    if "$" not in fmt:
        raise LogFormatError(f"log_format has no $variables: {text.strip()[:80]!r}")
    toks = tokens(fmt, var_regex)
    return assemble(toks, quoted_json=escape == "json"), escape
