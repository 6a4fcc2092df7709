"""Secrets in log text are masked in every output unless the user asks otherwise."""

from __future__ import annotations

import json

import polars as pl

import loganalyzer
from loganalyzer import redact

SECRET = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ2YWMifQ.c2lnbmF0dXJlc2VjcmV0"


def test_patterns():
    cases = {
        f"Authorization: Bearer {SECRET}": "Authorization: Bearer ****",
        "GET /cb?api_key=abc123&x=1": "GET /cb?api_key=****&x=1",
        'login user=bob password=hunter2 ok': "login user=bob password=**** ok",
        '{"apiKey": "AKIA1234567890"}': '{"apiKey": "****"}',
        f"token {SECRET}": "token ****",
        "nothing secret here": "nothing secret here",
    }
    got = pl.DataFrame({"t": list(cases)}).select(redact.mask(pl.col("t")))["t"].to_list()
    assert got == list(cases.values())


#: Secrets told in prose, each with what is left of it.
PROSE_SECRETS = {
    "login failed: the password is hunter2": "login failed: the password is ****",
    "passwd: x": "passwd: ****",
    "retrying with secret=s3cr3t-value now": "retrying with secret=**** now",
    "refresh token was abc123def456ghi, renewing": "refresh token was ****, renewing",
    "Password for bob is 'correct horse battery'": "Password for bob is ****",
    'the api key is "letmein" (from the env)': "the api key is **** (from the env)",
    "password of user 42 was reset to Temp#2026!": "password of user 42 was reset to ****",
    "client secret was AbCdEfGhIjKlMnOpQrSt": "client secret was ****",
    "login failed: the password is swordfish.": "login failed: the password is ****.",
    "pwd was reset to tiger for user 42": "pwd was reset to **** for user 42",
    "password was 123456, retrying": "password was ****, retrying",
}
#: Ordinary log text that speaks of passwords and tokens: every line stays as it is.
PROSE_KEPT = [
    "password reset requested for user 42",
    "password is incorrect for user 42",
    "token was revoked by the admin",
    "the token is expired",
    "password is required",
    "token was not found in the cache",
    "Password was changed by user 42",
    "password reset to default",
    "refresh token was issued at 2026-11-26T10:00:00Z",
    "secret santa draw done",
    "user 42 changed password; 3 sessions closed",
    "api key rotation finished: 12 keys are valid",
    "token was 42 seconds old",
    "password is 8 characters long",
    "password is being rotated",
    "password is too short",
    "password was successfully updated",
    "password is unchangeable here",
]


def test_secrets_told_in_prose_are_masked():
    got = [redact.mask_text(t) for t in PROSE_SECRETS]
    assert got == list(PROSE_SECRETS.values())


def test_prose_about_passwords_and_tokens_is_kept():
    assert [redact.mask_text(t) for t in PROSE_KEPT] == PROSE_KEPT


def test_evidence_and_json_never_show_the_token(write, tmp_path):
    vac = (f"2026-11-24 10:15:01,700 INFO [vac] send req=r1 attempt=1 method=GET path=/api/x "
           f"Authorization: Bearer {SECRET}\n"
           f"2026-11-24 10:15:02,100 WARNING [vac] fail req=r1 attempt=1 error=ConnectionRefusedError "
           f"password=hunter2\n")
    access = '127.0.0.1 - - [24/Nov/2026:10:15:05 +0000] "GET /other HTTP/1.1" 200 5 "-" "curl"\n'
    write("d/vac.log", vac)
    write("d/access.log", access)
    a = loganalyzer.analyze([tmp_path / "d"], tz={"vac": "UTC"})
    out = tmp_path / "a.json"
    a.write_json(out)
    text = out.read_text()
    assert SECRET not in text and "hunter2" not in text and "password=****" in text
    trace = a.trace("r1")
    assert trace["text"].str.contains("Bearer ****", regex=False).any()
    assert not trace["text"].str.contains(SECRET, regex=False).any()
    plain = loganalyzer.analyze([tmp_path / "d"], tz={"vac": "UTC"}, redact_secrets=False)
    plain.write_json(out)
    assert "password=hunter2" in out.read_text() and json.loads(out.read_text())["redacted"] is False
    assert plain.trace("r1")["text"].str.contains(SECRET, regex=False).any()
