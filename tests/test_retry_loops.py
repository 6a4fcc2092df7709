"""An application's own retry loop around httpx: its lines group into one logical request.

httpx writes one line per request, after the answer (``HTTP Request: POST … "HTTP/1.1 502 …"``);
the application writes the rest: each failed attempt with "retrying in N s", and its give-up
naming the call. The give-up is no new request, a connection failure announced with a retry is
that attempt's failure and the announcement of the next, and an attempt no line tells the
sending of started after the lane's line before it (``opened``). Lines as the lab's httpx client
writes them (Flask's layout: ``[time] LEVEL in module: message``, messages only here).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from loganalyzer.calls import client_attempts, client_calls

BASE = "http://127.0.0.1:54203"


def _entries(lines: list[tuple[int, str]]) -> pl.DataFrame:
    t0 = datetime(2026, 12, 1, 17, 26, 31, tzinfo=UTC)
    return pl.DataFrame({
        "ts": [t0 + timedelta(milliseconds=ms) for ms, _ in lines],
        "line": list(range(1, len(lines) + 1)), "level": ["INFO"] * len(lines),
        "logger": [None] * len(lines), "message": [m for _, m in lines], "file": ["vac.log"] * len(lines),
    }, schema_overrides={"ts": pl.Datetime("ns", "UTC"), "logger": pl.String})


STATUS_RETRIES = [
    (0, "Creating ticket for customer 302 (priority=low, token=…XEnI)"),
    (20, f'HTTP Request: POST {BASE}/api/tickets "HTTP/1.1 502 Bad Gateway"'),
    (20, f"POST {BASE}/api/tickets: 502 Bad Gateway; retrying in 0.05 s (attempt 2 of 3)"),
    (79, f'HTTP Request: POST {BASE}/api/tickets "HTTP/1.1 502 Bad Gateway"'),
    (79, f"POST {BASE}/api/tickets: 502 Bad Gateway; retrying in 0.10 s (attempt 3 of 3)"),
    (186, f'HTTP Request: POST {BASE}/api/tickets "HTTP/1.1 502 Bad Gateway"'),
    (187, f"Giving up on POST {BASE}/api/tickets after 3 attempts: 502 Bad Gateway"),
    (237, "Creating ticket for customer 171 (priority=normal, token=…XEnI)"),
    (249, f'HTTP Request: POST {BASE}/api/tickets "HTTP/1.1 201 "'),
]

REFUSED_RETRIES = [
    (0, "Creating ticket for customer 165 (priority=normal, token=…XEnI)"),
    (1, "POST http://127.0.0.1:40739/api/tickets: ConnectError: [Errno 111] Connection refused; "
        "retrying in 0.05 s (attempt 2 of 3)"),
    (54, "POST http://127.0.0.1:40739/api/tickets: ConnectError: [Errno 111] Connection refused; "
         "retrying in 0.10 s (attempt 3 of 3)"),
    (159, "Giving up on POST http://127.0.0.1:40739/api/tickets after 3 attempts: ConnectError: [Errno 111] "
          "Connection refused"),
    (210, "Looking up customer 265 (token=…XEnI)"),
    (221, f'HTTP Request: GET {BASE}/api/customers/265 "HTTP/1.1 200 "'),
]


def test_a_give_up_naming_the_call_is_no_new_request():
    calls = client_calls(_entries(STATUS_RETRIES))
    give_up = calls.filter(pl.col("rule") == "generic_give_up_on_call")
    assert give_up.height == 1 and give_up["phase"][0] == "give_up"
    a = client_attempts(calls).sort("send")
    assert a.height == 4
    assert a["logical"].n_unique() == 2
    assert a["attempt"].to_list() == [1, 2, 3, 1]
    assert a["status_client"].to_list() == [502, 502, 502, 201]


def test_refused_attempts_announced_with_a_retry_are_one_request():
    calls = client_calls(_entries(REFUSED_RETRIES))
    announced = calls.filter(pl.col("rule") == "generic_error_then_retry")
    assert announced.height == 2 and announced["retry"].all() and (announced["phase"] == "error").all()
    assert (announced["error_class"] == "connection_refused").all()
    a = client_attempts(calls).sort("send")
    refused = a.filter(pl.col("error_class") == "connection_refused")
    assert refused.height == 3 and refused["logical"].n_unique() == 1
    assert refused["attempt"].to_list() == [1, 2, 3]
    assert not refused["reached"].any()
    assert a.height == 4


def test_an_attempt_logged_once_answered_opens_after_the_lane_line_before_it():
    a = client_attempts(client_calls(_entries(STATUS_RETRIES))).sort("send")
    ms = [(t - datetime(2026, 12, 1, 17, 26, 31, tzinfo=UTC)) / timedelta(milliseconds=1) for t in a["opened"]]
    # The first attempt went out after "Creating ticket …", the retries after their announcements.
    assert ms == [0, 20, 79, 237]
    assert (a["opened"] <= a["send"]).all()


def test_slow_answers_logged_only_once_answered_pair_with_their_own_access_lines():
    """urllib3 on a kept-alive connection logs no send: each 504 (nginx gave up after 2 s) is
    logged when it came back, 2 s after the proxy's start, right at the next retry's start. The
    answers pair with the proxy's ends, and each attempt's time is the proxy's start, inside
    what the client's lines allow."""
    import csv

    from loganalyzer import analyze
    from tests.conftest import SAMPLES

    cell = SAMPLES / "matrix" / "requests-json-ecs-lab"
    r = analyze(cell / "logs").requests
    slow = r[r["status_client"] == 504].sort_values("ts")
    assert len(slow) == 3 and (slow["link"] == "time+method+path+status").all()
    with open(cell / "truth.csv", newline="", encoding="utf-8") as fh:
        sent = sorted(datetime.fromisoformat(t["sent_utc"]) for t in csv.DictReader(fh) if t["client_status"] == "504")
    for found, want in zip(slow["ts"], sent, strict=True):
        assert abs((found.to_pydatetime() - want).total_seconds()) < 0.6
    assert slow["logical_id"].nunique() == 1
