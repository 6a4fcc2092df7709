"""Correlation and diagnosis speed: attempts per second, from 10k to 1M attempts.

    python benchmarks/bench_correlate.py                    # 10k, 100k, 1M attempts
    python benchmarks/bench_correlate.py --attempts 1000000 --baseline
    python benchmarks/bench_correlate.py --attempts 200000 --peer 6d94081 --repeat 5

The parsed logs of a bundled scenario (mixed-faults: every failure mode, ids in every log) are
copied N times, each copy shifted in time and given its own request ids and connection numbers,
so the joins see as many distinct requests as attempts. Timed: correlate (pair client attempts with
access lines, attach error and CRM lines, clock offsets) and diagnose (verdicts, rule evaluation).

``--baseline`` also runs what a hand-written script would do: Python dicts keyed by request id,
one loop over the lines of each log (no time matching, no id-less links, so it does less work).

``--peer REV`` compares with another revision of the code on the same machine at the same time: the
revision is checked out into a temporary git worktree, and two worker processes, one importing the
code of this checkout and one the revision's, each build the same replicated frames (each with its
own parsers) and time the same ``run`` below, taking turns (the first to go alternates) ``--repeat``
times. It prints each side's medians and the ratio of the medians (this code / the peer's): on a
shared machine, timings of separate runs swing more than the difference being measured. The goal:
correlation and diagnosis of 1M attempts within 20 % of revision 6d94081's time (a total ratio of at
most 1.20).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

import loganalyzer
from loganalyzer import correlate, diagnose

ROOT = Path(__file__).resolve().parent.parent


def replicate(frames: dict[str, pl.DataFrame], copies: int) -> dict[str, pl.DataFrame]:
    lo = min(f["ts"].min() for f in frames.values())
    hi = max(f["ts"].max() for f in frames.values())
    span_us = int((hi - lo).total_seconds() * 1e6) + 60_000_000
    out = {}
    for kind, df in frames.items():
        df = df.with_columns(pl.col("file").cast(pl.String), pl.col("source").cast(pl.String))
        n = df.height
        big = pl.concat([df] * copies)
        copy = pl.int_range(0, n * copies, eager=True) // n
        exprs = [(pl.col("ts") + pl.duration(microseconds=copy * span_us)).cast(pl.Datetime("ns", "UTC")).alias("ts")]
        if "request_id" in df.columns:
            exprs.append(pl.when(pl.col("request_id").is_not_null())
                         .then(pl.col("request_id") + "-" + copy.cast(pl.String)).alias("request_id"))
        if "connection" in df.columns:
            exprs.append((pl.col("connection") + copy * 1_000_000).alias("connection"))
        out[kind] = big.with_columns(exprs)
    return out


def run(frames: dict[str, pl.DataFrame], rules: diagnose.RuleSet) -> tuple[int, dict[str, float]]:
    t = {}
    t0 = time.perf_counter()
    corr = correlate.correlate(frames, rules.nginx_messages)
    t["correlate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = diagnose.evidence_lines(corr, frames, rules)
    attempts = diagnose.verdicts(corr.attempts, ev, set(frames), set(), rules)
    attempts, _ = diagnose.root_causes(attempts, ev, rules)
    t["diagnose"] = time.perf_counter() - t0
    return attempts.height, t


def baseline(frames: dict[str, pl.DataFrame]) -> tuple[int, float]:
    """Dict-of-lists by request id, one Python loop per log."""
    t0 = time.perf_counter()
    attempts: dict[tuple[str, int], dict] = {}
    for row in frames["vac"].select("request_id", "attempt", "ts", "status", "error").iter_rows():
        rid, attempt, ts, status, error = row
        if rid is None:
            continue
        a = attempts.setdefault((rid, attempt or 1), {"send": ts, "status": None, "proxy": [], "crm": []})
        a["status"] = status if status is not None else a["status"]
    by_id: dict[str, list] = {}
    for key in attempts:
        by_id.setdefault(key[0], []).append(key)
    for rid, status in frames["nginx_access"].select("request_id", "status").iter_rows():
        keys = by_id.get(rid)
        if keys:
            for k in keys:
                if not attempts[k]["proxy"]:
                    attempts[k]["proxy"].append(status)
                    break
    for rid, level in frames["crm"].select("request_id", "level").iter_rows():
        keys = by_id.get(rid)
        if keys:
            attempts[keys[-1]]["crm"].append(level)
    return len(attempts), time.perf_counter() - t0


def worker() -> None:
    """Serve ``prepare`` and ``run`` requests (a JSON object a line) with the code on ``sys.path``."""
    rules = diagnose.load_rules()
    frames = big = None
    for request in sys.stdin:
        cmd = json.loads(request)
        if cmd["do"] == "prepare":
            frames = loganalyzer.load([ROOT / "samples" / cmd["scenario"] / "logs"]).polars
            per_copy, _ = run(frames, rules)
            big = replicate(frames, max(1, round(cmd["attempts"] / per_copy)))
            reply = {"entries": sum(f.height for f in big.values()), "code": str(Path(loganalyzer.__file__).parent)}
        else:
            n, t = run(big, rules)
            reply = {"attempts": n, **t}
        print(json.dumps(reply), flush=True)


class Side:
    """A worker process importing loganalyzer from ``tree``."""

    def __init__(self, name: str, tree: Path):
        self.name = name
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
        self.times: list[dict[str, float]] = []

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.name} worker stopped (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def compare(peer: str, attempts: list[int], scenario: str, repeat: int) -> None:
    """Time this checkout and ``peer`` (a git revision) in turns; print medians and their ratio."""
    rev = subprocess.run(["git", "rev-parse", "--short", peer], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tmp / rev), rev], cwd=ROOT, check=True)
    sides = []
    try:
        sides = [Side("this", ROOT), Side(rev, tmp / rev)]
        print(f"this checkout vs {rev}, {repeat} turns each, alternating; medians in seconds")
        print(f"{'attempts':>10} {'side':>8} {'entries':>11} {'correlate':>10} {'diagnose':>9} {'total':>8}")
        for target in attempts:
            prepared = [s.ask(do="prepare", attempts=target, scenario=scenario) for s in sides]
            if target == attempts[0]:
                print("  code: " + "; ".join(f"{s.name} {p['code']}" for s, p in zip(sides, prepared, strict=True)))
            for s in sides:
                s.times = []
            for turn in range(repeat):
                for s in (sides if turn % 2 == 0 else sides[::-1]):
                    s.times.append(s.ask(do="run"))
            med = []
            for s, prep in zip(sides, prepared, strict=True):
                m = {k: statistics.median(t[k] for t in s.times) for k in ("correlate", "diagnose")}
                m["total"] = m["correlate"] + m["diagnose"]
                med.append(m)
                print(f"{s.times[-1]['attempts']:>10,} {s.name:>8} {prep['entries']:>11,} {m['correlate']:>10.2f} "
                      f"{m['diagnose']:>9.2f} {m['total']:>8.2f}")
            ratio = {k: med[0][k] / med[1][k] for k in med[0]}
            print(f"{'':>10} {'ratio':>8} {'':>11} {ratio['correlate']:>10.2f} {ratio['diagnose']:>9.2f} "
                  f"{ratio['total']:>8.2f}", flush=True)
    finally:
        for s in sides:
            s.close()
        subprocess.run(["git", "worktree", "remove", "--force", str(tmp / rev)], cwd=ROOT, check=False)
        tmp.rmdir()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--scenario", default="mixed-faults")
    ap.add_argument("--baseline", action="store_true", help="also run the dict-and-loop baseline")
    ap.add_argument("--peer", metavar="REV", help="compare with this git revision, in turns in one run")
    ap.add_argument("--repeat", type=int, default=5, help="turns per side with --peer (default 5)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker()
    if args.peer:
        return compare(args.peer, args.attempts, args.scenario, args.repeat)
    logs = loganalyzer.load([ROOT / "samples" / args.scenario / "logs"])
    frames = logs.polars
    rules = diagnose.load_rules()
    per_copy, _ = run(frames, rules)
    print(f"scenario {args.scenario}: {per_copy} attempts per copy; "
          f"{sum(f.height for f in frames.values()):,} entries per copy")
    print(f"{'attempts':>10} {'entries':>11} {'correlate s':>12} {'diagnose s':>11} {'attempts/s':>12} "
          f"{'peak MiB':>9}" + (f" {'baseline s':>11} {'baseline/s':>11}" if args.baseline else ""))
    for target in args.attempts:
        copies = max(1, round(target / per_copy))
        big = replicate(frames, copies)
        n, t = run(big, rules)
        total = t["correlate"] + t["diagnose"]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        line = (f"{n:>10,} {sum(f.height for f in big.values()):>11,} {t['correlate']:>12.2f} "
                f"{t['diagnose']:>11.2f} {n / total:>12,.0f} {peak:>9.0f}")
        if args.baseline:
            bn, bt = baseline(big)
            line += f" {bt:>11.2f} {bn / bt:>11,.0f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
