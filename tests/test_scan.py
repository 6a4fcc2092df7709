"""The nightly scan: simulated nights with rotation and gzip, checked against the lab's truth."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import loganalyzer
from loganalyzer import errors, history, scan
from loganalyzer.errors import ExitStatus
from tests.conftest import SAMPLES

KINDS = {"access.log": "nginx_access", "error.log": "nginx_error", "crm.log": "crm", "vac.log": "vac"}
CONFIG = """
[scan]
history = "history.db"
{extra}
""" + "".join(f'\n[[sources]]\nkind = "{k}"\npaths = ["logs/{n}*"]\n' for n, k in KINDS.items())


def setup(tmp_path: Path, extra: str = "") -> scan.ScanConfig:
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "loganalyzer.toml").write_text(CONFIG.format(extra=extra))
    return scan.load_config(tmp_path / "loganalyzer.toml")


def truth(sample: str) -> pl.DataFrame:
    return pl.read_csv(SAMPLES / sample / "truth.csv")


def split_at(sample: str, at: datetime) -> dict[str, tuple[bytes, bytes]]:
    """Each log of a sample cut where its entries reach ``at`` (UTC): night 1's bytes, night 2's."""
    logs = loganalyzer.load([SAMPLES / sample / "logs"])
    out = {}
    for df in logs.polars.values():
        for file in df["file"].cast(pl.String).unique():
            rows = df.filter(pl.col("file").cast(pl.String) == file)
            late = rows.filter(pl.col("ts") >= at)
            data = Path(file).read_bytes()
            lines = data.splitlines(keepends=True)
            cut = int(late["line"].min()) - 1 if late.height else len(lines)
            out[Path(file).name] = (b"".join(lines[:cut]), b"".join(lines[cut:]))
    return out


def totals(db_path: Path) -> dict[str, int]:
    db = sqlite3.connect(db_path)
    try:
        attempts, failed = db.execute("SELECT coalesce(sum(attempts), 0), coalesce(sum(failed), 0) FROM hourly").fetchone()
        verdicts = dict(db.execute("SELECT value, sum(n) FROM hourly_counts WHERE dimension='verdict' GROUP BY value"))
        return {"attempts": attempts, "failed": failed, **{f"verdict:{k}": v for k, v in verdicts.items()}}
    finally:
        db.close()


def rotate_and_append(logs: Path, parts: dict[str, tuple[bytes, bytes]]) -> None:
    """logrotate with compress: x.log -> x.log.1 -> x.log.2.gz; night 2's lines go to a new x.log."""
    for name, (_, second) in parts.items():
        (logs / name).rename(logs / f"{name}.1")
        with open(logs / f"{name}.1", "rb") as src, gzip.open(logs / f"{name}.2.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        (logs / f"{name}.1").unlink()
        (logs / name).write_bytes(second)


def comparable(attempts: pl.DataFrame) -> pl.DataFrame:
    """Attempts as a scan keeps them, text typed, in one order."""
    cols = ["ts", "endpoint", "verdict", "root_cause", "root_cause_detail", "status_proxy"]
    return attempts.select(cols).with_columns(pl.col(pl.Categorical).cast(pl.String)).sort(cols, nulls_last=True)


def middle(sample: str) -> datetime:
    t = truth(sample)["sent_utc"].str.to_datetime(time_zone="UTC")
    return t.min() + (t.max() - t.min()) / 2


@pytest.mark.parametrize("sample", ["trailing-comma", "mixed-faults"])
def test_two_nights_with_rotation_and_gzip_count_every_attempt_once(tmp_path, sample):
    cfg = setup(tmp_path)
    at = middle(sample)
    parts = split_at(sample, at)
    logs = tmp_path / "logs"
    for name, (first, _) in parts.items():
        (logs / name).write_bytes(first)
    # Night 1 is scanned as it ends: the last requests may still be in flight, and are held.
    r1 = scan.scan(cfg, now=at.timestamp() + 1)
    assert r1.held_until_next_run > 0
    # Night 2: logrotate with compress: access.log -> access.log.1 -> access.log.2.gz; new lines go to a new file.
    rotate_and_append(logs, parts)
    r2 = scan.scan(cfg)
    assert {p.status for p in r2.pieces} >= {"rotated", "new"}
    got = totals(tmp_path / "history.db")
    t = truth(sample)
    assert got["attempts"] == t.height
    assert got["failed"] == t.filter(pl.col("verdict") != "ok").height
    want = Counter(t["verdict"].to_list())
    assert {k.removeprefix("verdict:"): v for k, v in got.items() if k.startswith("verdict:")} == dict(want)
    # and a third run over the same files adds nothing
    r3 = scan.scan(cfg)
    assert r3.run_id is None and totals(tmp_path / "history.db") == got


def test_the_windowed_scan_equals_analyze(tmp_path):
    cfg = setup(tmp_path, 'window = "10s"\noverlap = "5s"')
    for f in (SAMPLES / "mixed-faults" / "logs").iterdir():
        shutil.copy(f, tmp_path / "logs" / f.name)
    r = scan.scan(cfg, complete=True, keep_attempts=True)
    a = loganalyzer.analyze([SAMPLES / "mixed-faults" / "logs"])
    windowed = comparable(r.attempts)
    whole = comparable(scan._compact(pl.from_pandas(a.requests)))
    assert (r.attempts["ts"].max() - r.attempts["ts"].min()).total_seconds() > 30  # several windows indeed
    assert windowed.equals(whole)


def test_healthy_night_exits_0_and_trailing_comma_exits_5_naming_the_breach(tmp_path, cli_run):
    for sample, status in (("healthy", ExitStatus.OK), ("trailing-comma", ExitStatus.FAILURES)):
        d = tmp_path / sample
        d.mkdir()
        setup(d)
        for f in (SAMPLES / sample / "logs").iterdir():
            shutil.copy(f, d / "logs" / f.name)
        p = cli_run("scan", cwd=d)
        assert p.returncode == status, p.stderr
        assert f"settings: {d / 'loganalyzer.toml'}" in p.stdout
        if status == ExitStatus.FAILURES:
            assert "NEW new_cause: new tonight: json_malformed (trailing_comma)" in p.stdout
            assert "success_rate" in p.stdout
        q = cli_run("scan", "-q", cwd=d)
        assert q.returncode == ExitStatus.OK and q.stdout == ""  # nothing new: quiet and healthy


def test_evidence_stays_readable_after_the_logs_are_gone(tmp_path):
    cfg = setup(tmp_path)
    for f in (SAMPLES / "trailing-comma" / "logs").iterdir():
        shutil.copy(f, tmp_path / "logs" / f.name)
    scan.scan(cfg)
    originals = {n: (SAMPLES / "trailing-comma" / "logs" / n).read_text().splitlines() for n in KINDS}
    shutil.rmtree(tmp_path / "logs")
    db = sqlite3.connect(tmp_path / "history.db")
    rows = db.execute("SELECT e.file, e.line, e.text, e.identity FROM evidence e JOIN failures f USING (failure_id) "
                      "WHERE e.kind IN ('nginx_access', 'vac') LIMIT 50").fetchall()
    assert rows
    for file, line, text, identity in rows:
        assert text == originals[Path(file).name][line - 1]
        assert len(identity) == 64


def test_a_second_scan_is_refused_while_one_holds_the_lock(tmp_path):
    cfg = setup(tmp_path)
    shutil.copy(SAMPLES / "healthy" / "logs" / "access.log", tmp_path / "logs" / "access.log")
    with history.lock(cfg.history), pytest.raises(errors.Locked) as exc:
        scan.scan(cfg)
    assert exc.value.exit_status == ExitStatus.LOCKED


def test_a_damaged_history_is_a_clear_error_and_a_deleted_one_is_rebuilt(tmp_path):
    cfg = setup(tmp_path)
    for f in (SAMPLES / "trailing-comma" / "logs").iterdir():
        shutil.copy(f, tmp_path / "logs" / f.name)
    scan.scan(cfg)
    before = totals(tmp_path / "history.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{cfg.history}{suffix}").unlink(missing_ok=True)
    scan.scan(cfg)
    assert totals(tmp_path / "history.db") == before  # rebuilt from the logs still on disk
    Path(cfg.history).write_bytes(b"this is not sqlite" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{cfg.history}{suffix}").unlink(missing_ok=True)
    with pytest.raises(history.HistoryError, match="not a loganalyzer history or is damaged"):
        scan.scan(cfg)


def test_a_newer_history_is_refused(tmp_path):
    cfg = setup(tmp_path)
    db = sqlite3.connect(cfg.history)
    db.execute("PRAGMA user_version = 999")
    db.close()
    with pytest.raises(history.HistoryError, match="newer loganalyzer"):
        history.connect(cfg.history)


def test_failure_rate_above_the_baseline_and_silent_sources(tmp_path):
    cfg = setup(tmp_path, "")
    logs = tmp_path / "logs"
    for f in (SAMPLES / "healthy" / "logs").iterdir():
        shutil.copy(f, logs / f.name)
    first = scan.scan(cfg)
    assert first.breaches == []
    # the same files, untouched for two days: every source is silent
    later = scan.scan(cfg, now=first.started.timestamp() + 2 * 86400)
    assert sorted(b["subject"] for b in later.breaches if b["rule"] == "silent_source") == sorted(KINDS.values())
    # a night of the trailing-comma incident after a healthy one: a failure rate far above the baseline
    for f in logs.iterdir():
        f.unlink()
    for f in (SAMPLES / "trailing-comma" / "logs").iterdir():
        shutil.copy(f, logs / f.name)
    bad = scan.scan(cfg)
    rules = {b["rule"] for b in bad.breaches}
    assert {"success_rate", "new_cause", "consecutive_failures"} <= rules
    assert bad.new and bad.new[0]["subject"] == "json_malformed (trailing_comma)"


def test_config_is_found_upwards_then_in_xdg(tmp_path):
    from loganalyzer import config

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "loganalyzer.toml").write_text("")
    assert config.find(tmp_path / "a" / "b", {}) == tmp_path / "loganalyzer.toml"
    xdg = tmp_path / "xdg"
    (xdg / "loganalyzer").mkdir(parents=True)
    (xdg / "loganalyzer" / "config.toml").write_text("")
    other = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    other.mkdir()
    assert config.find(other, {"XDG_CONFIG_HOME": str(xdg)}) == xdg / "loganalyzer" / "config.toml"


def test_init_writes_a_starter_the_scan_reads(tmp_path, cli_run):
    p = cli_run("init", str(tmp_path))
    assert p.returncode == 0, p.stderr
    cfg = scan.load_config(tmp_path / "loganalyzer.toml")
    assert [s.kind for s in cfg.sources] == ["nginx_access", "nginx_error"]
    assert cfg.history == str(tmp_path / "loganalyzer.db")
    again = cli_run("init", str(tmp_path))
    assert again.returncode == ExitStatus.USAGE and "exists already" in again.stderr


@pytest.mark.parametrize(("text", "message"), [
    ('[scan]\nwindoww = "1h"\n[[sources]]\npaths = ["x"]\n', "unknown [scan] key"),
    ('[[sources]]\nkind = "apache"\npaths = ["x"]\n', "unknown kind 'apache'"),
    ('[scan]\nwindow = "soon"\n[[sources]]\npaths = ["x"]\n', "expected a duration"),
    ("[scan]\n", "no [[sources]]"),
])
def test_bad_settings_exit_2_with_one_line(tmp_path, cli_run, text, message):
    (tmp_path / "loganalyzer.toml").write_text(text)
    p = cli_run("scan", cwd=tmp_path)
    assert p.returncode == ExitStatus.USAGE
    assert message in p.stderr and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_no_file_matching_exits_3_and_no_settings_file_says_what_to_do(tmp_path, cli_run):
    (tmp_path / "loganalyzer.toml").write_text('[[sources]]\npaths = ["nowhere/*.log"]\n')
    p = cli_run("scan", cwd=tmp_path)
    assert p.returncode == ExitStatus.INPUT and "no log file matches" in p.stderr
    empty = tmp_path.parent / f"{tmp_path.name}-empty"
    empty.mkdir()
    q = cli_run("scan", cwd=empty, env={"XDG_CONFIG_HOME": str(empty)})
    assert q.returncode == ExitStatus.USAGE and "loganalyzer init" in q.stderr


def test_prometheus_textfile_parses_and_has_bounded_labels(tmp_path, cli_run):
    from prometheus_client.parser import text_string_to_metric_families

    setup(tmp_path)
    for f in (SAMPLES / "trailing-comma" / "logs").iterdir():
        shutil.copy(f, tmp_path / "logs" / f.name)
    p = cli_run("scan", "--prom", "night.prom", "--json", "night.json", "-o", "night.html", cwd=tmp_path)
    assert p.returncode == ExitStatus.FAILURES, p.stderr
    families = {f.name: f for f in text_string_to_metric_families((tmp_path / "night.prom").read_text())}
    attempts = {s.labels["verdict"]: s.value for s in families["loganalyzer_attempts"].samples
                if s.name.endswith("_total")}
    assert attempts == {"ok": 300.0, "upstream_crash": 144.0}
    causes = {s.labels["cause"] for s in families["loganalyzer_failed_attempts"].samples}
    assert causes == {"json_malformed"}
    assert families["loganalyzer_scan_last_success_timestamp_seconds"].samples[0].value > 1.7e9
    for family in families.values():
        for s in family.samples:
            for v in s.labels.values():
                assert "/" not in v  # never a path
    html = (tmp_path / "night.html").read_text()
    assert "json_malformed" in html and "new tonight" in html


def test_scan_killed_at_random_points_keeps_a_consistent_history(tmp_path, cli_run):
    import random
    import subprocess
    import sys
    import time

    setup(tmp_path)
    for f in (SAMPLES / "trailing-comma" / "logs").iterdir():
        shutil.copy(f, tmp_path / "logs" / f.name)
    clean = tmp_path / "clean"
    shutil.copytree(tmp_path, clean)
    assert cli_run("scan", cwd=clean).returncode == ExitStatus.FAILURES
    want = totals(clean / "history.db")
    rng = random.Random(20)
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-m", "loganalyzer", "scan", "-q"], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 2.5))
        proc.kill()
        proc.wait()
        if (tmp_path / "history.db").exists():
            got = totals(tmp_path / "history.db")
            assert got in ({"attempts": 0, "failed": 0}, want)  # all of a run or none of it
    cli_run("scan", "-q", cwd=tmp_path)
    assert totals(tmp_path / "history.db") == want


def test_the_example_settings_for_the_samples(tmp_path):
    cfg = scan.load_config(SAMPLES / "scan.toml")
    cfg.history = str(tmp_path / "history.db")
    r = scan.scan(cfg)
    assert r.summary()["attempts"] == truth("trailing-comma").height
    assert {b["rule"] for b in r.breaches} == {"success_rate", "new_cause", "consecutive_failures"}
    assert scan.scan(cfg).nothing_new


def test_a_client_token_expiring_soon_is_a_breach(tmp_path):
    cfg = setup(tmp_path)
    for f in (SAMPLES / "healthy" / "logs").iterdir():
        shutil.copy(f, tmp_path / "logs" / f.name)
    with (tmp_path / "logs" / "vac.log").open("a") as f:
        f.write("2026-11-26 01:30:00,000 INFO [vac.auth] access token refreshed; token expires at 2026-11-28T06:00:00Z\n")
    now = datetime(2026, 11, 26, 2, 0, tzinfo=UTC).timestamp()
    r = scan.scan(cfg, now=now)
    expiry = [b for b in r.breaches if b["rule"] == "token_expiry"]
    assert len(expiry) == 1 and expiry[0]["subject"] == "token" and 2.1 < expiry[0]["value"] < 2.2
    assert "expires 2026-11-28T06:00:00Z" in expiry[0]["message"]
    assert not [b for b in r.breaches if b["rule"] != "token_expiry"]  # healthy otherwise


def test_reading_in_small_batches_gives_the_same_night(tmp_path):
    """Memory is bounded by the batch: a night read 64 KB per file at a time equals one read whole."""
    whole, batched = tmp_path / "whole", tmp_path / "batched"
    for d, extra in ((whole, ""), (batched, 'batch = "64KB"\nwindow = "20s"\noverlap = "5s"\nhold = "5s"')):
        d.mkdir()
        setup(d, extra)
        for f in (SAMPLES / "mixed-faults" / "logs").iterdir():
            shutil.copy(f, d / "logs" / f.name)
    a = scan.scan(scan.load_config(whole / "loganalyzer.toml"), keep_attempts=True)
    b = scan.scan(scan.load_config(batched / "loganalyzer.toml"), keep_attempts=True)
    assert any("batches" in n for n in b.notes)
    assert comparable(b.attempts).equals(comparable(a.attempts))
    assert totals(batched / "history.db") == totals(whole / "history.db")
    assert b.lines == a.lines


def test_exit_statuses_of_the_scan(tmp_path, cli_run):
    (tmp_path / "logs").mkdir()
    (tmp_path / "loganalyzer.toml").write_text('[scan]\nhistory = "history.db"\n[[sources]]\nkind = "nginx_error"\n'
                                               'paths = ["logs/error.log*"]\n')
    # 4: lines read, but none tells of a request
    (tmp_path / "logs" / "error.log").write_text(
        "2026/11/26 04:14:19 [notice] 20076#20076: using the \"epoll\" event method\n"
        "2026/11/26 04:14:19 [notice] 20076#20076: nginx/1.22.1\n")
    p = cli_run("scan", cwd=tmp_path)
    assert p.returncode == ExitStatus.NOTHING_TO_ANALYSE, p.stdout + p.stderr
    # 6: another scan holds the lock
    with history.lock(tmp_path / "history.db"):
        p = cli_run("scan", cwd=tmp_path)
    assert p.returncode == ExitStatus.LOCKED and "another scan is running" in p.stderr
    # 3: a damaged history, then --rebuild moves it aside and scans again
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'history.db'}{suffix}").unlink(missing_ok=True)
    (tmp_path / "history.db").write_bytes(b"garbage" * 1000)
    p = cli_run("scan", cwd=tmp_path)
    assert p.returncode == ExitStatus.INPUT and "--rebuild" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = cli_run("scan", "--rebuild", cwd=tmp_path)
    assert p.returncode == ExitStatus.NOTHING_TO_ANALYSE, p.stderr  # rebuilt: the same lines read again
    assert list(tmp_path.glob("history.db.damaged-*"))


def test_failure_rate_against_a_baseline_of_nights(tmp_path):
    cfg = setup(tmp_path, "")
    cfg.thresholds.update(success_rate=0.0, new_causes=False, consecutive_failures=0)
    logs = tmp_path / "logs"
    # three healthy nights, then the incident: its failure rate is far above mean + 3 sigma
    for night in range(4):
        for f in logs.iterdir():
            f.unlink()
        sample = "healthy" if night < 3 else "trailing-comma"
        for f in (SAMPLES / sample / "logs").iterdir():
            shutil.copy(f, logs / f.name)
        # a new start each night: the files begin anew (the day's rotation)
        (logs / "vac.log").write_bytes(f"2026-11-2{night} 00:00:00,000 INFO [vac] night {night}\n".encode()
                                       + (logs / "vac.log").read_bytes())
        r = scan.scan(cfg)
        rules = {b["rule"] for b in r.breaches}
        assert ("failure_rate" in rules) == (night == 3), (night, r.breaches)


def test_a_file_gone_before_the_next_run_gives_its_held_lines(tmp_path):
    cfg = setup(tmp_path)
    at = middle("trailing-comma")
    parts = split_at("trailing-comma", at)
    for name, (first, _) in parts.items():
        (tmp_path / "logs" / name).write_bytes(first)
    r1 = scan.scan(cfg, now=at.timestamp() + 1)
    assert r1.held_until_next_run > 0
    (tmp_path / "logs" / "error.log").unlink()  # gone, with lines carried over
    r2 = scan.scan(cfg)
    assert "gone" in {p.status for p in r2.pieces}
    assert r1.summary()["attempts"] + r2.summary()["attempts"] > r1.summary()["attempts"]


def test_a_run_that_finds_nothing_new_reads_only_the_history(tmp_path):
    # An unchanged folder is cron's commonest night: it must not pay for polars and the rules.
    cfg = setup(tmp_path, 'batch = "64KB"')
    for f in (SAMPLES / "healthy" / "logs").iterdir():
        shutil.copy(f, tmp_path / "logs" / f.name)
    scan.scan(cfg, complete=True)
    child = (
        "import sys, json\n"
        "from loganalyzer import scan\n"
        f"r = scan.scan(scan.load_config({str(tmp_path / 'loganalyzer.toml')!r}))\n"
        "d = r.to_dict()\n"
        "print(json.dumps([sorted(m for m in ('polars', 'pandas', 'loganalyzer.diagnose') if m in sys.modules),"
        " d['summary']['attempts'], d['run']['notes']]))\n"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True, cwd=tmp_path)
    loaded, attempts, notes = json.loads(out.stdout)
    assert loaded == [] and attempts == 0
    assert "nothing new since the last run" in notes


def test_lines_held_back_are_committed_by_the_next_run_when_nothing_new_arrived(tmp_path):
    """Held lines whose times are past the wall clock are final once no file grows: the next run
    commits them, and the one after it reads nothing."""
    cfg = setup(tmp_path)
    at = middle("trailing-comma")
    for name, (first, _) in split_at("trailing-comma", at).items():
        (tmp_path / "logs" / name).write_bytes(first)
    r1 = scan.scan(cfg, now=at.timestamp() + 1)
    assert r1.held_until_next_run > 0
    r2 = scan.scan(cfg, now=at.timestamp() + 2)  # the files did not grow
    assert r2.held_until_next_run == 0 and r2.summary()["attempts"] > 0
    assert {p.status for p in r2.pieces} == {"unchanged"}
    r3 = scan.scan(cfg, now=at.timestamp() + 3)
    assert r3.run_id is None and r3.nothing_new
