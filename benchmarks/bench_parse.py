"""Parsing throughput: loganalyzer against two baselines, per source kind, on multiplied sample logs.

    python benchmarks/bench_parse.py                  # 200 MB per kind
    python benchmarks/bench_parse.py --size 1G        # the 1 GB figure
    python benchmarks/bench_parse.py --kinds nginx_access --baselines

Each sample log (from ``samples/``) is repeated until the file reaches ``--size``; the plain and the
gzipped copy are parsed in fresh subprocesses, so peak memory (max RSS) is measured per run.
``loganalyzer`` includes handing the pandas frame out; ``loganalyzer-polars`` stops at the parsed
polars frame (what ``analyze`` works on). Baselines, run on the same file with the same format's regex:

- ``python-re``: a line-by-line loop with Python's ``re`` (what a hand-written parser does);
- ``pandas-extract``: pandas 3 ``Series.str.extract`` on the default string dtype.

Figures: lines/s, MB/s (uncompressed), peak RSS, and peak RSS over the input size.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / "generated"
SOURCES = {
    # Reference figures for other tools (lnav, GoAccess) are for plain combined logs.
    "nginx_access": ("samples/mixed-faults/variants/access_combined.log", "combined"),
    "nginx_access_ids": ("samples/mixed-faults/logs/access.log", "main"),
    "nginx_error": ("samples/mixed-faults/logs/error.log", "nginx_error"),
    "crm": ("samples/trailing-comma/logs/crm.log", "spring_boot_2"),
    "vac": ("samples/mixed-faults/logs/vac.log", "python_bracket_logger"),
}


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().rstrip("B")
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def build(kind: str, size: int, gzipped: bool = True) -> tuple[Path, Path]:
    """The sample repeated up to ``size`` bytes (whole copies, so multi-line entries stay whole),
    and its gzipped copy (made only when ``gzipped``)."""
    import hashlib

    src = (ROOT / SOURCES[kind][0]).read_bytes()
    if not src.endswith(b"\n"):
        src += b"\n"
    WORK.mkdir(exist_ok=True)
    tag = hashlib.sha1(src).hexdigest()[:8]  # a changed sample makes new files
    plain = WORK / f"{kind}-{size}-{tag}.log"
    if not plain.exists():
        with plain.open("wb") as f:
            for _ in range(max(1, size // len(src))):
                f.write(src)
    gz = WORK / f"{kind}-{size}-{tag}.log.gz"
    if gzipped and not gz.exists():
        with plain.open("rb") as f, gzip.open(gz, "wb", compresslevel=6) as out:
            while chunk := f.read(1 << 24):
                out.write(chunk)
    return plain, gz


# --------------------------------------------------------------------------------------------
# the measured runs, each in its own process


def run_loganalyzer(path: str, kind: str, fmt: str, pandas: bool = True) -> dict:
    import loganalyzer

    kind = kind.removesuffix("_ids")
    start = time.perf_counter()
    logs = loganalyzer.load(path, as_={path: f"{kind}:{fmt}"}, tz={kind: "UTC"})
    if pandas:
        logs[kind]  # the pandas frame users get is part of the job
    seconds = time.perf_counter() - start
    stats = logs.stats.iloc[0]
    return {"seconds": seconds, "lines": int(stats.lines), "entries": int(stats.parsed),
            "rejected": int(stats.rejected)}


def _python_regex(kind: str, fmt: str) -> str:
    from loganalyzer.parsers.formats import compile_definition, load_definitions

    return next(compile_definition(d) for d in load_definitions() if d.name == fmt).regex


def run_python_re(path: str, kind: str, fmt: str) -> dict:
    import re

    rx = re.compile(_python_regex(kind, fmt))
    start = time.perf_counter()
    lines = entries = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        rows = []
        for line in f:
            lines += 1
            m = rx.match(line.rstrip("\n"))
            if m:
                entries += 1
                rows.append(m.groupdict())
    return {"seconds": time.perf_counter() - start, "lines": lines, "entries": entries, "rejected": lines - entries}


def run_pandas_extract(path: str, kind: str, fmt: str) -> dict:
    import pandas as pd

    rx = _python_regex(kind, fmt)
    start = time.perf_counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = pd.Series(f.read().splitlines())
    out = lines.str.extract(rx)
    entries = int(out.iloc[:, 0].notna().sum())
    return {"seconds": time.perf_counter() - start, "lines": len(lines), "entries": entries,
            "rejected": len(lines) - entries}


def run_loganalyzer_polars(path: str, kind: str, fmt: str) -> dict:
    return run_loganalyzer(path, kind, fmt, pandas=False)


RUNNERS = {"loganalyzer": run_loganalyzer, "loganalyzer-polars": run_loganalyzer_polars,
           "python-re": run_python_re, "pandas-extract": run_pandas_extract}


def child(runner: str, path: str, kind: str, fmt: str) -> None:
    result = RUNNERS[runner](path, kind, fmt)
    result["max_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


def measure(runner: str, path: Path, kind: str) -> dict:
    fmt = SOURCES[kind][1]
    proc = subprocess.run([sys.executable, __file__, "--child", runner, str(path), kind, fmt],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{runner} on {path} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def baseline_rss() -> int:
    """Memory of an interpreter that has imported loganalyzer and parsed nothing."""
    code = ("import resource, loganalyzer, pandas, polars;"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)")
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="200M", help="bytes per kind, e.g. 200M or 1G (default 200M)")
    ap.add_argument("--kinds", default=",".join(SOURCES), help="comma-separated kinds")
    ap.add_argument("--baselines", action="store_true", help="also run the python-re and pandas-extract baselines")
    ap.add_argument("--no-gzip", action="store_true", help="skip the gzip runs")
    args = ap.parse_args()
    size = parse_size(args.size)
    base = baseline_rss()
    print(f"machine: {os.cpu_count()} cores; interpreter with libraries loaded: {base / 2**20:.0f} MiB")
    header = f"{'kind':<16} {'runner':<18} {'input':<6} {'MB':>7} {'lines':>11} {'s':>7} {'lines/s':>11} " \
             f"{'MB/s':>7} {'peak MiB':>9} {'peak-base/input':>15}"
    print(header)
    runners = ["loganalyzer", "loganalyzer-polars"] + (["python-re", "pandas-extract"] if args.baselines else [])
    for kind in args.kinds.split(","):
        plain, gz = build(kind, size)
        mb = plain.stat().st_size / 1e6
        inputs = [("plain", plain)] + ([] if args.no_gzip else [("gzip", gz)])
        for runner in runners:
            for label, path in inputs:
                if runner not in ("loganalyzer",) and label == "gzip":
                    continue
                r = measure(runner, path, kind)
                over = (r["max_rss"] - base) / plain.stat().st_size
                print(f"{kind:<16} {runner:<18} {label:<6} {mb:>7.0f} {r['lines']:>11,} {r['seconds']:>7.2f} "
                      f"{r['lines'] / r['seconds']:>11,.0f} {mb / r['seconds']:>7.1f} {r['max_rss'] / 2**20:>9.0f} "
                      f"{over:>15.2f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
