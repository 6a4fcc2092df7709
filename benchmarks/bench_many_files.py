"""Per-file overhead of the load: many small files against one file holding the same lines.

    python benchmarks/bench_many_files.py                       # 500, 2,000 and 5,000 files
    python benchmarks/bench_many_files.py --files 10000 --lines 1 --repeat 3
    python benchmarks/bench_many_files.py --profile 2000        # where the time goes (cProfile, top 25)

Each file holds a few lines of the client log of the trailing-comma sample (real lines, cut in
turn from it), named like a rotated set would not be (``client-00001.log``…), in one directory.
Timed: ``loganalyzer.load`` of that directory, the median of ``--repeat`` runs, in one process
(the first load, which compiles the format definitions, is not counted). The peer, in the same
run: one file with all the same lines. The table gives the wall time, the time per file and the
ratio to the peer; per-file ms is ``(wall - peer) / files``, the cost a file adds beyond its lines.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import loganalyzer

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "samples" / "trailing-comma" / "logs" / "vac.log"


def make(folder: Path, files: int, lines: int) -> tuple[Path, Path]:
    """``files`` files of ``lines`` lines each under ``folder/many``, and ``folder/one.log`` with them all."""
    sample = SOURCE.read_text(encoding="utf-8").splitlines()
    many = folder / "many"
    many.mkdir(parents=True)
    chunks = []
    for i in range(files):
        start = (i * lines) % (len(sample) - lines)
        text = "\n".join(sample[start:start + lines]) + "\n"
        (many / f"client-{i:05d}.log").write_text(text, encoding="utf-8")
        chunks.append(text)
    one = folder / "one.log"
    one.write_text("".join(chunks), encoding="utf-8")
    return many, one


def timed(path: Path, repeat: int) -> tuple[float, int]:
    walls = []
    n = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        logs = loganalyzer.load([path], tz={"*": "UTC"})
        walls.append(time.perf_counter() - t0)
        n = int(logs.stats["lines"].sum())
    return statistics.median(walls), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, nargs="+", default=[500, 2_000, 5_000])
    ap.add_argument("--lines", type=int, default=4, help="lines per file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", type=int, metavar="FILES", help="profile one load of FILES files instead")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-many-"))
    try:
        warm, _ = make(work / "warm", 3, args.lines)
        loganalyzer.load([warm], tz={"*": "UTC"})  # compile the format definitions once
        if args.profile:
            many, _ = make(work / "profile", args.profile, args.lines)
            prof = cProfile.Profile()
            prof.enable()
            loganalyzer.load([many], tz={"*": "UTC"})
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
            return
        print(f"{'files':>7} {'lines':>8} {'wall s':>8} {'peer s':>8} {'ratio':>7} {'per file ms':>12}")
        for files in args.files:
            many, one = make(work / f"n{files}", files, args.lines)
            wall, lines = timed(many, args.repeat)
            peer, peer_lines = timed(one, args.repeat)
            assert lines == peer_lines == files * args.lines, (lines, peer_lines)
            per_file = (wall - peer) / files * 1000
            print(f"{files:>7,} {lines:>8,} {wall:>8.2f} {peer:>8.3f} {wall / peer:>7.0f} {per_file:>12.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
