"""Root-cause rules are data: the built-in file, user files that add or replace rules, their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import loganalyzer
from loganalyzer import diagnose

from .conftest import DATA, SAMPLES

MIXED = SAMPLES / "mixed-faults" / "logs"


def test_builtin_rules_cover_the_cause_vocabulary():
    rules = diagnose.load_rules()
    causes = {r.cause for r in rules.rules}
    assert {"json_malformed", "token_expired", "validation_failed", "wrong_path", "upstream_down",
            "upstream_timeout", "body_too_large", "db_pool_exhausted", "unhandled_exception", "out_of_memory",
            "client_timeout", "client_connect_failed"} <= causes
    assert all(r.explain and r.advice for r in rules.rules)
    assert {c for c, _, _ in rules.nginx_messages} >= {"upstream_crash", "upstream_unreachable", "upstream_timeout"}
    # Each class says which verdict it implies; the vocabulary lives with the diagnosis, not the parsers.
    assert {m.name: m.verdict for m in rules.message_classes}["upstream_crash"] == "upstream_crash"
    assert all(r.origin == "built-in default.toml" for r in rules.rules)
    assert (Path(diagnose.__file__).parent / "rules" / "default.toml").is_file()
    assert not (Path(diagnose.__file__).parent.parent / "parsers" / "rules").exists()


def test_nginx_catalog_messages_are_classified_with_their_status():
    """Every upstream message in nginx's own catalogue maps to the status the catalogue gives."""
    import polars as pl

    rules = diagnose.load_rules()
    rows = []
    for line in (DATA / "catalog" / "nginx_error_messages.txt").read_text().splitlines():
        if line.startswith("#") or "|" not in line:
            continue
        message, level, status, *_ = (p.strip() for p in line.split("|"))
        if status.isdigit():
            rows.append((message.replace("%V", "unix:/run/app.sock").replace("%d", "111").replace("%s", "x"),
                         int(status)))
    df = pl.DataFrame(rows, schema=["message", "status"], orient="row").with_columns(
        diagnose.nginx_class(pl.col("message"), rules).alias("cls"))
    by_class = {c: s for c, _, s in rules.nginx_messages}
    classified = df.filter(pl.col("cls").is_not_null())
    assert classified.height >= 12
    for message, status, cls in classified.iter_rows():
        assert by_class[cls] == status, (message, cls)
    assert df.filter(pl.col("message").str.contains("prematurely closed connection while reading response"))[
        "cls"].to_list() == ["upstream_crash"]


def test_user_rule_refines_a_cause(tmp_path):
    rules = tmp_path / "ours.toml"
    rules.write_text('''
[[rule]]
name = "stale_token_cache"
cause = "token_expired"
detail = "stale_cache"
priority = 85
verdicts = ["upstream_rejected"]
explain = "vac cached a token past its expiry."
advice = "Expire vac's token cache five minutes before the token does."
when = [{ source = "crm", text = "Jwt expired" }, { source = "nginx_access", status = [401] }]
''')
    a = loganalyzer.analyze([MIXED], rules=[rules])
    expired = a.requests[a.requests["root_cause"] == "token_expired"]
    assert len(expired) == 12 and set(expired["root_cause_detail"]) == {"stale_cache"}
    assert set(expired["rule"]) == {"stale_token_cache"}
    card = a.causes().set_index("root_cause").loc["token_expired"]
    assert card["advice"].startswith("Expire vac's token cache")


def test_user_rule_replaces_a_builtin_by_name(tmp_path):
    rules = tmp_path / "ours.toml"
    rules.write_text('''
[[rule]]
name = "body_too_large"
cause = "attachment_too_big"
priority = 95
verdicts = ["proxy"]
explain = "Attachments over 16 KiB are refused by the gateway."
advice = "Upload attachments to the file service and send a link."
when = [{ source = "nginx_access", status = [413] }]
''')
    a = loganalyzer.analyze([MIXED], rules=[rules])
    assert "body_too_large" not in set(a.requests["root_cause"])
    assert (a.requests["root_cause"] == "attachment_too_big").sum() == 4


@pytest.mark.parametrize("body, message", [
    ('[[rule]]\ncause = "x"\n', "'cause' and 'when' are required"),
    ('[[rule]]\ncause = "x"\nwhen = [{ source = "db" }]\n', "source = one of"),
    ('[[rule]]\ncause = "x"\nwhen = [{ source = "crm", text = "(" }]\n', "bad text regex"),
    ('[[rule]]\ncause = "x"\nverdicts = ["broken"]\nwhen = [{ source = "crm" }]\n', "unknown verdict 'broken'"),
    ('[[rule]]\ncause = "x"\nwhen = [{ source = "crm", txt = "a" }]\n', "unknown condition key(s) txt"),
    ('[[rule]]\ncause = "x"\nsignature = "ab12cd34"\nwhen = [{ source = "crm" }]\n', "either 'when' or 'signature'"),
    ('[[verdict]]\nname = "y"\nanswered = "the gateway"\n', "answered must be one of"),
    ('[[nginx_message]]\nclass = "z"\npattern = "x"\nverdict = "nope"\n', "unknown verdict 'nope'"),
    ('[[change]]\nlabel = "deploy"\nsource = "crm"\npattern = "("\n', "bad pattern regex"),
])
def test_bad_rules_are_one_line_errors(tmp_path, body, message):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(loganalyzer.UsageError) as exc:
        loganalyzer.analyze([MIXED], rules=[f])
    assert message in str(exc.value) and str(f) in str(exc.value) and "\n" not in str(exc.value)


def test_user_verdict_gloss_replaces_the_builtin(tmp_path):
    f = tmp_path / "ours.toml"
    f.write_text('[[verdict]]\nname = "proxy"\ngloss = "the gateway answered"\ncolour = "#123456"\n'
                 'answered = "proxy"\nplace = "at the gateway"\n')
    rules = diagnose.load_rules([f])
    assert rules.verdicts["proxy"].gloss == "the gateway answered" and rules.verdicts["proxy"].colour == "#123456"
    assert len(rules.verdicts) == len(diagnose.load_rules().verdicts)


def test_a_rule_regex_the_engine_cannot_run_is_refused_at_load(tmp_path):
    from loganalyzer import diagnose

    f = tmp_path / "r.toml"
    f.write_text("[[rule]]\ncause = 'x'\nwhen = [{ source = 'crm', text = '(?<=foo)bar' }]\n")
    with pytest.raises(diagnose.RuleError, match="cannot run in the engine: look-around"):
        diagnose.load_rules([f])
