"""The incident summary: counts, first/last failure, longest run, endpoints, the suspected trigger."""

from __future__ import annotations

import polars as pl

import loganalyzer
from loganalyzer import summary

from .conftest import SAMPLES


def test_trailing_comma_trigger_is_the_client_release():
    s = loganalyzer.analyze([SAMPLES / "trailing-comma" / "logs"]).summary
    assert s["dominant_cause"] == "json_malformed"
    trigger = s["suspected_trigger"]
    change = trigger["change"]
    assert change["source"] == "vac" and change["version"] == "2.5.0" and change["previous_version"] == "2.4.1"
    assert 0 <= change["before_first_failure_s"] < 5
    assert change["kind"] == "release" and change["label"] == "client release"
    assert trigger["explains"] == "explains 100 % of the failures (144 of 144 failed attempts)"
    assert s["causes"][0]["trigger"] == trigger and isinstance(s["causes"][0]["explanation"], str)
    assert trigger["endpoint"] == "POST /api/tickets" and trigger["first_failure"] == s["first_failure"]
    assert s["by_verdict"] == {"ok": 300, "upstream_crash": 144}
    assert s["failed_requests"] == 48 and s["requests"] == 348


def test_restart_window_trigger_is_the_upstream_restart():
    s = loganalyzer.analyze([SAMPLES / "mixed-faults" / "logs"]).summary
    assert s["dominant_cause"] == "upstream_down"
    change = s["suspected_trigger"]["change"]
    assert change["label"] == "upstream restart" and change["source"] == "crm"


def test_longest_run_and_endpoints():
    requests = pl.DataFrame({
        "ts": pl.datetime_range(pl.datetime(2026, 1, 1), pl.datetime(2026, 1, 1, 0, 0, 9), "1s", eager=True,
                                time_zone="UTC"),
        "verdict": ["ok", "proxy", "proxy", "ok", "upstream_error", "upstream_error", "upstream_error", "ok",
                    "client", "ok"],
    })
    run = summary.longest_failure_run(requests)
    assert run == {"attempts": 3, "from": "2026-01-01T00:00:04Z", "to": "2026-01-01T00:00:06Z"}
    paths = pl.DataFrame({"m": ["GET", "GET", "POST"], "p": ["/api/customers/413", "/api/customers/7/orders",
                                                             "/t/5f1d0c9e2a7b4c3d/x"]})
    folded = paths.select(summary.endpoint(pl.col("m"), pl.col("p")))["m"].to_list()
    assert folded == ["GET /api/customers/{id}", "GET /api/customers/{id}/orders", "POST /t/{id}/x"]


def test_healthy_summary_has_no_failures_and_no_trigger():
    s = loganalyzer.analyze([SAMPLES / "healthy" / "logs"]).summary
    assert s["failed_attempts"] == 0 and s["suspected_trigger"] is None and s["longest_failure_run"] is None
