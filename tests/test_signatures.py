"""Signatures name failures no rule explains: masked message, exception class and application frame."""

from __future__ import annotations

import math

import polars as pl

import loganalyzer
from loganalyzer import diagnose, signatures
from loganalyzer.analysis import analyze_logs
from loganalyzer.ingest import load

from .conftest import DATA, SAMPLES

MIXED = SAMPLES / "mixed-faults" / "logs"


def _one(expr: pl.Expr, **columns) -> str | None:
    return pl.DataFrame({k: [v] for k, v in columns.items()}, schema={k: pl.String for k in columns}) \
        .select(expr.alias("x"))["x"][0]


def test_mask_replaces_variable_parts_with_placeholders():
    text = ("Order 4711 not found for tenant 5f1d0c9e2a7b4c3d (id 123e4567-e89b-12d3-a456-426614174000) "
            "reading /var/lib/crm/orders.json from http://10.1.2.3:8080/api/orders?id=9 took 250ms, "
            "key 'acme-eu' value \"x-17\" at 0x7ffd1a2b from 10.0.0.12:5432 in HikariPool-1")
    masked = _one(signatures.mask(pl.col("m")), m=text)
    assert masked == ("Order <n> not found for tenant <hex> (id <uuid>) reading <path> from <url> took <n>ms, "
                      "key '<q>' value \"<q>\" at <hex> from <ip> in HikariPool-<n>")
    # Words and class names keep their digits: only values are variable.
    assert _one(signatures.mask(pl.col("m")), m="Http11NioProtocol utf8 sha256") == "Http11NioProtocol utf8 sha256"


def test_two_occurrences_of_one_error_share_a_signature_and_id():
    a = "HikariPool-1 - Connection is not available, request timed out after 250ms."
    b = "HikariPool-2 - Connection is not available, request timed out after 30004ms."
    df = pl.DataFrame({"cls": ["java.sql.SQLTransientConnectionException"] * 2, "msg": [a, b]})
    sig = df.select(signatures.signature("cls", "msg", None).alias("s"))["s"]
    assert sig[0] == sig[1] == ("java.sql.SQLTransientConnectionException: HikariPool-<n> - Connection is not "
                                "available, request timed out after <n>ms.")
    ids = signatures.signature_id(sig)
    assert ids[0] == ids[1] and ids[0].startswith("signature:") and len(ids[0]) == len("signature:") + 8
    other = signatures.signature_id(pl.Series(["java.lang.IllegalStateException: closed"]))[0]
    assert other != ids[0]


def test_first_application_frame_of_a_real_java_trace():
    """The NPE the lab's CRM throws: the first frame outside java./javax./org.springframework. etc."""
    crm = load([MIXED / "crm.log"]).polars["crm"]
    npe = crm.filter(pl.col("root_cause") == "java.lang.NullPointerException").head(1)
    stack = npe["stack_trace"][0]
    assert "\tat javax.servlet" in stack or "\tat org." in stack  # library frames are there to skip
    row = npe.select(signatures.signature("root_cause", "root_cause_message", "stack_trace").alias("s"))
    assert row["s"][0] == ('java.lang.NullPointerException: Cannot invoke "<q>" because the return value of "<q>" '
                           'is null @ com.example.crm.web.CustomerView.normaliseRegion')
    # A trace whose top frames are all library code (Jackson) is located where the application called it.
    jackson = crm.filter(pl.col("root_cause").str.contains("JsonParseException")).head(1)
    frame = jackson.select(signatures.first_app_frame("stack_trace").alias("f"))["f"][0]
    assert frame.startswith("com.example.crm.") and not frame.startswith("com.fasterxml")


def test_python_trace_is_located_at_its_last_frame():
    text = (DATA / "lnav" / "python-example.0").read_text()
    trace = text[text.index("Traceback"):text.index("ZeroDivisionError")]
    sig = _one(signatures.signature(pl.lit("ZeroDivisionError"), pl.lit("division by zero"), pl.col("st")), st=trace)
    assert sig == "ZeroDivisionError: division by zero @ log_example.py:main"


def test_unnamed_failures_get_signatures_with_explanations():
    """With no rules at all every failed attempt is still named, counted and explained."""
    rules = diagnose.load_rules()
    rules.rules = []
    a = analyze_logs(load([MIXED]), rules)
    failed = a.requests[a.requests["verdict"] != "ok"]
    assert len(failed) == 141
    assert failed["root_cause"].str.startswith("signature:").all()
    assert failed["root_cause_detail"].notna().all() and "unknown" not in set(a.requests["root_cause"])
    # The 26 refused connections share one nginx signature, with nginx's words masked.
    refused = failed[failed["root_cause_detail"].str.contains("Connection refused", regex=False)]
    assert len(refused) == 26 and refused["root_cause"].nunique() == 1
    assert "connect() failed (<n>: Connection refused) while connecting to upstream" in refused[
        "root_cause_detail"].iloc[0]
    causes = a.causes()
    assert not causes["explanation"].isna().any() and (causes["explanation"].str.len() > 20).all()
    for c in a.summary["causes"]:
        assert isinstance(c["explanation"], str) and c["explanation"] and not (
            isinstance(c["explanation"], float) and math.isnan(c["explanation"]))
    # Every unnamed failure cites the line its signature came from, when it has one.
    cited = set(a.evidence[a.evidence["role"] == "cause"]["attempt_id"])
    assert set(refused["attempt_id"]) <= cited


def test_a_rule_adopts_a_signature_by_name(tmp_path):
    rules = diagnose.load_rules()
    rules.rules = []
    first = analyze_logs(load([MIXED]), rules)
    npe = first.requests[first.requests["root_cause_detail"].str.contains("NullPointerException", na=False)]
    sig = npe["root_cause"].iloc[0]
    ours = tmp_path / "ours.toml"
    ours.write_text(f'''
[[rule]]
name = "region_missing"
cause = "customer_without_region"
signature = "{sig.removeprefix("signature:")}"
explain = "Customers created before regions existed have none; the view trims it."
advice = "Backfill regions or make CustomerView.normaliseRegion null-safe."
''')
    # Adoption names what no other rule names: keep only the adopting rule to see it at work.
    with_ours = diagnose.load_rules([ours])
    with_ours.rules = [r for r in with_ours.rules if r.signature]
    b = analyze_logs(load([MIXED]), with_ours)
    adopted = b.requests[b.requests["root_cause"] == "customer_without_region"]
    assert len(adopted) == len(npe) > 0 and set(adopted["rule"]) == {"region_missing"}
    card = b.causes().set_index("root_cause").loc["customer_without_region"]
    assert card["advice"].startswith("Backfill regions")
    assert not b.requests["root_cause"].isin([sig]).any()
    # With the built-in rules as well, a rule's own conditions still come first.
    a = loganalyzer.analyze([MIXED], rules=[ours])
    assert (a.requests["root_cause"] == "unhandled_exception").sum() == 18
