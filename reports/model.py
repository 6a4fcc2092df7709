"""What the report shows, built from the JSON export (``Analysis.to_dict()`` or a saved ``--json`` file).

Both the HTML page and the Markdown postmortem are rendered from :func:`build`'s result, so a
report rendered from an :class:`~loganalyzer.Analysis` and one rendered from its saved JSON are
the same. Every string that came from the logs is masked here (when the export says
``redacted``) before any template sees it.

Large incidents: the charts and counts use every attempt (aggregated per time bucket), while
the page embeds at most :data:`MAX_ROWS` attempts (all failed ones up to :data:`FAILED_ROWS`, an
even time sample of the rest) and the evidence text of at most :data:`TEXT_ROWS` failed attempts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from loganalyzer import redact
from loganalyzer import summary as summary_mod

#: Attempts embedded in the page, at most.
MAX_ROWS = 12_000
#: Failed attempts embedded, at most (every one of them when there are fewer).
FAILED_ROWS = 9_000
#: Failed attempts whose evidence lines are quoted in full, at most (others cite file and line).
TEXT_ROWS = 2_500
#: The first and last failed attempts of each cause are always kept when sampling.
EDGE_FIRST, EDGE_LAST = 20, 5
#: Time buckets of the aggregated charts (about).
BUCKETS = 160
#: A quoted log line is cut after this many characters.
LINE_CHARS = 2_000
#: Evidence lines shown on a cause card.
CARD_EVIDENCE = 3

SOURCE_ORDER = ["vac", "nginx_access", "nginx_error", "crm"]
SOURCE_LABELS = {"vac": "vac (client)", "nginx_access": "Nginx access", "nginx_error": "Nginx error",
                 "crm": "CRM (upstream)"}


class Vocabulary:
    """The verdicts (gloss, colour, place, who answered) and cause phrases the export carries
    (``vocabulary``, from the rules the analysis ran with). An export without one (format 1) gets
    the built-in rules' vocabulary: still data from the rules files, never a table here."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.verdicts: dict[str, dict[str, Any]] = {v["name"]: v for v in data.get("verdicts") or [] if v.get("name")}
        self.phrases: dict[str, str] = dict(data.get("cause_phrases") or {})

    @classmethod
    def of(cls, export: dict[str, Any]) -> Vocabulary:
        vocab = export.get("vocabulary")
        if isinstance(vocab, dict) and vocab.get("verdicts"):
            return cls(vocab)
        return cls.builtin()

    @classmethod
    def builtin(cls) -> Vocabulary:
        from loganalyzer import diagnose

        return cls(diagnose.vocabulary(diagnose.load_rules()))

    @property
    def order(self) -> list[str]:
        return list(self.verdicts)

    def gloss(self, verdict: str) -> str:
        return str((self.verdicts.get(verdict) or {}).get("gloss") or verdict)

    def short(self, verdict: str) -> str:
        """The gloss up to its first colon or semicolon: for a sentence that names several verdicts."""
        return re.split(r"[:;] ", self.gloss(verdict), maxsplit=1)[0]

    def place(self, verdict: str) -> str:
        return str((self.verdicts.get(verdict) or {}).get("place") or f"at {verdict}")

    def answered(self, verdict: str) -> str | None:
        return (self.verdicts.get(verdict) or {}).get("answered")

    def colour(self, verdict: str) -> str:
        """The verdict's colour when it is a CSS hex colour (it goes into the page's style), else grey."""
        c = str((self.verdicts.get(verdict) or {}).get("colour") or "")
        return c if re.fullmatch(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?", c) else "#9aa3ad"

    def phrase(self, cause: str, detail: str | None = None) -> str:
        """How a reader says a cause ("... because of <phrase>")."""
        text = self.phrases.get(cause) or cause.replace("_", " ")
        if detail:
            text += f" ({detail.replace('_', ' ')})"
        return text

    def payload(self) -> dict[str, Any]:
        """For the page's script: name -> gloss, colour, place, answered."""
        return {name: {"gloss": self.gloss(name), "colour": self.colour(name), "place": self.place(name),
                       "answered": self.answered(name), "failed": bool(v.get("failed", name != "ok"))}
                for name, v in self.verdicts.items()}


#: What a summary holds when the logs had no attempts (the analysis then writes only the counts).
EMPTY_SUMMARY: dict[str, Any] = {
    "attempts": 0, "requests": 0, "failed_attempts": 0, "failed_requests": 0, "first_failure": None,
    "last_failure": None, "time_range": None, "by_verdict": {}, "by_cause": {}, "by_endpoint": [], "over_time": [],
    "longest_failure_run": None, "dominant_cause": None, "suspected_trigger": None, "changes": [],
}

_STR = ["request_id", "logical_id", "method", "path", "verdict", "verdict_reason", "root_cause",
        "root_cause_detail", "rule", "client_error", "upstream_addr", "client_addr", "user_agent", "link_method"]
_INT = ["attempt_id", "attempt", "status_client", "status_proxy", "status_upstream", "connection"]
_FLOAT = ["elapsed_ms", "request_time", "upstream_response_time", "link_confidence"]
_TIME = ["ts", "client_send", "client_done", "proxy_start", "proxy_end", "upstream_start", "upstream_end"]
#: Request fields written from log text: masked when the export is redacted.
_LOGGED = ["request_id", "logical_id", "method", "path", "verdict_reason", "root_cause_detail", "client_error",
           "upstream_addr", "client_addr", "user_agent"]


# --------------------------------------------------------------------------------------------- helpers

class Masker:
    """Masks secrets in log-derived strings when the export says it is redacted."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: Any) -> Any:
        if not self.enabled or not isinstance(text, str):
            return text
        return redact.mask_text(text)

    def many(self, values: list[Any]) -> list[Any]:
        """The same for a list of strings, in one vectorised pass."""
        if not self.enabled or not values:
            return list(values)
        s = pl.Series("s", [v if isinstance(v, str) else None for v in values], dtype=pl.String)
        return pl.select(redact.mask(pl.lit(s))).to_series().to_list()

    def columns(self, df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
        if not self.enabled:
            return df
        return df.with_columns([redact.mask(pl.col(c)).alias(c) for c in names if c in df.columns])


def parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def epoch_ms(value: Any) -> float | None:
    dt = parse_ts(value)
    return dt.timestamp() * 1000 if dt else None


def hms(value: Any, ms: bool = False, date: bool = False) -> str:
    dt = parse_ts(value) if not isinstance(value, datetime) else value
    if dt is None:
        return "-"
    text = dt.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")
    if ms:
        text += f".{dt.microsecond // 1000:03d}"
    return text


def seconds_text(s: float) -> str:
    """0.03 s, 4.2 s, 3 min 12 s, 2 h 5 min."""
    s = abs(float(s))
    if s < 10:
        return f"{s:.2f} s".replace(".00 s", " s")
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _num(v: Any) -> Any:
    """A time or duration for the page: an int when whole, else rounded to the microsecond."""
    if v is None:
        return None
    r = round(float(v), 3)
    return int(r) if r == int(r) else r


def nice_step_ms(span_ms: float, buckets: int = BUCKETS) -> int:
    want = max(span_ms, 1.0) / buckets
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000,
                 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000):
        if step >= want:
            return step
    return 86_400_000


def even(items: list[int], k: int) -> list[int]:
    """k items spread evenly over ``items`` (in their order)."""
    n = len(items)
    if k >= n:
        return list(items)
    if k <= 0:
        return []
    return [items[int(i * n / k)] for i in range(k)]


# --------------------------------------------------------------------------------------------- frame

class Records(Sequence):
    """The requests of an export made in this process, as the frame the export encodes them from
    (:func:`loganalyzer.analysis.export_frame`). A record is encoded and decoded when it is read
    (the few thousand around it at once, as the export encodes them), and kept once read; the
    whole table is read from the frame (:func:`requests_frame`) while no record has been handed
    out, which is what keeps a large report fast and small."""

    #: Encoded pieces kept at a time (each :data:`loganalyzer.analysis.JSON_ROWS` records).
    PIECES_KEPT = 4

    def __init__(self, frame: pl.DataFrame):
        self.frame = frame
        self._decoded: dict[int, Any] = {}
        self._pieces: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return self.frame.height

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("record index out of range")
        got = self._decoded.get(i)
        if got is None:
            got = self._decoded[i] = json.loads(self._line(i))
        return got

    def _line(self, i: int) -> str:
        from loganalyzer.analysis import JSON_ROWS, record_piece

        k = i // JSON_ROWS
        piece = self._pieces.get(k)
        if piece is None:
            if len(self._pieces) >= self.PIECES_KEPT:
                self._pieces.pop(next(iter(self._pieces)))
            piece = self._pieces[k] = record_piece(self.frame, k).rstrip("\n").split("\n")
        return piece[i - k * JSON_ROWS]

    @property
    def untouched(self) -> bool:
        """Whether no record was read yet (one handed out may have been changed since)."""
        return not self._decoded


def requests_frame(requests: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """The export's requests as a frame (without evidence); times as ms since the epoch."""
    if isinstance(requests, Records) and requests.untouched:
        cols = _frame_columns(requests.frame)
        last = requests.frame["last_attempt"].fill_null(False)  # as bool() reads a null
    else:
        cols = _record_columns(requests)
        last = pl.Series([bool(r.get("last_attempt", True)) for r in requests], dtype=pl.Boolean)
    for name in _TIME:
        cols[name] = (cols[name].str.replace(r"\+00:00$", "Z")
                      .str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", time_unit="us", strict=False)
                      .dt.epoch("us").cast(pl.Float64) / 1000)
    cols["last_attempt"] = last.alias("last_attempt")
    df = pl.DataFrame(cols).with_row_index("idx")
    return df.with_columns(
        pl.col("verdict").fill_null("unknown"), pl.col("root_cause").fill_null("unknown"),
        (pl.col("verdict").fill_null("unknown") != "ok").alias("failed"))


def _record_columns(requests: Sequence[dict[str, Any]]) -> dict[str, pl.Series]:
    """The frame's columns from the records, field by field, each value made what its column holds."""
    cols: dict[str, pl.Series] = {}
    for name in _STR:
        if name == "link_method":
            vals = [(r.get("link") or {}).get("method") if isinstance(r.get("link"), dict) else r.get("link")
                    for r in requests]
        else:
            vals = [r.get(name) for r in requests]
        cols[name] = pl.Series(name, [v if v is None else str(v) for v in vals], dtype=pl.String)
    for name in _INT:
        cols[name] = pl.Series(name, [r.get(name) for r in requests], dtype=pl.Float64, strict=False).cast(pl.Int64)
    for name in _FLOAT:
        if name == "link_confidence":
            vals = [(r.get("link") or {}).get("confidence") if isinstance(r.get("link"), dict) else r.get("confidence")
                    for r in requests]
        else:
            vals = [r.get(name) for r in requests]
        cols[name] = pl.Series(name, vals, dtype=pl.Float64, strict=False)
    for name in _TIME:
        cols[name] = pl.Series(name, [r.get(name) for r in requests], dtype=pl.String)
    return cols


def _frame_columns(frame: pl.DataFrame) -> dict[str, pl.Series]:
    """:func:`_record_columns` of the records a frame encodes to (``analysis.export_frame``): the
    same values, read without decoding them. JSON has no NaN or infinity: the export writes null."""
    link = frame["link"]
    cols: dict[str, pl.Series] = {}
    for name in _STR:
        col = link.struct.field("method") if name == "link_method" else frame[name]
        cols[name] = col.cast(pl.String).alias(name)
    for name in _INT:
        cols[name] = frame[name].cast(pl.Int64).alias(name)
    for name in _FLOAT:
        col = (link.struct.field("confidence") if name == "link_confidence" else frame[name]).cast(pl.Float64)
        cols[name] = pl.select(pl.when(col.is_finite()).then(col)).to_series().alias(name)
    for name in _TIME:
        cols[name] = frame[name].cast(pl.String).alias(name)
    return cols


# --------------------------------------------------------------------------------------------- sampling

def select_failed(df: pl.DataFrame, cap: int) -> list[int]:
    """Row indexes of failed attempts to keep: every one when there are at most ``cap``; else the
    first and last of each cause, then an even time sample of the rest."""
    failed = df.filter(pl.col("failed")).sort(["ts", "attempt_id"], nulls_last=True)
    idx = failed["idx"].to_list()
    if len(idx) <= cap:
        return idx
    keep: set[int] = set()
    for _, group in failed.group_by("root_cause", maintain_order=True):
        g = group["idx"].to_list()
        keep.update(g[:EDGE_FIRST])
        keep.update(g[-EDGE_LAST:])
    if len(keep) > cap:
        pos = {i: n for n, i in enumerate(idx)}
        keep = set(even(sorted(keep, key=pos.__getitem__), cap))
    rest = [i for i in idx if i not in keep]
    keep.update(even(rest, cap - len(keep)))
    return [i for i in idx if i in keep]


def select_rows(df: pl.DataFrame) -> tuple[list[int], dict[str, Any]]:
    """Which attempts the page embeds, in time order, and how they were chosen."""
    total = df.height
    n_failed = int(df["failed"].sum()) if total else 0
    ordered = df.sort(["ts", "attempt_id"], nulls_last=True)
    if total <= MAX_ROWS:
        return ordered["idx"].to_list(), {"complete": True, "total": total, "failed_total": n_failed,
                                          "failed_kept": n_failed, "ok_total": total - n_failed,
                                          "ok_kept": total - n_failed, "rows": total}
    failed = select_failed(df, FAILED_ROWS)
    ok = ordered.filter(~pl.col("failed"))["idx"].to_list()
    ok_kept = even(ok, MAX_ROWS - len(failed))
    keep = set(failed) | set(ok_kept)
    rows = [i for i in ordered["idx"].to_list() if i in keep]
    return rows, {"complete": False, "total": total, "failed_total": n_failed, "failed_kept": len(failed),
                  "ok_total": len(ok), "ok_kept": len(ok_kept), "rows": len(rows)}


# --------------------------------------------------------------------------------------------- build

class Strings:
    """A table of distinct strings: the page refers to them by index."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, s: Any) -> int | None:
        if s is None:
            return None
        s = str(s)
        i = self._index.get(s)
        if i is None:
            i = self._index[s] = len(self.items)
            self.items.append(s)
        return i


def evidence_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    """An attempt's evidence lines in a fixed order: time, then source, file and line."""
    return sorted(request.get("evidence") or [], key=lambda e: (
        e.get("ts") or "", e.get("source") or "", str(e.get("file")), e.get("line") or 0, e.get("role") or ""))


def _cut(line: str) -> str:
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + " …"


def build(data: dict[str, Any], embed: bool = True) -> dict[str, Any]:
    """The report's content: ``page`` for the templates and ``payload`` (plain data) for the page's script.

    ``embed=False`` leaves out the attempts the page embeds (the postmortem does not list them),
    which is most of the work on a large incident."""
    mask = Masker(bool(data.get("redacted", True)))
    vocab = Vocabulary.of(data)
    summary = {**EMPTY_SUMMARY, **(data.get("summary") or {})}
    requests = data.get("requests") or []
    df = requests_frame(requests)
    df = mask.columns(df, _LOGGED)
    df = df.with_columns(summary_mod.endpoint(pl.col("method"), pl.col("path")).alias("endpoint"))

    times = [t for t in (df["ts"].min(), df["ts"].max()) if t is not None] if df.height else []
    trigger = summary.get("suspected_trigger") or {}
    change = trigger.get("change") or None
    change_ms = epoch_ms(change["ts"]) if change else None
    events_ms = [epoch_ms(e.get("ts")) for e in (data.get("timeline") or {}).get("events") or []]
    if not times:  # no attempts: the logs' own range
        times = [t for t in events_ms if t is not None] or [0.0]
    lo, hi = min(times), max(times)
    if change_ms is not None:
        lo, hi = min(lo, change_ms), max(hi, change_ms)
    span = max(hi - lo, 1000.0)
    lo, hi = lo - span * 0.02, hi + span * 0.02
    base = int(lo // 1000 * 1000)

    def rel(ms: Any) -> Any:
        return None if ms is None else _num(ms - base)

    S = Strings()
    agg = _aggregates(df, lo, hi, base)
    rows, sampling = select_rows(df)
    payload_rows, text_rows = _rows(df, rows, requests, mask, S, rel, vocab) if embed else ({"n": 0}, 0)
    sampling["text_rows"] = text_rows
    causes = _causes(data, df, requests, mask, summary, vocab)
    lanes, events, zones = _timeline(data, mask, S, rel)
    marks = _marks(summary, mask, rel, df)

    payload = {
        "base": base, "from": rel(lo), "to": rel(hi), "S": S.items, "rows": payload_rows,
        "agg": agg, "lanes": lanes, "events": events, "marks": marks, "zones": zones,
        "local_zone": _local_zone(data), "offsets": _offsets(data),
        "verdicts": vocab.order, "vocabulary": vocab.payload(), "causes": [c["name"] for c in causes],
        "sampling": sampling,
        "sources": {k: SOURCE_LABELS.get(k, k) for k in SOURCE_ORDER},
        "totals": {"by_verdict": summary.get("by_verdict") or {}, "by_cause": summary.get("by_cause") or {}},
        "redacted": bool(data.get("redacted", True)),
    }
    page = {
        "headline": headline(summary, causes, mask, vocab), "vocab": vocab,
        "summary": summary, "redacted": payload["redacted"], "format": data.get("loganalyzer"),
        "sampling": sampling, "causes": causes, "trigger": _trigger(summary, mask),
        "verdicts": _verdict_rows(summary, vocab), "cause_rows": _cause_rows(summary, causes),
        "cross": cross_table(df, causes, vocab),
        "endpoints": [{**e, "endpoint": mask(e.get("endpoint"))} for e in summary.get("by_endpoint") or []],
        "sources": _sources(data, mask), "offsets": payload["offsets"],
        "notes": mask.many(list(data.get("notes") or [])), "rejects": _rejects(data, mask),
        "moments": moments(summary, causes, df, mask),
        "period": (hms(summary["time_range"]["from"], date=True), hms(summary["time_range"]["to"]))
        if summary.get("time_range") else None,
        "local_zone": payload["local_zone"], "lanes": [ln["source"] for ln in lanes],
        "source_labels": SOURCE_LABELS, "zones": zones,
    }
    # the attempts as a masked frame (ms since the epoch), for renderers that need more than the page
    return {"page": page, "payload": payload, "frame": df}


def _aggregates(df: pl.DataFrame, lo: float, hi: float, base: int) -> dict[str, Any]:
    """Attempts per time bucket by verdict, and failed ones by cause: what the charts and the
    window's counts use (every attempt, not the embedded sample)."""
    step = nice_step_ms(hi - lo)
    t0 = int((lo - base) // step * step)
    n = int((hi - base - t0) // step) + 1
    out: dict[str, Any] = {"t0": t0, "step": step, "n": n, "verdict": {}, "cause": {}}
    if df.height == 0:
        return out
    b = df.filter(pl.col("ts").is_not_null()).with_columns(
        ((pl.col("ts") - base - t0) // step).cast(pl.Int64).clip(0, n - 1).alias("__b"))
    for key, frame, target in (("verdict", b, out["verdict"]),
                               ("root_cause", b.filter(pl.col("failed")), out["cause"])):
        for (name,), group in frame.group_by([key], maintain_order=True):
            arr = [0] * n
            for i, c in group.group_by("__b").len().iter_rows():
                arr[i] = int(c)
            target[str(name)] = arr
    return out


def upstream_outcome(vocab: Vocabulary) -> pl.Expr:
    """What the upstream did, for attempts nginx answered for it: "closed", "refused", "timed out" or
    "no answer". nginx logs a status in $upstream_status for these too (502, 504), which would read
    as if the CRM had answered it. Null where the upstream's status is its own."""
    answered = pl.col("verdict").replace_strict({v: vocab.answered(v) for v in vocab.verdicts}, default=None,
                                                return_dtype=pl.String)
    reason = pl.col("verdict_reason").fill_null("")
    return (pl.when(pl.col("failed") & (answered == "proxy") & pl.col("status_upstream").is_not_null())
            .then(pl.when(reason.str.contains(r"(?i)closed|reset by peer")).then(pl.lit("closed"))
                  .when(reason.str.contains(r"(?i)refused")).then(pl.lit("refused"))
                  .when(reason.str.contains(r"(?i)timed out") | (pl.col("status_upstream") == 504))
                  .then(pl.lit("timed out"))
                  .otherwise(pl.lit("no answer")))
            .otherwise(pl.lit(None, pl.String)))


def _shape(line: str) -> str:
    return re.sub(r"\d", "9", re.sub(r"[^\W\d_]", "a", line[:12]))


def cited_span(lines: list[str]) -> int:
    """How many of an evidence text's lines are the cited entry (its first line and its continuation
    lines); the rest were read after it and are context, maybe another request's. A line that starts
    like the first one (the same shape of timestamp and level) begins another entry."""
    if len(lines) <= 1:
        return len(lines)
    head = _shape(lines[0])
    for i, line in enumerate(lines[1:], 1):
        if line and not line[0].isspace() and _shape(line) == head:
            return i
    return len(lines)


def cross_table(df: pl.DataFrame, causes: list[dict[str, Any]], vocab: Vocabulary) -> dict[str, Any]:
    """Failed attempts by cause (rows) and the verdict that says at which hop they died (columns)."""
    failed = df.filter(pl.col("failed"))
    if failed.height == 0:
        return {"columns": [], "places": [], "rows": []}
    counts = {(c, v): int(n) for c, v, n in failed.group_by(["root_cause", "verdict"]).len().iter_rows()}
    present = {v for _, v in counts}
    columns = [v for v in vocab.order if v in present] + sorted(present - set(vocab.order))
    peak = max(counts.values())
    rows = []
    for c in causes:
        cells = [counts.get((c["name"], v), 0) for v in columns]
        if sum(cells):
            rows.append({"cause": c["name"], "detail": c["detail"], "cells": cells, "total": sum(cells),
                         "shade": [round(n / peak, 3) for n in cells]})
    places: list[dict[str, Any]] = []  # the header above the verdicts: one cell per run of the same place
    for v in columns:
        if places and places[-1]["place"] == vocab.place(v):
            places[-1]["span"] += 1
        else:
            places.append({"place": vocab.place(v), "span": 1})
    return {"columns": [{"verdict": v, "place": vocab.place(v), "gloss": vocab.gloss(v), "colour": vocab.colour(v),
                         "total": sum(counts.get((r["cause"], v), 0) for r in rows)} for v in columns],
            "places": places, "rows": rows}


def _rows(df: pl.DataFrame, rows: list[int], requests: list[dict[str, Any]], mask: Masker, S: Strings,
          rel, vocab: Vocabulary) -> tuple[dict[str, Any], int]:
    """The embedded attempts, column by column (strings as indexes into ``S``)."""
    sub = df.filter(pl.col("idx").is_in(rows)).sort(["ts", "attempt_id"], nulls_last=True) \
        .with_columns(upstream_outcome(vocab).alias("upstream_outcome"))
    failed_sub = sub.filter(pl.col("failed"))
    texted = set(select_failed(failed_sub, TEXT_ROWS)) if failed_sub.height > TEXT_ROWS else \
        set(failed_sub["idx"].to_list())
    out: dict[str, list[Any]] = {k: [] for k in (
        "aid", "t", "id", "lid", "a", "la", "m", "p", "ep", "sc", "sp", "su", "v", "c", "d", "vr", "rl", "lk", "cf",
        "ce", "el", "rt", "urt", "ua", "cn", "ca", "ag", "x", "ev", "uo")}
    for r in sub.iter_rows(named=True):
        out["aid"].append(r["attempt_id"])
        out["t"].append(rel(r["ts"]))
        out["id"].append(r["request_id"])
        out["lid"].append(None if r["logical_id"] == r["request_id"] else r["logical_id"])
        out["a"].append(r["attempt"])
        out["la"].append(1 if r["last_attempt"] else 0)
        out["m"].append(S(r["method"]))
        out["p"].append(S(r["path"]))
        out["ep"].append(S(r["endpoint"]))
        out["sc"].append(r["status_client"])
        out["sp"].append(r["status_proxy"])
        out["su"].append(r["status_upstream"])
        out["v"].append(S(r["verdict"]))
        out["c"].append(S(r["root_cause"]))
        out["d"].append(S(r["root_cause_detail"]))
        out["vr"].append(S(r["verdict_reason"]))
        out["rl"].append(S(r["rule"]))
        out["lk"].append(S(r["link_method"]))
        out["cf"].append(r["link_confidence"])
        out["ce"].append(S(r["client_error"]))
        out["el"].append(r["elapsed_ms"])
        out["rt"].append(r["request_time"])
        out["urt"].append(r["upstream_response_time"])
        out["ua"].append(S(r["upstream_addr"]))
        out["cn"].append(r["connection"])
        out["ca"].append(S(r["client_addr"]))
        out["ag"].append(S(r["user_agent"]))
        out["uo"].append(S(r["upstream_outcome"]))
        spans = [rel(r[k]) for k in _TIME[1:]]
        out["x"].append(spans if any(v is not None for v in spans) else None)
        out["ev"].append(r["idx"])
    # Evidence texts and files, masked in one pass.
    ev_items: list[tuple[int, dict[str, Any]]] = []
    for i in out["ev"]:
        for e in evidence_of(requests[i]):
            ev_items.append((i, e))
    keep_text = [i in texted for i, _ in ev_items]
    texts = mask.many([e.get("text") if k else None for (_, e), k in zip(ev_items, keep_text, strict=True)])
    files = mask.many([e.get("file") for _, e in ev_items])
    evidence: dict[int, list[Any]] = {}
    for (i, e), text, file, k in zip(ev_items, texts, files, keep_text, strict=True):
        cited = None
        if isinstance(text, str):
            raw = text.split("\n")
            lines = [S(_cut(line)) for line in raw]
            cited = cited_span(raw)
        else:
            lines = -1 if e.get("text") is not None and not k else None
        evidence.setdefault(i, []).append([
            1 if e.get("role") == "cause" else 0, S(e.get("source")), S(file), e.get("line"),
            rel(epoch_ms(e.get("ts"))), S(e.get("link")), e.get("confidence"), lines, cited])
    out["ev"] = [evidence.get(i, []) for i in out["ev"]]
    out["n"] = sub.height  # type: ignore[assignment]
    return out, len(texted)


def _causes(data: dict[str, Any], df: pl.DataFrame, requests: list[dict[str, Any]], mask: Masker,
            summary: dict[str, Any], vocab: Vocabulary) -> list[dict[str, Any]]:
    """One card per root cause: counts, first/last seen, explanation, advice, top details and
    endpoints, and the evidence lines that prove it."""
    listed = {c.get("root_cause"): c for c in data.get("causes") or []}
    order = list(summary.get("by_cause") or {}) or list(listed)
    for name in listed:
        if name not in order:
            order.append(name)
    failed = df.filter(pl.col("failed"))
    # the leading causes' own triggers, each scoped to the failures it explains
    triggers = {c.get("cause"): _trigger(summary, mask, c.get("trigger") or None)
                for c in summary.get("causes") or [] if isinstance(c, dict) and c.get("trigger")}
    apart: dict[str, list[str]] = {}
    for d in data.get("differences") or []:
        apart.setdefault(d.get("cause"), []).append(mask(d.get("sentence")))
    cards = []
    for name in order:
        c = listed.get(name, {})
        mine = failed.filter(pl.col("root_cause") == name).sort(["ts", "attempt_id"], nulls_last=True)
        details = _top(mine["root_cause_detail"].to_list())
        endpoints = _top(mine["endpoint"].to_list())
        verdicts = _top(mine["verdict"].to_list())
        cards.append({
            "name": name, "phrase": vocab.phrase(name),
            "places": _join(sorted({vocab.place(v) for v, _ in verdicts}, key=lambda p: -sum(
                n for v, n in verdicts if vocab.place(v) == p))),
            "attempts": int(c.get("attempts") or (summary.get("by_cause") or {}).get(name) or mine.height),
            "requests": c.get("requests"), "first_seen": c.get("first_seen"), "last_seen": c.get("last_seen"),
            "verdicts": [v for v, _ in verdicts] or [v.strip() for v in (c.get("verdicts") or "").split(",") if v],
            "rule": c.get("rule"), "explanation": c.get("explanation"), "advice": c.get("advice"),
            "detail": details[0][0] if details else None,
            "details": [(d, int(n)) for d, n in details[:5]],
            "endpoints": [(e, int(n)) for e, n in endpoints[:3]],
            "evidence": _card_evidence(mine["idx"].to_list(), requests, mask),
            "apart": apart.get(name, []), "trigger": triggers.get(name),
        })
    for n, card in enumerate(cards, 1):
        card["n"] = n  # its anchor: #cause-N
    return cards


def _top(values: list[Any]) -> list[tuple[str, int]]:
    """Distinct values with their counts, most frequent first (ties by value: the same every run)."""
    counts = Counter(v for v in values if v is not None)
    return sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))


def _card_evidence(idx: list[int], requests: list[dict[str, Any]], mask: Masker) -> list[dict[str, Any]]:
    """The cause lines of the first attempts of a cause (and of its last one), one per file and line."""
    picked: list[dict[str, Any]] = []
    seen = set()
    # the first attempt's lines, then the last attempt's, then one from the middle: where it began,
    # that it went on, and that it was the same thing throughout
    order = idx[:1] + idx[-1:] + idx[len(idx) // 2:len(idx) // 2 + 1] + idx[1:50]
    for role in ("cause", "verdict"):
        for n, i in enumerate(order):
            for e in evidence_of(requests[i]):
                if e.get("role") != role or not e.get("text") or (e.get("file"), e.get("line")) in seen:
                    continue
                seen.add((e.get("file"), e.get("line")))
                picked.append(e)
                if n:  # one line from each later attempt
                    break
                if len(picked) >= CARD_EVIDENCE - 1:
                    break
            if len(picked) >= CARD_EVIDENCE:
                break
        if picked:
            break
    picked.sort(key=lambda e: (e.get("ts") or "", str(e.get("file")), e.get("line") or 0))
    out = []
    for e in picked:
        lines = [_cut(x) for x in (mask(e.get("text")) or "").split("\n")]
        n = cited_span(lines)
        out.append({"file": mask(e.get("file")), "line": e.get("line"), "source": e.get("source"),
                    "ts": hms(e.get("ts"), ms=True), "link": e.get("link"), "confidence": e.get("confidence"),
                    "text": "\n".join(lines[:n]), "context": "\n".join(lines[n:]).rstrip("\n")})
    return out


def _timeline(data: dict[str, Any], mask: Masker, S: Strings, rel) -> tuple[list[dict[str, Any]], list[Any],
                                                                             dict[str, Any]]:
    tl = data.get("timeline") or {}
    step = float(tl.get("bucket_seconds") or 0) * 1000
    kinds = [k for k in SOURCE_ORDER if k in (tl.get("lanes") or {})] + \
        [k for k in (tl.get("lanes") or {}) if k not in SOURCE_ORDER]
    lanes = []
    for kind in kinds:
        buckets = tl["lanes"][kind]
        keys = sorted({k for b in buckets for k in b if k != "t"}, key=_level_order)
        lanes.append({"source": kind, "step": step, "keys": keys,
                      "t": [rel(epoch_ms(b.get("t"))) for b in buckets],
                      "c": [[int(b.get(k) or 0) for k in keys] for b in buckets]})
    for e in tl.get("events") or []:  # a source with events but no counts still gets its lane
        if e.get("source") and e["source"] not in kinds:
            kinds.append(e["source"])
            lanes.append({"source": e["source"], "step": step, "keys": [], "t": [], "c": []})
    raw = sorted(tl.get("events") or [], key=lambda e: (e.get("ts") or "", e.get("source") or "",
                                                          str(e.get("file")), e.get("line") or 0))
    texts = mask.many([e.get("text") for e in raw])
    files = mask.many([e.get("file") for e in raw])
    events = [[rel(epoch_ms(e.get("ts"))), S(e.get("source")), S(e.get("level")), e.get("status"),
               S((t or "")[:LINE_CHARS]), S(f), e.get("line")] for e, t, f in zip(raw, texts, files, strict=True)]
    zones = {}
    for s in data.get("sources") or []:
        if s.get("kind"):
            zones.setdefault(s["kind"], {"zone": s.get("zone"), "zone_source": s.get("zone_source")})
    for kind, zone in (tl.get("zones") or {}).items():
        zones.setdefault(kind, {"zone": zone, "zone_source": None})
    return lanes, events, zones


_LEVELS = ["2xx", "3xx", "4xx", "5xx", "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "CRIT",
           "ALERT", "FATAL", "EMERG"]


def _level_order(key: str) -> tuple[int, str]:
    return (_LEVELS.index(key) if key in _LEVELS else len(_LEVELS), key)


def _offsets(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"source": o.get("source"), "reference": o.get("reference"), "seconds": o.get("seconds"),
             "applied": bool(o.get("applied")), "method": o.get("method"), "pairs": o.get("pairs"),
             "text": o.get("text")} for o in data.get("clock_offsets") or []]


def _local_zone(data: dict[str, Any]) -> str | None:
    """The zone the proxy (else another host) writes its lines in, for the time axis' second row."""
    by_kind: dict[str, str] = {}
    for s in data.get("sources") or []:
        zone = s.get("zone")
        if not zone and "offset" in str(s.get("zone_source") or ""):
            zone = None
        if s.get("kind") and zone and zone not in ("UTC", "Z", "+0000", "+00:00", "Etc/UTC"):
            by_kind.setdefault(s["kind"], zone)
    for kind in ("nginx_access", "nginx_error", "crm", "vac"):
        if kind in by_kind:
            return by_kind[kind]
    return next(iter(by_kind.values()), None)


def _marks(summary: dict[str, Any], mask: Masker, rel, df: pl.DataFrame) -> list[dict[str, Any]]:
    marks = []
    if summary.get("first_failure"):
        marks.append({"kind": "first", "t": rel(epoch_ms(summary["first_failure"])), "label": "first failure"})
    if summary.get("last_failure"):
        marks.append({"kind": "last", "t": rel(epoch_ms(summary["last_failure"])), "label": "last failure"})
    run = summary.get("longest_failure_run")
    if run and run.get("from"):
        marks.append({"kind": "run", "t": rel(epoch_ms(run["from"])), "t2": rel(epoch_ms(run["to"])),
                      "label": f"longest failure run ({run.get('attempts')} attempts)"})
    change = (summary.get("suspected_trigger") or {}).get("change")
    if change:
        marks.append({"kind": "trigger", "t": rel(epoch_ms(change["ts"])), "label": "suspected trigger: "
                      + change_label(change, mask)})
    others = [c for c in summary.get("changes") or []
              if not (change and c.get("ts") == change.get("ts") and c.get("line") == change.get("line"))]
    # A night of releases and reloads has hundreds of changes: their labels are masked in one pass.
    for c, label in zip(others, mask.many([_change_text(c) for c in others]), strict=True):
        marks.append({"kind": "change", "t": rel(epoch_ms(c.get("ts"))), "label": label})
    return [m for m in marks if m["t"] is not None]


def change_label(change: dict[str, Any], mask: Masker) -> str:
    return mask(_change_text(change))


def _change_text(change: dict[str, Any]) -> str:
    label = change.get("label") or "change"
    version = change.get("version")
    if label == "client release":
        text = f"{change.get('source') or 'client'} {version} started" if version else "a client release"
        if change.get("previous_version"):
            text += f" (was {change['previous_version']})"
        return text
    return f"{label}: {change.get('text') or ''}".strip(": ")


def _trigger(summary: dict[str, Any], mask: Masker, t: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The suspected trigger (or ``t``, one leading cause's) for the page: the change before the
    cause's first failure, and its scope (the share of the failures that cause explains)."""
    t = t if t is not None else summary.get("suspected_trigger")
    if not t:
        return None
    change = t.get("change")
    out = {"cause": t.get("cause"), "first_failure": hms(t.get("first_failure"), ms=True),
           "endpoint": mask(t.get("endpoint")), "request_id": mask(t.get("request_id")),
           "attempt_id": t.get("attempt_id"), "change": None, "explains": t.get("explains")}
    if change:
        out["change"] = {"label": change_label(change, mask), "kind": change.get("label"),
                         "ts": hms(change.get("ts"), ms=True), "file": mask(change.get("file")),
                         "line": change.get("line"), "text": mask(change.get("text")),
                         "before": seconds_text(change.get("before_first_failure_s") or 0),
                         "version": mask(change.get("version")), "previous": mask(change.get("previous_version"))}
    return out


def _verdict_rows(summary: dict[str, Any], vocab: Vocabulary) -> list[dict[str, Any]]:
    total = summary.get("attempts") or 0
    by = summary.get("by_verdict") or {}
    order = [v for v in vocab.order if v in by] + [v for v in by if v not in vocab.verdicts]
    return [{"verdict": v, "count": by[v], "share": by[v] / total if total else 0,
             "gloss": vocab.gloss(v), "colour": vocab.colour(v)} for v in order]


def _cause_rows(summary: dict[str, Any], causes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    failed = summary.get("failed_attempts") or 0
    return [{"cause": c["name"], "detail": c["detail"], "count": c["attempts"],
             "share": c["attempts"] / failed if failed else 0} for c in causes]


def _sources(data: dict[str, Any], mask: Masker) -> list[dict[str, Any]]:
    out = []
    for s in data.get("sources") or []:
        tr = s.get("time_range") or {}
        out.append({**s, "file": mask(s.get("file")), "from": hms(tr.get("from"), ms=True, date=True),
                    "to": hms(tr.get("to"), ms=True, date=True),
                    "label": SOURCE_LABELS.get(s.get("kind"), s.get("kind")),
                    "match": f"{s['match_rate']:.0%}" if isinstance(s.get("match_rate"), int | float) else "-"})
    return out


def _rejects(data: dict[str, Any], mask: Masker) -> dict[str, Any]:
    r = data.get("rejects") or {}
    samples = r.get("samples") or []
    texts = mask.many([x.get("text") for x in samples])
    return {"count": r.get("count") or 0,
            "samples": [{"file": mask(x.get("file")), "line": x.get("line"), "reason": mask(x.get("reason")),
                         "text": _cut(t or "")} for x, t in zip(samples[:20], texts, strict=False)]}


# --------------------------------------------------------------------------------------------- words

def headline(summary: dict[str, Any], causes: list[dict[str, Any]], mask: Masker | None = None,
             vocab: Vocabulary | None = None) -> str:
    """One sentence: what failed, how much, between when and when, where it died, the dominant cause."""
    vocab = vocab or Vocabulary.builtin()
    n = summary.get("attempts") or 0
    if not n:
        return "No request attempts found in these logs: load a client (vac) log or a proxy access log."
    tr = summary.get("time_range") or {}
    failed = summary.get("failed_attempts") or 0
    requests = summary.get("requests") or 0
    if not failed:
        return (f"All {n:,} request attempts ({requests:,} requests) between {hms(tr.get('from'))} and "
                f"{hms(tr.get('to'))} UTC succeeded; nothing failed.")
    first, last = summary.get("first_failure"), summary.get("last_failure")
    same_day = (parse_ts(first) or datetime.min).date() == (parse_ts(last) or datetime.min).date()
    text = (f"{failed:,} of {n:,} request attempts ({summary.get('failed_requests') or 0:,} of {requests:,} requests) "
            f"failed between {hms(first)} and {hms(last, date=not same_day)} UTC")
    by_v = [(v, c) for v, c in (summary.get("by_verdict") or {}).items() if v != "ok" and c]
    if len(by_v) == 1:
        v = by_v[0][0]
        text += f"; they died {vocab.place(v)} ({v}: {vocab.short(v)})"
    elif by_v:
        places: dict[str, list[tuple[str, int]]] = {}
        for v, c in by_v:
            places.setdefault(vocab.place(v), []).append((v, c))
        parts = []
        for place, items in sorted(places.items(), key=lambda kv: -sum(c for _, c in kv[1])):
            total = sum(c for _, c in items)
            died = " died" if not parts else ""
            if len(items) == 1:
                v = items[0][0]
                parts.append(f"{total:,}{died} {place} ({v}: {vocab.short(v)})")
            else:
                parts.append(f"{total:,}{died} {place} (" + ", ".join(f"{v} {c:,}" for v, c in items) + ")")
        text += "; " + _join(parts)
    named = [c for c in causes if c["attempts"]]
    if len(named) == 1:
        c = named[0]
        text += f", because of {vocab.phrase(c['name'], c['detail'])}"
    elif named:
        items = [f"{vocab.phrase(c['name'])} ("
                 + (f"{c['detail'].replace('_', ' ')}; " if c["detail"] else "") + f"{c['attempts']:,})"
                 for c in named[:3]]
        if len(named) > 3:
            items.append(f"{len(named) - 3} more")
        text += "; the main causes: " + _join(items)
    trigger = summary.get("suspected_trigger") or {}
    change = trigger.get("change")
    if change:
        mask = mask or Masker(False)
        what = change_label({**change, "previous_version": None}, mask)
        if change.get("label") not in ("client release",):
            what = {"upstream restart": "an upstream restart", "proxy reload": "a proxy reload"}.get(
                change.get("label"), f"a {change.get('label')}")
            what += f" (“{mask((change.get('text') or '')[:80])}”)" if change.get("text") else ""
        lead = "first seen" if len(named) == 1 else f"{vocab.phrase(trigger.get('cause') or '')} was first seen"
        text += f" — {lead} {seconds_text(change.get('before_first_failure_s') or 0)} after {what}"
    return text + "."


def moments(summary: dict[str, Any], causes: list[dict[str, Any]], df: pl.DataFrame,
            mask: Masker) -> list[dict[str, Any]]:
    """The key moments of the incident, in time order: for the postmortem's timeline."""
    out = []
    tr = summary.get("time_range") or {}
    if tr.get("from"):
        out.append((tr["from"], "First request attempt in the logs", None))
    trigger = summary.get("suspected_trigger") or {}
    change = trigger.get("change")
    if change:
        out.append((change["ts"], f"Suspected trigger: {change_label(change, mask)}",
                    f"{mask(change.get('file'))}:{change.get('line')}"))
    if summary.get("first_failure"):
        first = df.filter(pl.col("failed")).sort(["ts", "attempt_id"]).head(1)
        what = "First failure"
        if first.height:
            r = first.row(0, named=True)
            what += (f": {r['method']} {r['path']} ({r['verdict']}, {r['root_cause']}"
                     f"{', request ' + r['request_id'] if r['request_id'] else ''})")
        out.append((summary["first_failure"], what, None))
    first_ms = epoch_ms(summary.get("first_failure"))
    for c in causes[:6]:
        if c.get("first_seen") and epoch_ms(c["first_seen"]) != first_ms:
            out.append((c["first_seen"], f"First {c['name']} failure", None))
    run = summary.get("longest_failure_run")
    if run and run.get("from"):
        dur = (epoch_ms(run["to"]) or 0) - (epoch_ms(run["from"]) or 0)
        out.append((run["from"], f"Longest run of failures begins: {run['attempts']:,} attempts in a row until "
                                 f"{hms(run['to'], ms=True)} ({seconds_text(dur / 1000)})", None))
    if summary.get("last_failure"):
        out.append((summary["last_failure"], "Last failure", None))
    if tr.get("to"):
        out.append((tr["to"], "Last request attempt in the logs", None))
    out.sort(key=lambda m: epoch_ms(m[0]) or 0)
    return [{"ts": hms(t, ms=True), "date": hms(t, date=True)[:10], "at": t, "what": w, "where": where}
            for t, w, where in out]
