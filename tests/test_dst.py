"""The hour repeated when DST ends, in a zone whose lines carry no offset, is told apart by file order."""

from __future__ import annotations

import loganalyzer


def test_fall_back_hour_reads_in_file_order(write):
    # Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00-02:59 happens twice.
    lines = ["2026-10-25 02:30:00.000  INFO 1 --- [main] c.e.App : first pass",
             "2026-10-25 02:59:59.000  INFO 1 --- [main] c.e.App : first pass, last second",
             "2026-10-25 02:00:01.000  INFO 1 --- [main] c.e.App : second pass",
             "2026-10-25 02:30:00.000  INFO 1 --- [main] c.e.App : second pass again",
             "2026-10-25 03:10:00.000  INFO 1 --- [main] c.e.App : after"]
    logs = loganalyzer.load(write("crm.log", "\n".join(lines) + "\n"), tz={"crm": "Europe/Berlin"},
                            as_={"crm.log": "crm"})
    got = [t.strftime("%H:%M:%S") for t in logs["crm"]["ts"]]
    assert got == ["00:30:00", "00:59:59", "01:00:01", "01:30:00", "02:10:00"]


def test_a_summer_log_is_unchanged(write):
    lines = ["2026-07-01 02:30:00.000  INFO 1 --- [main] c.e.App : a", "2026-07-01 02:10:00.000  INFO 1 --- [main] c.e.App : b"]
    logs = loganalyzer.load(write("crm.log", "\n".join(lines) + "\n"), tz={"crm": "Europe/Berlin"},
                            as_={"crm.log": "crm"})
    assert [t.strftime("%H:%M") for t in logs["crm"]["ts"]] == ["00:30", "00:10"]
