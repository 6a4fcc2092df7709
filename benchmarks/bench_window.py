"""`analyze --since/--until` over a narrow window against a whole `analyze`, on the same big input.

    python benchmarks/bench_window.py                 # 100 MB, 3 alternating runs each
    python benchmarks/bench_window.py --size 300M --runs 5

The input is the mixed-faults incident repeated, each copy a day later (``bench_perf.build_incident``,
kept in ``benchmarks/generated/``). The window is 20 s of the middle copy's incident. Its vac log
(zone assumed) and nginx error log (zone inferred) are read whole either way, since their clocks may
be whole zones off until corrected; the access and CRM logs, which log their offsets, are cut while
reading. Each command runs in its own process, alternating; the medians of wall time are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_parse import parse_size  # noqa: E402
from bench_perf import LOGANALYZER, ROOT, build_incident, measure  # noqa: E402

#: The incident's first day and the 20 s taken from the middle copy.
DAY = dt.date(2026, 11, 26)
WINDOW = ("01:15:40", "01:16:00")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="100M", help="input size (all four logs together)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    d = build_incident(parse_size(args.size))
    copies = int((d / ".complete").read_text())
    day = DAY + dt.timedelta(days=copies // 2)
    since, until = (f"{day}T{t}Z" for t in WINDOW)
    commands = {
        "analyze (whole)": LOGANALYZER + ["analyze", str(d), "-q"],
        "analyze --since/--until (20 s)": LOGANALYZER + ["analyze", str(d), "-q", "--since", since, "--until", until],
    }
    size = sum(p.stat().st_size for p in d.glob("*.log"))
    print(f"input: {d} ({size / 1e6:.0f} MB, {copies} copies of the incident, one a day); window {since} to {until}")
    walls: dict[str, list[float]] = {name: [] for name in commands}
    started = time.perf_counter()
    for _ in range(args.runs):
        for name, cmd in commands.items():
            walls[name].append(measure(cmd, ROOT)["wall"])
    for name, cmd in commands.items():
        runs = ", ".join(f"{w:.2f}" for w in walls[name])
        print(f"{name:34} median {statistics.median(walls[name]):6.2f} s   runs {runs}")
        print(f"{'':34} {' '.join(cmd[2:])}")
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
