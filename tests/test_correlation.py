"""How entries become attempts: links, their methods and confidence, and clock offsets."""

from __future__ import annotations

import polars as pl

import loganalyzer

from .conftest import SAMPLES

TRAILING = SAMPLES / "trailing-comma" / "logs"
MIXED = SAMPLES / "mixed-faults" / "logs"


def test_zone_mistake_is_measured_reported_and_corrected():
    """The 2.x CRM writes Asia/Shanghai wall-clock time without an offset; read as UTC it is 8 h off."""
    a = loganalyzer.analyze([TRAILING])
    crm = next(o for o in a.offsets if o.source == "crm")
    assert crm.applied and crm.seconds == 8 * 3600 and crm.pairs > 100 and crm.method.startswith("request id")
    assert "UTC+8" in crm.describe() and "--tz" in crm.describe()
    # Told the zone, there is nothing left to correct.
    told = loganalyzer.analyze([TRAILING], tz={"crm": "Asia/Shanghai"})
    again = next(o for o in told.offsets if o.source == "crm")
    assert not again.applied and abs(again.seconds) < 1.0
    assert (told.requests["verdict"] == a.requests["verdict"]).all()


def test_every_link_names_its_method():
    a = loganalyzer.analyze([MIXED])
    links = pl.from_pandas(a.evidence).group_by("kind", "link").len()
    pairs = {(k, m) for k, m, _ in links.iter_rows()}
    assert ("nginx_access", "request_id") in pairs
    assert ("nginx_error", "connection") in pairs  # *N in the error log and conn= in the access log
    assert ("vac", "attempt") in pairs
    # The crash trace carries no request id: it is placed by worker thread / path and time.
    crm_links = {m for k, m in pairs if k == "crm"}
    assert "request_id" in crm_links and crm_links & {"time+path", "thread+time", "time"}
    req = a.requests
    assert set(req.loc[req["verdict"] == "client", "link"]) == {"client only"}
    # The monitor writes no log of its own: its attempts are the proxy's alone.
    assert (req.loc[req["request_id"].str.startswith("mon-", na=False), "link"] == "proxy only").all()


def test_id_less_crash_lines_land_on_the_crashed_attempt():
    a = loganalyzer.analyze([MIXED])
    ev = pl.from_pandas(a.evidence)
    req = pl.from_pandas(a.requests)
    crashes = req.filter(pl.col("verdict") == "upstream_crash")
    cause = ev.filter((pl.col("role") == "cause") & (pl.col("kind") == "crm"))
    linked = crashes.join(cause, on="attempt_id")
    assert linked["attempt_id"].n_unique() == crashes.height  # every crash has its own CRM trace
    assert linked["text"].str.contains("JsonParseException").all()
    assert linked["link_right"].is_in(["time+path", "thread+time", "time"]).all()
    # and the CRM's timestamps agree with the client's: each trace lies inside its attempt.
    window = linked.select(((pl.col("ts") >= pl.col("client_send")) & (pl.col("ts") <= pl.col("client_done")))
                           .alias("inside"))
    assert window["inside"].all()


def test_without_request_ids_links_are_by_time_path_and_status(tmp_path):
    base = SAMPLES / "trailing-comma"
    a = loganalyzer.analyze([base / "logs" / "vac.log", base / "variants" / "access_combined.log",
                             base / "logs" / "error.log", base / "logs" / "crm.log"])
    req = a.requests
    paired = req[req["link"] == "time+method+path+status"]
    assert len(paired) == (req["status_client"].notna()).sum()
    assert ((paired["confidence"] > 0) & (paired["confidence"] <= 1)).all()
    assert (paired["confidence"] < 1).any()  # bursts of identical requests in one second are ambiguous
    ev = a.evidence
    assert set(ev.loc[ev["kind"] == "nginx_error", "link"]) == {"time+method+path+status"}


def test_ambiguous_id_less_lines_report_lower_confidence(write, tmp_path):
    """Two crash traces without ids, two crashed attempts in flight: each link says 1/2."""
    access = "".join(
        f'127.0.0.1 - - [24/Nov/2026:10:15:02 +0000] "POST /api/tickets HTTP/1.1" 502 157 "-" "vac" '
        f'rid={i:032x} xrid="r{i}" conn={i} upstream="10.0.0.9:8080" us="502" rt=0.400 urt="0.400"\n'
        for i in (1, 2))
    vac = "".join(
        f"2026-11-24 10:15:01,700 INFO [vac] send req=r{i} attempt=1 method=POST path=/api/tickets\n"
        f"2026-11-24 10:15:02,100 WARNING [vac] fail req=r{i} attempt=1 status=502 error=HTTPError\n"
        for i in (1, 2))
    crm = "".join(
        f"2026-11-24 10:15:01.8{i}0 ERROR [crm,] 42 --- [exec-{i}] c.e.Filter : Unreadable JSON payload\n\n"
        "com.fasterxml.jackson.core.JsonParseException: Unexpected character ('}' (code 125)): "
        "was expecting double-quote to start field name\n\tat c.e.Filter.doFilter(Filter.java:41)\n\n"
        for i in (1, 2))
    write("d/access.log", access)
    write("d/vac.log", vac)
    write("d/crm.log", crm)
    a = loganalyzer.analyze([tmp_path / "d"], tz={"crm": "UTC", "vac": "UTC"})
    ev = a.evidence
    crm_ev = ev[(ev["kind"] == "crm") & (ev["role"] == "cause")]
    assert len(crm_ev) == 2 and (crm_ev["confidence"] == 0.5).all()
    assert set(a.requests["root_cause"]) == {"json_malformed"}
