"""Clock offsets measured from traffic alone, and point events placed into second-precision intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loganalyzer import ingest
from loganalyzer.clock import OffsetEstimate, apply_offset, estimate_offset, interval_match

from .conftest import SAMPLES

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
MS, SEC = 0.001, 1.0


def times(seconds) -> pl.Series:
    """Seconds after T0 as UTC datetimes (µs)."""
    us = np.round(np.asarray(seconds, dtype=float) * 1e6).astype(np.int64)
    return pl.Series("ts", us).cast(pl.Datetime("us")).dt.offset_by(f"{int(T0.timestamp())}s").dt.replace_time_zone(
        "UTC")


def events(seconds, **cols) -> pl.DataFrame:
    return pl.DataFrame({"ts": times(seconds), **cols})


# --------------------------------------------------------------------------------------------
# traffic built like real traffic


def traffic(seed: int, duration: float = 1800.0, rate: float = 2.0) -> dict[str, np.ndarray]:
    """Requests as a client sends them: Poisson arrivals whose rate changes every 10-60 s, with
    bursts (8x for 5-20 s) and gaps (nothing for 20-90 s); 5 % retried after 0.2-2 s; 3 % never
    reach the proxy; the proxy takes 0.5-3 ms to see them and 5-800 ms to answer."""
    rng = np.random.default_rng(seed)
    t, parts = 0.0, []
    while t < duration:
        kind = rng.random()
        length, r = ((rng.uniform(5, 20), rate * 8) if kind < 0.1 else (rng.uniform(20, 90), 0.0) if kind < 0.18
                     else (rng.uniform(10, 60), rate * rng.uniform(0.5, 1.5)))
        parts.append(rng.uniform(t, t + length, rng.poisson(r * length)))
        t += length
    send = np.sort(np.concatenate(parts))
    send = send[send < duration]
    n = len(send)
    kind = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    path = np.where(kind == 0, np.char.add("/api/customers/", rng.integers(1, 500, n).astype(str)),
                    np.where(kind == 1, "/api/tickets", "/health"))
    method = np.where(kind == 1, "POST", "GET")
    status = np.where(rng.random(n) < 0.04, 502, np.where(kind == 1, 201, 200))
    retry = rng.random(n) < 0.05
    send = np.concatenate([send, send[retry] + rng.uniform(0.2, 2.0, retry.sum())])
    order = np.argsort(send, kind="stable")
    path, method, status = (np.concatenate([a, a[retry]])[order] for a in (path, method, status))
    send = send[order]
    n = len(send)
    start = send + rng.uniform(0.0005, 0.003, n)
    latency = rng.uniform(0.005, 0.8, n)
    return {"send": send, "start": start, "end": start + latency, "latency": latency, "path": path,
            "method": method, "status": status, "reached": rng.random(n) > 0.03,
            "crm": rng.random(n) < 0.6, "crm_delay": rng.uniform(0.001, 0.005, n)}


def logs(tr: dict[str, np.ndarray], skew: float) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """What the three hosts write: the proxy whole seconds at the end ($time_local) with
    $request_time, the client (clock ahead by ``skew``) ms at the send, the upstream (same skewed
    clock) ms at its request line, for the 60 % of requests it logs."""
    r = tr["reached"]
    rt = np.round(tr["latency"][r], 3)
    access = events(np.floor(tr["end"][r]), request_time=rt, method=tr["method"][r], path=tr["path"][r],
                    status=tr["status"][r]).with_columns(
        (pl.col("ts") - pl.duration(milliseconds=(pl.col("request_time") * 1000).round().cast(pl.Int64)))
        .alias("start_floor"))
    client = events(np.floor((tr["send"] + skew) * 1000) / 1000, method=tr["method"], path=tr["path"],
                    status=pl.Series(np.where(r, tr["status"], -1)).replace(-1, None))
    keep = r & tr["crm"]
    crm = events(np.floor((tr["start"][keep] + tr["crm_delay"][keep] + skew) * 1000) / 1000)
    return access, client, crm


KEYS = ["method", "path", "status"]
SKEWS = [-600, -300, -30, -3, -1, 0, 1, 3, 30, 300, 600, -14 * 3600, -5.5 * 3600, 3600, 5.5 * 3600, 8 * 3600,
         14 * 3600, 8 * 3600 + 3, 5.5 * 3600 - 30]


@pytest.fixture(scope="module")
def synthetic() -> dict[str, np.ndarray]:
    return traffic(3)


@pytest.mark.parametrize("skew", SKEWS)
def test_sweep_of_skews_client_and_upstream_against_whole_second_proxy(synthetic, skew):
    access, client, crm = logs(synthetic, skew)
    # The client's sends against the proxy's starts (floors: the end's second minus request_time), by keys.
    e = estimate_offset(access, client, ref_time="start_floor", keys=KEYS, ref_precision_s=SEC,
                        other_precision_s=MS)
    quarter = round(skew / 900) * 900
    assert e.measured and e.seconds == skew and e.zone_seconds == (quarter if abs(skew - quarter) <= 120 else 0)
    net = float(np.median(synthetic["start"] - synthetic["send"]))  # what the proxy adds: not clock
    assert abs(e.total_s - (skew - net)) < 0.05
    assert e.pairs > 0.8 * access.height and 0.5 < e.confidence <= 1
    # The upstream logs a subset and shares no keys: counts alone.
    u = estimate_offset(access, crm, ref_time="start_floor", ref_precision_s=SEC, other_precision_s=MS)
    assert u.measured and u.seconds == skew
    delay = float(np.median(synthetic["crm_delay"] + synthetic["start"] - synthetic["start"]))
    assert abs(u.total_s - (skew + delay)) < 0.05


@pytest.mark.parametrize("seed,skew", [(5, 2.4), (6, -0.6), (7, 8 * 3600 + 0.25), (8, -5.5 * 3600 - 1.7)])
def test_fractional_skews_split_into_whole_seconds_and_residual(seed, skew):
    tr = traffic(seed, duration=900)
    access, client, _ = logs(tr, skew)
    e = estimate_offset(access, client, ref_time="start_floor", keys=KEYS, ref_precision_s=SEC,
                        other_precision_s=MS)
    assert e.measured and e.seconds == round(skew) and abs(e.residual_s) <= 0.5
    assert abs(e.total_s - skew) < 0.05 and e.uncertainty_s < 0.05


def test_other_sides_direction_and_subsets(synthetic):
    """Swapping the sides negates the offset; extra client-only requests do not move it."""
    access, client, _ = logs(synthetic, 300)
    back = estimate_offset(client, access, other_time="start_floor", keys=KEYS, ref_precision_s=MS,
                           other_precision_s=SEC)
    assert back.measured and back.seconds == -300 and abs(back.total_s + 300) < 0.05
    half = client.filter(pl.int_range(pl.len()) % 2 == 0)
    e = estimate_offset(access, half, ref_time="start_floor", keys=KEYS, ref_precision_s=SEC, other_precision_s=MS)
    assert e.measured and e.seconds == 300


# --------------------------------------------------------------------------------------------
# small hand-made frames


def test_hand_made_offset_of_two_seconds_with_latency():
    """Forty requests at irregular moments; the other host 2 s ahead and 30 ms later."""
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.exponential(3.0, 40))
    e = estimate_offset(events(np.floor(t)), events(t + 2.03), ref_precision_s=SEC, other_precision_s=MS)
    assert e.measured and e.seconds == 2 and e.zone_seconds == 0
    assert abs(e.residual_s - 0.03) < 0.1
    assert e.describe().startswith("+2s")


def test_hand_made_zone_offset_snaps_to_the_quarter_hour():
    """UTC+5:30 written without an offset, and 400 ms of latency: the zone, not 5h30m00.4s."""
    rng = np.random.default_rng(2)
    t = np.cumsum(rng.exponential(2.0, 200))
    e = estimate_offset(events(np.floor(t)), events(t + 5.5 * 3600 + 0.4), ref_precision_s=SEC,
                        other_precision_s=MS)
    assert e.measured and e.seconds == e.zone_seconds == 5.5 * 3600
    assert abs(e.residual_s - 0.4) < 0.06
    assert "UTC+5.5" in e.describe()


@pytest.mark.parametrize("gap,whole", [(0.7, 0), (1.2, 1)])
def test_seconds_next_to_a_zone_count_as_clock_only_if_they_explain_more_pairs(gap, whole):
    """Both logs in ms, the other host an hour ahead and its events ``gap`` later. 0.7 s fits
    neither the zone nor zone + 1 s within a quarter second: it stays residual (latency). 1.2 s
    fits zone + 1 s: that second is counted as clock. The total is right either way."""
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.exponential(2.0, 300))
    e = estimate_offset(events(t), events(t + 3600 + gap), ref_precision_s=MS, other_precision_s=MS)
    assert e.measured and e.zone_seconds == 3600 and e.seconds == 3600 + whole
    assert abs(e.total_s - (3600 + gap)) < 0.02


def test_keys_tell_apart_what_counts_alone_cannot():
    """Identical per-second counts at two offsets: only the paths say which is right."""
    rng = np.random.default_rng(4)
    t = np.arange(0, 600, 5.0) + rng.uniform(0, 0.2, 120)  # a steady beat: counts are periodic
    paths = rng.choice([f"/p/{i}" for i in range(60)], 120)
    ref = events(np.floor(t), path=paths)
    other = events(t + 10.0, path=paths)
    assert not estimate_offset(ref, other, ref_precision_s=SEC, other_precision_s=MS).measured
    e = estimate_offset(ref, other, keys=["path"], ref_precision_s=SEC, other_precision_s=MS)
    assert e.measured and e.seconds == 10


def test_could_not_measure_says_so():
    rng = np.random.default_rng(5)
    a = np.sort(rng.uniform(0, 3600, 3000))
    b = np.sort(rng.uniform(0, 3600, 3000))
    beat = np.arange(0, 3600, 2.0)
    cases = {
        "independent": (events(np.floor(a)), events(b)),
        "few": (events(np.floor(a[:10])), events(a[:10] + 1)),
        "no overlap": (events(np.floor(a)), events(a + 20 * 3600)),
        "periodic": (events(np.floor(beat)), events(beat + 5.03)),
    }
    for name, (ref, other) in cases.items():
        e = estimate_offset(ref, other, ref_precision_s=SEC, other_precision_s=MS)
        assert not e.measured, name
        assert e.describe().startswith("could not measure") and "0 s" not in e.describe(), name
        assert e.confidence == 0.0
        # and applying it changes nothing
        shifted, slack = apply_offset(other, e, ["ts"])
        assert shifted.equals(other) and slack == 0.0


def test_two_copies_of_the_traffic_are_ambiguous():
    tr = traffic(9, duration=600)
    ref = np.sort(np.concatenate([np.floor(tr["send"]), np.floor(tr["send"] + 1000)]))
    e = estimate_offset(events(ref), events(tr["send"] + 30), ref_precision_s=SEC, other_precision_s=MS)
    assert not e.measured and "two offsets" in e.evidence


def test_null_times_and_keys_are_dropped():
    rng = np.random.default_rng(6)
    t = np.cumsum(rng.exponential(1.0, 400))
    ref = events(np.floor(t), path=[None if i % 7 == 0 else "/x" for i in range(400)])
    other = events(t + 42.0, path=["/x"] * 400).with_columns(
        pl.when(pl.int_range(pl.len()) % 5 == 0).then(None).otherwise(pl.col("ts")).alias("ts"))
    e = estimate_offset(ref, other, keys=["path"], ref_precision_s=SEC, other_precision_s=MS)
    assert e.measured and e.seconds == 42


# --------------------------------------------------------------------------------------------
# applying an estimate (the measurement behind the module's guidance)


def test_apply_modes():
    """Upstream lines at the start of and inside second-precision access intervals: the full
    median with the slack it asks for keeps every line in its own interval, with the fewest
    intervals around each line; whole seconds alone lose lines when the skew has a fraction."""
    tr = traffic(11, duration=900, rate=1.0)
    rng = np.random.default_rng(2)
    ids = np.flatnonzero(tr["reached"])
    end_floor = np.floor(tr["end"][ids])
    rt = np.round(tr["latency"][ids], 3)
    intervals = pl.DataFrame({"left_id": ids, "start": times(end_floor - rt), "end": times(end_floor + 1.0)})
    first = tr["start"][ids] + rng.uniform(0.001, 0.005, len(ids))
    inside = tr["start"][ids] + rng.uniform(0, 1, len(ids)) * tr["latency"][ids]
    for skew in (3.0, 2.4, -0.6, 8 * 3600 + 0.25):
        lines = events(np.floor((first + skew) * 1000) / 1000)
        est = estimate_offset(intervals, lines, ref_time="start", ref_precision_s=SEC, other_precision_s=MS)
        assert est.measured
        points = pl.DataFrame({"right_id": np.concatenate([ids, ids]),
                               "ts": times(np.floor((np.concatenate([first, inside]) + skew) * 1000) / 1000)})
        kept, crowd = {}, {}
        for mode in ("full", "whole"):
            for slack_on in (False, True):
                shifted, slack = apply_offset(points, est, ["ts"], mode=mode)
                tol = slack if slack_on else 0.0
                own = shifted.join(intervals, left_on="right_id", right_on="left_id")
                pad = pl.duration(microseconds=int(tol * 1e6))
                kept[mode, slack_on] = own.select(((pl.col("ts") >= pl.col("start") - pad)
                                                   & (pl.col("ts") < pl.col("end") + pad)).mean()).item()
                m = interval_match(intervals, shifted, [], "start", "end", "ts", tolerance_s=tol)
                crowd[mode, slack_on] = m["candidates"].mean()
        assert kept["full", True] == 1.0 and kept["whole", True] == 1.0
        assert kept["full", False] > 0.95
        assert crowd["full", True] <= crowd["whole", True] + 1e-9
        if skew != round(skew):
            assert kept["whole", False] < kept["full", False]
            assert crowd["full", True] < crowd["whole", True] - 0.5


def test_apply_offset_shifts_by_the_chosen_part():
    est = OffsetEstimate(3600.0 + 2, 3600.0, 0.25, 500, 1, "traffic counts", "", 0.9, True, -0.2, 0.7, 0.01)
    df = events([10.0, 20.0])
    full, slack = apply_offset(df, est, ["ts"])
    assert (full["ts"] - df["ts"]).dt.total_microseconds().to_list() == [-3602250000] * 2
    assert slack == pytest.approx(0.03)
    whole, slack = apply_offset(df, est, ["ts"], mode="whole")
    assert (whole["ts"] - df["ts"]).dt.total_microseconds().to_list() == [-3602000000] * 2
    assert slack == pytest.approx(0.28)
    with pytest.raises(ValueError):
        apply_offset(df, est, ["ts"], mode="half")


# --------------------------------------------------------------------------------------------
# interval matching


def test_interval_match_hand_made():
    """Three access attempts known to a second; four CRM lines at ms precision."""
    left = pl.DataFrame({
        "left_id": [10, 11, 12],
        "path": ["/a", "/a", "/b"],
        "start": times([0.0, 0.0, 5.0]),
        "end": times([1.0, 3.0, 6.0]),
    })
    right = pl.DataFrame({
        "right_id": [0, 1, 2, 3],
        "path": ["/a", "/a", "/b", "/b"],
        "ts": times([0.6, 2.9, 5.5, 9.0]),
    })
    m = interval_match(left, right, ["path"], "start", "end", "ts")
    rows = {r["right_id"]: r for r in m.iter_rows(named=True)}
    # 0.6 s lies in both /a intervals: centre 0.5 is nearer than 1.5, and 2.9 only fits the long one.
    assert rows[0]["left_id"] == 10 and rows[0]["candidates"] == 2 and rows[0]["confidence"] == 0.5
    assert rows[1]["left_id"] == 11 and rows[1]["candidates"] == 1 and rows[1]["dt"] == pytest.approx(1.4)
    assert rows[2]["left_id"] == 12 and rows[2]["confidence"] == 1.0
    assert 3 not in rows  # 9.0 s is in no /b interval
    # Widened by 3.5 s the /b interval holds 9.0 s too, but it is taken by 5.5 s, nearer its centre.
    wide = interval_match(left, right, ["path"], "start", "end", "ts", tolerance_s=3.5)
    assert set(wide["right_id"]) == {0, 1, 2} and wide.filter(pl.col("right_id") == 2)["left_id"].item() == 12


def test_interval_match_one_to_one_nearest_centre_wins():
    """Two lines in one interval: the one nearer its centre keeps it, the other moves on."""
    left = pl.DataFrame({"start": times([0.0, 0.0]), "end": times([1.0, 4.0])})
    right = pl.DataFrame({"ts": times([0.5, 0.45])})
    m = interval_match(left, right, [], "start", "end", "ts").sort("right_id")
    assert m["left_id"].to_list() == [0, 1]  # 0.5 is the first one's centre; 0.45 takes the other
    assert m["candidates"].to_list() == [2, 2]


def test_interval_match_empty_and_without_keys():
    left = pl.DataFrame({"start": times([0.0]), "end": times([1.0])})
    none = interval_match(left, pl.DataFrame({"ts": times([])}), [], "start", "end", "ts")
    assert none.height == 0 and set(none.columns) == {"left_id", "right_id", "dt", "candidates", "confidence"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 6), st.sampled_from("ab")), min_size=1, max_size=25),
       st.lists(st.tuples(st.integers(0, 50_000), st.sampled_from("ab")), min_size=1, max_size=25),
       st.sampled_from([0.0, 0.25, 1.0]))
def test_interval_match_property(intervals, points, tol):
    """1:1, same keys, every point inside its interval ± tolerance, and ``candidates`` is the
    number of same-key intervals containing the point (checked against a plain count)."""
    left = pl.DataFrame({"start": times([s for s, _, _ in intervals]),
                         "end": times([s + d for s, d, _ in intervals]), "k": [k for _, _, k in intervals]})
    right = pl.DataFrame({"ts": times([t / 1000 for t, _ in points]), "k": [k for _, k in points]})
    m = interval_match(left, right, ["k"], "start", "end", "ts", tolerance_s=tol)
    assert m["left_id"].n_unique() == m.height and m["right_id"].n_unique() == m.height
    for row in m.iter_rows(named=True):
        s, d, k = intervals[row["left_id"]]
        t, kp = points[row["right_id"]]
        assert k == kp and s - tol <= t / 1000 < s + d + tol
        assert row["dt"] == pytest.approx(t / 1000 - (s + d / 2), abs=1e-6)
        count = sum(1 for s2, d2, k2 in intervals if k2 == kp and s2 - tol <= t / 1000 < s2 + d2 + tol)
        assert row["candidates"] == count and row["confidence"] == pytest.approx(1 / count)
    # A point alone in its containing intervals is always placed.
    for i, (t, kp) in enumerate(points):
        holders = [j for j, (s, d, k) in enumerate(intervals) if k == kp and s - tol <= t / 1000 < s + d + tol]
        rivals = [p for p, (t2, k2) in enumerate(points) if p != i and k2 == kp
                  and any(intervals[j][0] - tol <= t2 / 1000 < intervals[j][0] + intervals[j][1] + tol
                          for j in holders)]
        if len(holders) == 1 and not rivals:
            assert i in set(m["right_id"])


# --------------------------------------------------------------------------------------------
# the real samples


def test_real_sample_offsets_from_traffic_alone():
    """trailing-comma: the CRM writes Asia/Shanghai time without an offset (+8 h read as UTC), nginx
    writes +03:00, the client UTC without an offset. With every request id dropped, the traffic
    still says CRM = nginx + 8 h and client = nginx."""
    logs = ingest.load([SAMPLES / "trailing-comma" / "logs"])
    access = logs.polars["nginx_access"].drop("request_id", "nginx_request_id", "http_x_request_id").with_columns(
        (pl.col("ts") - pl.duration(milliseconds=(pl.col("request_time") * 1000).round().cast(pl.Int64)))
        .alias("start"))
    crm = logs.polars["crm"].drop("request_id")
    sends = logs.polars["vac"].drop("request_id", "req").filter(pl.col("method").is_not_null())
    c = estimate_offset(access, crm, ref_time="start", ref_precision_s=SEC, other_precision_s=MS)
    assert c.measured and c.seconds == c.zone_seconds == 8 * 3600 and abs(c.residual_s) < 0.2
    assert "UTC+8" in c.describe()
    v = estimate_offset(access, sends, ref_time="start", keys=["method", "path"], ref_precision_s=SEC,
                        other_precision_s=MS)
    assert v.measured and v.seconds == 0 and abs(v.residual_s) < 0.1 and v.confidence > 0.5
    # nginx's predefined "combined" format: no ids, no $request_time, only the end's second.
    combined = ingest.load([SAMPLES / "trailing-comma" / "variants" / "access_combined.log"])
    ends = estimate_offset(combined.polars["nginx_access"], crm, ref_precision_s=SEC, other_precision_s=MS)
    assert ends.measured and ends.seconds == 8 * 3600
    # Told the zone, the CRM's clock agrees with nginx's.
    told = ingest.load([SAMPLES / "trailing-comma" / "logs" / "crm.log"], tz={"crm": "Asia/Shanghai"})
    again = estimate_offset(access, told.polars["crm"], ref_time="start", ref_precision_s=SEC,
                            other_precision_s=MS)
    assert again.measured and again.seconds == 0


def test_timestamps_helper_is_utc():
    assert times([1.5])[0] == T0 + timedelta(seconds=1.5)
