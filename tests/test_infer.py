"""Layout inference: layouts no built-in definition reads, written by real software, inferred and parsed.

Python layouts are written by the ``logging`` module in the test (its ``formatTime`` is given a zone
and the records a known ``created`` instant); the Go and Java logs were written by Go's ``log`` and the
JDK's ``java.util.logging`` (tests/data/infer/PROVENANCE.md); the rest are lnav's test logs.
"""

from __future__ import annotations

import io
import logging
import os
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loganalyzer.parsers import engine, formats
from loganalyzer.parsers.infer import Inference, infer_format, suggest_toml
from loganalyzer.parsers.samples import check_samples

from loganalyzer.ingest import MIN_MATCH_RATE, detect

DATA = Path(__file__).parent / "data"
BUILTINS = [formats.compile_definition(d) for d in formats.builtin_definitions()]
T0 = datetime(2026, 11, 26, 8, 14, 46, 123456, tzinfo=UTC)


def series(text: str) -> pl.Series:
    return pl.Series("text", text.splitlines(), dtype=pl.String)


def read(path: Path) -> pl.Series:
    return series(path.read_text(encoding="utf-8"))


def builtin_rate(lines: pl.Series) -> float:
    """How well the built-in definitions read these lines (some layouts here have become built-ins;
    inference must read them all the same, as it does a user's layout no definition knows)."""
    return detect(lines, BUILTINS).rate


def infer_and_parse(lines: pl.Series, zone: str | None = None) -> tuple[Inference, pl.DataFrame, engine.ParseResult]:
    inf = infer_format(lines)
    assert inf is not None, "no layout inferred"
    result = engine.parse(lines, inf.compiled, zone)
    assert result.parsed + result.continuation + result.rejected == result.lines
    return inf, result.entries, result


# --------------------------------------------------------------------------------------------
# Python logging, run here


class _ZoneFormatter(logging.Formatter):
    """logging.Formatter writing times in a given zone (as a process with TZ set would)."""

    def __init__(self, fmt: str, datefmt: str | None, zone: str, epoch_millis: bool = False):
        super().__init__(fmt, datefmt)
        self.zone = ZoneInfo(zone)
        self.epoch_millis = epoch_millis

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if self.epoch_millis:
            return str(int(record.created * 1000))
        dt = datetime.fromtimestamp(record.created, self.zone)
        if datefmt:
            return dt.strftime(datefmt)
        return dt.strftime(self.default_time_format) + self.default_msec_format.split("s", 1)[1] % record.msecs


RECORDS = [
    ("app.billing", logging.INFO, "invoice run started for 17 customers"),
    ("app.billing.mail", logging.WARNING, "2 invoices have no e-mail address"),
    ("app.http", logging.ERROR, "upstream answered 502 after 30.0s"),
    ("app.http", logging.DEBUG, "retrying GET /api/orders/42 (attempt 2)"),
    ("app.billing", logging.INFO, "invoice run finished"),
]


def python_log(fmt: str, datefmt: str | None, zone: str, records=RECORDS, epoch_millis: bool = False,
               exc_at: int | None = None) -> tuple[pl.Series, list[datetime]]:
    """Run ``logging`` with this layout; returns the lines and the UTC instant of each record."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(_ZoneFormatter(fmt, datefmt, zone, epoch_millis))
    instants = [T0 + timedelta(seconds=61.5 * i, microseconds=1000 * i) for i in range(len(records))]

    class At(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            t = instants[int(record.args["i"]) if isinstance(record.args, dict) else 0]  # type: ignore[index]
            record.created = t.timestamp()
            record.msecs = t.microsecond // 1000
            record.args = None
            return True

    handler.addFilter(At())
    saved = {}
    for i, (name, level, msg) in enumerate(records):
        logger = logging.getLogger(name)
        saved.setdefault(name, (logger, logger.propagate, logger.level))
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        if exc_at == i:
            try:
                {}["customer"]  # noqa: B018 - a real KeyError with a real traceback
            except KeyError:
                logger.exception(msg, {"i": i})
        else:
            logger.log(level, msg, {"i": i})
    for logger, propagate, level in saved.values():
        logger.removeHandler(handler)
        logger.propagate, logger.level = propagate, level
    return series(out.getvalue()), instants


def _ms(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def check_records(entries: pl.DataFrame, instants: list[datetime], precision: str = "ms", logger: bool = True,
                  messages: bool = True) -> None:
    """Entries hold the records' levels, messages, loggers and instants (to the layout's precision)."""
    assert entries.height == len(RECORDS)
    want_levels = [{"WARNING": "WARN", "CRITICAL": "FATAL"}.get(logging.getLevelName(lv), logging.getLevelName(lv))
                   for _, lv, _ in RECORDS]
    assert entries["level"].to_list() == want_levels
    if messages:
        assert [m.split("\n")[0] for m in entries["message"].to_list()] == [m for _, _, m in RECORDS]
    if logger:
        assert entries["logger"].to_list() == [n for n, _, _ in RECORDS]
    trim = {"s": lambda t: t.replace(microsecond=0), "ms": _ms, "us": lambda t: t}[precision]
    assert entries["ts"].to_list() == [trim(t) for t in instants]


def test_python_iso_offset_bracketed_level_and_name_colon():
    lines, instants = python_log("%(asctime)s [%(levelname)s] %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z",
                                 "Europe/Berlin")
    assert lines[0].startswith("2026-11-26T09:14:46+0100 [INFO] app.billing: ")
    inf, entries, _ = infer_and_parse(lines)
    check_records(entries, instants, precision="s")
    assert "ISO-8601 with T" in inf.description and "offset +hhmm" in inf.description
    assert "level at field 2 in brackets" in inf.description


def test_python_slash_date_msecs_padded_level_thread_and_dash():
    lines, instants = python_log(
        "%(asctime)s.%(msecs)03d %(levelname)-8s [%(threadName)s] %(name)s - %(message)s", "%Y/%m/%d %H:%M:%S",
        "America/New_York")
    inf, entries, _ = infer_and_parse(lines, zone="America/New_York")
    check_records(entries, instants)
    assert set(entries["thread"].to_list()) == {"MainThread"}
    assert "thread in brackets" in inf.description and "logger before ' - '" in inf.description
    # Read in another zone, the same lines give other instants: the zone is not baked in.
    assert engine.parse(lines, inf.compiled, "UTC").entries["ts"][0] == _ms(instants[0]) - timedelta(hours=5)


def test_python_flask_layout_bracketed_time():
    # Flask's default: "[%(asctime)s] %(levelname)s in %(module)s: %(message)s"
    lines, instants = python_log("[%(asctime)s] %(levelname)s in %(module)s: %(message)s", None, "Asia/Tokyo")
    inf, entries, _ = infer_and_parse(lines, zone="Asia/Tokyo")
    check_records(entries, instants, logger=False, messages=False)
    assert entries["message"].to_list() == [f"in test_infer: {m}" for _, _, m in RECORDS]
    assert inf.description.startswith("timestamp in brackets at column 0 (ISO-8601, millis after a comma")


def test_python_epoch_seconds_with_micros():
    lines, instants = python_log("%(created).6f %(levelname)s %(name)s - %(message)s", None, "UTC")
    inf, entries, _ = infer_and_parse(lines, zone="Pacific/Auckland")  # epoch times ignore the zone
    assert inf.definition.time_format == "epoch"
    check_records(entries, instants, precision="us")


def test_python_epoch_millis():
    lines, instants = python_log("%(asctime)s|%(levelname)s|%(name)s|%(message)s", None, "UTC", epoch_millis=True)
    assert re.match(r"^\d{13}\|INFO\|app\.billing\|invoice", lines[0])
    inf, entries, _ = infer_and_parse(lines)
    check_records(entries, instants)
    assert "epoch millis" in inf.description


def test_python_syslog_time_program_pid_then_level():
    lines, instants = python_log("%(asctime)s %(name)s[%(process)d]: %(levelname)s %(message)s",
                                 "%b %d %H:%M:%S", "Europe/Paris")
    inf, entries, _ = infer_and_parse(lines, zone="Europe/Paris")
    check_records(entries, [t.replace(year=datetime.now(UTC).year) for t in instants], precision="s")
    assert entries["pid"].unique().to_list() == [os.getpid()]
    assert "no year" in inf.description


def test_python_pipes_and_traceback_attach():
    lines, instants = python_log("%(asctime)s.%(msecs)03d | %(levelname)-8s | %(name)s | %(message)s",
                                 "%Y-%m-%dT%H:%M:%S", "Asia/Kolkata", exc_at=2)
    assert any(t.startswith("Traceback (most recent call last):") for t in lines.to_list())
    inf, entries, result = infer_and_parse(lines, zone="Asia/Kolkata")
    assert inf.definition.multiline == "python"
    check_records(entries, instants)
    failed = entries.row(2, named=True)
    assert failed["exception"] == "KeyError" and failed["exception_message"] == "'customer'"
    assert failed["stack_trace"].startswith("Traceback (most recent call last):")
    assert result.continuation >= 3 and result.rejected == 0


# --------------------------------------------------------------------------------------------
# other software


def _utc_in(message: str) -> datetime:
    """The UTC instant a generated message carries (``utc=2026-12-01T19:59:04.36452521Z``)."""
    m = re.search(r"utc=([\d-]+T[\d:]+)(?:\.(\d+))?Z", message)
    assert m, message
    return datetime.fromisoformat(m.group(1) + "." + (m.group(2) or "0")[:6].ljust(6, "0") + "+00:00")


def test_go_log_with_microseconds_and_file_line():
    lines = read(DATA / "infer" / "go_log_micro.log")
    inf, entries, result = infer_and_parse(lines, zone="America/New_York")
    assert result.rejected == 0 and entries.height == 5
    assert entries["logger"].to_list()[:2] == ["golog.go:18", "golog.go:20"]
    assert entries["message"][0].startswith("listening on 127.0.0.1:8080 utc=")
    assert entries["level"].null_count() == entries.height
    for ts, msg in zip(entries["ts"], entries["message"], strict=True):
        assert abs(ts - _utc_in(msg)) < timedelta(milliseconds=5)
    assert "yyyy/mm/dd HH:MM:SS, micros" in inf.description and "file:line before ': '" in inf.description


def test_java_util_logging_with_stack_trace():
    lines = read(DATA / "infer" / "jul_stacktrace.log")
    inf, entries, result = infer_and_parse(lines, zone="Asia/Kolkata")
    assert inf.definition.multiline == "java"
    assert result.rejected == 0
    assert entries["level"].to_list() == ["INFO", "WARN", "ERROR", "INFO"]
    assert entries["logger"].to_list() == ["com.example.billing.InvoiceRun"] * 3 + ["com.example.billing.Mailer"]
    severe = entries.row(2, named=True)
    assert severe["message"].endswith("invoice 42 failed")
    assert severe["exception"] == "java.lang.IllegalStateException"
    assert severe["root_cause"] == "java.net.SocketTimeoutException"
    assert "\tat JulLog.charge(JulLog.java:12)" in severe["stack_trace"]
    for ts, msg in zip(entries["ts"], entries["message"], strict=True):
        assert abs(ts - _utc_in(msg)) < timedelta(seconds=1)


def test_spring_boot_app_with_custom_logback_pattern():
    lines = read(DATA / "lnav" / "logfile_java.0")
    inf, entries, result = infer_and_parse(lines, zone="Europe/Amsterdam")
    assert result.rejected == 0 and entries.height == lines.len()
    first = entries.row(0, named=True)
    assert first["level"] == "INFO" and first["thread"] == "background-preinit" and first["logger"] == "Version"
    assert first["message"] == "HV000001: Hibernate Validator 8.0.1.Final"
    assert first["ts"] == datetime(2025, 1, 24, 6, 0, 30, 139000, tzinfo=UTC)
    # The message keeps what the writer put after the separator (here a tab).
    assert entries["message"][6] == "\t/objroot/iorroot/activators/activator-ts_one.ior"
    assert inf.description.startswith("timestamp at column 0 (ISO-8601 with T, millis after a comma, no offset)")


def test_log4j_lines_relayed_by_a_service_wrapper():
    # lnav's log4j samples; two came through the Java Service Wrapper, whose prefix is cut off here.
    raw = (DATA / "lnav" / "format_samples_java_log.txt").read_text(encoding="utf-8").splitlines()
    log4j = [re.sub(r"^INFO   \| jvm 1    \| \S+ \S+ \| ", "", t) for t in raw[:3]]
    lines = pl.Series("text", log4j)
    inf, entries, _ = infer_and_parse(lines, zone="UTC")
    assert entries["thread"].to_list() == ["DefaultQuartzScheduler_Worker-8", "Thread-46",
                                           "DefaultQuartzScheduler_Worker-5"]
    assert entries["level"].to_list() == ["INFO", "DEBUG", "INFO"]
    assert entries["logger"][2] == "com.redhat.rhn.taskomatic.task.ErrataCacheTask"
    assert entries["message"][2] == "In the queue: 24"


def test_continuation_lines_attach():
    lines = read(DATA / "infer" / "logfile_multiline.0")
    inf, entries, result = infer_and_parse(lines)
    assert result.continuation == 1 and entries.height == 2
    assert entries["message"][0] == "Hello, World!\n  How are you today?"
    assert entries["level"].to_list() == ["DEBUG", "ERROR"]
    assert entries["line_count"].to_list() == [2, 1]


def test_iso_micros_with_offset_and_program_pid():
    lines = read(DATA / "infer" / "logfile_generic.2")
    inf, entries, _ = infer_and_parse(lines, zone="Asia/Tokyo")  # the offset in the lines wins
    assert entries["ts"][0] == datetime(2015, 4, 24, 21, 8, 10, 313913, tzinfo=UTC)
    assert entries["level"].to_list() == ["ERROR", "ERROR"]  # "err"
    assert entries["pid"].to_list() == [22968, 24206]
    assert entries["logger"].to_list() == ["lotuscreds", "networkutil"]


def test_haproxy_through_syslog_host_program_pid():
    lines = read(DATA / "lnav" / "logfile_haproxy.0")
    inf, entries, result = infer_and_parse(lines, zone="Europe/Berlin")
    assert result.rejected == 0 and entries.height == lines.len()
    assert set(entries["host"].to_list()) == {"192.168.4.2"} and set(entries["logger"].to_list()) == {"haproxy"}
    assert entries["pid"][0] == 1 and entries["message"][0] == "Proxy prod_http_in started."
    # Syslog writes no year: the engine reads the times in the current year.
    year = datetime.now(UTC).year
    assert entries["ts"][0] == datetime(year, 2, 25, 16, 19, 38, tzinfo=ZoneInfo("Europe/Berlin"))
    assert "host at field 4" in inf.description and "program[pid] before ': '" in inf.description


def test_kafka_context_in_brackets_stays_in_the_message():
    # Kafka's log4j layout "[%d] %p %m (%c)%n": the bracket after the level is part of the message,
    # written by some components only, so it is not taken for a field.
    raw = (DATA / "lnav" / "format_samples_java_log.txt").read_text(encoding="utf-8").splitlines()
    lines = pl.Series("text", [t for t in raw if t.startswith("[2025-04-24 19:51:57")])
    assert lines.len() == 2
    inf, entries, _ = infer_and_parse(lines)
    assert inf.fields == ["time", "level", "message"]
    assert entries["message"][1] == ("[controller-1-to-controller-registration-channel-manager]: Starting "
                                     "(kafka.server.NodeToControllerRequestThread)")
    assert entries["ts"][0] == datetime(2025, 4, 24, 19, 51, 57, 226000, tzinfo=UTC)


def test_padding_seen_in_the_sample_generalises_to_the_file():
    # log4j-like "%-5p %-24c %m": the sample holds one level and one logger; the file has others.
    records = [("app.a", logging.INFO, f"step {i}") for i in range(3)] + [
        ("app.billing.mail", logging.WARNING, "no address"), ("app.http.client.pool", logging.ERROR, "timed out")]
    lines, _ = python_log("%(asctime)s.%(msecs)03d %(levelname)-5s %(name)-24s %(message)s", "%Y-%m-%dT%H:%M:%S",
                          "UTC", records=records)
    inf = infer_format(lines.head(3))
    assert inf is not None
    entries = engine.parse(lines, inf.compiled, "UTC").entries
    assert entries["level"].to_list() == ["INFO"] * 3 + ["WARN", "ERROR"]
    assert entries["logger"].to_list() == [r[0] for r in records]
    assert entries["message"].to_list() == [r[2] for r in records]


def test_fields_most_lines_lack_are_not_taken():
    # A third of the messages start like "Word: ...": that is message text, not a logger.
    lines, _ = python_log("%(asctime)s.%(msecs)03d %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S", "UTC",
                          records=[("a", logging.INFO, f"Note: item {i} kept" if i % 3 == 0 else f"item {i} kept")
                                   for i in range(5)])
    inf, entries, _ = infer_and_parse(lines)
    assert inf.fields == ["time", "level", "message"]
    assert entries["message"][0] == "Note: item 0 kept"
    # The share is the engine's own measure, as detection computes it for known formats.
    assert inf.share == engine.match_rate(lines, inf.compiled)[0] == 1.0


# --------------------------------------------------------------------------------------------
# the TOML a user keeps


LAYOUTS = [
    ("%(asctime)s [%(levelname)s] %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"),
    ("%(asctime)s.%(msecs)03d %(levelname)-8s [%(threadName)s] %(name)s - %(message)s", "%Y/%m/%d %H:%M:%S"),
    ("%(created).6f %(levelname)s %(name)s - %(message)s", None),
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=["iso", "slash", "epoch"])
def test_suggested_toml_round_trips(layout):
    lines, _ = python_log(*layout, "Europe/Berlin", exc_at=1)
    inf = infer_format(lines, name="my_app")
    assert inf is not None
    text = suggest_toml(inf)
    (back,) = formats.parse_toml(text, "suggested.toml")
    for key in ("name", "kind", "syntax", "pattern", "time_format", "multiline", "priority", "samples"):
        assert getattr(back, key) == getattr(inf.definition, key), key
    compiled = formats.compile_definition(back)
    assert check_samples(compiled) == []
    assert len(back.samples) == 2 and all(s["line"] in lines.to_list() for s in back.samples)
    assert {"level", "message"} <= set(back.samples[0]["expect"])
    # Naive times read differently in each zone: their instant is promised only with an offset.
    assert ("ts" in back.samples[0]["expect"]) == (not inf.naive)
    assert ("# timezone = " in text) == inf.naive
    a = engine.parse(lines, compiled, "Europe/Berlin").entries
    b = engine.parse(lines, inf.compiled, "Europe/Berlin").entries
    assert a.equals(b)


def test_suggested_toml_escapes_tabs_and_quotes():
    lines = read(DATA / "lnav" / "logfile_java.0")
    inf = infer_format(lines)
    assert inf is not None
    inf.definition.samples[0]["line"] = lines[6]  # the line with a tab
    inf.definition.samples[0]["expect"] = {"message": "\t/objroot/iorroot/activators/activator-ts_one.ior"}
    inf.definition.description += ' ("quoted")'
    (back,) = formats.parse_toml(suggest_toml(inf), "x.toml")
    assert back.samples == inf.definition.samples and back.description == inf.definition.description
    assert check_samples(formats.compile_definition(back)) == []


# --------------------------------------------------------------------------------------------
# what is not a log layout


PROSE = """It was the best of times, it was the worst of times, it was the age of wisdom,
it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity,
it was the season of Light, it was the season of Darkness, it was the spring of hope,
it was the winter of despair, we had everything before us, we had nothing before us.
In 2026 the committee met on 12 occasions; minutes were kept at 09:14 each time.
"""


def test_prose_yields_none():
    assert infer_format(series(PROSE * 3)) is None


def test_binary_ish_text_yields_none():
    rng = random.Random(7)
    blob = bytes(rng.randrange(256) for _ in range(6000)).decode("latin-1")
    assert infer_format(series(blob)) is None


def test_csv_yields_none():
    with_time = "ts,user,amount\n" + "".join(
        f"2026-11-26 09:{m:02d}:46,{u},{m * 1.5}\n" for m, u in zip(range(40), ["ann", "bob"] * 20, strict=True))
    plain = "id,name,score\n" + "".join(f"{i},name{i},{i % 7}\n" for i in range(40))
    iso_t = "".join(f"2026-11-26T09:{m:02d}:46Z,GET,/api/{m},200\n" for m in range(40))
    for text in (with_time, plain, iso_t):
        assert infer_format(series(text)) is None


def test_timestamps_in_a_minority_of_lines_yield_none():
    text = PROSE * 4 + "2026-11-26 09:14:46,123 INFO one dated line\n"
    assert infer_format(series(text)) is None


# --------------------------------------------------------------------------------------------
# property: generated layouts


_WORDS = ["alpha", "beta", "gamma", "order", "42", "id=7", "GET", "/api/v1/items", "(retry)", "took", "12ms", "ok",
          "user#3", "payload", "x", "failed,", "again", "=>", "queue", "size"]


def _ts(shape: str, t: datetime) -> str:
    if shape.startswith("iso"):
        _, sep, frac, off = shape.split("/")
        text = t.strftime(f"%Y-%m-%d{'T' if sep == 'T' else ' '}%H:%M:%S")
        text += {"": "", "ms,": f",{t.microsecond // 1000:03d}", "ms.": f".{t.microsecond // 1000:03d}",
                 "us": f".{t.microsecond:06d}"}[frac]
        return text + {"": "", "Z": "Z", "colon": "+00:00", "plain": "+0000", "space": " +0000",
                       "spacecolon": " +00:00"}[off]
    if shape == "clf":
        return t.strftime("%d/%b/%Y:%H:%M:%S +0000")
    if shape == "syslog":
        return t.strftime("%b ") + f"{t.day:>2}" + t.strftime(" %H:%M:%S")
    if shape.startswith("slash"):
        frac = shape.split("/")[1]
        return t.strftime("%Y/%m/%d %H:%M:%S") + {"": "", "ms": f".{t.microsecond // 1000:03d}",
                                                   "us": f".{t.microsecond:06d}"}[frac]
    if shape == "epoch_s":
        return f"{t.timestamp():.6f}"
    return str(int(t.timestamp() * 1000))


_SHAPES = [f"iso/{s}/{f}/{o}" for s in ("T", " ") for f in ("", "ms,", "ms.", "us") for o in ("", "Z", "colon", "plain")]
_SHAPES += ["iso/ /us/space", "iso/T//space", "iso/ //spacecolon", "iso/ /ms,/space", "clf", "syslog", "slash/", "slash/ms", "slash/us", "epoch_s", "epoch_ms"]
_LEVELS = ["INFO", "WARN", "ERROR", "DEBUG", "WARNING", "TRACE", "FATAL", "CRITICAL", "NOTICE"]


def _level_text(style: str, level: str) -> str:
    return {"upper": level, "lower": level.lower(), "title": level.title(), "bracket": f"[{level}]",
            "padded": level + " " * max(0, 8 - len(level)), "bracket_padded": f"[{level:<5}]",
            "right": f"{level:>8}"}[style]


@st.composite
def layouts(draw):
    """(shape, entries): each entry is (its lines, instant, level or None, the message it must read as)."""
    shape = draw(st.sampled_from(_SHAPES))
    bracket_time = draw(st.booleans())
    level_style = draw(st.sampled_from(
        ["upper", "lower", "title", "bracket", "padded", "bracket_padded", "right", "none"]))
    thread = draw(st.sampled_from(["none", "plain", "padded", "pid"]))
    thread_first = draw(st.booleans())
    logger = draw(st.sampled_from(["none", "dotted", "name"]))
    sep = draw(st.sampled_from([" - ", " : ", ": ", " "] if logger == "dotted" else [" - ", " : ", ": "]))
    n = draw(st.integers(3, 12))
    rows = []
    for i in range(n):
        t = datetime(2026, 11, 26, 8, 14, 46, tzinfo=UTC) + timedelta(seconds=37 * i, microseconds=draw(
            st.integers(0, 999_999)))
        level = None if level_style == "none" else draw(st.sampled_from(_LEVELS))
        message = " ".join(draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=6)))
        ts = _ts(shape, t)
        parts = [f"[{ts}]" if bracket_time else ts]
        lvl = _level_text(level_style, level) if level else None
        th = {"none": None, "plain": f"[worker-{i % 3}]", "padded": f"[{'main':>12}]", "pid": f"[{1000 + i % 4}]"}[thread]
        head = [th, lvl] if thread_first else [lvl, th]
        parts += [h for h in head if h]
        if logger == "dotted":
            parts.append(f"com.example.svc{i % 2}.Handler")
        elif logger == "name":
            parts.append(f"worker{i % 3}")
        lines = [" ".join(parts) + sep + message]
        # Some entries go on over indented lines, which attach to the message.
        more = [f"  detail {k} of entry {i}" for k in range(draw(st.integers(0, 2)) if i % 3 == 1 else 0)]
        lines += more
        rows.append((lines, t, level, "\n".join([message, *more])))
    return shape, rows


def _want_ts(shape: str, t: datetime) -> datetime | None:
    if shape == "syslog":
        return None  # no year in the line
    if shape in ("clf", "slash/") or (shape.startswith("iso") and shape.split("/")[2] == ""):
        return t.replace(microsecond=0)
    return _ms(t) if "ms" in shape else t


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
def test_generated_layouts_recover_level_and_message(layout):
    shape, rows = layout
    lines = pl.Series("text", [line for r in rows for line in r[0]], dtype=pl.String)
    inf = infer_format(lines)
    assert inf is not None, lines.to_list()
    result = engine.parse(lines, inf.compiled, "UTC")
    entries = result.entries
    assert entries.height == len(rows) and result.rejected == 0, (inf.definition.pattern, lines.to_list())
    want_levels = [engine.LEVELS[r[2]] if r[2] else None for r in rows]
    assert entries["level"].to_list() == want_levels, (inf.definition.pattern, lines.to_list())
    assert entries["message"].to_list() == [r[3] for r in rows], (inf.definition.pattern, lines.to_list())
    want = [_want_ts(shape, r[1]) for r in rows]
    if want[0] is not None:
        assert entries["ts"].to_list() == want, (shape, inf.definition.pattern, inf.definition.time_format)


def test_digits_shaped_like_timestamps_but_unreadable_yield_none():
    # The regex would match; the engine cannot read the times, so no layout is claimed.
    text = "".join(f"2026-{13 + i % 5}-{40 + i % 9} 2{5 + i % 4}:61:61 INFO part {i}\n" for i in range(30))
    assert infer_format(series(text)) is None


def test_inference_agrees_with_the_built_in_definition_of_a_known_layout():
    # Spring Boot 2's default layout has a written definition: inferred from its lines alone, the
    # layout must read the same values from every entry.
    lines = read(DATA / "spring-boot" / "actuator-docs-sample.log")
    builtin = next(c for c in BUILTINS if c.name == "spring_boot_2")
    inf = infer_format(lines)
    assert inf is not None
    want = engine.parse(lines, builtin, "Europe/London").entries
    got = engine.parse(lines, inf.compiled, "Europe/London").entries
    cols = ["line", "ts", "level", "pid", "thread", "logger", "message"]
    assert want.height > 20
    assert got.select(cols).equals(want.select(cols))


def test_the_corpus_layouts_here_are_read_by_no_built_in_definition():
    # Inference is what reads these: no definition claims them (the lnav Spring/log4j-style files).
    for name in ("logfile_java.0", "jul_stacktrace.log", "logfile_generic.2"):
        path = DATA / "infer" / name if (DATA / "infer" / name).exists() else DATA / "lnav" / name
        assert builtin_rate(read(path)) < MIN_MATCH_RATE, name
