"""Secrets planted in every source reach no output, unless the user asks for them (--no-redact).

A copy of the ``mixed-faults`` sample gets credentials of every common shape planted where real
systems log them: tokens and passwords in query strings, user info in URLs (a client's base URL, a
referrer, a JDBC URL on a start-up line), Authorization and Cookie headers, API-key headers, JSON
bodies quoted in exception messages, cloud and service keys, a private key block, and lines that
no format reads (rejected samples). Every output is then produced and searched for each secret:
the terminal summary, ``trace``, ``parse`` (and ``parse --out`` in every file type), the JSON
export (to a file and to stdout), NDJSON, ECS, OTLP, the HTML report and the Markdown postmortem,
both right after the analysis and rendered again from the saved export, ``formats suggest``, and
the nightly scan: its printout, JSON, night report, metrics and history database.

With ``--no-redact`` the same outputs must show the secrets: that proves each planted secret
reaches some output (so its absence elsewhere means masking, not a planting that went nowhere),
and that each output was given secrets to mask.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import loganalyzer
from loganalyzer import analysis as analysis_mod
from loganalyzer import ingest, redact
from loganalyzer.cli import cli

from .conftest import SAMPLES

SOURCE = SAMPLES / "mixed-faults"

#: Every planted secret, by what it is. Each value is unique, so a hit can only be a leak.
SECRETS = {
    "JWT in an Authorization header": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwbGFudGVkLXZhYyJ9.cGxhbnRlZC1zaWduYXR1cmU",
    "opaque bearer token": "opaqueBearerPlanted7Q2xLm9",
    "basic auth credentials": base64.b64encode(b"svc:planted-basic-pw").decode(),
    "password in the client base URL": "urlPwClientPlanted",
    "password in a referrer URL": "urlPwRefererPlanted",
    "password in a JDBC URL": "jdbcPwPlanted",
    "Google API key in a query string": "AIzaSyPlantedGoogleKey0123456789abcdEFG",
    "password in a query string": "qsPasswordPlanted",
    "Slack token as access_token": "xoxb-123456789012-PlantedSlackTok",
    "password in a JSON body": "json password with spaces",
    "client_secret in a JSON body": "jsonClientSecretPlanted",
    "Stripe key in a JSON body": "sk_live_PlantedStripeKey51Hxyz",
    "AWS access key id": "AKIAPLANTEDX7EXAMPLE",
    "AWS secret access key": "wJalrXUtnFEMI/K7MDENG/bPxRfiPLANTEDKEY",
    "cookie value": "sessPlantedC00kie",
    "Set-Cookie value": "setCookiePlantedValue",
    "X-Api-Key header": "apiKeyHeaderPlanted",
    "X-Auth-Token header": "authTokenHeaderPlanted",
    "GitHub token": "ghp_PlantedGithubToken0123456789abcdefAB",
    "Spring datasource password": "springDatasourcePwPlanted",
    "private key block": "MIIEpAIBAAKCAQEAplantedPrivateKeyBody",
    "digest response": "6629fae49393a05397450978507c4ef1",
    "escaped JSON password": "escapedJsonPwPlanted",
    "password in a rejected line": "rejectedLinePwPlanted",
    "token in a rejected line": "rejectedLineTokPlanted",
    "password told in prose": "prosePw4Planted",
    "JSON log field: password": "jsonFieldPwPlanted",
    "JSON log field: nested Authorization": "jsonFieldBearerPlanted",
    "JSON log field: apiKey": "jsonFieldApiKeyPlanted",
}
S = list(SECRETS.values())


def _plant_paths(text: str) -> str:
    """Query strings on every request path, the same in every log so that requests still pair."""
    text = text.replace("/api/tickets", f"/api/tickets?api_key={S[6]}&password={S[7]}")
    return re.sub(r"(/api/customers/\d+)", rf"\1?access_token={S[8]}", text)


def plant(src: Path, dst: Path) -> None:
    """The sample's four logs with secrets planted; the analysis they give is the sample's."""
    dst.mkdir(parents=True, exist_ok=True)
    s = SECRETS
    out = []
    for line in (src / "vac.log").read_text().splitlines():
        line = _plant_paths(line).replace("crm_base=http://", f"crm_base=http://vac:{s['password in the client base URL']}@")
        if " fail req=" in line:
            line = line.replace(" fail req=", f" fail X-Api-Key: {s['X-Api-Key header']} auth=Bearer "
                                f"{s['JWT in an Authorization header']} cookie={s['cookie value']} req=")
        if "giving up" in line:
            line += f" last_auth=Bearer {s['opaque bearer token']}"
        out.append(line)
    (dst / "vac.log").write_text("\n".join(out) + "\n")

    out = []
    for line in (src / "access.log").read_text().splitlines():
        line = _plant_paths(line).replace('"-" "vac/', f'"https://ops:{s["password in a referrer URL"]}@portal.example/" "vac/')
        out.append(line.replace("Python/3.11", f"Python/3.11 key/{s['AWS access key id']}"))
    out.append(f'garbage GET /login?password={s["password in a rejected line"]} Authorization: Bearer '
               f'{s["token in a rejected line"]}')
    (dst / "access.log").write_text("\n".join(out) + "\n")

    out = []
    for line in (src / "error.log").read_text().splitlines():
        line = _plant_paths(line)
        if line.endswith('"') and "host: " in line:
            line += f', referrer: "https://ops:{s["password in a referrer URL"]}@portal.example/?token={s["GitHub token"]}"'
        out.append(line)
    (dst / "error.log").write_text("\n".join(out) + "\n")

    out = []
    first = re.compile(r"^\d{4}-\d\d-\d\dT")
    exception = re.compile(r"^((?:[\w$]+\.)+[\w$]*(?:Exception|Error)): (.*)$")
    for line in (src / "crm.log").read_text().splitlines():
        line = _plant_paths(line)
        if first.match(line) and "Starting CrmApplication" in line:
            line += (f" --spring.datasource.password={s['Spring datasource password']} --spring.datasource.url="
                     f"jdbc:postgresql://crm:{s['password in a JDBC URL']}@db:5432/crm "
                     f"aws_secret_access_key={s['AWS secret access key']}")
        elif first.match(line) and "Stopping service [" in line:
            line += f" (asked by X-Auth-Token: {s['X-Auth-Token header']})"
        elif first.match(line) and (" ERROR " in line or " WARN " in line):
            line += (f" (the password is {s['password told in prose']})"
                     f" [Authorization=Basic {s['basic auth credentials']}, Set-Cookie: SESSION="
                     f"{s['Set-Cookie value']}; Path=/] proxy-authorization: Digest username=\"svc\", "
                     f'realm="crm", response="{s["digest response"]}"')
            if "Unreadable JSON" in line:  # a key pasted into a request body, logged with it
                out += [line, "-----BEGIN RSA PRIVATE KEY-----", s["private key block"],
                        "-----END RSA PRIVATE KEY-----"]
                continue
        elif exception.match(line):
            line += (f' body={{"user":"bob","password":"{s["password in a JSON body"]}","client_secret":'
                     f'"{s["client_secret in a JSON body"]}","card":"{s["Stripe key in a JSON body"]}",'
                     f'"raw":"{{\\"password\\":\\"{s["escaped JSON password"]}\\"}}"}}')
        out.append(line)
    (dst / "crm.log").write_text("\n".join(out) + "\n")


def plant_json_client(src: Path, dst: Path) -> None:
    """The client's JSON-lines variant, with secrets as fields of their own."""
    s = SECRETS
    out = []
    for line in (src / "variants" / "vac.jsonl").read_text().splitlines():
        record = json.loads(line)
        record["password"] = s["JSON log field: password"]
        record["headers"] = {"Authorization": f"Bearer {s['JSON log field: nested Authorization']}"}
        record["apiKey"] = s["JSON log field: apiKey"]
        out.append(json.dumps(record))
    (dst / "vac.jsonl").write_text("\n".join(out) + "\n")


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("planted")
    text = root / "text"
    plant(SOURCE / "logs", text)
    mixed = root / "json"
    shutil.copytree(text, mixed)
    (mixed / "vac.log").unlink()
    plant_json_client(SOURCE, mixed)
    return {"text": text, "json": mixed}


def _once(real):
    """``real`` computed once per paths and options: the outputs below render the same few loads
    and analyses (masked and not), which need not be repeated for each."""
    cache: dict = {}

    def call(paths, **kw):
        key = (str(paths) if isinstance(paths, (str, Path)) else tuple(map(str, paths)), repr(sorted(kw.items())))
        if key not in cache:
            cache[key] = real(paths, **kw)
        return cache[key]

    return call


@pytest.fixture(scope="module")
def cached_analysis():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(analysis_mod, "analyze", _once(analysis_mod.analyze))
        mp.setattr(ingest, "load", _once(ingest.load))
        yield


def _run(args: list[str]) -> str:
    # Each run starts from the default display settings (the command group resets them).
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _read(path: Path) -> str:
    if path.suffix == ".parquet":
        return pl.read_parquet(path).write_csv()
    return path.read_text(encoding="utf-8")


def outputs(dirs: dict[str, Path], out: Path, reveal: bool) -> dict[str, str]:
    """Every output's text, by name."""
    out.mkdir(exist_ok=True)
    logs = str(dirs["text"])
    flag = ["--no-redact"] if reveal else []
    got = {}
    got["analyze (terminal)"] = _run(["analyze", logs, *flag, "--json", str(out / "a.json"), "-o",
                                      str(out / "r.html"), "--markdown", str(out / "pm.md"), "--otlp",
                                      str(out / "t.jsonl"), "--ecs", str(out / "e.ndjson")])
    for name, file in [("--json", "a.json"), ("-o report.html", "r.html"), ("--markdown", "pm.md"),
                       ("--otlp", "t.jsonl"), ("--ecs", "e.ndjson")]:
        got[name] = _read(out / file)
    for fmt in ("json", "ndjson", "ecs"):
        got[f"--format {fmt}"] = _run(["analyze", logs, *flag, "--format", fmt, "-q"])
    # A request that died at the proxy, one whose client could not connect, one the upstream broke.
    for rid in ("b03e909dd96649069932991a4c8b6a2e", "299400de49af415ca6725ee6c8f96565",
                "f0a64efa71cc438fa20f982df0f40cda"):
        got[f"trace {rid[:6]}"] = _run(["trace", rid, logs, *flag])
    got["report -o (from the export)"] = (_run(["report", str(out / "a.json"), "-o", str(out / "r2.html"),
                                                "--markdown", str(out / "pm2.md")])
                                          + _read(out / "r2.html") + _read(out / "pm2.md"))
    for layout, path in dirs.items():
        got[f"parse {layout}"] = _run(["parse", str(path), *flag])
        for suffix in (".jsonl", ".csv", ".parquet"):
            target = out / f"entries-{layout}{suffix}"
            _run(["parse", str(path), *flag, "--out", str(target)])
            got[f"parse {layout} --out {suffix}"] = _read(target)
    got["analyze --json (JSON client log)"] = _run(["analyze", str(dirs["json"]), *flag, "--format", "json", "-q"])
    if not reveal:
        got["formats suggest"] = _run(["formats", "suggest", str(dirs["text"] / "vac.log")])
    return got


@pytest.fixture(scope="module")
def masked(planted, cached_analysis, tmp_path_factory) -> dict[str, str]:
    return outputs(planted, tmp_path_factory.mktemp("masked"), reveal=False)


@pytest.fixture(scope="module")
def revealed(planted, cached_analysis, tmp_path_factory) -> dict[str, str]:
    return outputs(planted, tmp_path_factory.mktemp("revealed"), reveal=True)


def _shows(text: str, secret: str) -> bool:
    """Whether ``text`` holds ``secret`` as written, HTML-escaped or JSON-escaped."""
    forms = {secret, html.escape(secret), json.dumps(secret)[1:-1], secret.replace("/", "\\/")}
    return any(f in text for f in forms) or secret in html.unescape(text)


def test_planting_keeps_the_analysis(planted, cached_analysis):
    """Secrets were planted where they do not change what happened: the planted logs give the
    sample's verdicts and causes, masked or not."""
    sample = loganalyzer.analyze(SOURCE / "logs").summary
    for reveal in (False, True):
        got = analysis_mod.analyze([planted["text"]], redact_secrets=not reveal).summary
        assert got["by_verdict"] == sample["by_verdict"]
        assert got["by_cause"] == sample["by_cause"]


def test_the_python_api_summary_is_masked_unless_raw_is_asked_for(planted, cached_analysis):
    """``Analysis.summary`` is an output too (a program reads it, prints it, stores it): its
    trigger and change lines and its endpoints are masked, keys included; ``redact_secrets=False``
    gives them as logged."""
    masked = json.dumps(analysis_mod.analyze([planted["text"]], redact_secrets=True).summary, default=str)
    leaks = [k for k, v in SECRETS.items() if _shows(masked, v)]
    assert not leaks, f"Analysis.summary shows {leaks}"
    assert "****" in masked
    raw = json.dumps(analysis_mod.analyze([planted["text"]], redact_secrets=False).summary, default=str)
    assert [k for k, v in SECRETS.items() if _shows(raw, v)]


@pytest.mark.parametrize("secret", list(SECRETS))
def test_no_output_shows_a_planted_secret(masked, secret):
    leaks = [name for name, text in masked.items() if _shows(text, SECRETS[secret])]
    assert not leaks, f"{secret} shown by {leaks}"


def test_every_output_masks_something(masked):
    quiet = [name for name, text in masked.items() if "****" not in text]
    assert not quiet


def test_no_redact_shows_every_secret_somewhere(revealed):
    """The planted secrets reach outputs (so their absence above is masking), and each output is
    given some to mask."""
    nowhere = [k for k, v in SECRETS.items() if not any(_shows(t, v) for t in revealed.values())]
    assert not nowhere
    clean = [name for name, text in revealed.items() if not any(_shows(text, v) for v in S)]
    assert not clean
    assert json.loads(revealed["--json"])["redacted"] is False


def test_the_json_client_log_fields_are_masked_whole(masked, revealed):
    """A JSON log's secret fields (password, headers.Authorization, apiKey) are written as ****
    by parse --out, and shown with --no-redact."""
    rows = [json.loads(x) for x in masked["parse json --out .jsonl"].splitlines()]
    client = [r for r in rows if r.get("source") == "vac"]
    assert client and all(r["password"] == "****" and r["apiKey"] == "****" for r in client)
    assert all(r["headers_Authorization"] == "****" for r in client)
    shown = [json.loads(x) for x in revealed["parse json --out .jsonl"].splitlines()]
    assert {r.get("password") for r in shown if r.get("source") == "vac"} == {SECRETS["JSON log field: password"]}


FRAGMENTS = [*S, "Authorization: ", "authorization=", "Bearer ", "bearer\t", "eyJhbGciOi.eyJzdWIi.sig", "https://",
             "u:p@", "AKIA", "ghp_", "xoxb-", "sk_live_", "AIza", "sk-", "SG.", "npm_", "Cookie: ", "set-cookie=",
             "X-Api-Key: ", "x-goog-api-key:", "?token=", "&sig=", ";jsessionid=", "#access_token=", '"password": "',
             '\\"secret\\":\\"', "pwd=", "passphrase:", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
             "the password is ", "token was ", " for bob was set to ", "'", "1", "=", ":", '"', " ", "[", "]", "\n", "é",
             "K"]


@settings(max_examples=200, deadline=None)
@given(text=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=8).map("".join))
def test_hints_never_skip_a_secret(text):
    """Masking runs the patterns only on text that holds a hint: it masks exactly what running
    every pattern on everything masks."""
    every = pl.select(redact._replace_all(pl.lit(text, pl.String))).item()
    assert redact.mask_text(text) == every


def _scan(logs: Path, folder: Path, reveal: bool) -> dict[str, str]:
    """A nightly scan of the planted logs: its printout, JSON, night report, metrics and the whole
    history database as SQL text."""
    folder.mkdir()
    sources = "".join(f'[[sources]]\nname = "{kind}"\nkind = "{kind}"\npaths = ["{logs}/{name}*"]\n'
                      for kind, name in (("nginx_access", "access.log"), ("nginx_error", "error.log"),
                                         ("crm", "crm.log"), ("vac", "vac.log")))
    (folder / "loganalyzer.toml").write_text('[scan]\nhistory = "history.db"\nwindow = "1h"\n' + sources)
    args = ["scan", "--config", str(folder / "loganalyzer.toml"), "--complete", "--json", str(folder / "night.json"),
            "-o", str(folder / "night.html"), "--prom", str(folder / "night.prom")]
    result = CliRunner().invoke(cli, args + (["--no-redact"] if reveal else []), catch_exceptions=False)
    assert result.exit_code in (0, 5), result.output  # 5: thresholds breached, as this night should
    with sqlite3.connect(folder / "history.db") as db:
        dump = "\n".join(db.iterdump())
    return {"scan": result.output, "history": dump,
            **{name: (folder / name).read_text(encoding="utf-8") for name in ("night.json", "night.html", "night.prom")}}


def test_the_scan_history_and_its_outputs_hold_no_secret(planted, tmp_path):
    masked = _scan(planted["text"], tmp_path / "masked", reveal=False)
    leaks = {name: [k for k, v in SECRETS.items() if _shows(text, v)] for name, text in masked.items()}
    assert not any(leaks.values()), leaks
    shown = _scan(planted["text"], tmp_path / "shown", reveal=True)
    assert len([k for k, v in SECRETS.items() if _shows(shown["history"], v)]) >= 10


def test_the_python_api_requests_are_masked_unless_raw_is_asked_for(planted, cached_analysis):
    """``Analysis.requests`` is what a program reads of each attempt: the paths' query strings and
    client errors it quotes from the logs are masked too; ``redact_secrets=False`` gives them raw."""
    masked = analysis_mod.analyze([planted["text"]], redact_secrets=True).requests.to_json(date_format="iso")
    leaks = [k for k, v in SECRETS.items() if _shows(masked, v)]
    assert not leaks, f"Analysis.requests shows {leaks}"
    raw = analysis_mod.analyze([planted["text"]], redact_secrets=False).requests.to_json(date_format="iso")
    assert [k for k, v in SECRETS.items() if _shows(raw, v)]
