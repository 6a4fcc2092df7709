"""What the upstream's threads say: which lines are traffic, and which request an id-less line is.

- Start-up and shutdown write dozens of lines a second on threads of their own (``main``, a
  shutdown hook); requests are handled on pools of alike-named threads. Only the pools' lines are
  matched against the proxy's traffic to measure the clock offset (without ids).
- A thread serves one request at a time: an id-less error logged on the thread right after a
  request's own id lines is that request's, wherever the proxy's whole seconds put its start.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import polars as pl

from loganalyzer import analyze, clock
from loganalyzer.correlate import worker_lines
from tests.conftest import SAMPLES


def _crm(threads: list[str]) -> pl.DataFrame:
    t0 = datetime(2026, 12, 1, 14, 26, 27, tzinfo=UTC)
    return pl.DataFrame({"ts": [t0 + timedelta(milliseconds=37 * i) for i in range(len(threads))],
                         "thread": threads}, schema_overrides={"ts": pl.Datetime("ns", "UTC")})


def test_pool_threads_are_the_traffic_and_lifecycle_threads_are_not():
    threads = (["main"] * 15 + [f"http-nio-127.0.0.1-38391-exec-{1 + i % 10}" for i in range(40)]
               + ["SpringApplicationShutdownHook"] * 10 + [f"qtp1456-{20 + i % 3}" for i in range(5)])
    kept = worker_lines(_crm(threads))
    assert kept.height == 45
    assert not kept["thread"].is_in(["main", "SpringApplicationShutdownHook"]).any()


def test_without_thread_names_or_pools_every_line_counts():
    assert worker_lines(_crm(["main"] * 30)).height == 30
    no_threads = _crm(["x"] * 30).with_columns(pl.lit(None, pl.String).alias("thread"))
    assert worker_lines(no_threads).height == 30
    # Too few pool lines to measure on: every line.
    few = _crm(["main"] * 30 + [f"exec-{i}" for i in range(clock.MIN_EVENTS - 1)])
    assert worker_lines(few).height == 30 + clock.MIN_EVENTS - 1


def _cell(name: str):
    cell = SAMPLES / "matrix" / name
    with open(cell / "truth.csv", newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    return analyze(cell / "logs"), truth


def _causes(a, truth, cause: str) -> tuple[int, int]:
    return int((a.requests["root_cause"] == cause).sum()), sum(1 for t in truth if t["root_cause"] == cause)


def test_classic_crm_in_a_hidden_zone_is_aligned_from_its_worker_lines():
    """httpx client (one line per request, after the answer), JSON access log, the logback
    manual's pattern in America/Los_Angeles: no ids anywhere, no offset in the CRM's lines."""
    a, truth = _cell("httpx-json-classic-west")
    crm = next(o for o in a.offsets if o.source == "crm")
    assert crm.measured and crm.applied and crm.seconds == -8 * 3600
    for cause in ("json_malformed", "db_pool_exhausted", "upstream_down"):
        got, want = _causes(a, truth, cause)
        assert got == want, cause


def test_an_id_less_error_after_its_request_s_own_line_on_the_thread_is_that_request_s():
    """ECS lines carry nginx's request id, but Tomcat's "Servlet.service() … threw exception" is
    logged after the id left the MDC: it goes with the id line just before it on its thread."""
    a, truth = _cell("requests-json-ecs-lab")
    got, want = _causes(a, truth, "unhandled_exception")
    assert got == want == 3
