"""A settings file holds zones, encodings, formats and rules; options given directly win."""

from __future__ import annotations

import os
import re

import pytest

import loganalyzer

from .conftest import SAMPLES

TRAILING = SAMPLES / "trailing-comma" / "logs"


def test_settings_file_gives_zones_and_rules(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "ours.toml").write_text(
        '[[rule]]\nname = "json_malformed:trailing_comma"\ncause = "bad_client_json"\ndetail = "trailing_comma"\n'
        'priority = 100\nexplain = "x"\nadvice = "y"\nwhen = [{ source = "crm", text = "code 125" }]\n')
    cfg = tmp_path / "team.toml"
    cfg.write_text('rules = ["rules/ours.toml"]\n[tz]\ncrm = "Asia/Shanghai"\n')
    a = loganalyzer.analyze([TRAILING], config=cfg)
    assert a.sources.set_index("kind").loc["crm", "zone"] == "Asia/Shanghai"
    assert a.sources.set_index("kind").loc["crm", "zone_source"] == f"set in {cfg}"
    assert not next(o for o in a.offsets if o.source == "crm").applied
    assert set(a.requests.loc[a.requests["verdict"] != "ok", "root_cause"]) == {"bad_client_json"}
    # an option given directly wins over the file
    b = loganalyzer.analyze([TRAILING], config=cfg, tz={"crm": "UTC"})
    assert b.sources.set_index("kind").loc["crm", "zone_source"] == "given (--tz)"


def test_loganalyzer_toml_in_the_working_directory_is_read(tmp_path, monkeypatch):
    (tmp_path / "loganalyzer.toml").write_text('[tz]\nvac = "Europe/Berlin"\n')
    monkeypatch.chdir(tmp_path)
    logs = loganalyzer.load([TRAILING / "vac.log"])
    assert logs.stats.iloc[0].zone == "Europe/Berlin"
    assert logs.notes[0] == "settings read from loganalyzer.toml"
    assert os.getcwd() == str(tmp_path)


@pytest.mark.parametrize("body, message", [
    ("colour = 1\n", "unknown setting(s) colour"),
    ("tz = 3\n", "[tz] must be a table"),
    ("formats = 'x.toml'\n", "formats must be a list"),
    ("[tz\n", "not valid TOML"),
])
def test_bad_settings_are_one_line_errors(tmp_path, body, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    with pytest.raises(loganalyzer.UsageError, match=re.escape(message)):
        loganalyzer.load([TRAILING / "vac.log"], config=cfg)
