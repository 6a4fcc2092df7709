"""Zero-config reading of logs written by others: kind, format and line counts per file.

    python benchmarks/bench_corpus.py                       # tests/data and the shared corpus
    python benchmarks/bench_corpus.py DIR [DIR ...]         # other folders of real logs
    python benchmarks/bench_corpus.py --time 5 --no-table --without haproxy,apache_error

Each folder is loaded once through ``loganalyzer.load`` with no kinds, zones or formats given,
as a new user's first run on it would. Per file: the kind decided, the format (a built-in definition's
name, or ``inferred`` when the layout was inferred from the lines), lines, parsed entries,
rejected lines and unread lines (a file no format or inferred layout reads; ``(not a log)`` when
its lines do not even carry times: prose, a catalog). A folder the load
refuses gets its one-line error in a row; the run goes on. Files that are not logs by their
extension (notes, configs, code) are passed over as any directory walk passes them over.

``--time N`` times format detection (``ingest.detect`` over all built-in definitions) on the first
lines of every file under ``samples/`` and ``tests/data``: the median of N runs. With ``--without``
the same run also times detection without the named definitions, interleaved, so the ratio shows
what formats added cost the detection of the existing ones.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIRS = [ROOT / "tests" / "data", ROOT.parent / "shared" / "corpus", ROOT.parent.parent / "shared" / "corpus"]


def _files(dirs: list[Path]) -> list[Path]:
    from loganalyzer import ingest

    out: list[Path] = []
    for d in dirs:
        if d.is_file():
            out.append(d)
            continue
        found = sorted(f for f in d.rglob("*") if f.is_file() and not f.name.startswith("."))
        out.extend(f for f in found if ingest._suffix(f) not in ingest.NOT_LOGS)
    return out


def _rows(directory: Path) -> list[dict]:
    """One load of a whole folder, as ``loganalyzer analyze FOLDER`` reads it; a row per file."""
    import loganalyzer
    from loganalyzer.errors import LoganalyzerError

    try:
        logs = loganalyzer.load([str(directory)])
    except LoganalyzerError as exc:
        return [{"file": str(directory), "kind": "-", "format": "-", "lines": 0, "parsed": 0, "rejected": 0,
                 "unread": 0, "error": str(exc).splitlines()[0][:90]}]
    inferred = {n.split(": matches no known format", 1)[0] for n in logs.notes if "inferred from its lines" in n}
    rows: dict[str, dict] = {}
    for r in logs.stats.to_dict("records"):
        row = rows.setdefault(r["file"], {"file": r["file"], "kind": [], "format": [], "lines": 0, "parsed": 0,
                                         "rejected": 0, "unread": 0, "error": "", "not_log": False})
        row["not_log"] = row["not_log"] or r.get("not_log") is True
        if isinstance(r["kind"], str):
            row["kind"].append(r["kind"])
            row["format"].append(("inferred:" if r["file"] in inferred else "") + r["format"])
        # A file of several formats has a row per format, each counting the lines given to it.
        for col in ("lines", "parsed", "rejected", "unread"):
            row[col] += int(r[col])
    for row in rows.values():
        row["kind"] = "+".join(sorted(set(row["kind"]))) or "-"
        row["format"] = "+".join(sorted(set(row["format"]))) or ("(not a log)" if row["not_log"] else "-")
    return sorted(rows.values(), key=lambda r: r["file"])


def _short(path: str) -> str:
    for base in (ROOT, ROOT.parent, ROOT.parent.parent):
        try:
            return str(Path(path).relative_to(base))
        except ValueError:
            continue
    return path


def table(directory: Path) -> list[dict]:
    rows = _rows(directory)
    width = max([len(_short(r["file"])) for r in rows] + [4])
    print(f"{'file':<{width}}  {'kind':<12} {'format':<28} {'lines':>6} {'parsed':>6} {'rej':>5} {'unread':>6}")
    for r in rows:
        print(f"{_short(r['file']):<{width}}  {r['kind']:<12} {r['format']:<28} {r['lines']:>6} {r['parsed']:>6} "
              f"{r['rejected']:>5} {r['unread']:>6}" + (f"  ERROR {r['error']}" if r["error"] else ""))
    return rows


def totals(rows: list[dict], label: str) -> None:
    got_kind = sum(1 for r in rows if r["kind"] != "-" and not r["error"] and r["unread"] < r["lines"])
    lines = sum(r["lines"] for r in rows)
    not_logs = [r for r in rows if r.get("not_log")]
    print(f"{label}: {len(rows)} files, {got_kind} with a kind and a format, "
          f"{len(not_logs)} not logs ({sum(r['lines'] for r in not_logs):,} lines, counted unread), "
          f"{sum(1 for r in rows if r['unread'])} with unread lines ({sum(r['unread'] for r in rows):,} of "
          f"{lines:,} lines), {sum(r['rejected'] for r in rows):,} lines rejected, "
          f"{sum(1 for r in rows if r['error'])} refused; kinds: "
          + ", ".join(f"{k} {n}" for k, n in sorted(_count(r["kind"] for r in rows).items())))


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def time_detection(runs: int, without: set[str]) -> None:
    """Median detection time over the bundled samples: all definitions, and (same run, interleaved)
    all but ``without`` — what detection cost before those definitions were added."""
    from loganalyzer import ingest, sources

    compiled = ingest._compiled_formats(ingest.Options())
    unknown = without - {c.name for c in compiled}
    if unknown:
        raise SystemExit(f"--without: no built-in format {', '.join(sorted(unknown))}")
    peers = {"all": compiled}
    if without:
        peers["without " + ",".join(sorted(without))] = [c for c in compiled if c.name not in without]
    samples = []
    for f in _files([ROOT / "samples", ROOT / "tests" / "data"]):
        try:
            lines, _ = sources.head(str(f), "utf-8", 1 << 18)
        except sources.ReadError:
            continue
        if lines.len():
            samples.append(lines.head(ingest.DETECT_SAMPLE))
    n_lines = sum(s.len() for s in samples)
    times: dict[str, list[float]] = {k: [] for k in peers}
    for _ in range(runs):
        for name, cands in peers.items():
            t0 = time.perf_counter()
            for s in samples:
                ingest.detect(s, cands)
            times[name].append(time.perf_counter() - t0)
    print(f"detection on {len(samples)} files, {n_lines:,} lines (first {ingest.DETECT_SAMPLE} of each), "
          f"median of {runs}:")
    base = statistics.median(times["all"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<50} {len(peers[name]):>3} definitions  {med * 1000:8.0f} ms  "
              f"{med / max(n_lines, 1) * 1e6:6.1f} µs a line  x{med / base:.2f} of all  (min {min(ts) * 1000:.0f} ms)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path)
    ap.add_argument("--time", type=int, default=0, metavar="N", help="also time detection, median of N runs")
    ap.add_argument("--without", default="", metavar="NAMES",
                    help="with --time: also time detection without these built-in formats (comma-separated)")
    ap.add_argument("--no-table", action="store_true", help="with --time: only the timing")
    args = ap.parse_args(argv)
    if args.dirs:
        groups = [(str(d), d) for d in args.dirs]
    else:
        seen = set()
        groups = []
        for d in DEFAULT_DIRS:
            if d.exists() and d.resolve() not in seen:
                seen.add(d.resolve())
                groups.append((_short(str(d)), d))
    all_rows = []
    for label, directory in [] if args.no_table else groups:
        print(f"\n== {label}")
        rows = table(directory)
        totals(rows, label)
        all_rows.append((label, rows))
    if all_rows:
        print()
    for label, rows in all_rows:
        totals(rows, label)
    if args.time:
        time_detection(args.time, {n for n in args.without.split(",") if n})
    return 0


if __name__ == "__main__":
    sys.exit(main())
