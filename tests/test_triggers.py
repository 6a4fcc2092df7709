"""Changes come from lines in which a service says it started, stopped or reloaded; each leading
cause gets the change before its own first failure, scoped to the failures it explains."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import urllib3

import loganalyzer
from loganalyzer import diagnose, summary
from loganalyzer.ingest import load

from .conftest import DATA, SAMPLES

RULES = diagnose.load_rules()
T0 = datetime(2025, 1, 24, 7, 0, tzinfo=UTC)


def frame(messages: list[str], start: datetime = T0, step_s: float = 60) -> pl.DataFrame:
    return pl.DataFrame({
        "ts": [start + timedelta(seconds=i * step_s) for i in range(len(messages))],
        "message": messages, "file": ["app.log"] * len(messages), "line": list(range(1, len(messages) + 1)),
    }, schema={"ts": pl.Datetime("ns", "UTC"), "message": pl.String, "file": pl.String, "line": pl.Int64})


def test_spring_boot_start_up_lines_are_changes_and_tomcat_chatter_is_not():
    """Spring Boot 2.0's own start-up output: only the application's Starting/Started lines."""
    logs = load([DATA / "spring-boot" / "actuator-docs-sample.log"])
    found = summary.changes(logs.polars, RULES.changes)
    assert found["text"].to_list() == [
        "Starting SampleWebFreeMarkerApplication with PID 19866",
        "Started SampleWebFreeMarkerApplication in 2.172 seconds (JVM running for 2.479)"]
    assert set(found["kind"]) == {"restart"} and set(found["service"]) == {"SampleWebFreeMarkerApplication"}
    crm = logs.polars["crm"]
    # Lines that say "Starting" without being the service's start-up are in the log and left out.
    assert crm.filter(pl.col("message").str.starts_with("Starting service [Tomcat]")).height == 1
    assert crm.filter(pl.col("message").str.starts_with("Starting Servlet Engine")).height == 1


def test_a_version_read_from_start_ups_makes_a_release_only_when_it_changes():
    # Spring Boot 3.0.7's start-up line (lnav's logfile_java.0); the Java version is not the app's.
    real = [line.split(" : ", 1)[1] for line in (DATA / "lnav" / "logfile_java.0").read_text().splitlines()
            if "FarmApplication          : Start" in line]
    assert real[0].startswith("Starting FarmApplication v3.0.7 using Java 21.0.5")
    upgraded = real[0].replace("v3.0.7", "v3.1.0")
    three = ("Starting MyApplication using Java 17.0.11 with PID 14537 (/opt/apps/myapp.jar started by myuser "
             "in /opt/apps/)")  # Spring Boot 3.x docs (catalog): no application version
    found = summary.changes({"crm": frame([real[0], real[1], real[0], real[1], upgraded, three])}, RULES.changes)
    assert found["kind"].to_list() == ["restart", "restart", "restart", "restart", "release", "restart"]
    assert found["version"].to_list() == ["3.0.7", None, "3.0.7", None, "3.1.0", None]
    release = found.row(4, named=True)
    assert release["previous_version"] == "3.0.7" and release["label"] == "upstream release"
    assert found["previous_version"].to_list()[:4] == [None] * 4  # a restart with the same version is no release


def test_client_release_in_the_lab_sample():
    vac = load([SAMPLES / "trailing-comma" / "logs" / "vac.log"]).polars
    found = summary.changes(vac, RULES.changes)
    assert found.select("kind", "label", "version", "previous_version").rows() == [
        ("restart", "client start", "2.4.1", None), ("release", "client release", "2.5.0", "2.4.1")]


def test_a_connection_counter_is_not_a_release(tmp_path):
    """urllib3's "Starting new HTTP connection (1): 127.0.0.1:PORT" counts connections, it is no start-up."""
    path = tmp_path / "vac.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s"))
    loggers = [logging.getLogger(n) for n in ("vac", "urllib3")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: urllib3 logs its attempt and fails fast
    try:
        logging.getLogger("vac").info("vac 2.4.1 starting (crm_base=http://127.0.0.1:%d)", port)
        with pytest.raises(urllib3.exceptions.HTTPError):
            urllib3.PoolManager(retries=False).request("GET", f"http://127.0.0.1:{port}/api/customers/1", timeout=2)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
        handler.close()
    frames = load([path], as_={str(path): "vac"}).polars
    counter = frames["vac"].filter(pl.col("message").str.starts_with("Starting new HTTP connection (1): 127.0.0.1"))
    assert counter.height == 1 and counter["logger"][0] == "urllib3.connectionpool"
    found = summary.changes(frames, RULES.changes)
    assert found["text"].to_list() == [f"vac 2.4.1 starting (crm_base=http://127.0.0.1:{port})"]
    assert found["version"].to_list() == ["2.4.1"]


def _requests(causes: list[str | None]) -> pl.DataFrame:
    n = len(causes)
    return pl.DataFrame({
        "attempt_id": list(range(n)), "request_id": [f"r{i}" for i in range(n)], "logical_id": [f"r{i}" for i in range(n)],
        "last_attempt": [True] * n, "ts": [T0 + timedelta(minutes=i) for i in range(n)],
        "method": ["GET"] * n, "path": ["/api/customers/1"] * n,
        "verdict": ["ok" if c is None else "upstream_error" for c in causes],
        "root_cause": ["none" if c is None else c for c in causes],
        "status_proxy": [200 if c is None else 500 for c in causes], "status_client": [None] * n,
    }, schema_overrides={"ts": pl.Datetime("ns", "UTC"), "status_client": pl.Int64})


def test_each_leading_cause_gets_its_own_scoped_trigger():
    # minutes 0-3 fine; the upstream restarts at 3:30 and pool waits begin; the client is released
    # at 6:30 and bad bodies begin.
    requests = _requests([None, None, None, None, "db_pool_exhausted", "db_pool_exhausted", None,
                          "json_malformed", "json_malformed", "json_malformed"])
    lines = {"crm": frame(["Starting CrmApplication v1.8.3 using Java 17.0.15 with PID 20742 (/srv/crm.jar)"],
                          start=T0 + timedelta(minutes=3, seconds=30)),
             "vac": frame(["vac 2.4.1 starting (crm_base=http://crm:8080)", "vac 2.5.0 starting (crm_base=http://crm:8080)"],
                          start=T0 - timedelta(minutes=1), step_s=450)}
    change_lines = summary.changes(lines, RULES.changes)
    s = summary.summarize(requests, change_lines)
    by = {c["cause"]: c for c in s["causes"]}
    assert list(by) == ["json_malformed", "db_pool_exhausted"]
    json_trigger = by["json_malformed"]["trigger"]
    assert json_trigger["change"]["label"] == "client release" and json_trigger["change"]["version"] == "2.5.0"
    assert json_trigger["explains"] == "explains 60 % of the failures (3 of 5 failed attempts)"
    pool = by["db_pool_exhausted"]["trigger"]
    assert pool["change"]["label"] == "upstream restart" and pool["explains"].startswith("explains 40 %")
    assert s["suspected_trigger"] == json_trigger  # the dominant cause's, as before
    assert all(c["explanation"] for c in s["causes"])  # never empty, even without rule texts


def test_failures_that_begin_with_the_logs_have_no_trigger():
    # The only change is the client's first start-up, before any attempt: where the logs begin.
    requests = _requests(["json_malformed", None, "json_malformed"])
    change_lines = summary.changes({"vac": frame(["vac 2.4.1 starting (crm_base=http://crm:8080)"],
                                                 start=T0 - timedelta(seconds=5))}, RULES.changes)
    s = summary.summarize(requests, change_lines)
    assert s["causes"][0]["trigger"]["change"] is None and s["suspected_trigger"]["change"] is None


def test_mixed_faults_causes_and_triggers():
    s = loganalyzer.analyze([SAMPLES / "mixed-faults" / "logs"]).summary
    first = s["causes"][0]
    assert first["cause"] == "upstream_down" and first["trigger"]["change"]["label"] == "upstream restart"
    assert first["trigger"]["explains"] == "explains 18 % of the failures (26 of 141 failed attempts)"
    assert sum(c["attempts"] for c in s["causes"]) >= 0.9 * s["failed_attempts"]
    timeouts = next(c for c in s["causes"] if c["cause"] == "client_timeout")
    assert timeouts["trigger"]["change"] is None  # they began with the logs
