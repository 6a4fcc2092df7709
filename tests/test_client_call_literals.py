"""The literals of the client-call wordings: a prefilter that never skips a line its pattern matches.

``client_calls`` runs a rule's pattern only on the lines holding one of its literals. A wrong
literal would silently lose calls, so the promise is checked on lines generated from each pattern
(Python's ``re`` generates, the regex engine polars runs decides whether the line matches), and the
first-match index is checked against running every pattern on every line.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from loganalyzer.calls import RULES_PATH, RulesError, _rule_index, client_calls, load_rules

ROOT = Path(__file__).resolve().parents[1]
RAW = {r["name"]: r["pattern"] for r in tomllib.loads(RULES_PATH.read_text(encoding="utf-8"))["rule"]}
RULES = load_rules()


def test_every_packaged_rule_has_literals():
    # A rule without literals runs on every line of every client log: the packaged ones all have some.
    assert all(r.prefilter for r in RULES.rules)
    assert RULES.prefilter


@pytest.mark.parametrize("rule", RULES.rules, ids=[r.name for r in RULES.rules])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_a_line_the_pattern_matches_holds_a_literal(rule, data):
    line = data.draw(st.from_regex(RAW[rule.name], fullmatch=False).filter(lambda s: "\x00" not in s))
    s = pl.Series([line])
    # Python's and the engine's regex dialects differ at the edges (Unicode case folding):
    # only lines the engine matches say anything.
    assume(s.str.contains(rule.pattern).item())
    assert s.str.contains(rule.prefilter).item(), line
    assert s.str.contains(RULES.prefilter).item(), line


def _sample_lines() -> list[str]:
    lines = []
    for path in sorted((ROOT / "samples").rglob("logs/vac*")) + sorted((ROOT / "tests" / "data").rglob("*.txt")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines


def test_first_rule_index_is_what_every_pattern_on_every_line_says():
    text = pl.Series(_sample_lines() + [
        "GET http://crm:8080/api/tickets -> 503; retrying in 0.5 s",
        "Giving up on POST http://crm:8080/api/tickets after 3 attempts: 502",
        "connect ECONNREFUSED 127.0.0.1:8080", "RETRY attempt 2", "backing off 200 ms", None])
    assert text.len() > 1000
    slow = pl.lit(None, pl.Int32)
    for i in reversed(range(len(RULES.rules))):
        slow = pl.when(pl.col("t").str.contains(RULES.rules[i].pattern)).then(pl.lit(i, pl.Int32)).otherwise(slow)
    expected = pl.DataFrame({"t": text}).select(slow)[:, 0]
    got = _rule_index(text, RULES)
    assert got.dtype == pl.Int32
    assert got.to_list() == expected.to_list()
    assert got.drop_nulls().n_unique() >= 3  # the corpus exercises several rules


def test_a_rule_without_literals_runs_on_every_line(tmp_path):
    path = tmp_path / "calls.toml"
    path.write_text('[[rule]]\nname = "mine"\npattern = "^CALL (?P<method>[A-Z]+) (?P<url>\\\\S+)"\n'
                    'phase = "send"\n', encoding="utf-8")
    calls = client_calls(pl.DataFrame({"ts": [None, None], "message": ["CALL GET /a", "nothing"]},
                                      schema_overrides={"ts": pl.Datetime("ns", "UTC")}), rules=path)
    assert calls.select("method", "path", "rule").rows() == [("GET", "/a", "mine")]


def test_literals_must_be_strings(tmp_path):
    path = tmp_path / "calls.toml"
    path.write_text('[[rule]]\nname = "mine"\npattern = "x"\nphase = "send"\nliterals = []\n', encoding="utf-8")
    with pytest.raises(RulesError, match="literals"):
        load_rules(path)
