"""What sets the failing requests apart: found where it is real, silent where it is noise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from loganalyzer import analyze, differences
from tests.conftest import SAMPLES


def test_the_trailing_comma_failures_are_set_apart_by_the_client_release():
    a = analyze(SAMPLES / "trailing-comma" / "logs")
    top = a.differences[0]
    assert top.cause == "json_malformed" and top.dimension == "user agent"
    assert top.value.startswith("vac/2.5.0") and top.failed_with == top.failed and top.ok_with == 0
    assert "all 144 failed attempts" in top.sentence and "none of the" in top.sentence
    assert a.to_dict()["differences"][0]["dimension"] == "user agent"


def test_nothing_is_said_on_a_healthy_incident():
    assert analyze(SAMPLES / "healthy" / "logs").differences == []


def test_outcomes_are_not_dimensions():
    # Response sizes, error lines, retry counters and error loggers follow from the failure itself.
    a = analyze(SAMPLES / "mixed-faults" / "logs")
    for d in a.differences:
        assert not d.dimension.startswith(("nginx_error.", "nginx_access.body_bytes", "vac.attempt", "crm.logger"))


def _frame(failed: list[bool], values: list[str]) -> pl.DataFrame:
    t0 = datetime(2026, 11, 26, 9, tzinfo=UTC)
    n = len(failed)
    return pl.DataFrame({
        "attempt_id": pl.Series(range(n), dtype=pl.UInt32),
        "ts": [t0 + timedelta(seconds=i) for i in range(n)],
        "method": ["POST"] * n, "path": ["/api/tickets"] * n,
        "verdict": ["upstream_error" if f else "ok" for f in failed],
        "root_cause": ["boom" if f else "none" for f in failed],
        "user_agent": values, "client_addr": ["10.0.0.1"] * n, "upstream_addr": ["10.0.0.9:80"] * n,
    })


def test_a_real_separator_is_found_on_hand_made_attempts():
    failed = [i % 3 == 0 for i in range(90)]
    values = ["app/2.0" if f else "app/1.9" for f in failed]
    found = differences.separators(_frame(failed, values), None, {})
    assert [(d.dimension, d.value) for d in found] == [("user agent", "app/2.0")]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["app/1.9", "app/2.0", "app/2.1"]), min_size=30, max_size=200),
       st.randoms(use_true_random=False))
def test_a_dimension_independent_of_failure_is_never_reported(values, rnd):
    # Failure labels drawn independently of the dimension (shuffled): nothing may be reported.
    failed = [rnd.random() < 0.3 for _ in values]
    assert differences.separators(_frame(failed, values), None, {}) == []


def test_fisher_exact_matches_a_known_value():
    # The classic tea-tasting table [[3, 1], [1, 3]]: one-sided p = 17/70.
    assert abs(differences.fisher_greater(3, 1, 1, 3) - 17 / 70) < 1e-12
