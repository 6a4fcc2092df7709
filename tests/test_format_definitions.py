"""Formats are data: the built-in TOML files, user files that add or replace formats, and their errors."""

from __future__ import annotations

import pytest
from loganalyzer.parsers import formats

import loganalyzer


def test_every_builtin_definition_compiles_and_names_a_kind():
    defs = formats.builtin_definitions()
    names = {d.name for d in defs}
    assert {"combined", "main", "nginx_error", "spring_boot_2", "spring_boot_3", "json_lines",
            "python_bracket_logger"} <= names
    for d in defs:
        compiled = formats.compile_definition(d)
        assert compiled.kind in formats.FORMAT_KINDS
        assert d.syntax == "json" or any(c.type == "time" for c in compiled.columns.values()), d.name


def test_user_file_adds_several_formats_and_replaces_a_builtin(tmp_path, write):
    f = tmp_path / "mine.toml"
    f.write_text("""
[[format]]
name = "combined"
kind = "nginx_access"
syntax = "nginx"
priority = 99
pattern = '$remote_addr [$time_local] "$request" $status'

[[format]]
name = "gateway"
kind = "nginx_access"
syntax = "regex"
pattern = '^(?P<time>\\S+) (?P<method>[A-Z]+) (?P<path>\\S+) -> (?P<status>\\d{3})$'
time_format = "iso"
""")
    defs = {d.name: d for d in formats.load_definitions([f])}
    assert defs["combined"].origin == str(f) and defs["gateway"].syntax == "regex"
    path = write("gw.log", "2026-11-24T10:15:02.5Z POST /api/tickets -> 502\n")
    logs = loganalyzer.load(path, formats=[f])
    row = logs["nginx_access"].iloc[0]
    assert logs.stats.iloc[0].format == "gateway"
    assert (row["method"], row["path"], row["status"], row["level"]) == ("POST", "/api/tickets", 502, "ERROR")


@pytest.mark.parametrize("body, message", [
    ('name = "x"\nkind = "crm"\n', "'syntax' is required"),
    ('name = "x"\nkind = "crm"\nsyntax = "logback"\n', "'pattern' is required"),
    ('name = "x"\nkind = "crm"\nsyntax = "logback"\npattern = "%d %m"\ncolour = 1\n', "unknown key(s) colour"),
    ('name = "x"\nkind = "crm"\nsyntax = "regex"\npattern = "(?P<time>"\n', "bad regex"),
    ('name = "x" kind', "not valid TOML"),
])
def test_definition_errors_name_the_file_and_the_problem(tmp_path, body, message):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(formats.DefinitionError) as exc:
        [formats.compile_definition(d) for d in formats.load_definitions([f])]
    assert message in str(exc.value) and str(f) in str(exc.value)


def test_a_regex_the_engine_cannot_run_is_refused_when_the_definition_compiles(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("name = 'bad'\nkind = 'app'\nsyntax = 'regex'\npattern = '^(?P<time>\\\\S+) (?P<message>(?!x).*)$'\n")
    d = formats.load_definitions([f])
    bad = next(x for x in d if x.name == "bad")
    with pytest.raises(formats.DefinitionError, match="cannot run in the engine: look-around"):
        formats.compile_definition(bad)
