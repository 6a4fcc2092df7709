"""HTML report: render time, file size and browser load time, from 1k to 100k attempts.

    python benchmarks/bench_report.py                      # 1k, 10k, 100k attempts
    python benchmarks/bench_report.py --attempts 1000000 --scenario trailing-comma
    python benchmarks/bench_report.py --no-browser

The export of a bundled scenario (mixed-faults: every failure mode) is repeated until it holds N
attempts (``loganalyzer.reports.synthetic.scale_export``: each copy shifted in time, with its own
request ids). Timed: rendering the HTML from the dict (``render_html``, the page's sampling and
aggregation included) and the Markdown postmortem; then Debian's Chromium (through Playwright)
opens the file from file://, and the load time is until the page's script has drawn everything
(``performance.now()`` when it marks the body ready, and the wall time of ``page.goto`` to that).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import loganalyzer
from loganalyzer import reports

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / "work"
CHROMIUM = os.environ.get("LOGANALYZER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-gpu", "--disable-sync", "--disable-quic"]


def load_times(paths: list[Path], repeat: int) -> dict[Path, tuple[float, float]]:
    """Best of ``repeat`` (wall seconds of goto-to-ready, in-page ms to ready) per file."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for path in paths:
            best = (float("inf"), float("inf"))
            for _ in range(repeat):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                t0 = time.perf_counter()
                page.goto(path.as_uri())
                page.wait_for_selector("body[data-ready='1']", timeout=120_000)
                wall = time.perf_counter() - t0
                in_page = float(page.get_attribute("body", "data-ready-ms"))
                page.close()
                if errors:
                    raise SystemExit(f"{path}: page error: {errors[0]}")
                best = min(best, (wall, in_page))
            out[path] = best
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attempts", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--scenario", default="mixed-faults")
    ap.add_argument("--repeat", type=int, default=3, help="browser loads per file (best is shown)")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()

    WORK.mkdir(exist_ok=True)
    base = reports.export(loganalyzer.analyze([str(ROOT / "samples" / args.scenario / "logs")]))
    rows, paths = [], []
    for n in args.attempts:
        data = reports.synthetic.scale_export(base, n)
        path = WORK / f"report-{n}.html"
        t0 = time.perf_counter()
        reports.write_html(data, path)
        render = time.perf_counter() - t0
        t0 = time.perf_counter()
        reports.write_markdown(data, WORK / f"postmortem-{n}.md")
        md = time.perf_counter() - t0
        rows.append((n, render, md, path.stat().st_size))
        paths.append(path)
    loads = {} if args.no_browser else load_times(paths, args.repeat)

    print(f"scenario {args.scenario}, Chromium {'not run' if args.no_browser else CHROMIUM}")
    print(f"{'attempts':>10}  {'render s':>9}  {'markdown s':>10}  {'HTML MB':>8}  {'load s':>7}  {'script ms':>9}")
    for (n, render, md, size), path in zip(rows, paths, strict=True):
        wall, in_page = loads.get(path, (float("nan"), float("nan")))
        print(f"{n:>10,}  {render:>9.2f}  {md:>10.2f}  {size / 1e6:>8.2f}  {wall:>7.2f}  {in_page:>9.0f}")


if __name__ == "__main__":
    main()
