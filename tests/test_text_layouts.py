"""The built-in text layouts tell each other apart, and leave other software's logs alone.

Sample lines come from the format files themselves and from ``tests/data/text_layouts/``, where
each ``## <format> <library>`` block is what the real library wrote (see PROVENANCE.md there).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from loganalyzer.parsers import engine, formats, logback, pattern, pylogging, timefmt
from loganalyzer.parsers.samples import check_samples

from loganalyzer.ingest import detect

DATA = Path(__file__).parent / "data"
COMPILED = [formats.compile_definition(d) for d in formats.builtin_definitions()]
BY_NAME = {c.name: c for c in COMPILED}
WITH_SAMPLES = [c for c in COMPILED if c.definition.samples]

#: Formats whose sample lines another format may win on, as a real ambiguity of the notations (not a
#: shortcoming of a regex). None is needed today: every built-in's samples pick that format.
EQUIVALENT: dict[str, set[str]] = {}

NEW_TEXT_LAYOUTS = [
    "python_level_bracket", "python_padded", "python_name_level", "python_seconds", "python_msecs",
    "python_iso_offset", "python_colon", "python_colon_name", "flask_default", "gunicorn_error", "logback_classic", "log4j_iso8601",
    "log4j_class_line", "log4j2_file", "dropwizard", "celery_worker", "go_log", "go_slog_text", "logrus_text",
]


def _series(lines: list[str]) -> pl.Series:
    return pl.Series("text", lines, dtype=pl.String)


def _sample_lines(fmt: formats.Compiled) -> list[str]:
    return [line for s in fmt.definition.samples for line in s["line"].split("\n")]


def _blocks() -> list[tuple[str, str, list[str]]]:
    """(format, library, lines) for every block of the generated layout logs."""
    out: list[tuple[str, str, list[str]]] = []
    for path in sorted((DATA / "text_layouts").glob("*.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("## "):
                name, _, library = line[3:].partition(" ")
                out.append((name, library, []))
            else:
                out[-1][2].append(line)
    return out


BLOCKS = _blocks()
#: How each generated entry begins (date, [date, time=, or Dropwizard's "LEVEL [date"): trace lines do not.
_ENTRY_START = re.compile(r"^(?:\d|\[\d|time=|[A-Z]+ +\[\d)")


@pytest.mark.parametrize("name", NEW_TEXT_LAYOUTS)
def test_new_layouts_are_built_in_with_samples_naming_time_level_and_message(name):
    fmt = BY_NAME[name]
    assert len(fmt.definition.samples) >= 2
    for sample in fmt.definition.samples:
        expect = sample["expect"]
        assert {"ts", "message"} <= set(expect)
        # Go's log package writes no level; every other layout does.
        assert "level" in expect or name == "go_log"
    assert check_samples(fmt) == []


@pytest.mark.parametrize("fmt", WITH_SAMPLES, ids=[c.name for c in WITH_SAMPLES])
def test_a_formats_own_samples_are_detected_as_that_format(fmt):
    # A JSON format's samples may show several producers' key sets; a real file holds one of them.
    groups = [[s["line"]] for s in fmt.definition.samples] if fmt.definition.syntax == "json" else [_sample_lines(fmt)]
    for lines in groups:
        found = detect(_series(lines), COMPILED)
        assert found.format.name in {fmt.name} | EQUIVALENT.get(fmt.name, set()), found.ranking[:3]
        assert found.rate >= 0.5  # trace lines count half: they continue entries


@pytest.mark.parametrize("name, library, lines", BLOCKS, ids=[f"{b[0]}-{b[1]}" for b in BLOCKS])
def test_whole_output_of_the_real_library_is_detected_and_parsed(name, library, lines):
    found = detect(_series(lines), COMPILED)
    assert found.format.name == name, found.ranking[:3]
    result = engine.parse(_series(lines), BY_NAME[name], "UTC")
    assert result.rejected == 0
    starts = sum(1 for line in lines if _ENTRY_START.match(line))
    assert result.parsed == starts
    if name != "go_log":
        assert result.entries["level"].null_count() == 0


def _corpus(name: str) -> list[str]:
    return (DATA / "lnav" / name).read_text(encoding="utf-8").splitlines()


FOREIGN = {
    # haproxy's request lines inside syslog framing; the first three are plain syslog messages.
    "haproxy": _corpus("logfile_haproxy.0"),
    "syslog": _corpus("logfile_haproxy.0")[:3],
    "apache_error": _corpus("format_samples_error_log.txt"),
    # uWSGI's request log: "[pid: 1|app: 0|req: 1/1] 127.0.0.1 () {38 vars ...} [Sun Mar 13 22:49:12 2016] POST ..."
    "uwsgi": (DATA / "text_layouts" / "lnav_logfile_uwsgi.0").read_text(encoding="utf-8").splitlines(),
}


@pytest.mark.parametrize("what", FOREIGN)
def test_other_softwares_logs_are_not_claimed_by_application_layouts(what):
    lines = _series(FOREIGN[what])
    claims = {c.name: engine.match_rate(lines, c)[0] for c in COMPILED if c.kind in ("app", "vac", "crm")}
    assert {n: r for n, r in claims.items() if r >= 0.5} == {}


def test_a_padded_level_is_matched_at_its_exact_width():
    padded = BY_NAME["python_padded"]
    plain = _series(["2026-11-26 09:14:46,070 ERROR upstream failed for rid=1"])
    assert engine.match_rate(plain, padded)[0] == 0.0  # "ERROR" then one space is not %-8s
    assert engine.match_rate(plain, BY_NAME["python_asctime"])[0] == 1.0
    rx = pattern.exact_padding("[A-Z]+", 5, left=False)
    assert rx == "(?:[A-Z]{5,}|[A-Z]{4} |[A-Z]{3}  |[A-Z]{2}   |[A-Z]    )"
    assert pattern.exact_padding("[A-Z]+", 5, left=True).startswith("(?:[A-Z]{5,}| [A-Z]{4}|")
    assert pattern.exact_padding("(?:a|b)+", 5, left=False) is None
    spring = logback.compile_pattern("%d{yyyy-MM-dd HH:mm:ss.SSS} %5p [%t] %logger : %m%n").assembled.regex
    assert "(?P<level>(?:[A-Za-z]{5,}| [A-Za-z]{4}|" in spring


def test_python_levels_are_upper_case_words_and_names_one_word():
    rx = pylogging.compile_format("%(asctime)s %(name)s %(levelname)s %(message)s").regex
    s = _series(["2026-11-26 09:14:46,070 app.db ERROR query failed",
                 "2026-11-26 09:14:46,070 ERROR query failed now"])
    assert s.str.contains(rx).to_list() == [True, False]
    rx = pylogging.compile_format("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s",
                                  "%Y-%m-%d %H:%M:%S").regex
    spring_line = ("2026-11-26 09:14:46.070 ERROR 20046 --- [exec-8] com.example.crm.web.PayloadAuditFilter   : "
                   "Unreadable JSON payload")
    assert not _series([spring_line]).str.contains(rx).any()


@pytest.mark.parametrize("fmt, datefmt", [
    ("%(levelname)s:%(name)s:%(message)s", None),  # logging.basicConfig's default
    # uvicorn's default: levelprefix is its own formatter's field, and there is no time either
    ("%(levelprefix)s %(message)s", None),
    ("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"),
])
def test_python_layouts_without_a_date_are_refused(fmt, datefmt):
    with pytest.raises(pylogging.FormatStringError):
        pylogging.compile_format(fmt, datefmt)


@pytest.mark.parametrize("layout", [
    "%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n",  # logback's and log4j2's console default
    "%-4r [%t] %-5p %c %x - %m%n",  # log4j's TTCC: milliseconds since start-up
])
def test_logback_layouts_without_a_date_are_refused_with_the_reason(layout):
    with pytest.raises(logback.PatternError, match="cannot be placed in time"):
        logback.compile_pattern(layout)


def test_optional_fraction_in_a_strftime_time_format():
    layout = timefmt.from_strftime("%Y/%m/%d %H:%M:%S%.f")
    values = _series(["2026/11/26 09:14:46", "2026/11/26 09:14:46.123456"])
    assert values.str.contains("^" + layout.regex + "$").all()
    parsed = values.str.to_datetime(layout.chrono, time_unit="us").to_list()
    assert [p.microsecond for p in parsed] == [0, 123456]
    assert timefmt.has_date(layout) and not timefmt.has_date(timefmt.from_java("HH:mm:ss.SSS"))


def test_go_key_value_attributes_become_columns():
    fmt = BY_NAME["go_slog_text"]
    lines = _series(['time=2026-12-01T22:56:40.842+03:00 level=ERROR msg="upstream call failed" '
                     'rid=7f3a9c21 status=502 err="dial tcp 127.0.0.1:9: connect: connection refused"',
                     "time=2026-12-01T22:56:40.842+03:00 level=INFO msg=done"])
    e = engine.parse(lines, fmt, "UTC").entries
    assert e["message"].to_list() == ["upstream call failed", "done"]
    assert e["status"].to_list() == [502, None] and e["request_id"].to_list() == ["7f3a9c21", None]


#: The %d options of the layout that wrote log4j2_dates.txt, in order; the first is the reference.
_LOG4J2_DATES = ["UNIX_MILLIS", "DEFAULT}{Europe/Moscow", "ISO8601", "DATE", "COMPACT",
                 "ISO8601_OFFSET_DATE_TIME_HHCMM}{America/New_York", "UNIX"]


@pytest.mark.parametrize("i", range(1, len(_LOG4J2_DATES)), ids=_LOG4J2_DATES[1:])
def test_log4j2_named_dates_and_zones_read_as_the_same_instant(i):
    lines = (DATA / "text_layouts" / "log4j2_dates.txt").read_text(encoding="utf-8").splitlines()
    # Fields before the one under test are skipped as MDC-like text; the rest is the message.
    layout = "".join(f"%X{{f{j}}}|" for j in range(i)) + "%d{" + _LOG4J2_DATES[i] + "} %m%n"
    if i + 1 < len(_LOG4J2_DATES):
        layout = layout.replace("} %m%n", "}|%m%n")
    d = formats.FormatDef(name="t", kind="app", syntax="logback", pattern=layout)
    entries = engine.parse(_series(lines), formats.compile_definition(d), None).entries
    reference = [int(line.split("|")[0]) for line in lines]
    got = (entries["ts"].dt.epoch("ms")).to_list()
    if _LOG4J2_DATES[i] == "UNIX":  # whole seconds
        reference = [r // 1000 * 1000 for r in reference]
    assert got == reference


def test_go_log_leaves_nginx_error_lines_to_nginx_error():
    lines = _series((DATA / "elastic-beats-nginx" / "error.log").read_text(encoding="utf-8").splitlines())
    assert engine.match_rate(lines, BY_NAME["go_log"])[0] == 0.0
    assert engine.match_rate(lines, BY_NAME["nginx_error"])[0] > 0.5


@pytest.mark.parametrize("file, name", [("nginx_kv_access.txt", "combined_kv"), ("nginx_error.txt", "nginx_error")])
def test_real_nginx_output_is_detected_and_read_whole(file, name):
    lines = _series((DATA / "text_layouts" / file).read_text(encoding="utf-8").splitlines())
    assert detect(lines, COMPILED).format.name == name
    result = engine.parse(lines, BY_NAME[name], "UTC")
    assert result.rejected == 0 and result.parsed == len(lines)
