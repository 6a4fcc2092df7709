"""A clock skew between the upstream and the proxy, from a second to ten minutes either way, costs no cause."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta

import pytest

from loganalyzer import analyze
from tests.conftest import SAMPLES

_SPRING_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\.\d{3})", re.M)


def _skewed(scenario: str, seconds: float, tmp_path):
    logs = tmp_path / "logs"
    shutil.copytree(SAMPLES / scenario / "logs", logs)

    def shift(m: re.Match) -> str:
        text = m.group(1)
        sep = text[10]
        t = datetime.strptime(text, f"%Y-%m-%d{sep}%H:%M:%S.%f") + timedelta(seconds=seconds)
        return t.strftime(f"%Y-%m-%d{sep}%H:%M:%S.%f")[:-3]

    crm = logs / "crm.log"
    crm.write_text(_SPRING_TIME.sub(shift, crm.read_text()))
    return analyze(logs)


@pytest.fixture(scope="module")
def baseline():
    return {s: analyze(SAMPLES / s / "logs").requests for s in ("trailing-comma", "mixed-faults")}


@pytest.mark.parametrize("seconds", [-600, -30, -3, -1, 1, 3, 30, 600])
@pytest.mark.parametrize("scenario", ["trailing-comma", "mixed-faults"])
def test_causes_survive_a_skew(scenario, seconds, baseline, tmp_path):
    got = _skewed(scenario, seconds, tmp_path)
    want = baseline[scenario]
    assert got.requests["root_cause"].value_counts().to_dict() == want["root_cause"].value_counts().to_dict()
    crm = next(o for o in got.offsets if o.source == "crm")
    assert crm.applied


def test_clock_correction_can_be_turned_off_and_the_offset_is_still_reported():
    a = analyze(SAMPLES / "trailing-comma" / "logs", clock_correction=False)
    crm = next(o for o in a.offsets if o.source == "crm")
    assert not crm.applied and crm.seconds == 8 * 3600 and "not applied" in crm.describe()
    # Eight hours apart, the upstream's crash lines meet no attempt: the cause is not found.
    assert (a.requests["root_cause"] == "json_malformed").sum() == 0
