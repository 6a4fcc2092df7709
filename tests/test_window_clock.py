"""--since/--until are applied on the corrected clock: a window gives exactly the attempts of the
whole analysis that start inside it, also when a host logs local time without an offset."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

import loganalyzer
from loganalyzer import analysis, clock, correlate
from loganalyzer.cli import cli
from tests.conftest import SAMPLES

TRAILING = SAMPLES / "trailing-comma" / "logs"  # the CRM logs Asia/Shanghai time with no offset: +8 h
MIXED = SAMPLES / "mixed-faults" / "logs"
#: What identifies an attempt and what the analysis concluded of it (attempt ids are per analysis).
KEY = ["ts", "request_id", "logical_id", "attempt", "last_attempt", "verdict", "verdict_reason", "root_cause",
       "root_cause_detail", "status_client", "status_proxy", "status_upstream", "upstream_addr"]


@pytest.fixture(scope="module")
def whole():
    return {logs: loganalyzer.analyze(logs) for logs in (TRAILING, MIXED)}


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return sorted(frame[KEY].astype(str).itertuples(index=False, name=None))


def _cited(a, ids=None) -> list[tuple]:
    """Every evidence line, named by its attempt's start and request id (not by attempt id)."""
    req = a.requests if ids is None else a.requests[a.requests["attempt_id"].isin(ids)]
    ev = a.evidence.merge(req[["attempt_id", "ts", "request_id", "attempt"]], on="attempt_id", suffixes=("_line", ""))
    cols = ["ts", "request_id", "attempt", "kind", "file", "line", "role"]
    return sorted(ev[cols].astype(str).itertuples(index=False, name=None))


@pytest.mark.parametrize("logs,since,until", [
    (TRAILING, "2026-11-26T01:14:45Z", "2026-11-26T01:14:55Z"),  # the first failures
    (TRAILING, "2026-11-26T04:15:00+03:00", None),  # the access log's own zone; to the end
    (TRAILING, None, "01:14:47.5"),  # a time of day, on the incident's date
    (MIXED, "2026-11-26T01:15:40Z", "2026-11-26T01:16:00Z"),
    (MIXED, "01:16:20", None),
])
def test_a_window_gives_the_whole_analysis_attempts_that_start_inside_it(whole, logs, since, until):
    full = whole[logs].requests
    inside = full["ts"].notna()
    day = full["ts"].min().date().isoformat()
    if since is not None:
        inside &= full["ts"] >= pd.Timestamp(since if "T" in since else f"{day}T{since}Z")
    if until is not None:
        inside &= full["ts"] <= pd.Timestamp(until if "T" in until else f"{day}T{until}Z")
    want = full[inside]
    assert 0 < len(want) < len(full)
    got = loganalyzer.analyze(logs, since=since, until=until)
    assert _rows(got.requests) == _rows(want)
    # and each with the same lines cited as evidence (the CRM's were not cut before correction)
    assert _cited(got) == _cited(whole[logs], want["attempt_id"])
    assert any(kind == "crm" for _, _, _, kind, *_ in _cited(got))
    assert {o.source: o.seconds for o in got.offsets if o.applied} == {
        o.source: o.seconds for o in whole[logs].offsets if o.applied}


def test_the_crm_local_time_is_not_a_window_on_the_corrected_clock():
    # 09:14 is when the incident happened on the CRM's (Shanghai) clock; on the reference clock the
    # logs end at 01:15: nothing is left, and the message says what the logs cover, corrected.
    result = CliRunner().invoke(cli, ["analyze", str(TRAILING), "--since", "09:14"])
    assert result.exit_code == 4, result.output
    assert ("No request attempts found: the window 2026-11-26 09:14:00 to … UTC leaves no request attempt: "
            "the logs cover 2026-11-26 01:14:18 to 2026-11-26 01:15:13 UTC (crm corrected") in result.output


def test_files_whose_zone_is_assumed_are_read_whole_and_the_others_padded():
    until = "2026-11-26T01:14:30Z"
    exact = loganalyzer.load(TRAILING, until=until)  # load corrects no clock: it cuts as logged
    assert exact.polars["nginx_access"]["ts"].max() <= pd.Timestamp(until)
    assert exact.polars["crm"].height == 0  # as logged, the CRM's 09:14 is after the window
    padded = loganalyzer.load(TRAILING, until=until, pad_s=correlate.READ_PAD_S)
    assert padded.polars["crm"].height == 443 and padded.polars["vac"].height == 984  # zone assumed: whole
    assert padded.polars["nginx_access"].height == 444  # offset in each line: cut READ_PAD_S past the window
    assert padded.window == exact.window == (None, pd.Timestamp(until))
    early = loganalyzer.load(TRAILING, until="2026-11-26T00:50:00Z", pad_s=correlate.READ_PAD_S)
    assert "nginx_access" not in early.polars or early.polars["nginx_access"].height == 0  # 24 min before
    assert early.polars["crm"].height == 443


def test_a_trusted_clock_further_off_than_the_pad_is_reported():
    logs = loganalyzer.load(MIXED, since="01:16:00", pad_s=correlate.READ_PAD_S)
    far = correlate.ClockOffset("crm", "nginx_access", clock.MAX_SKEW_S + 60, 30, "request id", applied=True)
    near = correlate.ClockOffset("crm", "nginx_access", clock.MAX_SKEW_S - 60, 30, "request id", applied=True)
    assert analysis._beyond_pad(logs, [near]) == []
    (note,) = analysis._beyond_pad(logs, [far])
    assert note.startswith("crm's clock is +660 s off") and "lines may be missing" in note
    # the vac log's zone is assumed: read whole, so no offset of it can fall outside the pad
    vac = correlate.ClockOffset("vac", "nginx_access", 3600.0, 30, "request id", applied=True)
    assert analysis._beyond_pad(logs, [vac]) == []
