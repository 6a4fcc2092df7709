"""Logs written by other programs: each gets a kind and a format, and none is taken for a hop of ours.

The files are real samples (tests/data/PROVENANCE.md). A foreign log (another proxy, another web
server, an application that neither calls our upstream nor serves it) is read as kind ``other``:
shown and counted, never correlated as the client, the proxy or the upstream.
"""

from __future__ import annotations

import polars as pl
import pytest
from loganalyzer.parsers import engine, infer

import loganalyzer

from .conftest import DATA, SAMPLES, accounted

FOREIGN = [
    # (file, format read with, rejected lines)
    ("lnav/logfile_haproxy.0", "haproxy", 0),
    # The CUPS line among lnav's error_log samples is not Apache's: counted as rejected, not hidden.
    ("lnav/format_samples_error_log.txt", "apache_error", 1),
    ("text_layouts/lnav_logfile_uwsgi.0", "uwsgi_request", 0),
    ("lnav/python-example.0", "python_asctime", 0),
    ("lnav/logfile_json.json", "json_lines", 1),  # one line's "ts" is "xxx"
    ("lnav/logfile_json2.json", "json_lines", 0),
    ("lnav/logfile_nested_json.json", "json_lines", 0),
    ("lnav/logfile_caddy_log.0", "json_lines", 0),  # Caddy's own JSON behind docker compose prefixes
    ("lnav/logfile_generic.3", "inferred", 0),
    ("lnav/logfile_java.0", "inferred", 0),
    ("lnav/logfile_json3.json", "json_kong", 0),  # Kong's request records: another gateway's
]


@pytest.mark.parametrize("name, fmt, rejected", FOREIGN, ids=[f[0] for f in FOREIGN])
def test_foreign_logs_are_read_as_other_with_a_format(name, fmt, rejected):
    logs = loganalyzer.load(DATA / name)
    accounted(logs)
    st = logs.stats.iloc[0]
    assert (st.kind, st.format, int(st.unread), int(st.rejected)) == ("other", fmt, 0, rejected), st.kind_evidence
    assert set(logs.polars) == {"other"}
    assert int(st.parsed) > 0


def test_haproxy_request_lines_are_split_into_fields():
    df = loganalyzer.load(DATA / "lnav" / "logfile_haproxy.0").polars["other"]
    http = df.filter(pl.col("backend").is_not_null())
    assert http.height == 13  # the 3 start-up lines and the TLS failure carry no request
    first = http.row(0, named=True)
    assert (first["frontend"], first["backend"], first["server"], first["status"], first["method"]) == \
        ("prod_http_in", "bk_admin", "nginx_sonst", 200, "GET")
    assert first["url"].startswith("/admin/colt/administration?survey=130")
    assert df["host"].unique().to_list() == ["192.168.4.2"]


def test_apache_error_levels_and_modules():
    df = loganalyzer.load(DATA / "lnav" / "format_samples_error_log.txt").polars["other"]
    assert df["level"].to_list() == ["NOTICE", "ERROR", "NOTICE", "ERROR", "INFO"]
    assert df["module"].to_list() == ["mpm_prefork", "core", None, "core", "http"]
    assert df["client"].to_list()[1] == "127.0.0.1:60444"


def test_the_labs_own_logs_keep_their_kinds_by_content():
    # The layouts that used to name a side by default (Python logging, Spring Boot, JSON) now take
    # it from their lines: our own client and upstream still show theirs.
    logs = loganalyzer.load(SAMPLES / "trailing-comma" / "logs")
    kinds = dict(zip(logs.stats["file"].map(lambda f: f.rsplit("/", 1)[-1]), logs.stats["kind"], strict=True))
    assert kinds == {"vac.log": "vac", "crm.log": "crm", "access.log": "nginx_access", "error.log": "nginx_error"}
    evidence = logs.stats.set_index("kind")["kind_evidence"]
    assert "worker threads" in evidence["crm"] and "client component" in evidence["vac"]


def test_a_spring_boot_log_without_inbound_handling_is_not_the_upstream(write):
    # A batch job on Spring Boot 3's default layout: no servlet container, no worker threads.
    lines = [
        "2024-04-18T19:56:04.218Z  INFO 14537 --- [           main] o.s.b.d.f.logexample.MyApplication       : "
        "Starting MyApplication using Java 17.0.11 with PID 14537",
        "2024-04-18T19:56:05.001Z  INFO 14537 --- [   scheduling-1] c.e.batch.NightlyExport                  : "
        "exported 1200 rows",
    ]
    logs = loganalyzer.load(write("app.log", "\n".join(lines) + "\n"))
    st = logs.stats.iloc[0]
    assert (st.kind, st.format, int(st.parsed)) == ("other", "spring_boot_3", 2)


def test_digits_only_timestamps_are_inferred():
    # "%Y%m%d.%H%M%S" with milliseconds after a comma, then ":LEVEL:" (lnav's logfile_generic.3).
    lines = pl.Series((DATA / "lnav" / "logfile_generic.3").read_text(encoding="utf-8").splitlines())
    guess = infer.infer_format(lines)
    assert guess is not None and "yyyymmdd.HHMMSS" in guess.description
    df = engine.parse(lines, guess.compiled, "UTC").entries
    assert df["ts"].dt.to_string("%Y-%m-%dT%H:%M:%S%.3f").to_list() == \
        ["2012-07-02T10:22:40.672", "2014-10-08T16:56:38.344"]
    assert df["level"].to_list() == ["DEBUG", "WARN"]
    assert df["message"].to_list() == ["foo bar baz", "foo bar baz"]


def test_digit_runs_that_are_no_date_are_not_taken_for_timestamps():
    # An order number or an epoch is not "yyyymmddHHMMSS": month 13, hour 25 and epochs are refused.
    for text in ("20121302.102240 order shipped", "20120702.252240 x", "1700000000123456 x"):
        m = infer._COMPACT_LINE.match(text)
        assert m is None, text


def test_truncated_servlet_thread_names_and_attempt_counters_are_evidence():
    from loganalyzer import kinds

    # Spring Boot's %15.15t keeps the end of "http-nio-8080-exec-10"; "pool-1-thread-1" is nobody's side.
    server = pl.DataFrame({"thread": ["o-8080-exec-10", "nio-8080-exec-5", "exec-1"], "message": ["a", "b", "c"]})
    assert kinds.classify(server, "app").kind == "crm"
    assert kinds.classify(pl.DataFrame({"thread": ["pool-1-thread-1"], "message": ["x"]}), "app").kind == "other"
    # A client writing "attempt=2" (read into the attempt column) is numbering its calls.
    client = pl.DataFrame({"message": ["send req=r1", "fail req=r1"], "attempt": [1, 2]})
    d = kinds.classify(client, "app")
    assert (d.kind, d.by_content) == ("vac", True) and "attempts" in d.evidence


def test_an_apache_access_log_with_identity_and_time_taken_is_read_with_both():
    logs = loganalyzer.load(DATA / "lnav" / "logfile_regexp_access_log.0")
    accounted(logs)
    st = logs.stats.iloc[0]
    assert (st.kind, st.format, int(st.parsed), int(st.rejected)) == ("nginx_access", "apache_vhost_duration", 2, 0)
    df = logs.polars["nginx_access"]
    assert df["ident"].to_list() == ["1j0vhgd", "cger1e"] and df["duration_us"].to_list() == [116075, 156302]
    assert df["ts"].dt.to_string("%Y-%m-%dT%H:%M:%S").to_list() == ["2023-07-26T07:01:26", "2023-07-26T07:02:12"]


def test_lnavs_pool_of_access_layouts_is_read_per_line():
    # Nine sample lines of as many access layouts: combined, common (no referer), vhost_combined and
    # Python's http.server read five; the four of layouts no built-in knows are rejected, shown.
    logs = loganalyzer.load(DATA / "lnav" / "format_samples_access_log.txt")
    accounted(logs)
    st = logs.stats
    assert set(st["format"]) == {"combined", "common", "vhost_combined", "python_http_server"}
    assert (int(st["lines"].sum()), int(st["parsed"].sum()), int(st["unread"].sum())) == (9, 5, 0)
    assert int(st["rejected"].sum()) == 4


def test_a_log_of_many_layouts_mostly_unknown_is_read_where_it_can_be():
    """lnav's pool of Java layouts: known layouts read under half its lines. What they read is read
    per line and the rest rejected (shown), rather than every line left unread."""
    logs = loganalyzer.load([DATA / "lnav" / "format_samples_java_log.txt"])
    stats = logs.stats
    assert int(stats["unread"].sum()) == 0
    assert int(stats["parsed"].sum()) >= 10 and int(stats["rejected"].sum()) > 0
    assert int((stats["parsed"] + stats["continuation"] + stats["rejected"]).sum()) == 31
    assert any("no format reads most of its lines" in n for n in logs.notes)
    assert sum("carry no UTC offset" in n for n in logs.notes) == 1
