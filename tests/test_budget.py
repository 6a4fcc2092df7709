"""The memory budget of a whole analysis: logs that would not fit are refused while they are read,
with their own exit status, instead of filling the machine's memory."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys

import pytest

import loganalyzer
from loganalyzer import budget, errors
from loganalyzer.errors import ExitStatus
from tests.conftest import SAMPLES

LOGS = SAMPLES / "healthy" / "logs"


def test_limits_are_read_from_sizes_auto_and_none():
    assert budget.limit_of("64MB") == 64 << 20
    assert budget.limit_of(12345) == 12345
    assert budget.limit_of("none") is None and budget.limit_of(0) is None and budget.limit_of(None) is None
    free = budget.available()
    assert free is not None and free > 0
    auto = budget.limit_of("auto")
    assert auto is not None and 0 < auto <= free
    with pytest.raises(errors.ConfigError, match="expected a size"):
        budget.limit_of("lots")


def test_the_budget_counts_text_across_files_and_stops_past_the_limit():
    b = budget.Budget(90)
    b.charge(5)
    b.charge(5)  # 10 bytes of text: 90 bytes held, at the limit
    with pytest.raises(errors.TooLarge, match="reading stopped after 11 bytes of log text") as exc:
        b.charge(1)
    assert exc.value.exit_status == ExitStatus.TOO_LARGE
    budget.Budget(None).charge(1 << 50)  # no limit: nothing is ever refused


def test_an_analysis_over_its_budget_goes_on_in_batches_or_raises_too_large_when_asked_whole():
    with pytest.raises(errors.TooLarge, match="too large to analyse whole"):
        loganalyzer.analyze(LOGS, max_memory="1MB", whole=True)
    over = loganalyzer.analyze(LOGS, max_memory="1MB")
    assert over.bounded and "over the memory limit of 1.0 MB: analysed in 1 batch" in over.bounded
    a = loganalyzer.analyze(LOGS, max_memory="64MB")
    assert a.summary["attempts"] == over.summary["attempts"] > 0 and a.bounded is None


def test_plain_files_over_the_budget_are_refused_before_they_are_read(tmp_path):
    big = tmp_path / "access.log"
    text = (LOGS / "access.log").read_bytes()
    with big.open("wb") as f:
        for _ in range(-(-(3 << 20) // len(text))):  # a little over 3 MB
            f.write(text)
    with pytest.raises(errors.TooLarge, match="the files hold 3.") as exc:
        loganalyzer.load(big, max_memory="20MB")
    assert "reading stopped" not in str(exc.value)


def test_a_small_archive_that_inflates_past_the_budget_stops_early_in_bounded_memory(tmp_path):
    # 4 KB of gzip holding 240 MB of access lines: held whole, about 2 GB; read in batches, refused
    # after the first, in bounded memory.
    bomb = tmp_path / "access.log.gz"
    block = (LOGS / "access.log").read_bytes()
    block = block * (-(-(1 << 20) // len(block)))
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        for _ in range(240):
            f.write(block)
    probe = ("import resource, subprocess, sys; "
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(p.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
             "sys.stderr.write(p.stderr)")
    p = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "loganalyzer", "analyze", str(bomb),
                        "--max-memory", "100MB"], capture_output=True, text=True, timeout=300)
    status, peak_kb = (int(x) for x in p.stdout.split())
    assert status == ExitStatus.TOO_LARGE, p.stderr
    lines = p.stderr.strip().splitlines()
    # Read in batches, refused after its first: 100 MB is less than the analysis takes before a line.
    assert len(lines) == 1 and "100.0 MB is too little to read these logs in batches" in lines[0], p.stderr
    assert "--max-memory SIZE" in lines[0], p.stderr
    assert "Traceback" not in p.stderr
    assert peak_kb < 700 * 1024, f"peak {peak_kb / 1024:.0f} MB"


def test_the_settings_file_sets_the_budget_and_the_option_wins(tmp_path, cli_run):
    logs = tmp_path / "logs"
    shutil.copytree(LOGS, logs)
    (tmp_path / "loganalyzer.toml").write_text('max_memory = "1MB"\n')
    p = cli_run("trace", "x", str(logs), cwd=tmp_path)
    assert p.returncode == ExitStatus.TOO_LARGE and p.stderr.startswith("Error: these logs are too large"), p.stderr
    p = cli_run("analyze", str(logs), cwd=tmp_path)
    assert p.returncode == ExitStatus.OK and "over the memory limit of 1.0 MB: analysed in" in p.stdout
    p = cli_run("analyze", str(logs), "--max-memory", "none", cwd=tmp_path)
    assert p.returncode == ExitStatus.OK and "analysed in" not in p.stdout
    (tmp_path / "loganalyzer.toml").write_text("max_memory = \"a lot\"\n")
    p = cli_run("analyze", str(logs), "-q", cwd=tmp_path)
    assert p.returncode == ExitStatus.USAGE and "loganalyzer.toml: max_memory: expected a size" in p.stderr, p.stderr


def test_a_bad_option_value_names_the_option(cli_run):
    p = cli_run("analyze", str(LOGS), "--max-memory", "1XB")
    assert p.returncode == ExitStatus.USAGE and "'--max-memory'" in p.stderr and "Traceback" not in p.stderr
    p = cli_run("trace", "x", str(LOGS), "--max-memory", "1MB")
    assert p.returncode == ExitStatus.TOO_LARGE, p.stderr


def test_parse_streams_and_takes_no_budget(tmp_path, cli_run):
    (tmp_path / "loganalyzer.toml").write_text('max_memory = "1MB"\n')
    out = tmp_path / "entries.jsonl"
    p = cli_run("parse", str(LOGS), "--out", str(out), cwd=tmp_path)
    assert p.returncode == ExitStatus.OK, p.stderr
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(entries) > 1000
