"""End-to-end test of the incident lab (samples/lab).

Runs `samples/lab/run.py mixed-faults --quick` once with the real nginx and the
Java CRM, then checks that

1. every log it wrote parses with loganalyzer with zero rejects, with times that
   line up across the three time zones;
2. its truth agrees with the status codes nginx logged (checked with a regex of
   this test's own, so it holds without loganalyzer);
3. no process the lab started is still running.

The bundled samples under samples/<scenario>/ get the same truth and parse
checks, without a run.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import process_alive, process_cmdline

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "samples" / "lab" / "run.py"

ACCESS_MAIN = re.compile(
    r'^(?P<addr>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)" rid=(?P<rid>[0-9a-f]{32}) '
    r'xrid="(?P<xrid>[^"]*)" conn=(?P<conn>\d+) upstream="(?P<upstream>[^"]*)" us="(?P<us>[^"]*)" '
    r'rt=(?P<rt>\d+\.\d{3}) urt="(?P<urt>[^"]*)"$'
)
ACCESS_COMBINED = re.compile(r'^\S+ - \S+ \[[^\]]+\] "[^"]*" \d{3} \d+ "[^"]*" "[^"]*"$')
CRM_BOOT3 = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00) +(?P<level>[A-Z]+) (?P<pid>\d+) --- \[crm-api\] "
    r"\[(?P<thread>[^\]]+)\] \[(?P<corr>[0-9a-f]{32}-[0-9a-f]{16}| {49})\] "
    r"(?P<logger>.{40}) : (?P<message>.*)$"
)

# What nginx must have logged for an attempt, by root cause.
STATUS_FOR_CAUSE = {
    "upstream_timeout": 504,
    "client_timeout": 499,
    "body_too_large": 413,
    "token_expired": 401,
    "wrong_path": 404,
    "validation_failed": 400,
    "unhandled_exception": 500,
    "db_pool_exhausted": 500,
    "upstream_down": 502,
    "json_malformed": 502,
}

# The quick run must still exercise these.
REQUIRED = {
    ("ok", "none"),
    ("upstream_crash", "json_malformed"),
    ("proxy", "upstream_timeout"),
    ("proxy", "client_timeout"),
    ("proxy", "body_too_large"),
    ("upstream_rejected", "token_expired"),
    ("client", "client_connect_failed"),
    ("proxy", "upstream_down"),
    ("upstream_error", "db_pool_exhausted"),
    ("upstream_error", "unhandled_exception"),
}

LOG_FILES = ["logs/vac.log", "logs/access.log", "logs/error.log", "logs/crm.log"]
VARIANT_FILES = ["variants/vac.jsonl", "variants/access_combined.log"]
BUNDLED = ["healthy", "trailing-comma", "mixed-faults"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("lab")
    out = base / "mixed-faults"
    pids_file = base / "pids.json"
    result = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "mixed-faults",
            "--quick",
            "--out",
            str(out),
            "--pids-file",
            str(pids_file),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
    )
    assert result.returncode == 0, f"lab run failed\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    with open(out / "truth.csv", newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    return SimpleNamespace(out=out, pids_file=pids_file, truth=truth, stdout=result.stdout)


def read_access(path: Path) -> list[dict]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = ACCESS_MAIN.match(line)
        assert match, f"{path.name}:{number} does not match the main format: {line!r}"
        entry = match.groupdict()
        entry["status"] = int(entry["status"])
        entry["time"] = datetime.strptime(entry["time"], "%d/%b/%Y:%H:%M:%S %z")
        entries.append(entry)
    return entries


def sent(row: dict) -> datetime:
    return datetime.fromisoformat(row["sent_utc"])


# --------------------------------------------------------------------------- the run itself


def test_run_writes_the_documented_layout(lab):
    for name in [*LOG_FILES, *VARIANT_FILES, "truth.csv", "scenario.json"]:
        path = lab.out / name
        assert path.is_file() and path.stat().st_size > 0, name
    meta = json.loads((lab.out / "scenario.json").read_text())
    assert meta["scenario"] == "mixed-faults" and meta["quick"] is True
    assert meta["crm_style"] == "spring-boot-3.4"
    assert meta["zones"]["nginx_access"]["tz"] == "Europe/Moscow"
    assert meta["zones"]["crm"]["tz"] == "Asia/Shanghai"
    assert meta["zones"]["vac"]["tz"] == "UTC"
    assert meta["software"]["nginx"].startswith("1.")
    assert {w["kind"] for w in meta["fault_windows"]} == {"crm_restart", "db_slow", "pool_exhausted"}
    assert meta["counts"]["attempts"] == len(lab.truth)
    with open(lab.out / "truth.csv", newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == [
        "client",
        "request_id",
        "attempt",
        "sent_utc",
        "method",
        "path",
        "fault",
        "verdict",
        "root_cause",
        "root_cause_detail",
        "client_status",
        "client_error",
    ]


def test_combined_variant_is_the_same_traffic(lab):
    main = read_access(lab.out / "logs/access.log")
    combined = (lab.out / "variants/access_combined.log").read_text(encoding="utf-8").splitlines()
    assert all(ACCESS_COMBINED.match(line) for line in combined)
    assert len(combined) == len(main)
    for line, entry in zip(combined, main, strict=True):
        request, status, size = entry["request"], entry["status"], entry["bytes"]
        assert f'"{request}" {status} {size} ' in line


def test_quick_run_covers_every_fault_kind(lab):
    seen = {(row["verdict"], row["root_cause"]) for row in lab.truth}
    assert REQUIRED <= seen, f"missing: {sorted(REQUIRED - seen)}"


# --------------------------------------------------------------------------- 1. loganalyzer parses it all


def test_logs_parse_with_zero_rejects(lab):
    import pandas as pd

    import loganalyzer

    paths = [str(lab.out / name) for name in LOG_FILES]
    logs = loganalyzer.load(paths, tz={"crm": "Asia/Shanghai", "nginx_error": "Europe/Moscow"})

    rejects = logs.rejects
    assert isinstance(rejects, pd.DataFrame)
    assert {"file", "line", "text", "reason"} <= set(rejects.columns)
    assert len(rejects) == 0, rejects.head(20).to_string()

    stats = logs.stats
    assert {"file", "kind", "format", "lines", "parsed", "continuation", "rejected"} <= set(stats.columns)
    assert len(stats) == len(paths)
    assert sorted(Path(f).name for f in stats["file"]) == sorted(Path(p).name for p in paths)
    assert (stats["rejected"] == 0).all()
    for _, row in stats.iterrows():
        assert row["parsed"] > 0
        assert row["parsed"] + row["continuation"] + row["rejected"] == row["lines"]
    kinds = dict(zip((Path(f).name for f in stats["file"]), stats["kind"], strict=True))
    assert kinds == {
        "vac.log": "vac",
        "access.log": "nginx_access",
        "error.log": "nginx_error",
        "crm.log": "crm",
    }

    for kind in ("nginx_access", "nginx_error", "crm", "vac"):
        frame = logs[kind]
        assert isinstance(frame, pd.DataFrame) and len(frame) > 0, kind
        assert {"ts", "source", "file", "line", "level", "request_id", "message"} <= set(frame.columns), kind
        assert isinstance(frame["ts"].dtype, pd.DatetimeTZDtype) and str(frame["ts"].dt.tz) == "UTC", kind
        assert frame["ts"].notna().all(), kind

    access = logs["nginx_access"]
    lines = (lab.out / "logs/access.log").read_text().splitlines()
    assert len(access) == len(lines)
    assert pd.api.types.is_integer_dtype(access["status"])
    assert {"method", "path", "upstream_status", "request_time"} <= set(access.columns)
    ours = read_access(lab.out / "logs/access.log")
    assert sorted(access["status"].tolist()) == sorted(e["status"] for e in ours)
    assert {499, 502, 504, 413, 401, 201, 200} <= set(access["status"])

    # The crash entries of the CRM log are multi-line (stack traces); each one is one entry.
    crm = logs["crm"]
    crashes = crm[crm["message"].str.contains("Unreadable JSON payload", regex=False)]
    parse_errors = sum(1 for r in lab.truth if r["root_cause"] == "json_malformed")
    assert len(crashes) == parse_errors
    assert crashes["request_id"].isna().all() or (crashes["request_id"].fillna("") == "").all()


def test_logs_line_up_in_utc_across_zones(lab):
    """Times of the same requests agree across sources once each source's zone is applied."""
    import loganalyzer

    logs = loganalyzer.load(
        [str(lab.out / name) for name in LOG_FILES],
        tz={"crm": "Asia/Shanghai", "nginx_error": "Europe/Moscow"},
    )
    first_sent = {}
    for row in lab.truth:
        first_sent.setdefault(row["request_id"], sent(row))
    tolerance = timedelta(seconds=4)
    for kind in ("vac", "nginx_access", "crm"):
        frame = logs[kind]
        frame = frame[frame["request_id"].isin(first_sent)]
        assert len(frame) > 0, f"{kind}: no entry carries a request id of the truth"
        for request_id, ts in zip(frame["request_id"], frame["ts"], strict=True):
            start = first_sent[request_id]
            assert start - tolerance <= ts.to_pydatetime() <= start + timedelta(seconds=12), (
                kind,
                request_id,
            )

    # nginx's error log has no offset in its lines: the crash lines sit at the crash attempts.
    error = logs["nginx_error"]
    crash_lines = error[error["message"].str.contains("upstream prematurely closed connection", regex=False)]
    crash_times = [sent(r) for r in lab.truth if r["verdict"] == "upstream_crash"]
    assert len(crash_lines) == len(crash_times)
    for ts in crash_lines["ts"]:
        assert min(abs(ts.to_pydatetime() - t) for t in crash_times) < tolerance


def test_variants_parse_with_zero_rejects(lab):
    import loganalyzer

    logs = loganalyzer.load([str(lab.out / name) for name in VARIANT_FILES])
    assert len(logs.rejects) == 0, logs.rejects.head(20).to_string()
    assert (logs.stats["rejected"] == 0).all()
    assert len(logs["vac"]) == len((lab.out / "variants/vac.jsonl").read_text().splitlines())
    assert len(logs["nginx_access"]) == len((lab.out / "variants/access_combined.log").read_text().splitlines())


# --------------------------------------------------------------------------- 2. truth vs nginx


def check_truth_against_access(out: Path, truth: list[dict]) -> None:
    entries = read_access(out / "logs/access.log")
    by_id: dict[str, list[dict]] = defaultdict(list)
    for entry in entries:  # file order: attempts of one request are sequential
        by_id[entry["xrid"]].append(entry)

    attempts: dict[str, list[dict]] = defaultdict(list)
    for row in truth:
        attempts[row["request_id"]].append(row)

    for request_id, rows in attempts.items():
        rows.sort(key=lambda r: int(r["attempt"]))
        logged = by_id.get(request_id, [])
        if rows[0]["verdict"] == "client":
            assert not logged, f"{request_id} never reached the proxy but nginx logged it"
            assert all(r["client_error"] == "ConnectionRefusedError" and r["client_status"] == "" for r in rows)
            continue
        assert len(logged) == len(rows), f"{request_id}: {len(rows)} attempts, {len(logged)} access entries"
        for row, entry in zip(rows, logged, strict=True):
            status = entry["status"]
            if row["verdict"] == "ok":
                assert 200 <= status < 300, (row, status)
            else:
                assert status == STATUS_FOR_CAUSE[row["root_cause"]], (row, status)
            if row["client_status"]:
                assert int(row["client_status"]) == status
            else:
                assert status == 499 and row["client_error"] == "timeout"
            # The access line is written when nginx finishes the request, shortly after it was sent.
            delay = (entry["time"] - sent(row)).total_seconds()
            assert -1.5 < delay < float(entry["rt"]) + 1.5, (row, entry["time"])
            if row["verdict"] == "upstream_crash":
                assert entry["us"] == "502" and entry["upstream"] != "-"
            if row["root_cause"] == "body_too_large":
                assert entry["upstream"] == "-"

    unknown = set(by_id) - set(attempts)
    assert not unknown, f"access entries without a truth row: {sorted(unknown)[:5]}"


def test_truth_agrees_with_access_log(lab):
    check_truth_against_access(lab.out, lab.truth)


@pytest.mark.parametrize("scenario", BUNDLED)
def test_bundled_sample_truth_agrees_with_access_log(scenario):
    out = REPO / "samples" / scenario
    with open(out / "truth.csv", newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    assert truth
    check_truth_against_access(out, truth)


@pytest.mark.parametrize("scenario", BUNDLED)
def test_bundled_sample_parses_with_zero_rejects(scenario):
    import loganalyzer

    out = REPO / "samples" / scenario
    logs = loganalyzer.load(
        [str(out / name) for name in LOG_FILES], tz={"crm": "Asia/Shanghai", "nginx_error": "Europe/Moscow"}
    )
    assert len(logs.rejects) == 0, logs.rejects.head(20).to_string()
    variants = loganalyzer.load([str(out / name) for name in VARIANT_FILES])
    assert len(variants.rejects) == 0, variants.rejects.head(20).to_string()


def test_truth_agrees_with_error_log(lab):
    text = (lab.out / "logs/error.log").read_text()
    count = defaultdict(int)
    for row in lab.truth:
        count[row["root_cause"]] += 1
    assert (
        text.count("upstream prematurely closed connection while reading response header from upstream")
        == count["json_malformed"]
    )
    assert (
        text.count("upstream timed out (110: Connection timed out) while reading response header")
        == count["upstream_timeout"]
    )
    assert (
        text.count("connect() failed (111: Connection refused) while connecting to upstream") == count["upstream_down"]
    )
    assert text.count("client intended to send too large body") == count["body_too_large"]
    assert text.count("client prematurely closed connection") == count["client_timeout"]


def test_crm_log_shows_the_crash_without_request_id(lab):
    entries = []
    for line in (lab.out / "logs/crm.log").read_text(encoding="utf-8").splitlines():
        match = CRM_BOOT3.match(line)
        if match:
            entries.append(match.groupdict())
    crashes = [e for e in entries if "Unreadable JSON payload" in e["message"]]
    assert crashes and all(e["level"] == "ERROR" and e["corr"].strip() == "" for e in crashes)
    text = (lab.out / "logs/crm.log").read_text(encoding="utf-8")
    assert (
        "com.fasterxml.jackson.core.JsonParseException: Unexpected character ('}' (code 125)): "
        "was expecting double-quote to start field name" in text
    )
    assert " at [Source: (org.apache.catalina.connector.CoyoteInputStream); line: " in text
    assert "with root cause" in text and "common frames omitted" in text
    expired = {r["request_id"] for r in lab.truth if r["root_cause"] == "token_expired"}
    warned = {e["corr"][:32] for e in entries if "Jwt expired at" in e["message"]}
    assert expired and expired == warned


# --------------------------------------------------------------------------- 3. nothing left running




def test_no_process_left_running(lab):
    started = json.loads(lab.pids_file.read_text())
    names = {p["name"] for p in started}
    assert {"nginx", "nginx (child)", "crm", "vac"} <= names
    assert sum(1 for p in started if p["name"] == "crm") == 2  # started, restarted
    for proc in started:
        pid = proc["pid"]
        if process_alive(pid):
            cmdline = process_cmdline(pid)
            assert not any(word in cmdline for word in ("nginx", "java", "vac.py")), (proc, cmdline)
    marker = str(lab.out)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and process_alive(int(entry.name)):
            assert marker not in process_cmdline(int(entry.name)), process_cmdline(int(entry.name))
