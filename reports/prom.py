"""The scan's metrics as a Prometheus textfile, for node_exporter's textfile collector.

Rendered from the scan's export alone. Counters are totals over the whole history (so ``rate()``
works across runs); gauges describe the last run. Label sets are bounded: verdicts and named
causes come from the rules, every unnamed error signature is counted under one label, and no
path, id or log text ever becomes a label.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

#: The label every unnamed error signature (``signature:<id>``) is counted under.
UNNAMED = "unnamed_signature"


def _cause_label(cause: str) -> str:
    return UNNAMED if cause.startswith("signature:") else cause


class _Scan:
    def __init__(self, export: dict[str, Any]):
        self.export = export

    def collect(self) -> Iterator[Metric]:
        e = self.export
        totals = e.get("totals", {})
        attempts = CounterMetricFamily("loganalyzer_attempts", "Request attempts diagnosed, by verdict.",
                                       labels=["verdict"])
        for verdict, n in sorted(totals.get("verdicts", {}).items()):
            attempts.add_metric([str(verdict)], float(n))
        yield attempts
        failed = CounterMetricFamily("loganalyzer_failed_attempts", "Failed attempts, by root cause.",
                                     labels=["cause"])
        causes: dict[str, float] = {}
        for cause, n in totals.get("causes", {}).items():
            label = _cause_label(str(cause))
            causes[label] = causes.get(label, 0.0) + float(n)
        for label, n in sorted(causes.items()):
            failed.add_metric([label], n)
        yield failed
        for what in ("read", "rejected", "unread"):
            c = CounterMetricFamily(f"loganalyzer_lines_{what}", f"Log lines {what}, over every scan.")
            c.add_metric([], float(totals.get(f"lines_{what}", 0)))
            yield c
        runs = CounterMetricFamily("loganalyzer_scan_runs", "Scans that committed.")
        runs.add_metric([], float(totals.get("runs", 0)))
        yield runs
        run = e.get("run", {})
        last = GaugeMetricFamily("loganalyzer_scan_last_success_timestamp_seconds",
                                 "When the last scan finished, as a Unix time.")
        last.add_metric([], float(run.get("finished_unix") or 0))
        yield last
        took = GaugeMetricFamily("loganalyzer_scan_duration_seconds", "How long the last scan took.")
        took.add_metric([], float(run.get("duration_seconds") or 0))
        yield took
        s = e.get("summary", {})
        ratio = GaugeMetricFamily("loganalyzer_scan_success_ratio", "Share of the last scan's attempts that succeeded.")
        ratio.add_metric([], float(s["success_rate"]) if s.get("success_rate") is not None else float("nan"))
        yield ratio
        breaches = GaugeMetricFamily("loganalyzer_scan_breaches", "Thresholds the last scan found breached.",
                                     labels=["rule"])
        counts: dict[str, int] = {}
        for b in e.get("breaches", []):
            counts[b["rule"]] = counts.get(b["rule"], 0) + 1
        for rule in sorted(set(counts) | set(e.get("rules", []))):
            breaches.add_metric([rule], float(counts.get(rule, 0)))
        yield breaches


def render(export: dict[str, Any]) -> bytes:
    """The textfile's content."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scan(export))
    return generate_latest(registry)


def write(export: dict[str, Any], path: str | Path) -> None:
    """Write the textfile: ``-`` to stdout, else atomically (a temp file renamed over it), as the
    textfile collector needs so it never reads half a file."""
    if str(path) == "-":
        sys.stdout.write(render(export).decode())
        return
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scan(export))
    write_to_textfile(str(path), registry)
