"""Property tests: hostile log text in the HTML report, the Markdown postmortem and on terminals.

Log text is attacker-controlled. Strings made of script and comment breakers (``</script>``,
``<!--``, ``]]>``), ``javascript:`` URLs, attribute breakers, Markdown link and heading syntax,
terminal escapes, bidirectional overrides and zero-width characters are put into every place of an
export that quotes the logs (paths, user agents, client errors, evidence, change lines, causes,
notes, rejected lines, timeline events), and the pages rendered from it must have exactly the
elements and attributes they have with plain text there: no element, attribute, handler or link
comes from the logs, and no invisible character reaches the page (each is shown as an escape).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loganalyzer
from loganalyzer import redact, reports

from .conftest import SAMPLES

PAYLOADS = [
    "</script><script>alert(1)</script>", "<!--", "-->", "<![CDATA[", "]]>", "</style>", "</textarea>",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>",
    '" onmouseover="alert(1)', "' onerror='alert(1)", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
    "<a href=javascript:alert(1)>x</a>", "[x](javascript:alert(1))", "![x](http://evil/x.png)", "](javascript:1)",
    "\n# heading\n", "\n| a | b |\n", "`", "```", "*", "_", "|", "\\", "&lt;script&gt;", "&#60;", "{{7*7}}", "${x}",
    "\u202e", "\u202d", "\u2066", "\u200b", "\u200d", "\ufeff", "\u2028", "\u00ad", "\U000e0041",
    "\x1b]0;pwned\x07", "\x1b[2J", "\x9b31m", "\r", "\x00", "\x08",
]
hostile = st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=8)), min_size=1, max_size=6).map(
    lambda parts: "x" + "".join(parts))  # never empty: an empty value leaves out its element


@pytest.fixture(scope="module")
def base() -> dict:
    """A real export, cut to a few attempts so that each example renders fast."""
    data = reports.export(loganalyzer.analyze([SAMPLES / "trailing-comma" / "logs"]))
    failed = [r for r in data["requests"] if r["verdict"] != "ok"][:12]
    data["requests"] = failed + [r for r in data["requests"] if r["verdict"] == "ok"][:12]
    return data


def inject(data: dict, text: str) -> dict:
    """``data`` with ``text`` in every place that quotes the logs."""
    d = json.loads(json.dumps(data))
    for r in d["requests"]:
        r["path"] = "/api/" + text
        r["user_agent"] = text
        r["client_error"] = text
        r["root_cause_detail"] = text
        for e in r["evidence"]:
            e["text"] = f"{e['text']} {text}"
    s = d["summary"]
    for ch in s.get("changes", []):
        ch["text"] = text
    if s.get("suspected_trigger") and s["suspected_trigger"].get("change"):
        s["suspected_trigger"]["change"]["text"] = text
    for c in d["causes"]:
        c["explanation"] = text
    for x in d["differences"]:
        x["value"] = text
        x["sentence"] = f"failures had {text}"
    d["notes"] = [*d["notes"], text]
    d["rejects"]["samples"] = [{"file": "access.log", "line": 1, "reason": "does not match", "text": text}]
    for ev in d["timeline"]["events"][:20]:
        ev["text"] = text
    return d


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter = Counter()
        self.attrs: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def elements(page: str) -> Elements:
    p = Elements()
    p.feed(page)
    p.close()
    return p


def _strings(x):
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from _strings(v)


@pytest.fixture(scope="module")
def plain(base):
    return elements(reports.render_html(inject(base, "plain text")))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile)
def test_hostile_text_adds_no_element_attribute_or_link_to_the_report(base, plain, text):
    page = reports.render_html(inject(base, text))
    got = elements(page)
    assert got.tags == plain.tags
    assert sorted((t, k) for t, k, _ in got.attrs) == sorted((t, k) for t, k, _ in plain.attrs)
    for tag, key, value in got.attrs:
        assert not re.match(r"(?i)\s*(javascript|data|vbscript):", value) or (tag, key, value) in plain.attrs
    # The data block is JSON that closes only where the page closes it, and still holds the text.
    payload = json.loads(next(s for s in got.scripts if s.lstrip().startswith("{")))
    shown = redact.printable(text, keep_newlines=True)
    assert any(shown in s for s in _strings(payload)) or shown.strip() == ""
    # Nothing invisible reaches the page: overrides and zero-width characters are shown as escapes.
    assert not redact._CONTROL.search(page.replace("\n", "").replace("\t", ""))


@pytest.fixture(scope="module")
def plain_md(base):
    return reports.render_markdown(inject(base, "plain text"))


def _outside_code(md: str) -> str:
    md = re.sub(r"(?ms)^\s*(`{3,}).*?^\s*\1\s*$", "", md)
    return re.sub(r"(`+)(?:(?!\1).)+\1", "", md)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile)
def test_hostile_text_neither_formats_the_postmortem_nor_hides_in_it(base, plain_md, text):
    md = reports.render_markdown(inject(base, text))
    out, ref = _outside_code(md), _outside_code(plain_md)
    assert out.count("<") == ref.count("<")  # no raw HTML from the logs
    assert re.findall(r"(?m)^#+ ", out) == re.findall(r"(?m)^#+ ", ref)  # no heading from the logs
    assert len(re.findall(r"(?<!\\)\]\(", out)) == len(re.findall(r"(?<!\\)\]\(", ref))  # no link from the logs
    assert not redact._CONTROL.search(md.replace("\n", "").replace("\t", ""))


def _acts_or_hides(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\t"


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(codec="utf-8")))
def test_terminal_text_shows_every_control_and_invisible_character(text):
    shown = redact.printable(text)
    assert not any(_acts_or_hides(ch) for ch in shown)
    assert "\n" not in shown


def test_every_invisible_character_of_this_unicode_is_escaped():
    """The code point table in redact.py covers every control and format character Python knows."""
    missing = [f"U+{cp:04X}" for cp in range(0x110000) if _acts_or_hides(chr(cp)) and chr(cp) != "\n"
               and not redact._CONTROL.match(chr(cp))]
    assert not missing
    assert redact.printable("a\u202eb\u200bc\U000e0041") == "a\\u202eb\\u200bc\\U000e0041"
