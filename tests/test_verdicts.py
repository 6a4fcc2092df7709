"""Who answered: each reading of the evidence on small hand-made attempts."""

from __future__ import annotations

import polars as pl
import pytest

from loganalyzer import diagnose

ACCESS = "access.log"
ALL = {"vac", "nginx_access", "nginx_error", "crm"}


def attempt(p_status=None, upstream=None, client_status=None, client_error=None, at_proxy=True) -> dict:
    return {"p_row": 0 if at_proxy else None, "p_status_proxy": p_status, "p_status_upstream": upstream,
            "c_status_client": client_status, "c_client_error": client_error}


def judge(rows: list[dict], lines: list[dict] = (), have: set[str] = ALL, logged: set[str] = frozenset({ACCESS}),
          rules: diagnose.RuleSet | None = None) -> pl.DataFrame:
    """Verdicts of ``rows`` (one attempt each); ``lines``: extra evidence lines (attempt index, kind, text)."""
    rules = rules or diagnose.load_rules()
    attempts = pl.DataFrame(rows, schema={"p_row": pl.UInt32, "p_status_proxy": pl.Int64,
                                          "p_status_upstream": pl.Int64, "c_status_client": pl.Int64,
                                          "c_client_error": pl.String}).with_row_index("attempt_id")
    ev = [{"attempt_id": i, "kind": "nginx_access", "file": ACCESS, "text": None, "level": None}
          for i, r in enumerate(rows) if r["p_row"] is not None]
    ev += [{"attempt_id": x["attempt"], "kind": x["kind"], "file": f"{x['kind']}.log", "text": x["text"],
            "level": x.get("level", "ERROR")} for x in lines]
    ev = pl.DataFrame(ev, schema={"attempt_id": pl.UInt32, "kind": pl.String, "file": pl.String, "text": pl.String,
                                  "level": pl.String})
    ev = ev.with_columns(pl.when(pl.col("kind") == "nginx_error").then(diagnose.nginx_class(pl.col("text"), rules))
                         .alias("nginx_class"))
    return diagnose.verdicts(attempts, ev, have, set(logged), rules)


def one(**kw) -> dict:
    lines = kw.pop("lines", [])
    opts = {k: kw.pop(k) for k in ("have", "logged", "rules") if k in kw}
    return judge([attempt(**kw)], lines, **opts).row(0, named=True)


def test_502_without_an_error_line_is_the_proxys_own_answer_on_thin_evidence():
    # nginx writes $upstream_status 502 itself when it cannot connect: equal statuses prove nothing here.
    v = one(p_status=502, upstream=502)
    assert (v["verdict"], v["answered_by"], v["verdict_evidence"]) == ("proxy", "proxy", "thin")
    assert "thin evidence" in v["verdict_reason"] and "upstream answered" not in v["verdict_reason"]
    # The same without the error log loaded at all, and for a 504.
    assert one(p_status=502, upstream=None, logged=set(), have={"nginx_access"})["verdict_evidence"] == "thin"
    assert one(p_status=504, upstream=504)["verdict"] == "proxy"


def test_502_with_the_error_line_says_what_happened():
    crash = one(p_status=502, upstream=502, lines=[{
        "attempt": 0, "kind": "nginx_error",
        "text": "upstream prematurely closed connection while reading response header from upstream, "
                "client: 127.0.0.1, server: _, request: \"POST /api/tickets HTTP/1.1\""}])
    assert (crash["verdict"], crash["verdict_evidence"], crash["answered_by"]) == ("upstream_crash", "strong", "proxy")
    assert crash["verdict_reason"] == ("nginx: upstream prematurely closed connection while reading response header "
                                       "from upstream")
    refused = one(p_status=502, upstream=502, lines=[{
        "attempt": 0, "kind": "nginx_error",
        "text": "connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1"}])
    assert (refused["verdict"], refused["verdict_evidence"]) == ("proxy", "strong")


def test_499_is_the_client_hanging_up_on_a_slow_upstream():
    v = one(p_status=499, upstream=None, client_error="timeout")
    assert (v["verdict"], v["answered_by"], v["verdict_evidence"]) == ("proxy", "none", "strong")
    assert "client hung up" in v["verdict_reason"] and "slower than the client's timeout" in v["verdict_reason"]


@pytest.mark.parametrize("status, verdict", [(500, "upstream_error"), (503, "upstream_error"),
                                             (404, "upstream_rejected"), (401, "upstream_rejected")])
def test_a_status_the_upstream_sent_is_the_upstreams_answer(status, verdict):
    v = one(p_status=status, upstream=status)
    assert (v["verdict"], v["answered_by"], v["verdict_evidence"]) == (verdict, "upstream", "strong")
    assert v["verdict_reason"] == f"the upstream answered {status}"


def test_without_upstream_status_the_upstreams_own_lines_decide_the_strength():
    bare = one(p_status=500, upstream=None, logged=set())
    assert (bare["verdict"], bare["verdict_evidence"]) == ("upstream_error", "thin")
    seen = one(p_status=500, upstream=None, logged=set(), lines=[{"attempt": 0, "kind": "crm", "text": "boom"}])
    assert (seen["verdict"], seen["verdict_evidence"]) == ("upstream_error", "strong")


def test_an_empty_upstream_status_means_nginx_answered_alone():
    v = one(p_status=503, upstream=None)
    assert (v["verdict"], v["answered_by"], v["verdict_evidence"]) == ("proxy", "proxy", "strong")


def test_a_client_connection_error_with_no_proxy_line_is_the_clients():
    v = one(at_proxy=False, client_error="ConnectionRefusedError")
    assert (v["verdict"], v["answered_by"], v["verdict_evidence"]) == ("client", "client", "strong")
    # The error's meaning decides even without a proxy log to confirm it.
    assert one(at_proxy=False, client_error="NewConnectionError", have={"vac"})["verdict"] == "client"
    # A read timeout does not say where the request died: without a proxy log nobody can tell.
    unseen = one(at_proxy=False, client_error="timeout", have={"vac"})
    assert (unseen["verdict"], unseen["answered_by"], unseen["verdict_evidence"]) == ("unknown", "none", "thin")


def test_ok_is_ok():
    v = one(p_status=200, upstream=200)
    assert (v["verdict"], v["verdict_evidence"]) == ("ok", "strong")


def test_a_user_class_changes_a_verdict_through_data_alone(tmp_path):
    ours = tmp_path / "ours.toml"
    ours.write_text('''
[[nginx_message]]
class = "sidecar_reset"
verdict = "upstream_crash"
pattern = 'recv\\(\\) failed \\(104: Connection reset by peer\\) while reading upstream'
status = 502

[[proxy_status]]
status = [429]
verdict = "proxy"
evidence = "strong"
gloss = "the gateway's own rate limit"
''')
    rules = diagnose.load_rules([ours])
    line = [{"attempt": 0, "kind": "nginx_error",
             "text": "recv() failed (104: Connection reset by peer) while reading upstream, client: 10.0.0.1"}]
    assert one(p_status=502, upstream=502, lines=line)["verdict"] == "proxy"  # built-in rules: no class, thin
    v = one(p_status=502, upstream=502, lines=line, rules=rules)
    assert (v["verdict"], v["verdict_evidence"]) == ("upstream_crash", "strong")
    limited = one(p_status=429, upstream=None, logged=set(), rules=rules)
    assert (limited["verdict"], limited["verdict_reason"]) == ("proxy", "the proxy answered 429 itself: the "
                                                                        "gateway's own rate limit")


def test_unknown_verdict_names_in_data_are_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[nginx_message]]\nclass = "x"\nverdict = "upstream_exploded"\npattern = "x"\n')
    with pytest.raises(diagnose.RuleError, match="unknown verdict 'upstream_exploded'"):
        diagnose.load_rules([bad])


def test_the_verdict_vocabulary_is_data():
    rules = diagnose.load_rules()
    vocab = diagnose.vocabulary(rules)
    names = [v["name"] for v in vocab["verdicts"]]
    assert {"ok", "client", "proxy", "upstream_crash", "upstream_error", "upstream_rejected"} <= set(names)
    assert all(v["gloss"] and v["colour"].startswith("#") and v["answered"] in diagnose.ANSWERERS
               for v in vocab["verdicts"])
    assert all(m.verdict in rules.verdicts for m in rules.message_classes)
    assert vocab["cause_phrases"]["json_malformed"] == "malformed JSON"
