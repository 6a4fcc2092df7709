"""Any subset of the four logs gives a correct, if thinner, analysis, and every output is written.

Users rarely have all four logs: the CRM team has its own, the proxy team theirs. Each of the 15
non-empty subsets of (client, access, error, upstream) is analysed for every bundled sample, and the
JSON export, the HTML report and the Markdown postmortem are produced from it.
"""

from __future__ import annotations

import itertools
import json

import pytest

from loganalyzer import analyze, reports
from tests.conftest import SAMPLES

LOGS = ("vac.log", "access.log", "error.log", "crm.log")
SUBSETS = [c for n in range(1, 5) for c in itertools.combinations(LOGS, n)]
SCENARIOS = ("trailing-comma", "mixed-faults", "healthy")


def _run(scenario: str, subset: tuple[str, ...], tmp_path):
    a = analyze([SAMPLES / scenario / "logs" / f for f in subset])
    data = json.loads(json.dumps(a.to_dict(), default=str))  # the export is plain JSON
    reports.write_html(data, tmp_path / "r.html")
    reports.write_markdown(data, tmp_path / "p.md")
    return a, data


@pytest.mark.parametrize("subset", SUBSETS, ids=["+".join(f.split(".")[0] for f in s) for s in SUBSETS])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_subset_analyses_and_writes_every_output(scenario, subset, tmp_path):
    a, data = _run(scenario, subset, tmp_path)
    assert (tmp_path / "r.html").stat().st_size > 0 and (tmp_path / "p.md").stat().st_size > 0
    s = data["summary"]
    tells_of_requests = {"vac.log", "access.log", "crm.log"} & set(subset) or \
        (subset == ("error.log",) and scenario != "healthy")
    if tells_of_requests:
        assert s["attempts"] > 0, subset
    for cause in data["causes"]:
        assert cause["explanation"] not in (None, "nan", ""), cause
    if scenario == "healthy":
        assert s["failed_attempts"] == 0, (subset, s.get("by_verdict"))
    elif {"vac.log", "access.log"} & set(subset):
        assert s["failed_attempts"] > 0


@pytest.mark.parametrize("subset", [("vac.log",), ("access.log",), ("vac.log", "access.log")])
def test_thin_subsets_agree_with_the_full_analysis_on_which_attempts_failed(subset, tmp_path):
    full = analyze(SAMPLES / "trailing-comma" / "logs")
    a, _ = _run("trailing-comma", subset, tmp_path)
    # A client log cannot show attempts other clients made; the failures it can see are all there.
    assert len(a.requests) <= len(full.requests)
    assert (a.requests["verdict"] != "ok").sum() == (full.requests["verdict"] != "ok").sum()
