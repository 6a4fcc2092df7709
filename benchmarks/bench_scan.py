"""The nightly scan on generated nights: wall time, lines/s, CPU use and peak memory per night.

    python benchmarks/bench_scan.py                       # nights of 100 MB and 200 MB
    python benchmarks/bench_scan.py --sizes 1G,2G,5G      # the figures the issue asks for
    python benchmarks/bench_scan.py --workers 1,2         # also on local Dask clusters of 1 and 2 processes

Each night is the lab's mixed-faults incident (all four kinds: access with ids, error, Spring Boot,
client) repeated in time: copy k of every log has its timestamps moved k periods later and its
request ids made unique, so correlation holds across copies. Before each night after the first,
the logs rotate as logrotate's ``compress`` + ``delaycompress`` leave them (``x.log`` ->
``x.log.1``, the old ``x.log.1`` -> ``x.log.2.gz``). Every night of a size is scanned in a fresh
process (``loganalyzer scan``); then the same directory is scanned again unchanged, which must
read nothing. Printed per night: input size, lines, wall, CPU (user + system) over wall (both
cores busy is 2.0), lines/s, peak RSS; then the time per GB, to show whether time grows linearly.

With ``--workers``, the same nights are scanned again on a local Dask cluster of each size; from
Dask's task stream it prints, per night, the tasks run, the median compute time per task kind,
the sum of compute time, the overhead (wall less compute over workers: planning on the client,
the history's writes, scheduling), the bytes between the client and the cluster (Dask's estimate),
and the peak RSS of the client and of the largest worker. ``--dask-only`` skips the in-process scans.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "mixed-faults" / "logs"
OUT = ROOT / "benchmarks" / "generated" / "scan"

#: Per file: the timestamp's pattern (whole seconds) and its strftime layout.
STAMPS = {
    "access.log": (r"(?<=\[)\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}(?= [+-]\d{4}\])", "%d/%b/%Y:%H:%M:%S"),
    "error.log": (r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", "%Y/%m/%d %H:%M:%S"),
    "crm.log": (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?=\.\d{3}[+-])", "%Y-%m-%dT%H:%M:%S"),
    "vac.log": (r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?=,)", "%Y-%m-%d %H:%M:%S"),
}
ID = r"\b[0-9a-f]{32}\b"


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]?)", text.strip().upper())
    if not m:
        raise SystemExit(f"not a size: {text!r} (say 100M or 1G)")
    return int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)])


class Template:
    """One sample log cut into literal text, timestamps and ids, so copies are quick to write."""

    def __init__(self, path: Path):
        pattern, self.layout = STAMPS[path.name]
        text = path.read_text(encoding="utf-8")
        self.tokens: list[str | tuple[str, object]] = []
        joined = re.compile(f"(?P<ts>{pattern})|(?P<id>{ID})", re.M)
        pos = 0
        for m in joined.finditer(text):
            self.tokens.append(text[pos:m.start()])
            if m.group("ts"):
                self.tokens.append(("ts", datetime.strptime(m.group("ts"), self.layout)))
            else:
                self.tokens.append(("id", m.group("id")[:24]))
            pos = m.end()
        self.tokens.append(text[pos:])
        stamps = [t[1] for t in self.tokens if isinstance(t, tuple) and t[0] == "ts"]
        self.span = (max(stamps) - min(stamps)).total_seconds() if stamps else 0.0

    def copy(self, k: int, shift: timedelta) -> str:
        out = []
        for t in self.tokens:
            if isinstance(t, str):
                out.append(t)
            elif t[0] == "ts":
                out.append((t[1] + shift).strftime(self.layout))
            else:
                out.append(f"{t[1]}{k:08x}")
        return "".join(out)


def rotate(logs: Path) -> None:
    for name in STAMPS:
        one, two = logs / f"{name}.1", logs / f"{name}.2.gz"
        if one.exists():
            with one.open("rb") as src, gzip.open(two, "wb", compresslevel=1) as dst:
                shutil.copyfileobj(src, dst)
            one.unlink()
        if (logs / name).exists():
            (logs / name).rename(one)


def write_night(logs: Path, templates: dict[str, Template], first_copy: int, size: int) -> tuple[int, int]:
    """Append copies until the night holds ``size`` bytes; returns (copies, bytes)."""
    period = timedelta(seconds=max(t.span for t in templates.values()) + 60)
    files = {name: (logs / name).open("a", encoding="utf-8") for name in templates}
    written = copies = 0
    try:
        while written < size:
            k = first_copy + copies
            for name, t in templates.items():
                text = t.copy(k, period * k)
                files[name].write(text)
                written += len(text.encode())
            copies += 1
    finally:
        for f in files.values():
            f.close()
    return copies, written


CONFIG = """[scan]
history = "history.db"
""" + "".join(f'\n[[sources]]\nkind = "{k}"\npaths = ["logs/{n}*"]\n' for n, k in
              (("access.log", "nginx_access"), ("error.log", "nginx_error"), ("crm.log", "crm"), ("vac.log", "vac")))


#: The children run as an installed tool does: with its bytecode cached (an installer compiles it;
#: an environment that forbids writing it would time the compiler on every run).
AS_INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def scan_once(folder: Path) -> dict:
    """``loganalyzer scan`` in a child process: wall, CPU and peak RSS of that process alone."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "loganalyzer", "scan", "--json", "night.json", "-q"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=AS_INSTALLED)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 5):
        raise SystemExit(f"scan failed ({code}): {err.strip()}")
    night = json.loads((folder / "night.json").read_text())
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
            "lines": night["run"]["lines"]["read"], "attempts": night["summary"]["attempts"], "exit": code}


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dask_child(folder: Path, workers: int) -> None:
    """In a child process: one scan on a local cluster, with Dask's task stream summarised as JSON."""
    import statistics

    import distributed

    from loganalyzer import cluster, scan

    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as c, distributed.Client(c) as client:
        cfg = scan.load_config(folder / "loganalyzer.toml")
        ex = cluster.DaskExecutor(client)
        start = time.perf_counter()
        with distributed.get_task_stream(client) as ts:
            r = scan.scan(cfg, executor=ex)
        wall = time.perf_counter() - start
        workers_mb = max(client.run(_peak_mb).values())
    client_mb = _peak_mb()
    from distributed.utils import key_split

    compute: dict[str, list[float]] = {}
    for t in ts.data:
        for ss in t["startstops"]:
            if ss["action"] == "compute":
                compute.setdefault(key_split(t["key"]), []).append(ss["stop"] - ss["start"])
    busy = sum(sum(v) for v in compute.values())
    print(json.dumps({"wall_s": wall, "tasks": sum(len(v) for v in compute.values()), "compute_s": busy,
                      "overhead_s": wall - busy / workers,
                      "moved_mb": (ex.bytes_sent + ex.bytes_received) / 2**20,
                      "median_task_s": {k: statistics.median(v) for k, v in compute.items()},
                      "attempts": r.summary()["attempts"], "lines": r.lines["read"],
                      "client_rss_mb": client_mb, "worker_rss_mb": workers_mb}))


def scan_on_dask(folder: Path, workers: int) -> dict:
    p = subprocess.run([sys.executable, __file__, "--dask-child", str(folder), str(workers)], capture_output=True,
                       text=True, env=AS_INSTALLED)
    if p.returncode:
        raise SystemExit(f"the scan on {workers} Dask workers failed: {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _said(row: dict) -> dict:
    """A night's figures as soon as they are measured (stderr), so a long run shows its progress."""
    print(json.dumps(row, default=str), file=sys.stderr, flush=True)
    return row


def make_nights(folder: Path, templates: dict[str, Template], size: int, nights: int, each) -> list:
    """Write ``nights`` nights into ``folder`` (rotating between them), calling ``each(night, written)``."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "logs").mkdir(parents=True)
    (folder / "loganalyzer.toml").write_text(CONFIG)
    copy = 0
    out = []
    for night in range(1, nights + 1):
        if night > 1:
            rotate(folder / "logs")
        copies, written = write_night(folder / "logs", templates, copy, size)
        copy += copies
        out.append(each(night, written))
    return out


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--dask-child":
        dask_child(Path(sys.argv[2]), int(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100M,200M", help="night sizes, e.g. 1G,2G,5G (default 100M,200M)")
    ap.add_argument("--nights", type=int, default=2, help="nights per size (default 2)")
    ap.add_argument("--workers", default="", help="also scan on local Dask clusters of these sizes, e.g. 1,2")
    ap.add_argument("--json", type=Path, default=OUT / "bench_scan.json", help="where the figures go")
    ap.add_argument("--dask-only", action="store_true", help="with --workers: skip the in-process scans")
    args = ap.parse_args(argv)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "loganalyzer"), str(ROOT / "parsers"),
                    str(ROOT / "reports")], check=True, env=AS_INSTALLED)
    templates = {name: Template(SAMPLE / name) for name in STAMPS}
    rows = []
    dask_rows = []
    for size in [parse_size(s) for s in args.sizes.split(",")]:
        folder = OUT / f"night-{size >> 20}M"
        if not args.dask_only:
            got = make_nights(folder, templates, size, args.nights, lambda night, written, folder=folder: _said({
                "night": night, "input_mb": written / 2**20, **scan_once(folder)}))
            rows += [{"size_mb": size >> 20, **g} for g in got]
            rerun = scan_once(folder)
            rows.append({"size_mb": size >> 20, "night": "unchanged", "input_mb": 0.0, **rerun})
        for w in [int(x) for x in args.workers.split(",") if x]:
            got = make_nights(folder, templates, size, args.nights, lambda night, written, folder=folder, w=w: _said({
                "night": night, "workers": w, "input_mb": written / 2**20, **scan_on_dask(folder, w)}))
            dask_rows += [{"size_mb": size >> 20, "workers": w, **g} for g in got]
    print(f"{'night size':>10} {'night':>9} {'input MB':>9} {'lines':>10} {'attempts':>9} {'wall s':>8} "
          f"{'CPU/wall':>8} {'lines/s':>10} {'peak RSS MB':>11} {'s per GB':>8}")
    for r in rows:
        per_gb = r["wall_s"] / (r["input_mb"] / 1024) if r["input_mb"] else float("nan")
        print(f"{r['size_mb']:>8} M {r['night']!s:>9} {r['input_mb']:>9.0f} {r['lines']:>10,} {r['attempts']:>9,} "
              f"{r['wall_s']:>8.2f} {r['cpu_s'] / r['wall_s']:>8.2f} {r['lines'] / r['wall_s']:>10,.0f} "
              f"{r['rss_mb']:>11,.0f} {per_gb:>8.1f}")
    if dask_rows:
        print(f"\n{'night size':>10} {'workers':>7} {'night':>5} {'wall s':>8} {'tasks':>6} {'compute s':>9} "
              f"{'overhead s':>10} {'moved MB':>9} {'client RSS':>10} {'worker RSS':>10}  median s per task")
        for r in dask_rows:
            med = ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["median_task_s"].items()))
            print(f"{r['size_mb']:>8} M {r['workers']:>7} {r['night']:>5} {r['wall_s']:>8.2f} {r['tasks']:>6} "
                  f"{r['compute_s']:>9.2f} {r['overhead_s']:>10.2f} {r['moved_mb']:>9.2f} "
                  f"{r['client_rss_mb']:>7,.0f} MB {r['worker_rss_mb']:>7,.0f} MB  {med}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"in_process": rows, "dask": dask_rows}, indent=1, default=str))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
