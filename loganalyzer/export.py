"""The export as a directory that scales with the logs: attempts and evidence in Parquet, the rest
as a compact JSON summary.

``analyze --export DIR`` writes:

- ``attempts.parquet``: one row per attempt, the columns of ``schema.ATTEMPT`` with their types;
- ``evidence.parquet``: the lines behind each verdict and cause (``schema.EVIDENCE``);
- ``analysis.json``: everything else of the JSON export (sources, summary, causes, timeline,
  rejects, differences), without the per-attempt records, plus the names of the two tables.

The JSON export (``--json``) holds about a kilobyte per attempt; this summary holds none, so its
size follows the number of causes, sources and timeline buckets, not of requests. :func:`read`
puts the three back together into the JSON export's shape, which the reports render.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from loganalyzer import errors, schema
from loganalyzer.outputs import write_json

if TYPE_CHECKING:
    from loganalyzer.analysis import Analysis

ATTEMPTS = "attempts.parquet"
EVIDENCE = "evidence.parquet"
SUMMARY = "analysis.json"


class ExportError(errors.InputError):
    """An export directory that cannot be read back."""


def write(a: Analysis, directory: str | Path) -> int:
    """Write the export directory (created if missing); returns the number of attempts.

    Each file is written under a temporary name and renamed, so a reader never sees half of one.
    """
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise errors.UsageError(f"{d} exists and is not a directory")
    d.mkdir(parents=True, exist_ok=True)
    attempts = schema.conform(a.attempts_frame(), schema.ATTEMPT)
    evidence = a.evidence_frame()
    data = a.to_dict(requests=False)
    data["tables"] = {"attempts": ATTEMPTS, "evidence": EVIDENCE, "attempt_count": attempts.height,
                      "evidence_count": evidence.height}
    for name, frame in ((ATTEMPTS, attempts), (EVIDENCE, evidence)):
        tmp = d / f".{name}.tmp"
        frame.write_parquet(tmp, compression="zstd")
        os.replace(tmp, d / name)
    tmp = d / f".{SUMMARY}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        write_json(data, f)
        f.write("\n")
    os.replace(tmp, d / SUMMARY)
    return attempts.height


def read_tables(directory: str | Path) -> tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]:
    """The summary (checked to be a loganalyzer export), the attempts and the evidence of an export directory."""
    from loganalyzer import reports

    d = Path(directory)
    if not (d / SUMMARY).is_file():
        raise ExportError(f"{d}: not a loganalyzer export directory (it has no {SUMMARY})")
    data = reports.read_json(d / SUMMARY)
    tables = data.get("tables") or {}
    frames = []
    for key, default, cols in (("attempts", ATTEMPTS, schema.ATTEMPT), ("evidence", EVIDENCE, schema.EVIDENCE)):
        path = d / str(tables.get(key, default))
        try:
            frames.append(schema.conform(pl.read_parquet(path), cols))
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise ExportError(f"{path}: cannot be read as the export's {key} table "
                              f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    return data, frames[0], frames[1]


def _json_tables(path: str | Path) -> tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]:
    """A JSON export (analyze --json) as the summary, attempts and evidence an export directory holds."""
    from loganalyzer import reports

    data = reports.read_json(path)
    requests = data.get("requests") or []
    attempts = pl.from_dicts([{**{k: v for k, v in r.items() if k != "evidence"},
                               "link": (r.get("link") or {}).get("method") if isinstance(r.get("link"), dict)
                               else r.get("link")} for r in requests], infer_schema_length=None) \
        if requests else pl.DataFrame(schema={"request_id": pl.String, "logical_id": pl.String,
                                              "attempt_id": pl.Int64})
    evidence = pl.DataFrame([{"attempt_id": r["attempt_id"], "kind": e.get("source"), "file": e.get("file"),
                              "line": e.get("line"), "ts": e.get("ts"), "link": e.get("link"), "text": e.get("text")}
                             for r in requests for e in r.get("evidence") or []],
                            schema={"attempt_id": pl.Int64, "kind": pl.String, "file": pl.String, "line": pl.Int64,
                                    "ts": pl.String, "link": pl.String, "text": pl.String})
    utc = [c for c in attempts.columns if c == "ts" or c.endswith(("_send", "_done", "_start", "_end"))]
    attempts = attempts.with_columns(pl.col(c).str.to_datetime(time_zone="UTC") for c in utc
                                     if attempts.schema[c] == pl.String)
    return data, attempts, evidence.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))


def read(directory: str | Path) -> dict[str, Any]:
    """The export directory as the JSON export's data (``requests`` with their evidence), for the reports."""
    from loganalyzer.analysis import requests_records

    data, attempts, evidence = read_tables(directory)
    records = requests_records(attempts, evidence)
    # Through JSON as the JSON export is, so a report from the directory equals one from --json.
    data["requests"] = json.loads(json.dumps(records, ensure_ascii=False, default=str))
    data.pop("tables", None)
    return data


def trace(directory: str | Path, request_id: str) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    """One request's attempts and their evidence lines, from an export directory or a JSON export (no
    log is read).

    Returns (attempts, lines, redacted); lines are in time order per attempt.
    """
    from loganalyzer.analysis import trace_order

    data, attempts, evidence = _json_tables(directory) if Path(directory).is_file() else read_tables(directory)
    mine = attempts.filter((pl.col("request_id") == request_id) | (pl.col("logical_id") == request_id)
                           | (pl.format("#{}", pl.col("attempt_id")) == request_id))
    lines = evidence.join(mine.select("attempt_id"), on="attempt_id").unique(
        ["attempt_id", "kind", "file", "line"], maintain_order=True).pipe(trace_order)
    # Evidence keeps each line's text as written; the parsed message is not in the export.
    lines = lines.with_columns(pl.lit(None, pl.String).alias("message"))
    return mine, lines, bool(data.get("redacted", True))
