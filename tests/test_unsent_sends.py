"""Attempts whose sending no line tells of: urllib3 on a kept-alive connection writes its line
when the answer is back, and nginx's ``combined`` format has no ``$request_time``.

Then nothing times the request: it went out after the lane's line before (the application's
"Creating ticket", urllib3's "Retry: /api/tickets"), and a sequential client sends right after
that line. The fixture is a slice of a lab run (requests + urllib3 Retry, nginx ``combined``)
where the CRM's database was slow: three POSTs, each answered 504 by nginx after 2 s; the
client's times are converted to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from loganalyzer import analyze
from tests.conftest import DATA

LOGS = DATA / "unsent_sends"
#: When the lab's client sent the three attempts (its truth.csv).
SENT = [datetime(2026, 12, 1, 20, 44, 14, 528447, tzinfo=UTC), datetime(2026, 12, 1, 20, 44, 16, 531881, tzinfo=UTC),
        datetime(2026, 12, 1, 20, 44, 18, 636000, tzinfo=UTC)]


def test_slow_attempts_start_after_the_line_before_not_at_their_answer():
    r = analyze(LOGS).requests
    slow = r[(r["method"] == "POST") & (r["status_client"] == 504)].sort_values("ts")
    assert len(slow) == 3 and slow["logical_id"].nunique() == 1
    assert (slow["link"] == "time+method+path+status").all()  # each paired with its own access line
    for found, sent in zip(slow["ts"], SENT, strict=True):
        assert abs((found.to_pydatetime() - sent).total_seconds()) < 0.05
    # The answer's time is kept where it belongs.
    assert (slow["client_done"] - slow["ts"]).dt.total_seconds().between(1.9, 2.1).all()


def test_fast_attempts_keep_their_times():
    r = analyze(LOGS).requests
    fast = r[(r["status_client"] == 200) & r["client_done"].notna()]
    assert len(fast) >= 5
    assert ((fast["client_done"] - fast["ts"]).dt.total_seconds() <= 0.5).all()
