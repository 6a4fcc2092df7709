"""A load reads container-wrapped logs and files of several formats, zero-config, every line accounted."""

from __future__ import annotations

import json

import loganalyzer
from tests.conftest import SAMPLES, accounted

LOGS = SAMPLES / "trailing-comma" / "logs"


def _lines(name: str, n: int) -> list[str]:
    return (LOGS / name).read_text().splitlines()[:n]


def test_a_docker_json_file_log_is_unwrapped_and_its_payload_read_by_the_inner_format(write):
    access = _lines("access.log", 60)
    records = [json.dumps({"log": line + "\n", "stream": "stdout", "time": f"2026-11-26T01:14:{i % 60:02d}.5Z"},
                          separators=(",", ":")) for i, line in enumerate(access)]
    logs = loganalyzer.load(write("nginx-json.log", "\n".join(records) + "\n"))
    row = logs.stats.iloc[0]
    assert (row["kind"], row["format"], row["parsed"], row["rejected"]) == ("nginx_access", "main", 60, 0)
    assert any("container log (docker_json)" in n for n in logs.notes)
    accounted(logs)


def test_interleaved_access_and_error_lines_are_split_per_line_into_their_kinds(write):
    access, errors = _lines("access.log", 40), _lines("error.log", 40)
    text = "\n".join(x for pair in zip(access, errors, strict=True) for x in pair) + "\n"
    logs = loganalyzer.load(write("nginx-stream.log", text))
    got = {r.kind: (r.format, r.parsed, r.rejected) for r in logs.stats.itertuples()}
    assert got == {"nginx_access": ("main", 40, 0), "nginx_error": ("nginx_error", 40, 0)}
    accounted(logs)


def test_a_log_format_change_mid_file_reads_both_halves(write):
    combined = (SAMPLES / "trailing-comma" / "variants" / "access_combined.log").read_text().splitlines()
    main = (LOGS / "access.log").read_text().splitlines()
    logs = loganalyzer.load(write("access.log", "\n".join(combined[:150] + main[150:300] + combined[300:]) + "\n"))
    assert int(logs.stats["rejected"].sum()) == 0 and int(logs.stats["parsed"].sum()) == len(combined)
    assert set(logs.stats["format"]) == {"combined", "main"}
    # The analysis across the switch: every failure still found and diagnosed.
    a = loganalyzer.analyze([logs.stats.iloc[0]["file"], LOGS / "error.log", LOGS / "crm.log", LOGS / "vac.log"])
    assert (a.requests["verdict"] == "upstream_crash").sum() == 144
