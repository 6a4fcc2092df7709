"""An analysis in bounded memory (loganalyzer.bounded) gives what a whole analysis gives: the same
attempts, verdicts, causes, summary, timeline and differences, read in batches of a few kilobytes
and correlated in windows of seconds, on every sample and every cell of the layout matrix."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import loganalyzer
from loganalyzer import bounded, correlate, diagnose, errors
from loganalyzer.errors import ExitStatus
from tests.conftest import SAMPLES

DATA = Path(__file__).resolve().parent / "data"

INCIDENTS = sorted(p.parent for p in SAMPLES.glob("*/logs") if p.is_dir()) + \
    sorted(p.parent for p in (SAMPLES / "matrix").glob("*/logs"))
COLUMNS = ["ts", "method", "path", "verdict", "root_cause", "root_cause_detail", "status_client", "status_proxy",
           "status_upstream", "answered_by", "attempt", "request_id"]


def attempts(a: loganalyzer.Analysis) -> pl.DataFrame:
    return pl.from_pandas(a.requests[COLUMNS]).sort(COLUMNS, nulls_last=True)


def counts(a: loganalyzer.Analysis) -> list[dict]:
    return a.sources[["file", "kind", "format", "lines", "parsed", "continuation", "rejected"]].to_dict("records")


@pytest.fixture(scope="module")
def ruleset():
    return diagnose.load_rules([])


@pytest.mark.parametrize("incident", INCIDENTS, ids=lambda p: p.name)
def test_small_batches_and_windows_give_the_whole_analysis(incident, ruleset):
    whole = loganalyzer.analyze(incident / "logs")
    # A fifth of the logs a batch (each file's share of it a few kilobytes), windows of 10 s each on its own.
    size = sum(f.stat().st_size for f in (incident / "logs").iterdir())
    part = bounded.analyze([incident / "logs"], ruleset, why="test", batch=size // 5, window_s=10, overlap_s=5,
                           group=0)
    assert part.bounded and "analysed in" in part.bounded
    assert re.search(r"in (\d+) batches", part.bounded) and int(re.search(r"in (\d+) batches", part.bounded)[1]) > 1
    assert attempts(part).equals(attempts(whole))
    w, p = whole.to_dict(requests=False), part.to_dict(requests=False)
    for key in ("timeline", "differences", "clock_offsets", "rejects"):
        assert p[key] == w[key], key
    s_w, s_p = dict(w["summary"]), dict(p["summary"])
    # A request without an id whose retries fall in two windows may count twice: only the attempts are exact.
    for key in ("requests", "failed_requests", "causes", "suspected_trigger"):
        s_w.pop(key, None), s_p.pop(key, None)
    assert s_p == s_w
    assert counts(part) == counts(whole)
    assert [(c["root_cause"], c["attempts"]) for c in p["causes"]] == [(c["root_cause"], c["attempts"])
                                                                       for c in w["causes"]]


def test_windows_of_upstream_lines_alone_give_no_attempts_when_the_run_has_the_proxys_log(ruleset):
    """The CRM's clock 8 h off and unmeasured: its lines fall in windows of their own. Those windows
    are not "only the upstream's log" (the run has the proxy's and the client's): no attempts come
    of them, as none come of those lines in a whole analysis."""
    logs = DATA / "unmeasured-crm-clock" / "logs"
    whole = loganalyzer.analyze(logs)
    assert not any(o["applied"] for o in whole.to_dict(requests=False)["clock_offsets"] if o["source"] == "crm")
    size = sum(f.stat().st_size for f in logs.iterdir())
    part = bounded.analyze([logs], ruleset, why="test", batch=size // 5, window_s=10, overlap_s=5, group=0)
    assert attempts(part).equals(attempts(whole))
    assert len(part.requests) == len(whole.requests)


def test_a_window_of_upstream_lines_is_attempts_only_when_the_logs_hold_nothing_else():
    crm = loganalyzer.load(SAMPLES / "mixed-faults" / "logs" / "crm.log").polars
    classes = diagnose.load_rules([]).nginx_messages
    assert correlate.correlate(crm, classes).attempts.height > 0  # the upstream's log alone
    assert correlate.correlate(crm, classes, held={"crm"}).attempts.height > 0
    assert correlate.correlate(crm, classes, held={"crm", "nginx_access"}).attempts.height == 0


def test_the_requests_keep_their_evidence_and_unique_names_across_windows(ruleset):
    logs = SAMPLES / "mixed-faults" / "logs"
    part = bounded.analyze([logs], ruleset, why="test", batch=48 << 10, window_s=10, overlap_s=5, group=0)
    req = pl.from_pandas(part.requests)
    assert req["attempt_id"].n_unique() == req.height
    named = req.filter(pl.col("logical_id").str.starts_with("#"))
    # "#N" names the request after its first attempt: attempt N, named so itself.
    first = named.join(req.select(pl.format("#{}", "attempt_id").alias("logical_id"),
                                  pl.col("logical_id").alias("own")), on="logical_id", how="left")
    assert first["own"].null_count() == 0 and (first["own"] == first["logical_id"]).all()
    ev = pl.from_pandas(part.evidence)
    failed = req.filter(pl.col("verdict") != "ok")
    assert failed.height and failed.join(ev, on="attempt_id", how="anti").height == 0
    # cited by the file and line a reader opens
    for row in ev.filter(pl.col("text").is_not_null()).head(50).iter_rows(named=True):
        lines = open(row["file"], encoding="utf-8").read().splitlines()
        assert lines[row["line"] - 1] in row["text"]


def test_a_window_in_time_is_kept_as_a_whole_analysis_keeps_it(ruleset):
    logs = SAMPLES / "mixed-faults" / "logs"
    whole = loganalyzer.analyze(logs, since="2026-11-26 01:15:40Z", until="2026-11-26 01:16:10Z")
    part = bounded.analyze([logs], ruleset, why="test", batch=48 << 10, window_s=10, overlap_s=5,
                           since="2026-11-26 01:15:40Z", until="2026-11-26 01:16:10Z")
    assert 0 < len(part.requests) < 535
    assert attempts(part).equals(attempts(whole))


def test_logs_over_the_budget_are_analysed_in_batches_through_the_cli(tmp_path, cli_run):
    logs = SAMPLES / "trailing-comma" / "logs"
    p = cli_run("analyze", str(logs), "--max-memory", "4MB", "--json", str(tmp_path / "b.json"))
    q = cli_run("analyze", str(logs), "--max-memory", "none", "--json", str(tmp_path / "w.json"))
    assert p.returncode == q.returncode == ExitStatus.OK, p.stderr
    assert "note: the logs passed" in p.stdout and "analysed in 1 batch" in p.stdout
    b, w = (json.loads((tmp_path / n).read_text()) for n in ("b.json", "w.json"))
    assert any("analysed in" in n for n in b["notes"]) and not any("analysed in" in n for n in w["notes"])
    assert b["summary"]["by_cause"] == w["summary"]["by_cause"] and b["summary"]["attempts"] == 444
    assert [r["verdict"] for r in b["requests"]] == [r["verdict"] for r in w["requests"]]
    # the report renders from it as from any export
    r = cli_run("report", str(tmp_path / "b.json"), "-o", str(tmp_path / "b.html"))
    assert r.returncode == ExitStatus.OK, r.stderr
    assert "json_malformed" in (tmp_path / "b.html").read_text()


def test_a_trace_needs_the_entries_and_says_how_else(tmp_path, cli_run):
    logs = SAMPLES / "healthy" / "logs"
    p = cli_run("trace", "x", str(logs), "--max-memory", "1MB")
    assert p.returncode == ExitStatus.TOO_LARGE
    assert "trace from an export (analyze --export DIR, then trace --from DIR)" in p.stderr
    # ... which works: the batched export cites each attempt's lines (a successful one's by file and line)
    assert cli_run("analyze", str(logs), "--max-memory", "1MB", "--export", str(tmp_path / "x"),
                   "-q").returncode == ExitStatus.OK
    t = cli_run("trace", "#3", "--from", str(tmp_path / "x"))
    assert t.returncode == ExitStatus.OK, t.stderr
    assert re.search(r"access\.log:\d+  \[request_id\]", t.stdout) and "vac.log:" in t.stdout
    with pytest.raises(errors.TooLarge):
        loganalyzer.analyze(SAMPLES / "healthy" / "logs", max_memory="1MB", whole=True)


def test_more_attempts_than_the_budget_keeps_stop_with_too_large(tmp_path):
    # 400 copies of an access log (49 MB) spread over days: ~180,000 attempts, more than 270 MB can
    # summarise and export besides what the analysis takes before it reads a line (refused after
    # the first batch, of a few MB).
    text = (SAMPLES / "healthy" / "logs" / "access.log").read_text()
    big = tmp_path / "access.log"
    with big.open("w") as f:
        for k in range(400):
            f.write(text.replace("26/Nov/2026:04:", f"{20 + k // 80}/Nov/2026:{4 + k % 80 // 6:02d}:").replace(
                ":13:", f":{13 + 7 * (k % 6):02d}:"))
    probe = [sys.executable, "-m", "loganalyzer", "analyze", str(big), "--max-memory", "270MB", "-q"]
    p = subprocess.run(probe, capture_output=True, text=True, timeout=300)
    assert p.returncode == ExitStatus.TOO_LARGE, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(r"attempts.*(more than|too many for) 270\.0 MB", lines[0]), p.stderr


def test_lines_too_close_in_time_to_split_stop_with_too_large(tmp_path, ruleset):
    # the same 40 s of access lines, 80 times over (5 MB): whatever the batch, correlated together
    text = (SAMPLES / "healthy" / "logs" / "access.log").read_text()
    (tmp_path / "access.log").write_text(text * 80)
    with pytest.raises(errors.TooLarge, match=r"more text within 7 min of one another than the memory allowed"):
        bounded.analyze([tmp_path / "access.log"], ruleset, why="test", batch=256 << 10)


def test_the_kept_attempts_wait_on_disk_and_go_with_the_run(tmp_path, monkeypatch, ruleset):
    """Between batches the attempts are on disk, in the run's own temporary folder, which is gone
    once the analysis is; a disk with no room stops it with one of the project's errors."""
    import errno
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    logs = SAMPLES / "mixed-faults" / "logs"
    written = []
    real = pl.DataFrame.write_ipc
    monkeypatch.setattr(pl.DataFrame, "write_ipc", lambda self, path, **k: written.append(path) or real(self, path, **k))
    a = bounded.analyze([logs], ruleset, why="test", batch=48 << 10, window_s=10, overlap_s=5, group=0)
    assert len(a.requests) and len(written) > 3
    assert all(str(p).startswith(str(tmp_path)) for p in written)
    assert list(tmp_path.iterdir()) == []  # the folder went with the run

    def full(self, path, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_ipc", full)
    with pytest.raises(errors.LoganalyzerError, match="cannot write .*: No space left on device .the attempts kept"):
        bounded.analyze([logs], ruleset, why="test", batch=48 << 10, window_s=10, overlap_s=5, group=0)
    assert list(tmp_path.iterdir()) == []


def test_each_files_format_is_decided_once_not_in_every_batch(monkeypatch, ruleset):
    """As a whole load decides a file's format on its head, so does a batched one, once: no range
    detects it again (and every file's row keeps what the decision found)."""
    from loganalyzer import ingest

    logs = SAMPLES / "mixed-faults" / "logs"
    detections = []
    real = ingest.detect
    monkeypatch.setattr(ingest, "detect", lambda *a, **k: detections.append(1) or real(*a, **k))
    size = sum(f.stat().st_size for f in logs.iterdir())
    part = bounded.analyze([logs], ruleset, why="test", batch=size // 5, window_s=10, overlap_s=5, group=0)
    batches = int(re.search(r"in (\d+) batches", part.bounded)[1])
    files = len(list(logs.iterdir()))
    assert batches > 2 and len(detections) <= files
    whole = loganalyzer.analyze(logs)
    keys = ["file", "kind", "format", "kind_evidence", "kind_confidence", "match_rate"]
    assert part.sources[keys].to_dict("records") == whole.sources[keys].to_dict("records")


def test_an_archive_read_in_batches_is_inflated_once(tmp_path, monkeypatch):
    import gzip

    from loganalyzer import cursors, sources

    data = (SAMPLES / "mixed-faults" / "logs" / "crm.log").read_bytes() * 10
    plain, packed = tmp_path / "crm.log", tmp_path / "crm.log.gz"
    plain.write_bytes(data)
    with gzip.open(packed, "wb") as f:
        f.write(data)
    inflations = []
    real = sources._blocks
    monkeypatch.setattr(sources, "_blocks", lambda *a, **k: inflations.append(a[0]) or real(*a, **k))
    for path in (plain, packed):
        inflations.clear()
        got, start, more = [], 0, True
        while more:
            block, new, _, more = cursors.read_range(str(path), b"", start, True, 100_000)
            got.append(block)
            start += new
        assert b"".join(got) == data and len(got) > 10
        # a plain file is read from each batch's start; an archive goes on inflating where it was
        assert len(inflations) == (len(got) if path == plain else 1)
