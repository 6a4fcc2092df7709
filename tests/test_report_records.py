"""Reports rendered right after an analysis read its requests as JSON text decoded on demand
(``reports.renderable``): the pages must equal those rendered from the decoded export."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from loganalyzer.reports import model

import loganalyzer
from loganalyzer import reports
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def analyses():
    return {s: loganalyzer.analyze([SAMPLES / s / "logs"]) for s in ("healthy", "mixed-faults", "trailing-comma")}


@pytest.mark.parametrize("sample", ["healthy", "mixed-faults", "trailing-comma"])
def test_pages_from_the_records_equal_pages_from_the_decoded_export(analyses, sample, tmp_path):
    a = analyses[sample]
    lazy = reports.renderable(a)
    assert isinstance(lazy["requests"], model.Records)
    whole = reports.export(a)
    assert list(lazy) == list(whole)  # the same keys, in the order the JSON export writes them
    assert reports.render_html(reports.renderable(a)) == reports.render_html(whole)
    assert reports.render_markdown(reports.renderable(a)) == reports.render_markdown(whole)
    saved = tmp_path / "a.json"
    a.write_json(saved)
    assert reports.render_html(reports.renderable(a)) == reports.render_html(reports.read_json(saved))


def test_the_table_read_from_the_frame_equals_the_table_read_from_the_records(analyses):
    a = analyses["mixed-faults"]
    records = reports.renderable(a)["requests"]
    fast = model.requests_frame(records)
    decoded = [json.loads(json.dumps(r)) for r in records]  # reads every record: the next call decodes
    assert not records.untouched
    assert fast.equals(model.requests_frame(decoded))
    assert fast.equals(model.requests_frame(records))


def test_records_behave_as_a_read_only_list_and_keep_what_was_changed(analyses):
    records = reports.renderable(analyses["trailing-comma"])["requests"]
    plain = reports.export(analyses["trailing-comma"])["requests"]
    assert len(records) == len(plain) > 10
    assert records[0] == plain[0] and records[-1] == plain[-1] and records[2:5] == plain[2:5]
    with pytest.raises(IndexError):
        records[len(plain)]
    records[3]["path"] = "/changed"
    assert records[3]["path"] == "/changed"  # kept once read, so a change is rendered
    assert [r["attempt_id"] for r in records] == [r["attempt_id"] for r in plain]


def test_a_changed_record_is_rendered_as_changed(analyses):
    data = reports.renderable(analyses["trailing-comma"])
    failed = next(i for i, r in enumerate(data["requests"]) if r["verdict"] != "ok")
    data["requests"][failed]["root_cause"] = "planted_cause_name"
    assert "planted_cause_name" in reports.render_html(data)


def test_non_finite_numbers_are_null_as_in_the_json_export():
    frame = pl.DataFrame({"x": [float("nan"), float("inf"), 1.5, None]})
    written = [json.loads(line) for line in frame.write_ndjson().splitlines()]
    assert [r["x"] for r in written] == [None, None, 1.5, None]
    col = frame["x"]
    assert pl.select(pl.when(col.is_finite()).then(col)).to_series().to_list() == [None, None, 1.5, None]


def test_logs_with_invisible_characters_give_plain_records_for_the_escaping_walk(tmp_path):
    logs = tmp_path / "logs"
    shutil.copytree(SAMPLES / "trailing-comma" / "logs", logs)
    vac = logs / "vac.log"
    lines = vac.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "status=500" in line or "error" in line.lower())
    lines[at] = lines[at].rstrip("\n") + " \x1b]0;owned\x07\n"
    vac.write_text("".join(lines))
    a = loganalyzer.analyze([logs])
    data = reports.renderable(a)
    assert data.invisible and isinstance(data["requests"], list)
    page = reports.render_html(data)
    assert "\x1b" not in page and "\x07" not in page
    assert page == reports.render_html(reports.export(a))

