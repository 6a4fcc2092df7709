"""Diagnosis accuracy on the lab's style matrix, zero-config: what loganalyzer gets right per cell.

    python benchmarks/bench_accuracy.py                     # every generated cell
    python benchmarks/bench_accuracy.py CELL [CELL ...]     # names (looked up in the roots) or directories
    python benchmarks/bench_accuracy.py --root samples/matrix --json /tmp/accuracy.json

A cell is a directory written by ``samples/lab/matrix.py``: ``logs/``, ``truth.csv`` and
``scenario.json``. Each cell's ``logs/`` goes through ``loganalyzer.analysis.analyze(paths)`` with
no zones, kinds or formats given, and the attempts it finds are matched 1:1 to the truth: by
request id (and attempt number) where the truth has an id, else (and for what is left) by the
nearest time with the same method, path and status, then the same method and path, within
``--tolerance`` seconds. Per cell:

- attempts and logical requests found / in the truth
- verdict and root-cause accuracy over the truth's failed attempts (an unmatched one counts wrong)
- unknown share: failed attempts found whose verdict or cause is ``unknown``
- unread lines (files no format was found for) and rejected lines (in files that were read)
- clock offsets measured vs the truth: the truth is what misreading a zone must produce, from the
  zones in ``scenario.json`` and the zone each file was read in (the hosts share one clock)

Tuning cells and held-out cells (``held_out`` in scenario.json) are reported in separate sections,
each with its totals. A cell whose analysis fails gets its error in its row; the run goes on.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
ROOTS = [ROOT / "benchmarks" / "generated" / "matrix", ROOT / "samples" / "matrix"]
FAILED = "ok"


@dataclass
class CellResult:
    cell: str
    path: str
    held_out: bool
    axes: dict = field(default_factory=dict)
    attempts_found: int = 0
    attempts_truth: int = 0
    requests_found: int = 0
    requests_truth: int = 0
    matched: int = 0
    failed_truth: int = 0
    verdict_right: int = 0
    cause_right: int = 0
    failed_found: int = 0
    unknown_found: int = 0
    unread_lines: int = 0
    rejected_lines: int = 0
    offsets: list = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def verdict_acc(self) -> float | None:
        return self.verdict_right / self.failed_truth if self.failed_truth else None

    @property
    def cause_acc(self) -> float | None:
        return self.cause_right / self.failed_truth if self.failed_truth else None

    @property
    def unknown_share(self) -> float | None:
        return self.unknown_found / self.failed_found if self.failed_found else None


def read_truth(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["sent"] = datetime.fromisoformat(r["sent_utc"])
        r["attempt"] = int(r["attempt"])
        # What an analysis can know as the status: the client's, or nginx's 499 when the client gave up.
        r["status"] = int(r["client_status"]) if r["client_status"] else (499 if r["client_error"] == "timeout"
                                                                          else None)
    return rows


def logical_truth(rows: list[dict]) -> int:
    """Logical requests: distinct ids, plus first attempts of id-less clients (which send one at a time)."""
    ids = {(r["client"], r["request_id"]) for r in rows if r["request_id"]}
    return len(ids) + sum(1 for r in rows if not r["request_id"] and r["attempt"] == 1)


def found_rows(requests) -> list[dict]:
    out = []
    for r in requests.to_dict("records"):
        times = [t for t in (r.get("client_send"), r.get("proxy_start"), r.get("ts")) if _present(t)]
        status = r["status_client"] if _present(r["status_client"]) else r["status_proxy"]
        out.append({
            "request_id": r["request_id"] if _present(r["request_id"]) else None,
            "attempt": int(r["attempt"]) if _present(r["attempt"]) else None,
            "times": [t.to_pydatetime() for t in times],
            "method": r["method"] if _present(r["method"]) else None,
            "path": r["path"] if _present(r["path"]) else None,
            "status": int(status) if _present(status) else None,
            "verdict": r["verdict"], "root_cause": r["root_cause"],
        })
    return out


def _present(value) -> bool:
    if value is None:
        return False
    try:
        return value == value and str(value) not in ("<NA>", "NaT")
    except (TypeError, ValueError):
        return True


def distance(truth: dict, found: dict) -> float:
    if not found["times"]:
        return float("inf")
    return min(abs((t - truth["sent"]).total_seconds()) for t in found["times"])


def match(truth: list[dict], found: list[dict], tolerance_s: float) -> dict[int, int]:
    """Truth row index -> found row index, 1:1: by id and attempt, by id, then by time with
    method+path+status, then by time with method+path."""
    pairs: dict[int, int] = {}
    used: set[int] = set()
    by_id: dict[str, list[int]] = {}
    for j, f in enumerate(found):
        if f["request_id"]:
            by_id.setdefault(f["request_id"], []).append(j)
    for exact in (True, False):
        for i, t in enumerate(truth):
            if i in pairs or not t["request_id"]:
                continue
            options = [j for j in by_id.get(t["request_id"], []) if j not in used
                       and (not exact or found[j]["attempt"] == t["attempt"])]
            if options:
                j = min(options, key=lambda j: distance(t, found[j]))
                pairs[i] = j
                used.add(j)
    for keys in (("method", "path", "status"), ("method", "path")):
        candidates = []
        for i, t in enumerate(truth):
            if i in pairs:
                continue
            for j, f in enumerate(found):
                if j in used or any(f[k] != t[k] for k in keys):
                    continue
                d = distance(t, f)
                if d <= tolerance_s:
                    candidates.append((d, i, j))
        for _, i, j in sorted(candidates):  # nearest first, each side once
            if i not in pairs and j not in used:
                pairs[i] = j
                used.add(j)
    return pairs


def zone_error(tz: str, offset_in_line: bool, read_as, when: datetime) -> float | None:
    """Seconds a file's timestamps end up off the true time: its zone minus the zone it was read in."""
    if offset_in_line:
        return 0.0
    if not _present(read_as) or not read_as:
        return None
    true = ZoneInfo(tz).utcoffset(when.replace(tzinfo=None)).total_seconds()
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", str(read_as))
    if m:
        assumed = (1 if m.group(1) == "+" else -1) * (int(m.group(2)) * 3600 + int(m.group(3)) * 60)
    else:
        try:
            assumed = ZoneInfo(str(read_as)).utcoffset(when.replace(tzinfo=None)).total_seconds()
        except (KeyError, ValueError):
            return None
    return true - assumed


def unread_lines(logs: Path, stats) -> int:
    """Lines of the files the analysis did not read (no kind or format found, or not listed at all)."""
    read = {Path(str(f)).resolve() for f, k in zip(stats["file"], stats["kind"], strict=True) if _present(k)}
    total = 0
    for path in sorted(logs.rglob("*")):
        if path.is_file() and path.resolve() not in read:
            with open(path, "rb") as fh:
                total += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return total


def offsets_vs_truth(analysis, meta: dict, cell_dir: Path) -> list[dict]:
    """Each measured offset beside what the zones make it: error(source) - error(reference)."""
    when = datetime.fromisoformat(meta["start_utc"])
    by_file = {Path(z["file"]).name: z for z in meta.get("zones", {}).values() if (cell_dir / z["file"]).exists()}
    error_of: dict[str, float | None] = {}
    for s in analysis.sources.to_dict("records"):
        z = by_file.get(Path(str(s["file"])).name)
        if not _present(s["kind"]) or z is None:
            continue
        error_of[s["kind"]] = zone_error(z["tz"], z["offset_in_line"], s["zone"], when)
    measured = {o.source: o for o in analysis.offsets}
    reference = analysis.offsets[0].reference if analysis.offsets else "nginx_access"
    out = []
    for kind in sorted(set(error_of) | set(measured)):
        if kind == reference:
            continue
        o = measured.get(kind)
        ref = o.reference if o else reference
        src, base = error_of.get(kind), error_of.get(ref)
        truth = src - base if src is not None and base is not None else None
        out.append({"source": kind, "reference": ref, "measured_s": round(o.seconds, 3) if o else None,
                    "truth_s": truth, "applied": o.applied if o else None, "pairs": o.pairs if o else 0})
    return out


def score(cell_dir: Path, tolerance_s: float) -> CellResult:
    meta = json.loads((cell_dir / "scenario.json").read_text(encoding="utf-8"))
    res = CellResult(meta.get("cell", cell_dir.name), str(cell_dir), bool(meta.get("held_out")), meta.get("axes", {}))
    truth = read_truth(cell_dir / "truth.csv")
    res.attempts_truth = len(truth)
    res.requests_truth = logical_truth(truth)
    res.failed_truth = sum(1 for t in truth if t["verdict"] != FAILED)
    started = time.perf_counter()
    try:
        from loganalyzer.analysis import analyze

        analysis = analyze(cell_dir / "logs")
        req = analysis.requests
        res.attempts_found = len(req)
        res.requests_found = int(req["logical_id"].nunique()) if len(req) else 0
        failed = req[req["verdict"] != FAILED]
        res.failed_found = len(failed)
        res.unknown_found = int(((failed["verdict"] == "unknown") | (failed["root_cause"] == "unknown")).sum())
        stats = analysis.sources
        res.unread_lines = unread_lines(cell_dir / "logs", stats)
        res.rejected_lines = int(stats["rejected"].fillna(0).sum())
        found = found_rows(req)
        pairs = match(truth, found, tolerance_s)
        res.matched = len(pairs)
        for i, t in enumerate(truth):
            if t["verdict"] == FAILED or i not in pairs:
                continue
            f = found[pairs[i]]
            res.verdict_right += f["verdict"] == t["verdict"]
            res.cause_right += f["root_cause"] == t["root_cause"]
        res.offsets = offsets_vs_truth(analysis, meta, cell_dir)
    except Exception as exc:  # a failing cell is a result, not the end of the run
        res.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        res.offsets = [{"traceback": traceback.format_exc(limit=3)}]
    res.seconds = round(time.perf_counter() - started, 2)
    return res


def find_cells(names: list[str], roots: list[Path]) -> list[Path]:
    if not names:
        for root in roots:
            cells = sorted(p for p in root.glob("*") if (p / "truth.csv").exists())
            if cells:
                return cells
        return []
    out = []
    for name in names:
        path = Path(name)
        if (path / "truth.csv").exists():
            out.append(path)
            continue
        hits = [root / name for root in roots if (root / name / "truth.csv").exists()]
        if not hits:
            raise SystemExit(f"bench_accuracy: no cell {name!r} under {', '.join(map(str, roots))}")
        out.append(hits[0])
    return out


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:5.1f}%"


def offsets_text(offsets: list[dict]) -> str:
    parts = []
    for o in offsets:
        if "source" not in o:
            continue
        truth = "?" if o["truth_s"] is None else f"{o['truth_s']:+.0f}"
        measured = "none" if o["measured_s"] is None else f"{o['measured_s']:+.1f}"
        parts.append(f"{o['source']} {measured}/{truth}")
    return ", ".join(parts) or "-"


def totals(results: list[CellResult]) -> dict:
    ok = [r for r in results if r.error is None]
    t = {k: sum(getattr(r, k) for r in ok) for k in ("attempts_found", "attempts_truth", "requests_found",
                                                     "requests_truth", "failed_truth", "verdict_right",
                                                     "cause_right", "failed_found", "unknown_found",
                                                     "unread_lines", "rejected_lines")}
    t["cells"] = len(results)
    t["errors"] = len(results) - len(ok)
    t["verdict_acc"] = t["verdict_right"] / t["failed_truth"] if t["failed_truth"] else None
    t["cause_acc"] = t["cause_right"] / t["failed_truth"] if t["failed_truth"] else None
    t["unknown_share"] = t["unknown_found"] / t["failed_found"] if t["failed_found"] else None
    return t


def print_section(title: str, results: list[CellResult]) -> None:
    print(f"\n## {title} ({len(results)} cells)\n")
    head = (f"{'cell':32s} {'attempts':>9s} {'requests':>9s} {'verdict':>7s} {'cause':>7s} {'unknown':>7s} "
            f"{'unread':>6s} {'reject':>6s}  offsets measured/truth (s)")
    print(head)
    print("-" * len(head))
    for r in results:
        if r.error:
            print(f"{r.cell:32s} {'-':>9s} {'-':>9s} ERROR {r.error}")
            continue
        print(f"{r.cell:32s} {r.attempts_found:>4d}/{r.attempts_truth:<4d} "
              f"{r.requests_found:>4d}/{r.requests_truth:<4d} "
              f"{pct(r.verdict_acc):>7s} {pct(r.cause_acc):>7s} {pct(r.unknown_share):>7s} {r.unread_lines:>6d} "
              f"{r.rejected_lines:>6d}  {offsets_text(r.offsets)}")
    t = totals(results)
    print("-" * len(head))
    print(f"{'total':32s} {t['attempts_found']:>4d}/{t['attempts_truth']:<4d} {t['requests_found']:>4d}/"
          f"{t['requests_truth']:<4d} {pct(t['verdict_acc']):>7s} {pct(t['cause_acc']):>7s} "
          f"{pct(t['unknown_share']):>7s} {t['unread_lines']:>6d} {t['rejected_lines']:>6d}  "
          f"errors: {t['errors']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cells", nargs="*", help="cell names or directories (default: every cell of the first "
                        "root that has any)")
    parser.add_argument("--root", type=Path, action="append", help="where cells are looked up (repeatable; default "
                        "benchmarks/generated/matrix, then samples/matrix)")
    parser.add_argument("--tolerance", type=float, default=3.0, help="time matching window in seconds (default 3)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    roots = args.root or ROOTS
    cells = find_cells(args.cells, roots)
    if not cells:
        print(f"bench_accuracy: no cells under {', '.join(map(str, roots))}; generate some with "
              "python samples/lab/matrix.py --all", file=sys.stderr)
        return 2
    results = [score(c, args.tolerance) for c in cells]
    tuning = [r for r in results if not r.held_out]
    held = [r for r in results if r.held_out]
    print("Accuracy of zero-config analysis on the lab's style matrix (found/truth; accuracy over failed attempts)")
    print_section("tuning cells", tuning)
    print_section("held-out cells (never used to tune rules)", held)
    if args.json:
        data = {
            "tolerance_s": args.tolerance,
            "cells": [{**asdict(r), "verdict_acc": r.verdict_acc, "cause_acc": r.cause_acc,
                       "unknown_share": r.unknown_share} for r in results],
            "totals": {"tuning": totals(tuning), "held_out": totals(held)},
        }
        args.json.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
