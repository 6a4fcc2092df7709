"""`loganalyzer formats`: list, suggest (layout inference) and check; and the inference fallback of a load."""

from __future__ import annotations

from click.testing import CliRunner

import loganalyzer
from loganalyzer.cli import cli
from tests.conftest import DATA


def test_a_file_no_definition_reads_is_read_with_an_inferred_layout_and_said_so():
    logs = loganalyzer.load(DATA / "lnav" / "logfile_java.0")
    row = logs.stats.iloc[0]
    assert row["format"] == "inferred" and row["parsed"] + row["continuation"] == row["lines"]
    assert any("layout inferred from its lines" in n for n in logs.notes)


def test_suggest_writes_a_definition_that_check_accepts_and_that_reads_the_file(tmp_path):
    r = CliRunner().invoke(cli, ["formats", "suggest", str(DATA / "lnav" / "logfile_java.0")])
    assert r.exit_code == 0 and "syntax = 'regex'" in r.output
    toml = tmp_path / "java.toml"
    toml.write_text(r.output)
    checked = CliRunner().invoke(cli, ["formats", "check", str(toml)])
    assert checked.exit_code == 0, checked.output
    logs = loganalyzer.load(DATA / "lnav" / "logfile_java.0", formats=[toml])
    assert logs.stats.iloc[0]["format"] == "logfile_java"


def test_check_reports_a_sample_that_does_not_parse(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nkind = "app"\nsyntax = "python"\npattern = "%(asctime)s %(levelname)s %(message)s"\n'
                   'samples = [{ line = "nonsense" }]\n')
    r = CliRunner().invoke(cli, ["formats", "check", str(bad)])
    assert r.exit_code != 0


def test_list_names_the_built_in_formats():
    r = CliRunner().invoke(cli, ["formats", "list"])
    assert r.exit_code == 0 and "spring_boot_3" in r.output and "combined" in r.output
