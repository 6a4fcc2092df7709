"""CRM logs: Spring Boot's default logback patterns (1.x to 3.x), pasted patterns, stack traces."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loganalyzer.parsers import engine
from loganalyzer.parsers.formats import DefinitionError, FormatDef, compile_definition

import loganalyzer

from .conftest import DATA, accounted

# One real line per Spring Boot generation (tests/data/catalog/springboot_log_formats.md, section 2).
REAL_LINES = {
    "1.x docs": "2014-03-05 10:57:51.112  INFO 45469 --- [           main] org.apache.catalina.core.StandardEngine  : Starting Servlet Engine: Apache Tomcat/7.0.52",
    "1.x app": "2016-12-07 08:56:24.723 ERROR 7264 --- [  restartedMain] o.a.tomcat.jdbc.pool.ConnectionPool      : Unable to create initial connections of pool.",
    "2.x app": "2021-06-13 10:09:06.815 ERROR 1 --- [nio-8080-exec-5] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() for servlet [dispatcherServlet] threw exception",
    "3.0": "2024-04-18T19:56:04.218Z  INFO 14537 --- [           main] o.s.b.d.f.logexample.MyApplication       : Starting MyApplication using Java 17.0.11 with PID 14537 (/opt/apps/myapp.jar started by myuser in /opt/apps/)",
    "3.2 name": "2024-03-27T09:04:14.010+01:00 ERROR 48950 --- [Essencium Demo Application] [nio-8098-exec-6] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception",
    "3.x docs": "2026-02-19T12:22:37.451Z  INFO 128443 --- [myapp] [           main] o.s.b.d.f.logexample.MyApplication       : Starting MyApplication using Java 25.0.2 with PID 128443 (/opt/apps/myapp.jar started by myuser in /opt/apps/)",
    "3.x tracing": "2025-01-14T16:10:44.175-07:00  INFO 93649 --- [Course Creation] [         task-1] [6618a4de8f36bf71c60b2982181e6d36-c66827472589372a] e.c.o.s.c.c.ConsumerService              : Received new unassociated section",
}
EXPECTED = {  # format, level, pid, thread, logger, app_name
    "1.x docs": ("spring_boot_2", "INFO", 45469, "main", "org.apache.catalina.core.StandardEngine", None),
    "1.x app": ("spring_boot_2", "ERROR", 7264, "restartedMain", "o.a.tomcat.jdbc.pool.ConnectionPool", None),
    "2.x app": ("spring_boot_2", "ERROR", 1, "nio-8080-exec-5", "o.a.c.c.C.[.[.[/].[dispatcherServlet]", None),
    "3.0": ("spring_boot_3", "INFO", 14537, "main", "o.s.b.d.f.logexample.MyApplication", None),
    "3.2 name": ("spring_boot_3", "ERROR", 48950, "nio-8098-exec-6", "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                 "Essencium Demo Application"),
    "3.x docs": ("spring_boot_3", "INFO", 128443, "main", "o.s.b.d.f.logexample.MyApplication", "myapp"),
    "3.x tracing": ("spring_boot_3", "INFO", 93649, "task-1", "e.c.o.s.c.c.ConsumerService", "Course Creation"),
}


@pytest.mark.parametrize("version", list(REAL_LINES))
def test_real_line_of_each_version(write, version):
    # One line seldom shows inbound handling (the kind's evidence): the file is named the upstream's.
    logs = loganalyzer.load(write("crm.log", REAL_LINES[version] + "\n"), as_={"crm.log": "crm"})
    row = logs["crm"].iloc[0]
    fmt, level, pid, thread, logger, app = EXPECTED[version]
    assert logs.stats.iloc[0].format == fmt
    assert (row["level"], row["pid"], row["thread"], row["logger"]) == (level, pid, thread, logger)
    assert (row.get("app_name") if not pd.isna(row.get("app_name", None)) else None) == app


def test_offsets_in_3x_lines_win_and_2x_lines_use_the_given_zone(write):
    three = loganalyzer.load(write("a.log", REAL_LINES["3.x tracing"] + "\n"), tz={"crm": "Asia/Shanghai"},
                             as_={"a.log": "crm"})
    assert three["crm"]["ts"].iloc[0].isoformat() == "2025-01-14T23:10:44.175000+00:00"
    assert three["crm"]["trace_id"].iloc[0] == "6618a4de8f36bf71c60b2982181e6d36"
    assert three["crm"]["span_id"].iloc[0] == "c66827472589372a"
    assert three["crm"]["request_id"].iloc[0] == "6618a4de8f36bf71c60b2982181e6d36"
    two = loganalyzer.load(write("b.log", REAL_LINES["1.x docs"] + "\n"), tz={"crm": "Asia/Shanghai"})
    assert two["crm"]["ts"].iloc[0].isoformat() == "2014-03-05T02:57:51.112000+00:00"


def test_actuator_sample_banner_is_counted_not_dropped():
    logs = loganalyzer.load(DATA / "spring-boot" / "actuator-docs-sample.log")
    accounted(logs)
    stats = logs.stats.iloc[0]
    assert (stats.lines, stats.parsed, stats.rejected) == (31, 23, 8)
    assert set(logs.rejects["reason"]) == {"before the first spring_boot_2 entry", "empty line"}
    assert logs["crm"]["message"].iloc[0].startswith("Starting SampleWebFreeMarkerApplication")


TRACE = """\
2026-11-24 10:15:02.100  INFO [crm,4bf92f3577b34da6a3ce929d0e0e4736] 4242 --- [nio-8081-exec-1] c.e.crm.web.TicketController             : Created ticket 981
2026-11-24 10:15:02.123 ERROR [crm,] 4242 --- [nio-8081-exec-3] c.e.crm.web.TicketController             : Failed to read ticket body: JSON parse error: Unexpected character ('}' (code 125)): was expecting double-quote to start field name
 at [Source: (String)"{
  "customer_id": 42,
  "subject": "Printer jam",
}"; line: 4, column: 2]

com.fasterxml.jackson.core.JsonParseException: Unexpected character ('}' (code 125)): was expecting double-quote to start field name
 at [Source: (String)"{
  "customer_id": 42,
  "subject": "Printer jam",
}"; line: 4, column: 2]
\tat com.fasterxml.jackson.core.JsonParser._constructError(JsonParser.java:2391) ~[jackson-core-2.14.1.jar:2.14.1]
\tat com.example.crm.web.TicketController.create(TicketController.java:57) ~[classes/:na]
\tSuppressed: java.lang.IllegalStateException: stream already closed
\t\tat com.example.crm.web.Body.close(Body.java:12)

2026-11-24 10:15:03.500 ERROR [crm,77aa] 4242 --- [nio-8081-exec-5] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception

java.lang.IllegalStateException: ticket store unavailable
\tat com.example.crm.service.TicketService.save(TicketService.java:88) ~[classes/:na]
\tat com.example.crm.web.TicketController.create(TicketController.java:61) ~[classes/:na]
Caused by: org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection; nested exception is java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.
\tat org.springframework.jdbc.datasource.DataSourceUtils.getConnection(DataSourceUtils.java:84) ~[spring-jdbc-5.3.20.jar:5.3.20]
\t... 42 common frames omitted
Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.
\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696) ~[HikariCP-4.0.3.jar:na]
\t... 3 more

2026-11-24 10:15:04.000  WARN [crm,88bb] 4242 --- [nio-8081-exec-6] .w.s.m.s.DefaultHandlerExceptionResolver : Resolved [org.springframework.http.converter.HttpMessageNotReadableException: JSON parse error: Unexpected character ('}' (code 125)): was expecting double-quote to start field name]
"""


def test_stack_traces_and_multi_line_messages_attach_to_their_entry(write):
    logs = loganalyzer.load(write("crm.log", TRACE.replace("\\t", "\t")))
    accounted(logs)
    stats = logs.stats.iloc[0]
    assert (stats.lines, stats.parsed, stats.rejected) == (30, 4, 0)
    df = logs["crm"].set_index("line")
    jackson = df.loc[2]
    assert jackson["request_id"] is None or pd.isna(jackson["request_id"])  # logged before the MDC was set
    assert '"subject": "Printer jam",' in jackson["message"]  # the quoted body stays in the message
    assert jackson["exception"] == "com.fasterxml.jackson.core.JsonParseException"
    assert jackson["exception_message"].startswith("Unexpected character ('}' (code 125))")
    assert jackson["exception_message"].endswith('}"; line: 4, column: 2]')
    assert jackson["root_cause"] == "com.fasterxml.jackson.core.JsonParseException"  # Suppressed is not a cause
    pool = df.loc[18]
    assert pool["request_id"] == "77aa"
    assert pool["exception"] == "java.lang.IllegalStateException"
    assert pool["root_cause"] == "java.sql.SQLTransientConnectionException"
    assert pool["root_cause_message"].startswith("HikariPool-1 - Connection is not available")
    assert pool["stack_trace"].count("\n\tat ") >= 4 and pool["line_count"] == 12  # header, blank, trace, blank
    resolved = df.loc[30]
    assert resolved["exception"] == "org.springframework.http.converter.HttpMessageNotReadableException"
    assert resolved["exception_message"].startswith("JSON parse error: Unexpected character")


def test_jdk_printstacktrace_style_and_interleaved_foreign_lines_are_rejected(write):
    text = (
        "2026-11-24 10:15:02.123 ERROR 1 --- [main] c.e.App : boom\n"
        "java.lang.RuntimeException: boom\n"
        "\tat c.e.App.main(App.java:3)\n"
        "\t... 104 more\n"
        '127.0.0.1 - - [24/Nov/2026:10:15:02 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
        "2026/11/24 10:15:02 [error] 1#1: *1 oops\n"
        "2026-11-24 10:15:03.000  INFO 1 --- [main] c.e.App : next\n"
    )
    logs = loganalyzer.load(write("crm.log", text), as_={str(write("crm.log", text)): "crm"})
    accounted(logs)
    assert logs.stats.iloc[0].rejected == 2
    assert set(logs.rejects["line"]) == {5, 6}
    assert logs["crm"]["exception"].iloc[0] == "java.lang.RuntimeException"


def test_user_pasted_logback_pattern_reads_a_custom_layout(tmp_path):
    pattern = "%d{yyyy-MM-dd'T'HH:mm:ss,SSS} %level [%-25.25thread] %-24.24logger{0} : %msg%n"
    custom = DATA / "lnav" / "logfile_java.0"
    # No definition reads it; without one it is read with an inferred layout, and said so.
    guessed = loganalyzer.load(custom)
    assert guessed.stats.iloc[0]["format"] == "inferred"
    fmt_file = tmp_path / "farm.toml"
    fmt_file.write_text(f'name = "farm"\nkind = "crm"\nsyntax = "logback"\npattern = "{pattern}"\ntimezone = "UTC"\n')
    logs = loganalyzer.load(custom, formats=[fmt_file])
    stats = logs.stats.iloc[0]
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == ("farm", 20, 20, 0)
    df = logs["crm"]
    assert df["thread"].iloc[4] == "arm-thread-pool1-thread-1" and df["logger"].iloc[0] == "Version"
    assert df["message"].iloc[6] == "\t/objroot/iorroot/activators/activator-ts_one.ior"
    assert str(df["ts"].iloc[0]) == "2025-01-24 07:00:30.139000+00:00"


def test_pattern_with_colour_mdc_and_zone_option():
    d = FormatDef(name="x", kind="crm", syntax="logback",
                  pattern="%clr(%d{HH:mm:ss.SSS dd.MM.yyyy, Europe/Berlin}){faint} %highlight(%-5p) "
                          "[%X{requestId:-}] %c{20} - %m%n%wEx")
    fmt = compile_definition(d)
    assert fmt.zone == "Europe/Berlin"
    r = engine.parse(pl.Series(["10:15:02.123 24.11.2026 WARN  [abc-1] c.e.Foo - hello"]), fmt, None)
    row = r.entries.row(0, named=True)
    assert (row["level"], row["requestId"], row["request_id"], row["logger"], row["message"]) == (
        "WARN", "abc-1", "abc-1", "c.e.Foo", "hello")
    assert row["ts"].isoformat() == "2026-11-24T09:15:02.123000+00:00"
    assert r.zone_assumed is False


def test_unknown_conversion_word_is_a_clear_error():
    with pytest.raises(DefinitionError, match=r"unknown conversion word %bogus"):
        compile_definition(FormatDef(name="bad", kind="crm", syntax="logback", pattern="%d %bogus %m%n"))


@settings(max_examples=150, deadline=None)
@given(
    level=st.sampled_from(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]),
    pid=st.integers(1, 4_000_000),
    thread=st.from_regex(r"\A[A-Za-z0-9_-]{1,30}\Z"),
    logger=st.from_regex(r"\A[a-z]{1,8}(\.[a-z]{1,8}){0,4}\.[A-Z][A-Za-z]{0,20}\Z"),
    message=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=80),
    millis=st.integers(0, 999),
    rid=st.one_of(st.just(""), st.from_regex(r"\A[0-9a-f]{32}\Z")),
)
def test_spring_boot_2_roundtrip(level, pid, thread, logger, message, millis, rid):
    """Render through Spring Boot's default layout (with a Sleuth-style id), parse back the values."""
    shown_thread = thread[-15:].rjust(15)
    shown_logger = logger[-40:].ljust(40)
    line = (f"2026-11-24 10:15:02.{millis:03d} {level:>5} [crm,{rid}] {pid} --- [{shown_thread}] "
            f"{shown_logger} : {message}")
    fmt = compile_definition(next(d for d in loganalyzer.parsers.formats.load_definitions()
                                  if d.name == "spring_boot_2"))
    r = engine.parse(pl.Series([line]), fmt, "UTC")
    assert r.rejected == 0, line
    row = r.entries.row(0, named=True)
    assert (row["level"], row["pid"], row["thread"], row["logger"]) == (level, pid, thread[-15:], logger[-40:])
    assert row["message"] == message
    assert row["request_id"] == (rid or None)
    assert row["ts"].microsecond == millis * 1000
