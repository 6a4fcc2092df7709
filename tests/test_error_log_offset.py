"""The nginx error log's offset from its access log: one nginx, one clock, so a whole zone.

An access log with ``$time_iso8601`` (the JSON ``log_format``) carries its offset in each line; the
error log never does, and is read as UTC. Measuring how far apart the two are by pairing each error
line with the *nearest* access line of its connection fails on kept-alive connections: hours off,
the nearest line of a connection is its last, and the median came out ~8 s short of the zone.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from loganalyzer import analyze
from loganalyzer.correlate import error_log_offset
from tests.conftest import SAMPLES

_NS = pl.Datetime("ns", "UTC")
T0 = datetime(2026, 12, 1, 22, 0, 0, tzinfo=UTC)
ZONE = 3 * 3600  # the error log written in UTC+3, read as UTC


def _access(n: int = 60, connection_of=lambda i: 1) -> pl.DataFrame:
    """One request a second on kept-alive connections, whole-second ends centred like access_table's."""
    end = [T0 + timedelta(seconds=i, milliseconds=500) for i in range(n)]
    return pl.DataFrame({
        "start": [e - timedelta(milliseconds=40) for e in end], "end": end,
        "connection": [connection_of(i) for i in range(n)],
        "method": ["POST"] * n, "path": [f"/api/{i % 3}" for i in range(n)],
    }, schema_overrides={"start": _NS, "end": _NS, "connection": pl.Int64})


def _errors(requests: list[int], access: pl.DataFrame, shift_s: float = ZONE) -> pl.DataFrame:
    """An error line inside each of ``requests``, as a whole second, ``shift_s`` ahead."""
    ts = [(access["start"][i] + timedelta(seconds=shift_s)).replace(microsecond=0) for i in requests]
    return pl.DataFrame({
        "ts": ts, "connection": [access["connection"][i] for i in requests],
        "method": [access["method"][i] for i in requests], "path": [access["path"][i] for i in requests],
    }, schema_overrides={"ts": _NS, "connection": pl.Int64})


def _nearest_median(errors: pl.DataFrame, access: pl.DataFrame) -> float:
    """What pairing each error line with its connection's nearest access line measures."""
    pairs = errors.sort("ts").join_asof(access.sort("end"), left_on="ts", right_on="end", by="connection",
                                        strategy="nearest", check_sortedness=False)
    return float(np.median((pairs["ts"] - pairs["end"]).dt.total_milliseconds().to_numpy()) / 1000)


def test_a_kept_alive_connection_gives_the_whole_zone_not_its_last_line():
    access = _access()
    errors = _errors([10, 11, 12, 30, 31], access)
    # The nearest line of connection 1, three hours on, is its last one: the median is short.
    assert abs(_nearest_median(errors, access) - ZONE) > 20
    seconds, pairs, method = error_log_offset(errors, access)
    assert seconds == ZONE and pairs == 5 and "connection" in method


def test_many_connections_and_a_negative_zone():
    access = _access(120, connection_of=lambda i: 1 + i // 7)
    errors = _errors([3, 20, 21, 60, 90, 91, 92], access, shift_s=-5.5 * 3600)
    seconds, pairs, _ = error_log_offset(errors, access)
    assert seconds == -5.5 * 3600 and pairs == 7


def test_same_zone_is_zero_and_without_connections_method_and_path_decide():
    access = _access()
    assert error_log_offset(_errors([5, 6, 40], access, shift_s=0), access)[0] == 0.0
    no_conn = access.with_columns(pl.lit(None, pl.Int64).alias("connection"))
    errors = _errors([5, 6, 40, 41], access).with_columns(pl.lit(None, pl.Int64).alias("connection"))
    seconds, pairs, method = error_log_offset(errors, no_conn)
    assert seconds == ZONE and pairs == 4 and "method and path" in method


def test_lines_that_fit_no_request_give_no_offset():
    access = _access(30)
    # Connection 9 carried no request the access log knows of.
    errors = _errors([1, 2, 3], access).with_columns(pl.lit(9, pl.Int64).alias("connection"))
    assert error_log_offset(errors, access) is None


def test_json_access_log_with_an_error_log_at_error_level_end_to_end():
    """A committed tuning cell: requests + urllib3 Retry over one kept-alive connection, nginx's
    JSON access log in Europe/Moscow, its error log at ``error`` level (read as UTC)."""
    cell = SAMPLES / "matrix" / "requests-json-ecs-lab"
    a = analyze(cell / "logs")
    off = next(o for o in a.offsets if o.source == "nginx_error")
    assert off.applied and off.seconds == ZONE
    with open(cell / "truth.csv", newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    failed = a.requests[a.requests["verdict"] != "ok"]
    # Every 502 of the CRM's restart window is nginx's own answer (connect() failed), none a crash.
    want = sum(1 for t in truth if t["root_cause"] == "upstream_down")
    assert (failed["root_cause"] == "upstream_down").sum() == want
    want = sum(1 for t in truth if t["root_cause"] == "json_malformed")
    assert (failed["root_cause"] == "json_malformed").sum() == want
