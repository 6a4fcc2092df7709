"""End-to-end test of the lab's style matrix (samples/lab/matrix.py).

Generates two quick cells in one run with the real nginx and the Java CRM:

- ``requests-combined-boot2-west``: the client on ``requests`` + urllib3's Retry (no request
  ids), nginx's ``combined`` access log, the Spring Boot 2.7 CRM layout in a zone that is
  neither nginx's nor written in its lines;
- ``vac-json-ecsnested-east``: vac with request ids, nginx's JSON access log, the CRM's nested
  ECS JSON layout;

then checks that each file is written, that the truth agrees with what nginx logged (read with
this test's own regex / json, without loganalyzer), that each log is in the style its cell
names, and that no process the lab started is still running. The matrix data itself is checked
for coverage, and the committed cells under samples/matrix/ for consistency.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import process_alive, process_cmdline

REPO = Path(__file__).resolve().parents[1]
MATRIX = REPO / "samples" / "lab" / "matrix.py"
CELLS = ["requests-combined-boot2-west", "vac-json-ecsnested-east"]
TRUTH_COLUMNS = ["client", "request_id", "attempt", "sent_utc", "method", "path", "fault", "verdict", "root_cause",
                 "root_cause_detail", "client_status", "client_error"]

ACCESS_COMBINED = re.compile(
    r'^(?P<addr>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.1" '
    r'(?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)"'
)
# loganalyzer's "main" is combined plus these.
MAIN_TAIL = re.compile(
    r' rid=[0-9a-f]{32} xrid="(?P<xrid>[^"]*)" conn=\d+ upstream="(?P<upstream>[^"]*)" us="[^"]*" '
    r'rt=(?P<rt>\d+\.\d{3}) urt="[^"]*"$'
)
CRM_BOOT2 = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) +(?P<level>[A-Z]+) \[crm,(?P<rid>[0-9a-f]*)\] \d+ --- "
    r"\[(?P<thread>[^\]]+)\] (?P<logger>.{40}) : (?P<message>.*)$"
)
STATUS_FOR_CAUSE = {
    "upstream_timeout": 504, "client_timeout": 499, "body_too_large": 413, "token_expired": 401, "wrong_path": 404,
    "validation_failed": 400, "unhandled_exception": 500, "db_pool_exhausted": 500, "upstream_down": 502,
    "json_malformed": 502,
}


def _lab_module(name: str):
    sys.path.insert(0, str(MATRIX.parent))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(MATRIX.parent))


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    base = tmp_path_factory.mktemp("matrix")
    pids_file = base / "pids.json"
    argv = [sys.executable, str(MATRIX), "--quick", "--out", str(base), "--pids-file", str(pids_file)]
    for cell in CELLS:
        argv += ["--cell", cell]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, f"matrix run failed\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    out = {}
    for cell in CELLS:
        with open(base / cell / "truth.csv", newline="", encoding="utf-8") as fh:
            truth = list(csv.DictReader(fh))
        meta = json.loads((base / cell / "scenario.json").read_text())
        out[cell] = SimpleNamespace(dir=base / cell, truth=truth, meta=meta)
    return SimpleNamespace(base=base, pids_file=pids_file, cells=out)


def read_access(path: Path, fmt: str) -> list[dict]:
    """The access log's entries in file order: time (aware), method, path, status, xrid (json only)."""
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if fmt == "json":
            record = json.loads(line)
            entry = {"time": datetime.fromisoformat(record["time"]), "method": record["request_method"],
                     "path": record["request_uri"], "status": int(record["status"]),
                     "xrid": record["http_x_request_id"], "rt": float(record["request_time"]),
                     "upstream": record["upstream_addr"]}
        else:
            match = ACCESS_COMBINED.match(line)
            tail = MAIN_TAIL.fullmatch(line, match.end()) if match and fmt == "main" else None
            assert match and (match.end() == len(line) if fmt == "combined" else tail), (
                f"{path.name}:{number} is not nginx's {fmt} format: {line!r}")
            entry = {"time": datetime.strptime(match["time"], "%d/%b/%Y:%H:%M:%S %z"), "method": match["method"],
                     "path": match["path"], "status": int(match["status"]), "xrid": None, "rt": None,
                     "upstream": None}
            if tail:
                xrid = tail["xrid"]
                entry.update(xrid="" if xrid == "-" else xrid, rt=float(tail["rt"]), upstream=tail["upstream"])
        entries.append(entry)
    return entries


def check_truth_against_access(cell) -> None:
    """vac's attempts are sequential: those that reached nginx are its non-health entries, in order."""
    entries = [e for e in read_access(cell.dir / "logs/access.log", cell.meta["axes"]["access"])
               if e["path"] != "/api/health"]
    rows = [r for r in cell.truth if r["client"] == "vac" and r["verdict"] != "client"]
    assert len(entries) == len(rows), f"{len(rows)} attempts reached nginx, {len(entries)} access entries"
    for row, entry in zip(rows, entries, strict=True):
        assert (entry["method"], entry["path"]) == (row["method"], row["path"]), (row, entry)
        if row["verdict"] == "ok":
            assert 200 <= entry["status"] < 300, (row, entry)
        else:
            assert entry["status"] == STATUS_FOR_CAUSE[row["root_cause"]], (row, entry)
        if row["client_status"]:
            assert int(row["client_status"]) == entry["status"]
        else:
            assert entry["status"] == 499 and row["client_error"] == "timeout"
        delay = (entry["time"] - datetime.fromisoformat(row["sent_utc"])).total_seconds()
        assert -1.5 < delay < (entry["rt"] or 3.0) + 1.5, (row, entry["time"])
        if entry["xrid"] is not None:  # the format logs the client's X-Request-ID ("" when none was sent)
            assert entry["xrid"] == row["request_id"], (row, entry)
    refused = [r for r in cell.truth if r["verdict"] == "client"]
    assert refused and all(r["client_error"] == "ConnectionRefusedError" and not r["client_status"] for r in refused)
    health = [e for e in read_access(cell.dir / "logs/access.log", cell.meta["axes"]["access"])
              if e["path"] == "/api/health"]
    assert len(health) == sum(1 for r in cell.truth if r["client"] == "monitor")


# --------------------------------------------------------------------------- the matrix data


def test_matrix_data_covers_every_axis_value():
    matrix = _lab_module("matrix")
    cells = matrix.load_matrix()
    assert matrix.coverage(cells) == []
    assert 10 <= len(cells) <= 16
    held = [c for c in cells if c.held_out]
    assert 0.25 <= len(held) / len(cells) <= 0.45
    assert set(CELLS) <= {c.name for c in cells if not c.held_out}  # CI never runs a held-out cell
    # At least one cell hides the CRM's zone: not nginx's, and no offset in its lines.
    hidden = [c for c in cells if c.zone_map["crm"] != c.zone_map["nginx"] and c.crm in ("boot2", "classic")]
    assert hidden


def test_committed_cells_are_consistent():
    matrix = _lab_module("matrix")
    by_name = {c.name: c for c in matrix.load_matrix()}
    committed = sorted(p for p in (REPO / "samples" / "matrix").glob("*") if (p / "truth.csv").exists())
    assert len(committed) >= 4
    assert sum(1 for p in committed if by_name[p.name].held_out) >= 2
    for path in committed:
        meta = json.loads((path / "scenario.json").read_text())
        cell = by_name[path.name]
        assert meta["axes"] == cell.axes() and meta["held_out"] == cell.held_out
        with open(path / "truth.csv", newline="", encoding="utf-8") as fh:
            truth = list(csv.DictReader(fh))
        assert meta["counts"]["attempts"] == len(truth)
        check_truth_against_access(SimpleNamespace(dir=path, truth=truth, meta=meta))


# --------------------------------------------------------------------------- the run


def test_each_cell_writes_its_files(cells):
    for name, cell in cells.cells.items():
        meta = cell.meta
        client_file = meta["zones"]["vac"]["file"]
        for rel in [client_file, "logs/access.log", "logs/error.log", "logs/crm.log", "truth.csv", "scenario.json"]:
            path = cell.dir / rel
            assert path.is_file() and path.stat().st_size > 0, (name, rel)
        assert sorted(p.name for p in (cell.dir / "logs").iterdir()) == sorted(
            Path(z["file"]).name for z in meta["zones"].values())
        assert meta["cell"] == name and meta["quick"] is True and meta["held_out"] is False
        with open(cell.dir / "truth.csv", newline="", encoding="utf-8") as fh:
            assert next(csv.reader(fh)) == TRUTH_COLUMNS
        assert meta["counts"]["attempts"] == len(cell.truth)
        seen = {(r["verdict"], r["root_cause"]) for r in cell.truth}
        assert {("upstream_crash", "json_malformed"), ("proxy", "upstream_down"), ("proxy", "client_timeout"),
                ("upstream_error", "db_pool_exhausted"), ("client", "client_connect_failed")} <= seen


def test_truth_agrees_with_access_log(cells):
    for cell in cells.cells.values():
        check_truth_against_access(cell)


def test_requests_client_logs_urllib3_lines_and_no_ids(cells):
    cell = cells.cells["requests-combined-boot2-west"]
    text = (cell.dir / "logs/vac.log").read_text(encoding="utf-8")
    line = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[(DEBUG|INFO|WARNING|ERROR)\] [\w.]+: .*$")
    assert all(line.match(x) for x in text.splitlines())
    assert "[DEBUG] urllib3.connectionpool: Starting new HTTP connection (1): 127.0.0.1:" in text
    assert re.search(r'urllib3\.connectionpool: http://127\.0\.0\.1:\d+ "POST /api/tickets HTTP/1\.1" 502 \d+', text)
    assert re.search(r"\[WARNING\] urllib3\.connectionpool: Retrying \(Retry\(total=1, .*\)\) after connection "
                     r"broken by 'NewConnectionError", text)
    assert re.search(r"\[DEBUG\] urllib3\.util\.retry: Incremented Retry for \(url='/api/tickets'\)", text)
    assert "ReadTimeoutError" in text
    assert not re.search(r"\b[0-9a-f]{32}\b", text)  # no request ids
    assert all(r["request_id"] == "" for r in cell.truth if r["client"] == "vac")
    # Timestamps are the client host's local time (America/New_York), without an offset.
    first = datetime.strptime(text[:23], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=ZoneInfo("America/New_York"))
    started = datetime.fromisoformat(cell.meta["start_utc"])
    assert timedelta(0) <= first - started < timedelta(seconds=60)


def test_crm_zone_is_hidden_in_the_boot2_cell(cells):
    cell = cells.cells["requests-combined-boot2-west"]
    lines = (cell.dir / "logs/crm.log").read_text(encoding="utf-8").splitlines()
    first = CRM_BOOT2.match(lines[0])
    assert first, lines[0]
    local = datetime.strptime(first["ts"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=ZoneInfo("America/Los_Angeles"))
    started = datetime.fromisoformat(cell.meta["start_utc"])
    assert timedelta(0) <= local - started < timedelta(seconds=60)
    assert cell.meta["zones"]["crm"] == {"file": "logs/crm.log", "tz": "America/Los_Angeles",
                                         "offset_in_line": False, "host_tz": "America/Los_Angeles"}
    assert cell.meta["zones"]["nginx_access"]["tz"] == "UTC"
    # The CRM got nginx's own $request_id (the client sent none): it is in the CRM's lines.
    assert any(m and len(m["rid"]) == 32 for m in map(CRM_BOOT2.match, lines))


def test_crm_writes_nested_ecs_json(cells):
    cell = cells.cells["vac-json-ecsnested-east"]
    records = [json.loads(x) for x in (cell.dir / "logs/crm.log").read_text(encoding="utf-8").splitlines()]
    assert records
    for r in records:
        assert list(r)[:2] == ["@timestamp", "log"] and set(r["log"]) == {"level", "logger"}
        assert r["@timestamp"].endswith("Z") and r["ecs"] == {"version": "8.11"}
        assert r["service"] == {"name": "crm-api", "version": "1.8.3"}
        assert isinstance(r["process"]["pid"], int) and r["process"]["thread"]["name"]
    crashes = [r for r in records if r["message"].startswith("Unreadable JSON payload")]
    assert len(crashes) == sum(1 for r in cell.truth if r["root_cause"] == "json_malformed")
    for r in crashes:
        assert r["log"]["level"] == "ERROR" and "traceId" not in r
        assert r["error"]["type"] == "com.fasterxml.jackson.core.JsonParseException"
        assert r["error"]["stack_trace"].startswith("com.fasterxml.jackson.core.JsonParseException: Unexpected "
                                                    "character ('}' (code 125))")
    expired = {r["request_id"] for r in cell.truth if r["root_cause"] == "token_expired"}
    assert expired and expired == {r["traceId"] for r in records if "Jwt expired at" in r["message"]}
    # Spring Boot's JSON writer escapes '/'.
    assert "\\/api\\/" in (cell.dir / "logs/crm.log").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- nothing left running




def test_no_process_left_running(cells):
    started = json.loads(cells.pids_file.read_text())
    assert {p["cell"] for p in started} == set(CELLS)
    assert {"nginx", "nginx (child)", "crm", "vac"} <= {p["name"] for p in started}
    for proc in started:
        if process_alive(proc["pid"]):
            cmdline = process_cmdline(proc["pid"])
            assert not any(word in cmdline for word in ("nginx", "java", "vac.py", "clients.py")), (proc, cmdline)
    marker = str(cells.base)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and process_alive(int(entry.name)):
            assert marker not in process_cmdline(int(entry.name)), process_cmdline(int(entry.name))
