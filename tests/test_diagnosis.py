"""Correlation and diagnosis against the lab's truth: every scenario, with and without request ids."""

from __future__ import annotations

import polars as pl
import pytest

import loganalyzer

from .conftest import SAMPLES

SCENARIOS = ["trailing-comma", "mixed-faults", "healthy"]


def inputs(scenario: str, access: str) -> list[str]:
    base = SAMPLES / scenario
    if access == "ids":
        return [str(base / "logs")]
    return [str(base / "logs" / "vac.log"), str(base / "variants" / "access_combined.log"),
            str(base / "logs" / "error.log"), str(base / "logs" / "crm.log")]


def graded(analysis: loganalyzer.Analysis, scenario: str) -> pl.DataFrame:
    """Truth rows with the verdict and cause the analysis gave the same attempt.

    Client attempts pair by request id and attempt number. The monitor writes no log of its own:
    with a plain combined access log its attempts carry no id, so they pair by method, path and the
    nearest time (the truth's send time against the attempt's).
    """
    truth = pl.read_csv(SAMPLES / scenario / "truth.csv", infer_schema_length=0).with_columns(
        pl.col("attempt").cast(pl.Int64), pl.col("sent_utc").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="ns", time_zone="UTC"))
    got = pl.from_pandas(analysis.requests).select(
        "request_id", "attempt", "ts", "method", "path", pl.col("verdict").alias("verdict_got"),
        pl.col("root_cause").alias("cause_got"), pl.col("root_cause_detail").alias("detail_got"), "link")
    by_id = truth.join(got.drop("ts", "method", "path", "link"), on=["request_id", "attempt"], how="inner")
    rest = truth.join(by_id.select("request_id", "attempt"), on=["request_id", "attempt"], how="anti")
    proxy_only = got.filter(pl.col("link") == "proxy only").sort("ts")
    by_time = rest.sort("sent_utc").join_asof(
        proxy_only.drop("request_id", "attempt", "link"), left_on="sent_utc", right_on="ts", by=["method", "path"],
        strategy="nearest", tolerance="2s", check_sortedness=False).drop("ts")
    return pl.concat([by_id, by_time], how="diagonal_relaxed").with_columns(
        ((pl.col("verdict") == pl.col("verdict_got")) & (pl.col("root_cause") == pl.col("cause_got")))
        .fill_null(False).alias("agree"))


@pytest.fixture(scope="module", params=[(s, a) for s in SCENARIOS for a in ("ids", "combined")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def result(request):
    scenario, access = request.param
    return scenario, access, loganalyzer.analyze(inputs(scenario, access))


def test_verdicts_and_causes_agree_with_truth(result):
    scenario, access, analysis = result
    g = graded(analysis, scenario)
    truth_rows = pl.read_csv(SAMPLES / scenario / "truth.csv").height
    assert g.height == truth_rows  # every truth attempt found its analysed attempt
    rate = g["agree"].mean()
    misses = g.filter(~pl.col("agree")).select("request_id", "attempt", "verdict", "root_cause", "verdict_got",
                                               "cause_got").head(10)
    assert rate == 1.0, f"{scenario}/{access}: {rate:.1%} agree; misses:\n{misses}"


def test_trailing_comma_detail(result):
    scenario, access, analysis = result
    g = graded(analysis, scenario).filter(pl.col("root_cause_detail") == "trailing_comma")
    if scenario == "healthy":
        assert g.height == 0
        return
    assert g.height > 0 and (g["detail_got"] == "trailing_comma").all()


def test_no_attempt_is_invented(result):
    scenario, access, analysis = result
    truth_rows = pl.read_csv(SAMPLES / scenario / "truth.csv").height
    assert len(analysis.requests) == truth_rows


@pytest.mark.parametrize("access", ["ids", "combined"])
def test_healthy_reports_no_failure(access):
    analysis = loganalyzer.analyze(inputs("healthy", access))
    assert analysis.summary["failed_attempts"] == 0
    assert set(analysis.requests["verdict"]) == {"ok"} and analysis.summary["first_failure"] is None


def test_every_failure_is_named_and_says_who_answered(result):
    """No failed attempt is left without a cause, and with every log loaded no verdict rests on thin evidence."""
    scenario, access, analysis = result
    r = analysis.requests
    failed = r[r["verdict"] != "ok"]
    assert failed["root_cause"].notna().all() and not failed["root_cause"].isin(["unknown", "none"]).any()
    assert set(r["verdict_evidence"]) <= {"strong"}
    assert set(r["answered_by"]) <= {"client", "proxy", "upstream", "none"}
    # 499s: the client left, nobody answered it.
    gone = r[r["status_proxy"] == 499]
    assert (gone["answered_by"] == "none").all() and gone["verdict_reason"].str.contains("client hung up").all()
    causes = analysis.causes()
    assert not causes["explanation"].isna().any()
