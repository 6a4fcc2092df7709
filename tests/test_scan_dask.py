"""The scan on a Dask cluster (2 worker processes here) gives the history one process gives."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from loganalyzer import cluster, errors, scan
from tests.conftest import SAMPLES
from tests.test_scan import middle, rotate_and_append, setup, split_at

distributed = pytest.importorskip("distributed", reason="the test extra installs dask and distributed")

#: What must be equal: every table's rows, without run numbers, wall-clock times and ids.
DUMPS = {
    "hourly": "SELECT hour, endpoint, attempts, requests, failed, round(request_time_p95, 6), longest_failure_run "
              "FROM hourly",
    "hourly_counts": "SELECT hour, endpoint, dimension, value, n FROM hourly_counts",
    "failures": "SELECT ts, endpoint, request_id, attempt, verdict, root_cause, root_cause_detail, status_client, "
                "status_proxy, status_upstream FROM failures",
    "evidence": "SELECT f.ts, e.role, e.kind, e.file, e.identity, e.line, e.text FROM evidence e "
                "JOIN failures f USING (failure_id)",
    "signatures": "SELECT cause, detail, first_seen, last_seen, failed_attempts FROM signatures",
    "files_read": "SELECT path, identity, status, start_offset, end_offset, first_line, lines FROM files_read",
    "cursors": "SELECT identity, path, offset, lines, length(carry), carry_line FROM cursors",
}


def dump(db_path: Path, root: Path) -> dict[str, list]:
    db = sqlite3.connect(db_path)
    try:
        out = {}
        for name, sql in DUMPS.items():
            rows = [tuple(str(v).replace(str(root), "ROOT") if isinstance(v, str) else v for v in r)
                    for r in db.execute(sql)]
            out[name] = sorted(rows, key=repr)
        return out
    finally:
        db.close()


def two_nights(folder: Path, sample: str, run) -> None:
    """Night 1 (scanned as it ends), then rotation with gzip and night 2: ``run(cfg, now)`` scans."""
    cfg = setup(folder, 'window = "20s"\noverlap = "5s"\nhold = "5s"\nbatch = "128KB"')
    at = middle(sample)
    parts = split_at(sample, at)
    logs = folder / "logs"
    for name, (first, _) in parts.items():
        (logs / name).write_bytes(first)
    run(cfg, at.timestamp() + 1)
    rotate_and_append(logs, parts)
    run(cfg, None)


@pytest.fixture(scope="module")
def local_cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as c, distributed.Client(c) as client:
        yield c, client


def test_two_worker_processes_give_the_history_one_process_gives(tmp_path, local_cluster):
    _, client = local_cluster
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    two_nights(here, "mixed-faults", lambda cfg, now: scan.scan(cfg, now=now))
    ex = cluster.DaskExecutor(client)
    two_nights(there, "mixed-faults", lambda cfg, now: scan.scan(cfg, now=now, executor=ex))
    assert ex.tasks > 20  # the work went to the cluster
    assert ex.bytes_sent > 0 and ex.bytes_received > 0
    a, b = dump(here / "history.db", here), dump(there / "history.db", there)
    assert a["failures"]  # something to compare
    for table in DUMPS:
        assert a[table] == b[table], table


def test_a_worker_killed_during_the_run_changes_nothing(tmp_path, local_cluster):
    _, client = local_cluster
    here, there = tmp_path / "here", tmp_path / "there"
    for d in (here, there):
        d.mkdir()
        setup(d, 'window = "20s"\noverlap = "5s"\nbatch = "64KB"')
        for f in (SAMPLES / "mixed-faults" / "logs").iterdir():
            shutil.copy(f, d / "logs" / f.name)
    scan.scan(scan.load_config(here / "loganalyzer.toml"))
    pids = list(client.run(os.getpid).values())
    ex = cluster.DaskExecutor(client)

    killed = []

    def kill_one():
        time.sleep(1.0)
        os.kill(pids[0], signal.SIGKILL)  # the nanny starts a new worker; the scheduler reruns its tasks
        killed.append(time.monotonic())

    killer = threading.Thread(target=kill_one)
    killer.start()
    scan.scan(scan.load_config(there / "loganalyzer.toml"), executor=ex)
    finished = time.monotonic()
    killer.join()
    assert killed and killed[0] < finished  # the worker died while the scan ran
    assert pids[0] not in client.run(os.getpid).values()
    a, b = dump(here / "history.db", here), dump(there / "history.db", there)
    for table in DUMPS:
        assert a[table] == b[table], table


def test_a_lost_scheduler_leaves_the_history_as_it_was(tmp_path):
    setup(tmp_path)
    for f in (SAMPLES / "trailing-comma" / "logs").iterdir():
        shutil.copy(f, tmp_path / "logs" / f.name)
    cfg = scan.load_config(tmp_path / "loganalyzer.toml")
    c = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                 silence_logs=50)
    client = distributed.Client(c)
    ex = cluster.DaskExecutor(client)
    real = ex.gather

    def gather_after_losing_it(futures):
        c.close()  # the scheduler and its workers go away mid-run
        return real(futures)

    ex.gather = gather_after_losing_it
    try:
        with pytest.raises(errors.ClusterError) as info:
            scan.scan(cfg, executor=ex)
    finally:
        client.close()
    assert info.value.exit_status == errors.ExitStatus.CLUSTER
    db = sqlite3.connect(cfg.history)
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM cursors").fetchone()[0] == 0


def test_workers_without_this_release_are_named(local_cluster, monkeypatch):
    _, client = local_cluster
    monkeypatch.setattr(cluster, "__version__", "99.0")
    with pytest.raises(errors.ClusterError, match=r"install loganalyzer 99\.0 on every worker"):
        cluster.check_workers(client)


def test_the_command_line_starts_a_local_cluster(tmp_path, cli_run):
    setup(tmp_path)
    for f in (SAMPLES / "trailing-comma" / "logs").iterdir():
        shutil.copy(f, tmp_path / "logs" / f.name)
    p = cli_run("scan", "--workers", "2", "-v", cwd=tmp_path)
    assert p.returncode == errors.ExitStatus.FAILURES, p.stderr
    assert "Dask dashboard: http" in p.stderr
    assert "NEW new_cause" in p.stdout


def test_a_cluster_on_which_nothing_finishes_stops_the_run(local_cluster):
    _, client = local_cluster
    ex = cluster.DaskExecutor(client, stall_s=1.0)
    slow = ex.submit(time.sleep, 4)
    try:
        with pytest.raises(errors.ClusterError, match=r"no task of the scan finished .* in 1 s \(0 of 1 done\)"):
            ex.gather([slow])
    finally:
        slow.cancel()


def test_tasks_are_named_after_their_unit_of_work(local_cluster):
    from distributed.utils import key_split

    _, client = local_cluster
    ex = cluster.DaskExecutor(client)
    f = ex.submit(os.getpid)
    assert key_split(f.key) == "getpid" and isinstance(ex.gather([f])[0], int)
