"""Whole-process speed and memory: `loganalyzer parse` per kind and `analyze`, beside lnav, GoAccess and wc -l.

    python benchmarks/bench_perf.py                   # 1 GB inputs, 3 alternating runs each
    python benchmarks/bench_perf.py --size 100M       # a quick run
    python benchmarks/bench_perf.py --analyze-sizes 100M,500M,1G,2G   # how analyze grows
    python benchmarks/bench_perf.py --size 100M --limit 600MB      # analyze in batches beside it, too
    python benchmarks/bench_perf.py --startup-only --runs 10          # --help and completion only

Inputs are generated from ``samples/`` into ``benchmarks/generated/`` (kept between runs):

- per kind, a sample log repeated up to ``--size`` (as ``bench_parse.py`` builds them): the
  ``combined`` access log (the one lnav and GoAccess read too), ``main`` with ids, the nginx error
  log, Spring Boot with stack traces, the client's log; and the combined log gzipped;
- for ``analyze``, the mixed-faults incident (all four kinds) repeated, each copy a day later and
  with fresh request ids, so that correlation holds in every copy.

Every command runs in its own process, alternating with the others, ``--runs`` times; the table
shows the median wall time, CPU time (user + system of the process and its children), peak RSS
(of the largest process) and input lines per second. Each of ours is also given as a ratio of its
lines/s to lnav's and GoAccess's on the access log, measured in the same run; on a shared machine
only those ratios mean much. ``--json`` names where the figures go (default
``benchmarks/generated/bench_perf.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_parse import SOURCES, build, parse_size  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / "generated"
INCIDENT = ROOT / "samples" / "mixed-faults" / "logs"
LOGANALYZER = [sys.executable, "-m", "loganalyzer"]
_ID = re.compile(rb"\b[0-9a-f]{32}\b")
_DATES = (  # how the incident's logs spell a date: nginx access, nginx error, ISO
    (re.compile(rb"\b(\d{2})/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/(\d{4})\b"), "%d/%b/%Y"),
    (re.compile(rb"\b(\d{4})/(\d{2})/(\d{2})\b"), "%Y/%m/%d"),
    # ISO dates end at a time's "T" too (Spring Boot's 2026-11-26T09:15:18.163+08:00).
    (re.compile(rb"\b(\d{4})-(\d{2})-(\d{2})(?!\d)"), "%Y-%m-%d"),
)


def count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            n += block.count(b"\n")
    return n


# --------------------------------------------------------------------------------------------
# inputs


def _copy_of(text: bytes, k: int) -> bytes:
    """Copy ``k`` of one incident log: every request id made new, every date ``k`` days later."""
    parts = _ID.split(text)
    ids = _ID.findall(text)
    suffix = f"{k:08x}".encode()
    out = [parts[0]]
    for i, rid in enumerate(ids):
        out.append(rid[:24] + suffix)
        out.append(parts[i + 1])
    copy = b"".join(out)
    for rx, fmt in _DATES:
        for spelled in set(m.group(0) for m in rx.finditer(text)):
            try:
                day = dt.datetime.strptime(spelled.decode(), fmt)
            except ValueError:
                continue
            copy = copy.replace(spelled, (day + dt.timedelta(days=k)).strftime(fmt).encode())
    return copy


def build_incident(size: int) -> Path:
    """The mixed-faults incident's four logs repeated up to about ``size`` bytes in all."""
    d = WORK / f"incident-{size}"
    done = d / ".complete"
    if done.exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    logs = {p.name: p.read_bytes() for p in sorted(INCIDENT.glob("*.log"))}
    per_copy = sum(len(t) for t in logs.values())
    copies = max(1, size // per_copy)
    files = {name: (d / name).open("wb") for name in logs}
    try:
        for k in range(copies):
            for name, text in logs.items():
                files[name].write(_copy_of(text, k))
    finally:
        for f in files.values():
            f.close()
    done.write_text(str(copies))
    return d


# --------------------------------------------------------------------------------------------
# measuring one process


def measure(cmd: list[str], cwd: Path) -> dict:
    """Wall, CPU (user + system, children included) and peak RSS of one run of ``cmd``."""
    # stderr goes to a file: a pipe nobody reads until the end would block a chatty command (GoAccess).
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 5):  # 5: analyze found failures, which these logs have
            err.seek(0)
            said = err.read().decode(errors="replace")
            raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{said[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss * 1024}


def run_all(jobs: dict[str, dict], runs: int, cwd: Path) -> dict[str, dict]:
    """Every job ``runs`` times (or its own ``runs``), alternating (one run of each, then again), so
    that a change in the machine's load falls on all of them alike; medians per job."""
    samples: dict[str, list[dict]] = {name: [] for name in jobs}
    for i in range(max(job.get("runs", runs) for job in jobs.values())):
        for name, job in jobs.items():
            if i >= job.get("runs", runs):
                continue
            r = measure(job["cmd"], cwd)
            samples[name].append(r)
            print(f"  run {i + 1} {name:<28} {r['wall']:7.2f} s", file=sys.stderr, flush=True)
    out = {}
    for name, job in jobs.items():
        med = {k: statistics.median(s[k] for s in samples[name]) for k in ("wall", "cpu", "rss")}
        out[name] = {**med, "lines": job["lines"], "bytes": job["bytes"], "lines_per_s": job["lines"] / med["wall"],
                     "runs": samples[name], "cmd": [str(c) for c in job["cmd"]], "ours": job.get("ours", True)}
    return out


def clean_venv() -> str:
    """A virtualenv with only click and this package (installed, not editable: its bytecode is
    compiled at install, as pip and pipx do); returns its python."""
    venv = WORK / "startup-venv"
    py = venv / "bin" / "python"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "click"], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)], check=True)
    return str(py)


def startup_ms(runs: int, pythons: list[str] | None = None) -> dict[str, tuple[float, float]]:
    """Median milliseconds (wall, CPU) of `loganalyzer --help`, of a completion TAB (command names; an option's
    values) and of an interpreter that does nothing (the floor), alternating, per interpreter given
    (the first is this one; another venv's python measures another checkout side by side).

    Each runs the console script (what a user types) from the interpreter's own bin directory, after
    one warm-up run that may write bytecode (as a user's first run does).
    """
    pythons = pythons or [sys.executable]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed tool runs from cached bytecode
    tab = {**env, "_LOGANALYZER_COMPLETE": "bash_complete", "COMP_WORDS": "loganalyzer an", "COMP_CWORD": "1"}
    values = {**tab, "COMP_WORDS": "loganalyzer analyze --format ", "COMP_CWORD": "3"}
    jobs: dict[str, tuple[list[str], dict[str, str]]] = {}
    for n, py in enumerate(pythons):
        tag = "" if n == 0 else f" [{py}]"
        script = str(Path(py).parent / "loganalyzer")
        jobs[f"python -c pass{tag}"] = ([py, "-c", "pass"], env)
        jobs[f"loganalyzer --help{tag}"] = ([script, "--help"], env)
        jobs[f"TAB: loganalyzer an{tag}"] = ([script], tab)
        jobs[f"TAB: analyze --format{tag}"] = ([script], values)
    def once(cmd: list[str], e: dict[str, str]) -> tuple[float, float]:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(cmd)} failed")
        return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000

    for cmd, e in jobs.values():  # warm-up
        once(cmd, e)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in jobs}
    for _ in range(max(5, runs * 3)):
        for name, (cmd, e) in jobs.items():
            times[name].append(once(cmd, e))
    # wall time is what a user waits; CPU time (user + system) moves less with the machine's load
    return {name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for name, t in times.items()}


# --------------------------------------------------------------------------------------------
# the table


def table(results: dict[str, dict], peers: dict[str, float]) -> str:
    w = max([30, *map(len, results)])
    head = (f"{'command':<{w}} {'MB':>7} {'lines':>11} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'lines/s':>11} "
            + " ".join(f"{'x ' + p:>9}" for p in peers))
    rows = [head, "-" * len(head)]
    for name, r in results.items():
        ratios = " ".join(f"{r['lines_per_s'] / v:>9.2f}" if r["ours"] else f"{'':>9}" for v in peers.values())
        rows.append(f"{name:<{w}} {r['bytes'] / 1e6:>7.0f} {r['lines']:>11,} {r['wall']:>8.2f} {r['cpu']:>8.2f} "
                    f"{r['rss'] / 2**20:>9.0f} {r['lines_per_s']:>11,.0f} {ratios}")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1G", help="bytes per input, e.g. 100M or 1G (default 1G)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each command (default 3)")
    ap.add_argument("--analyze-runs", type=int, help="runs of each analyze command (default: --runs)")
    ap.add_argument("--kinds", default=",".join(SOURCES), help="kinds for `parse` (default all)")
    ap.add_argument("--analyze-sizes", default="", help="more incident sizes for `analyze` (e.g. 100M,500M,2G)")
    ap.add_argument("--no-analyze", action="store_true", help="skip `analyze`")
    ap.add_argument("--limit", default="1.5GB",
                    help="also `analyze --json` with this --max-memory (default 1.5GB), where it makes the "
                    "analysis read in batches: its peak beside the limit")
    ap.add_argument("--json", type=Path, default=WORK / "bench_perf.json", help="where the figures go")
    ap.add_argument("--startup-only", action="store_true",
                    help="only `loganalyzer --help` and completion TABs (medians of 3 x --runs runs)")
    ap.add_argument("--against", action="append", default=[], metavar="PYTHON",
                    help="with --startup-only: also this interpreter (another checkout's venv), alternating")
    ap.add_argument("--clean-venv", action="store_true",
                    help="with --startup-only: measure in a new virtualenv holding only this package and click, "
                         "as `pipx install` leaves it (none of this interpreter's site-packages)")
    args = ap.parse_args()
    if args.startup_only and args.clean_venv:
        args.against.insert(0, clean_venv())
    if args.startup_only:
        print(f"{'median of ' + str(max(5, args.runs * 3)) + ' runs':<60} {'wall':>9} {'CPU':>9}")
        for name, (wall, cpu) in startup_ms(args.runs, [sys.executable, *args.against]).items():
            print(f"{name:<60} {wall:6.1f} ms {cpu:6.1f} ms")
        return
    size = parse_size(args.size)
    WORK.mkdir(exist_ok=True)
    out_dir = WORK / "bench_perf_out"
    out_dir.mkdir(exist_ok=True)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at start", flush=True)

    access, _ = build("nginx_access", size, gzipped=False)
    access_lines = count_lines(access)
    jobs: dict[str, dict] = {}
    for kind in args.kinds.split(","):
        plain, _ = build(kind, size, gzipped=False)
        lines, nbytes = (access_lines, access.stat().st_size) if plain == access else \
            (count_lines(plain), plain.stat().st_size)
        jobs[f"parse {kind}"] = {"cmd": [*LOGANALYZER, "parse", plain], "lines": lines, "bytes": nbytes}
        if kind == "nginx_access":
            gz = build(kind, size)[1]
            jobs["parse nginx_access (gzip)"] = {"cmd": [*LOGANALYZER, "parse", gz], "lines": lines,
                                                 "bytes": nbytes}
            # Without --out, parse reads each line's time alone; with it every field is extracted and written.
            jobs["parse nginx_access --out entries.parquet"] = {
                "cmd": [*LOGANALYZER, "parse", plain, "--out", out_dir / "entries.parquet"],
                "lines": lines, "bytes": nbytes}
    peer_jobs = {
        "lnav": ("lnav (access_log count)", ["lnav", "-n", "-c", ";SELECT count(*) FROM access_log", access]),
        "goaccess": ("goaccess (COMBINED)", ["goaccess", access, "--log-format=COMBINED", "-o",
                                             out_dir / "goaccess.html"]),
    }
    for tool, (name, cmd) in peer_jobs.items():
        if shutil.which(tool) is None:  # scripts/test installs both from Debian's packages
            print(f"note: {tool} is not installed; no ratio to it", flush=True)
            continue
        jobs[name] = {"cmd": cmd, "lines": access_lines, "bytes": access.stat().st_size, "ours": False}
    jobs["wc -l"] = {"cmd": ["wc", "-l", access], "lines": access_lines, "bytes": access.stat().st_size,
                     "ours": False}
    sizes = [] if args.no_analyze else [size] + [parse_size(s) for s in args.analyze_sizes.split(",") if s]
    for s in sorted(set(sizes)):  # the largest last: its export is the one measured below
        d = build_incident(s)
        files = sorted(d.glob("*.log"))
        lines, nbytes = sum(count_lines(f) for f in files), sum(f.stat().st_size for f in files)
        label = f"{nbytes / 1e6:.0f} MB"
        for what, output in (("--json", out_dir / "analysis.json"), ("-o", out_dir / "report.html"),
                             ("--export", out_dir / "export")):
            # No memory limit: the largest sizes would be refused on a small machine, and their cost is the point.
            jobs[f"analyze {what} ({label})"] = {"cmd": [*LOGANALYZER, "analyze", d, "-q", "--max-memory", "none",
                                                         what, output],
                                                 "lines": lines, "bytes": nbytes,
                                                 "runs": args.analyze_runs or args.runs}
        if nbytes * 9 > parse_size(args.limit):  # 9: the library's own estimate of a whole analysis per byte
            jobs[f"analyze --json, in batches under {args.limit} ({label})"] = {
                "cmd": [*LOGANALYZER, "analyze", d, "-q", "--max-memory", args.limit, "--json",
                        out_dir / "batched.json"],
                "lines": lines, "bytes": nbytes, "runs": args.analyze_runs or args.runs}

    results = run_all(jobs, args.runs, ROOT)
    peers = {tool: results[name]["lines_per_s"] for tool, (name, _) in peer_jobs.items() if name in results}
    start = startup_ms(args.runs)
    print(table(results, peers))
    print("")
    for name, (wall, cpu) in start.items():
        print(f"{name:<30} {wall:5.0f} ms wall, {cpu:5.0f} ms CPU")
    sizes_out = {}
    export = out_dir / "export"
    if sizes and export.is_dir():
        json_size = (out_dir / "analysis.json").stat().st_size if (out_dir / "analysis.json").exists() else None
        sizes_out = {"export_dir_bytes": sum(f.stat().st_size for f in export.iterdir()),
                     "export_summary_bytes": (export / "analysis.json").stat().st_size, "json_bytes": json_size}
        print(f"export of the largest analyze input: directory {sizes_out['export_dir_bytes'] / 1e6:.1f} MB "
              f"(analysis.json {sizes_out['export_summary_bytes'] / 1e6:.2f} MB); --json "
              f"{(json_size or 0) / 1e6:.1f} MB")
    args.json.write_text(json.dumps({
        "machine": {"node": platform.node(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_end": os.getloadavg()[0]},
        "size": size, "runs": args.runs, "results": results, "startup": start, "export": sizes_out,
        "ratios": {name: {p: r["lines_per_s"] / v for p, v in peers.items()}
                   for name, r in results.items() if r["ours"]},
    }, indent=2, default=str))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
