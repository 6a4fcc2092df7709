"""Every built-in format reads the real sample lines it carries, with the values it promises."""

from __future__ import annotations

import pytest
from loganalyzer.parsers import formats
from loganalyzer.parsers.samples import check_samples

BUILTINS = formats.builtin_definitions()


@pytest.mark.parametrize("definition", BUILTINS, ids=[d.name for d in BUILTINS])
def test_builtin_samples_parse_as_promised(definition):
    assert check_samples(formats.compile_definition(definition)) == []


def test_a_sample_that_does_not_parse_is_reported():
    d = formats.parse_toml('''
name = "t"
kind = "app"
syntax = "python"
pattern = "%(asctime)s %(levelname)s %(message)s"
samples = [{ line = "not a log line", expect = { level = "INFO" } },
           { line = "2026-11-26 09:14:46,070 INFO hello", expect = { level = "WARN", message = "hello" } }]
''', "t.toml")[0]
    problems = check_samples(formats.compile_definition(d))
    assert len(problems) == 2
    assert "rejected" in problems[0] and "level is 'INFO', expected 'WARN'" in problems[1]
