"""``analyze(paths) -> Analysis``: load, correlate, diagnose and summarise, as one library call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from loganalyzer import clock, correlate, diagnose, errors, ingest, progress, redact, schema, summary
from loganalyzer import config as config_mod
from loganalyzer import differences as differences_mod
from loganalyzer.ingest import Logs, load, to_pandas

#: Columns of ``Analysis.requests``, in order (declared in :mod:`loganalyzer.schema`).
REQUEST_COLUMNS = list(schema.ATTEMPT)
#: Evidence lines kept per attempt and role (the report and the JSON cite these).
EVIDENCE_PER_ROLE = 4
#: Lines of a multi-line entry quoted as evidence (its first lines: message, exception, top frames).
EVIDENCE_SPAN = 8


@dataclass
class Analysis:
    """The result of :func:`analyze`; pandas frames at its surface, polars inside.

    - ``entries``: the parsed logs as written (``analysis.entries["crm"]``: the input, not masked),
      with ``rejects`` and ``sources``
    - ``requests``: one row per attempt: statuses per hop, verdict, root cause, how it was linked
      (the text it quotes from the logs masked unless ``redact_secrets=False`` was asked for)
    - ``evidence``: the lines behind each verdict and cause (file, line, masked text)
    - ``summary``: counts, first/last failure, longest failure run, suspected trigger (its text
      masked unless ``redact_secrets=False`` was asked for)
    - ``offsets``: clock offsets found between hosts

    ``requests`` and ``evidence`` are made from the polars frames the library works on
    (:meth:`attempts_frame`, :meth:`evidence_frame`) when first asked for: outputs written from an
    analysis never hold a pandas copy of them.
    """

    entries: Logs
    _attempts: pl.DataFrame  # schema.ATTEMPT
    _evidence: pl.DataFrame  # schema.EVIDENCE
    summary: dict[str, Any]
    offsets: list[correlate.ClockOffset]
    rules: diagnose.RuleSet
    redacted: bool = True
    notes: list[str] = field(default_factory=list)
    links: pl.DataFrame | None = None  # attempt_id, kind, row, link, confidence: every linked entry
    #: What sets each leading cause's failures apart from the successes beside them.
    differences: list[differences_mod.Separator] = field(default_factory=list)
    #: A time window's dimensions of its attempts, when asked (:func:`analyze_logs`).
    dimensions: pl.DataFrame | None = None
    #: The timeline, when the entries it is drawn from are no longer held (:mod:`loganalyzer.bounded`).
    drawn_timeline: dict[str, Any] | None = None
    #: Analysed in batches and time windows (:mod:`loganalyzer.bounded`), the entries not held: why and how.
    bounded: str | None = None
    _pandas: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    @property
    def requests(self) -> pd.DataFrame:
        """One row per attempt (columns: :data:`REQUEST_COLUMNS`)."""
        if "requests" not in self._pandas:
            self._pandas["requests"] = to_pandas(self._attempts)
        return self._pandas["requests"]

    @property
    def evidence(self) -> pd.DataFrame:
        """The lines behind each verdict and cause."""
        if "evidence" not in self._pandas:
            self._pandas["evidence"] = to_pandas(self._evidence)
        return self._pandas["evidence"]

    def evidence_frame(self) -> pl.DataFrame:
        """``evidence`` as a typed polars frame."""
        return schema.conform(self._evidence, schema.EVIDENCE)

    @property
    def rejects(self) -> pd.DataFrame:
        return self.entries.rejects

    @property
    def sources(self) -> pd.DataFrame:
        return self.entries.stats

    def causes(self) -> pd.DataFrame:
        """One row per root cause: counts, first/last seen, explanation, advice."""
        r = self._attempts
        failed = r.filter(pl.col("verdict") != "ok")
        if failed.height == 0:
            return pd.DataFrame(columns=["root_cause", "attempts", "requests", "first_seen", "last_seen",
                                         "verdicts", "explanation", "advice", "rule"])
        texts = diagnose.cause_texts(failed, self.rules)
        out = failed.group_by("root_cause").agg(
            pl.len().alias("attempts"), pl.col("logical_id").n_unique().alias("requests"),
            pl.col("ts").min().alias("first_seen"), pl.col("ts").max().alias("last_seen"),
            pl.col("verdict").unique().sort().str.join(", ").alias("verdicts"),
            pl.col("rule").drop_nulls().mode().sort().first().alias("rule"),
        ).join(texts, on="rule", how="left").with_columns(
            pl.col("explanation").fill_null("No rule explains this cause."), pl.col("advice").fill_null(""),
        ).sort(["attempts", "root_cause"], descending=[True, False])
        return out.to_pandas()

    def trace(self, request_id: str) -> pd.DataFrame:
        """Every line of every hop linked to one request (all its attempts), in time order.

        ``request_id`` is the client's id, or ``#N`` for attempt N of a request without one.
        Columns: attempt_id, attempt, ts (on the reference clock), kind, file, line, level, link,
        confidence, message, text (the line as written, secrets masked).
        """
        r = self._attempts
        wanted = r.filter((pl.col("request_id") == request_id) | (pl.col("logical_id") == request_id)
                          | (pl.format("#{}", pl.col("attempt_id")) == request_id))
        if wanted.height == 0 or self.links is None:
            return pd.DataFrame(columns=["attempt_id", "attempt", "ts", "kind", "file", "line", "level", "link",
                                         "confidence", "message", "text"])
        links = self.links.filter(pl.col("attempt_id").is_in(wanted["attempt_id"].to_list()))
        parts = []
        for kind, group in links.group_by("kind"):
            frame = self.entries.polars[kind[0]].with_row_index("row")
            parts.append(group.join(frame.select("row", "ts", pl.col("file").cast(pl.String), "line", "level",
                                                 "message"), on="row"))
        lines = pl.concat(parts, how="vertical_relaxed").join(wanted.select("attempt_id", "attempt"), on="attempt_id")
        # Order each attempt's lines on the reference clock; a whole-second proxy time is the floor of
        # the moment the line was written, so it sorts as late as it could have been.
        shift = {o.source: o.seconds for o in self.offsets if o.applied}
        offset = pl.col("kind").replace_strict(shift, default=0.0, return_dtype=pl.Float64)
        lines = trace_order(lines.with_columns(
            (pl.col("ts") - pl.duration(microseconds=(offset * 1e6).round().cast(pl.Int64))).alias("ts")))
        texts = {}
        for (file,), group in lines.group_by(["file"]):
            texts.update({(file, n): t for n, t in self.entries.text_of(file, group["line"].to_list()).items()})
        text = [texts.get((f, n)) for f, n in zip(lines["file"], lines["line"], strict=True)]
        lines = lines.with_columns(pl.Series("text", text, dtype=pl.String))
        if self.redacted:
            lines = lines.with_columns(redact.mask(pl.col("text")), redact.mask(pl.col("message")))
        return lines.select("attempt_id", "attempt", "ts", "kind", "file", "line", "level", "link", "confidence",
                            "message", "text").to_pandas()

    def _requests_records(self) -> list[dict[str, Any]]:
        """Requests as records, each with its link and evidence, built column-wise in polars."""
        return requests_records(self.attempts_frame(), self.evidence_frame())

    def attempts_frame(self) -> pl.DataFrame:
        """``requests`` as a typed polars frame (masked as ``requests`` is)."""
        return schema.conform(self._attempts, schema.ATTEMPT, only=False)

    def to_dict(self, requests: bool = True) -> dict[str, Any]:
        """The whole result as plain data: sources, requests (each with its evidence), summary.

        Without ``requests`` the attempts are left out (the export directory keeps them in Parquet).
        """
        sources_ = []
        for s in self.sources.to_dict("records"):
            sources_.append({
                "file": s["file"], "kind": _none(s["kind"]), "format": _none(s["format"]), "lines": _int(s["lines"]),
                "parsed": _int(s["parsed"]), "continuation": _int(s["continuation"]), "rejected": _int(s["rejected"]),
                "match_rate": _none(s["match_rate"]), "encoding": s["encoding"], "zone": _none(s["zone"]),
                "zone_source": s["zone_source"], "not_log": bool(s.get("not_log") is True),
                "time_range": {"from": _iso(_none(s["first_ts"])), "to": _iso(_none(s["last_ts"]))},
            })
        causes = self.causes()
        out = {
            "loganalyzer": schema.EXPORT_VERSION,
            "redacted": self.redacted,
            "sources": sources_,
            "clock_offsets": [
                {"source": o.source, "reference": o.reference, "seconds": round(o.seconds, 6), "pairs": o.pairs,
                 "method": o.method, "applied": o.applied, "text": o.describe()} for o in self.offsets],
            "notes": self.notes,
            "summary": self.summary,
            "vocabulary": diagnose.vocabulary(self.rules),
            "timeline": self.timeline(),
            "causes": [{k: (_iso(v) if k in ("first_seen", "last_seen") else _none(v)) for k, v in c.items()}
                       for c in causes.to_dict("records")],
            "rejects": {"count": int(len(self.rejects)),
                        "samples": [{"file": r["file"], "line": _int(r["line"]), "reason": r["reason"],
                                     "text": redact.mask_text(r["text"][:500]) if self.redacted else r["text"][:500]}
                                    for r in self.rejects.head(50).to_dict("records")]},
            "differences": [d.to_dict() for d in self.differences],
            **({"requests": self._requests_records()} if requests else {}),
        }
        # Every string the export carries besides the (column-wise masked) requests is masked too:
        # change lines, triggers, notes, cause texts quote the logs.
        return redact.mask_data(out, skip=("requests", "vocabulary")) if self.redacted else out

    def timeline(self, max_events: int = 2000, buckets: int = 240) -> dict[str, Any]:
        """Per source, entry counts over time by level (by status class for access logs), and the
        notable entries (warnings, errors, changes) to mark on it. Times on the reference clock."""
        if self.drawn_timeline is not None:
            return self.drawn_timeline
        frames = aligned_frames(self.entries.polars, self.offsets)
        if not frames:
            return {"bucket_seconds": 0, "lanes": {}, "events": []}
        lo = min(f["ts"].min() for f in frames.values())
        hi = max(f["ts"].max() for f in frames.values())
        step = timeline_step(lo, hi, buckets)
        counts = {kind: timeline_counts(df, kind, step) for kind, df in frames.items()}
        events = [timeline_events(df, kind, max_events, self.redacted) for kind, df in frames.items()]
        zones = {r["kind"]: _none(r["zone"]) for r in self.sources.to_dict("records") if _none(r["kind"])}
        return draw_timeline(counts, events, lo, hi, step, zones, max_events)

    def write_json(self, path: str | Path | Any) -> None:
        """The export as JSON: to a file (replaced atomically), ``-`` or a text stream."""
        from loganalyzer.outputs import open_output, write_json

        with open_output(path) as f:
            write_json(self.to_dict(requests=False), f,
                       arrays={"requests": requests_json(self.attempts_frame(), self.evidence_frame())})
            f.write("\n")


def timeline_step(lo: datetime, hi: datetime, buckets: int = 240) -> int:
    """Seconds per timeline bucket for entries from ``lo`` to ``hi``: about ``buckets`` of them."""
    return _nice_step(max((hi - lo).total_seconds(), 1.0) / buckets)


def timeline_counts(df: pl.DataFrame, kind: str, step: int) -> pl.DataFrame:
    """Entries per ``step`` seconds (``__t``) and class (``__c``: the level, the status class for
    access logs), ``len``; ``ts`` on the reference clock."""
    if kind == "nginx_access" and "status" in df.columns:
        cls = pl.when(pl.col("status") >= 500).then(pl.lit("5xx")).when(pl.col("status") >= 400) \
            .then(pl.lit("4xx")).when(pl.col("status") >= 300).then(pl.lit("3xx")).otherwise(pl.lit("2xx"))
    else:
        cls = pl.col("level").cast(pl.String).fill_null("INFO")
    return (df.select(cls.alias("__c"), pl.col("ts").dt.truncate(f"{step}s").alias("__t"))
            .group_by(["__t", "__c"]).len())


def timeline_events(df: pl.DataFrame, kind: str, max_events: int, redacted: bool) -> pl.DataFrame:
    """The first ``max_events`` notable entries (warnings, errors; 5xx for access logs) to mark on
    the timeline: ts, source, level, status, text (its first line, masked when ``redacted``), file, line."""
    notable = df.filter(pl.col("level").is_in(["WARN", "ERROR", "FATAL"])) if kind != "nginx_access" else \
        df.filter(pl.col("status") >= 500) if "status" in df.columns else df.head(0)
    text = pl.col("message").fill_null("").str.split("\n").list.first().str.slice(0, 300)
    return notable.head(max_events).select(
        "ts", pl.lit(kind).alias("source"), pl.col("level").cast(pl.String),
        (pl.col("status") if "status" in notable.columns else pl.lit(None, pl.Int64)).cast(pl.Int64).alias("status"),
        (redact.mask(text) if redacted else text).alias("text"), pl.col("file").cast(pl.String), "line")


def draw_timeline(counts: dict[str, pl.DataFrame], events: list[pl.DataFrame], lo: datetime, hi: datetime,
                  step: int, zones: dict[str, Any], max_events: int = 2000) -> dict[str, Any]:
    """The export's timeline from :func:`timeline_counts` per source (at ``step`` seconds or any
    divisor of it: they are summed into ``step``) and :func:`timeline_events`."""
    lanes: dict[str, list[dict[str, Any]]] = {}
    for kind, c in sorted(counts.items()):
        c = (c.group_by(pl.col("__t").dt.truncate(f"{step}s"), "__c").agg(pl.col("len").sum()).sort(["__t", "__c"])
             .pivot(on="__c", index="__t", values="len", sort_columns=True).fill_null(0).sort("__t"))
        lanes[kind] = c.select(iso(pl.col("__t")).alias("t"), pl.exclude("__t")).to_dicts()
    ev = pl.concat(events, how="vertical_relaxed").sort(["ts", "source", "file", "line"])
    if ev.height > max_events:  # keep the first and last, and an even sample between
        ev = ev.gather_every(max(1, ev.height // max_events)).head(max_events)
    return {"bucket_seconds": step, "from": _iso(lo), "to": _iso(hi), "lanes": lanes,
            "events": ev.with_columns(iso(pl.col("ts")).alias("ts")).to_dicts(), "zones": zones}


def trace_order(lines: pl.DataFrame) -> pl.DataFrame:
    """A trace's lines (ts on the reference clock) in order per attempt. A whole-second proxy time is
    the floor of the moment the line was written, so it sorts as late as it could have been."""
    whole = (pl.col("ts").dt.nanosecond() == 0) & pl.col("kind").is_in(["nginx_access", "nginx_error"])
    return lines.with_columns(
        pl.when(whole).then(pl.col("ts") + pl.duration(milliseconds=999)).otherwise(pl.col("ts")).alias("__k")
    ).sort(["attempt_id", "__k", "line"]).drop("__k")


def requests_records(frame: pl.DataFrame, ev: pl.DataFrame) -> list[dict[str, Any]]:
    """Attempts (typed as ``schema.ATTEMPT``) as records for the export, each with its evidence lines."""
    if frame.height == 0:
        return []
    return export_frame(frame, ev).to_dicts()


#: Attempts encoded to JSON at a time by :func:`requests_json`.
JSON_ROWS = 20_000


def requests_json(frame: pl.DataFrame, ev: pl.DataFrame) -> Iterator[str]:
    """:func:`requests_records` as JSON text, a few thousand records at a time (items of one array,
    without its brackets): polars encodes them, many times faster than Python dicts through ``json``."""
    if frame.height == 0:
        return
    # A few thousand records at a time, each with its own evidence: the export's text columns and
    # lists are made for one piece at a time, not held for every attempt at once.
    # Each evidence line's piece is found once (a number per line); a piece's lines are then taken
    # when it is written, so the evidence is never copied whole (it is most of the export's text).
    chunk = (pl.int_range(pl.len(), dtype=pl.Int64) // JSON_ROWS).alias("__chunk")
    piece_of = ev.select("attempt_id").join(frame.select("attempt_id", chunk), on="attempt_id", how="left",
                                            maintain_order="left")["__chunk"]
    for i, start in enumerate(range(0, frame.height, JSON_ROWS)):
        piece = export_frame(frame.slice(start, JSON_ROWS), ev.filter(piece_of == i)).write_ndjson()
        # A newline is never inside a record (JSON escapes it): the separators are all there is to change.
        yield piece.rstrip("\n").replace("\n", ",")


def record_pieces(records: pl.DataFrame) -> Iterator[str]:
    """The export's records (:func:`export_frame`) as NDJSON text, one object per line, a few
    thousand at a time. The NDJSON writer is twice as fast as write_json and writes the same objects."""
    for k in range(-(-records.height // JSON_ROWS)):
        yield record_piece(records, k)


def record_piece(records: pl.DataFrame, k: int) -> str:
    """Piece ``k`` of :func:`record_pieces`: records ``k * JSON_ROWS`` on, as NDJSON."""
    return records.slice(k * JSON_ROWS, JSON_ROWS).write_ndjson()


def _quoted(file: str, lines: pl.Series, got: dict[int, str], span: int) -> pl.DataFrame:
    """file, line, text: each line's text with the ``span - 1`` lines after it (a line missing from
    ``got`` reads as empty), trailing newlines dropped."""
    found = pl.DataFrame({"at": list(got), "part": list(got.values())}, schema={"at": pl.Int64, "part": pl.String})
    wanted = pl.DataFrame({"line": lines.cast(pl.Int64)}).unique(maintain_order=True)
    parts = wanted.join(pl.DataFrame({"i": range(span)}, schema={"i": pl.Int64}), how="cross").with_columns(
        (pl.col("line") + pl.col("i")).alias("at")).join(found, on="at", how="left", maintain_order="left")
    return parts.group_by("line", maintain_order=True).agg(
        pl.col("part").fill_null("").sort_by("i").str.join("\n").str.strip_chars_end("\n").alias("text")
    ).select(pl.lit(file, pl.String).alias("file"), "line", "text")


def export_frame(frame: pl.DataFrame, ev: pl.DataFrame) -> pl.DataFrame:
    """The export's attempts: times as ISO text, the link with its confidence, the evidence lines
    as a list (empty, not null, for an attempt without any)."""
    times = [c for c in frame.columns if c == "ts" or c.endswith(("_send", "_done", "_start", "_end"))]
    frame = frame.with_columns([iso(pl.col(c)).alias(c) for c in times]).with_columns(
        pl.struct(pl.col("link").alias("method"), "confidence").alias("link"))
    item = pl.struct("role", pl.col("kind").alias("source"), "file", "line", iso(pl.col("ts")).alias("ts"),
                     "link", "confidence", "text")
    lists = ev.group_by("attempt_id", maintain_order=True).agg(item.alias("evidence")) if ev.height else \
        pl.DataFrame({"attempt_id": [], "evidence": []}, schema={"attempt_id": pl.UInt32,
                                                                 "evidence": pl.List(pl.Null)})
    out = frame.drop("confidence").join(lists, on="attempt_id", how="left", maintain_order="left")
    return out.with_columns(pl.col("evidence").fill_null(pl.lit([], dtype=out.schema["evidence"])))


def aligned_frames(frames: dict[str, pl.DataFrame], offsets: list[correlate.ClockOffset]) -> dict[str, pl.DataFrame]:
    """The parsed frames with each source's ``ts`` moved onto the reference clock."""
    shift = {o.source: o.seconds for o in offsets if o.applied}
    out = {}
    for kind, df in frames.items():
        if df.height == 0:
            continue
        if shift.get(kind):
            moved = pl.col("ts") - pl.duration(microseconds=int(round(shift[kind] * 1e6)))
            df = df.with_columns(moved.cast(pl.Datetime("ns", "UTC")).alias("ts"))
        out[kind] = df
    return out


def _nice_step(seconds: float) -> int:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400):
        if step >= seconds:
            return step
    return 86400


def _none(v):
    try:
        return None if v is None or pd.isna(v) else v
    except (TypeError, ValueError):
        return v


def _int(v):
    v = _none(v)
    return int(v) if v is not None else None


def iso(ts: pl.Expr) -> pl.Expr:
    """UTC times as ISO-8601 text ending in Z, as :func:`_iso` writes them (no fraction when whole)."""
    fraction = ts.dt.nanosecond()
    return (pl.when(fraction == 0).then(ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
            .when(fraction % 1000 == 0).then(ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
            .otherwise(ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.9fZ")))


def _iso(ts) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, str):
        return ts
    ts = pd.Timestamp(ts)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")


def analyze(
    paths: str | Path | Iterable[str | Path],
    *,
    tz: Mapping[str, str] | None = None,
    as_: Mapping[str, str] | None = None,
    encoding: str | Mapping[str, str] | None = None,
    formats: Iterable[str | Path] = (),
    rules: Iterable[str | Path] = (),
    since: str | None = None,
    until: str | None = None,
    redact_secrets: bool = True,
    config: str | Path | None = None,
    clock_correction: bool = True,
    max_memory: int | str | None = None,
    whole: bool = False,
) -> Analysis:
    """Load the logs under ``paths``, rebuild every request attempt, and say where each died and why.

    Options as :func:`loganalyzer.load`, plus ``rules`` (TOML files with more diagnosis rules) and
    ``redact_secrets`` (mask tokens, passwords and keys in the evidence; on by default). Rules
    named in the settings file are loaded before ``rules``.

    ``since``/``until`` are on the reference clock, after clock offsets are corrected: files whose
    lines carry their offset are read a little wider, the others whole, and the attempts kept are
    those that start inside the window, each with all its lines.

    ``max_memory``: what the analysis may hold, as :func:`loganalyzer.load` takes it. Logs that
    would take more whole are analysed in batches and time windows instead (:mod:`loganalyzer.bounded`:
    the same result, less the parsed entries, so that its requests cannot be traced), or with
    ``whole`` raise :class:`loganalyzer.errors.TooLarge` as soon as that is known.
    """
    try:
        settings = config_mod.read(config)
    except config_mod.ConfigError as exc:
        raise errors.ConfigError(str(exc)) from exc
    try:
        ruleset = diagnose.load_rules(settings.rules + list(rules))
    except diagnose.RuleError as exc:
        raise errors.RulesError(str(exc)) from exc
    limit = ingest.memory_limit(max_memory, settings)
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    try:
        logs = load(paths, tz=tz, as_=as_, encoding=encoding, formats=formats, since=since, until=until,
                    config=config, pad_s=correlate.READ_PAD_S, max_memory=limit or "none")
    except errors.TooLarge as exc:
        if whole:
            raise
        from loganalyzer import bounded

        return bounded.analyze(paths, ruleset, tz=tz, as_=as_, encoding=encoding, formats=formats, since=since,
                               until=until, redact_secrets=redact_secrets, config=config,
                               clock_correction=clock_correction, limit=limit, why=exc.brief)
    return analyze_logs(logs, ruleset, redact_secrets=redact_secrets, clock_correction=clock_correction)


def analyze_logs(logs: Logs, ruleset: diagnose.RuleSet, redact_secrets: bool = True,
                 clock_correction: bool = True, offsets: list[correlate.ClockOffset] | None = None,
                 extras: bool = True, dimensions: bool = False) -> Analysis:
    """:func:`analyze` for logs already loaded.

    ``offsets``: clock offsets to use instead of measuring them (a scan's windows share one set).
    ``extras=False`` leaves out what only a whole analysis needs (the trigger, what sets failures
    apart): a scan's time windows want attempts, verdicts, causes and evidence only. With it,
    ``dimensions`` keeps the attempts' dimensions (:func:`loganalyzer.differences.window_dimensions`)
    for a bounded analysis to compare once every window is in.
    """
    frames = logs.polars
    progress.stage("linking requests")
    corr = correlate.correlate(frames, ruleset.nginx_messages, clock_correction, offsets, logs.window,
                               held=logs.held)
    notes = [o.describe() for o in corr.offsets if o.applied]
    notes += _beyond_pad(logs, corr.offsets)
    if corr.attempts.height == 0:
        return _nothing(logs, corr, ruleset, redact_secrets, notes)
    progress.stage("diagnosing")
    ev = diagnose.evidence_lines(corr, frames, ruleset)
    upstream_files = set(logs.stats.loc[logs.stats["logs_upstream_status"], "file"])
    attempts = diagnose.verdicts(corr.attempts, ev, set(frames), upstream_files, ruleset)
    attempts, cause_lines = diagnose.root_causes(attempts, ev, ruleset)
    if logs.window is not None:
        # The exact window, on the reference clock: attempts by their start, with every line linked
        # to them (diagnosed above among their neighbours, as a whole analysis would).
        attempts = attempts.filter(_inside(pl.col("ts"), logs.window))
        kept = pl.col("attempt_id").is_in(attempts["attempt_id"].implode())
        ev, cause_lines = ev.filter(kept), cause_lines.filter(kept)
        corr = replace(corr, attempts=attempts, links=corr.links.filter(kept) if corr.links.height else corr.links)
        if attempts.height == 0:
            return _nothing(logs, corr, ruleset, redact_secrets, notes)
    requests = _requests_frame(attempts)
    evidence = _evidence(ev, cause_lines, attempts, logs, redact_secrets, corr.offsets)
    if not extras:
        dims = differences_mod.window_dimensions(requests, corr.links, frames) if dimensions else None
        return Analysis(logs, _masked(requests, redact_secrets), evidence, {}, corr.offsets,
                        ruleset, redact_secrets, notes, corr.links, dimensions=dims)
    progress.stage("summarising")
    change_lines = summary.changes(aligned_frames(frames, corr.offsets), ruleset.changes)
    explained = diagnose.cause_texts(requests.filter(pl.col("verdict") != "ok"), ruleset)
    apart = differences_mod.separators(requests, corr.links, aligned_frames(frames, corr.offsets), redact_secrets)
    summarized = summary.summarize(requests, change_lines, explained)
    # The summary quotes the logs (change and trigger lines, endpoints with their query strings):
    # masked as the export is, so the attribute a program reads is as safe as what is printed.
    if redact_secrets:
        summarized = redact.mask_data(summarized)
    return Analysis(logs, _masked(requests, redact_secrets), evidence, summarized,
                    corr.offsets, ruleset, redact_secrets, notes, corr.links, apart)


#: Attempt columns whose text comes from the logs (ids, paths with their query strings, user agents,
#: addresses, client errors, and the reasons and causes that quote them).
_FROM_LOGS = ("request_id", "logical_id", "method", "path", "user_agent", "client_error", "verdict_reason",
              "root_cause", "root_cause_detail", "upstream_addr", "client_addr")


def _masked(requests: pl.DataFrame, redact_secrets: bool) -> pl.DataFrame:
    """The attempts a program reads (``Analysis.requests``), masked as every output is unless asked
    not to; the stages before worked on them as written."""
    if not redact_secrets or requests.height == 0:
        return requests
    return requests.with_columns(redact.mask(pl.col(c)).alias(c) for c in _FROM_LOGS if c in requests.columns)


def _inside(t: pl.Expr, window: tuple[datetime | None, datetime | None]) -> pl.Expr:
    lo, hi = window
    keep = t.is_not_null()
    if lo is not None:
        keep &= t >= lo
    if hi is not None:
        keep &= t <= hi
    return keep


def _nothing(logs: Logs, corr: correlate.Correlation, ruleset: diagnose.RuleSet, redact_secrets: bool,
             notes: list[str]) -> Analysis:
    """The analysis of logs that left no attempt: why, and with a window, what the logs cover."""
    if logs.window is not None:
        notes = notes + [_empty_window_note(logs, corr.offsets)]
    else:
        notes = notes + ["no request attempts found: load a client (vac) log or a proxy access log"]
    return Analysis(logs, schema.empty(schema.ATTEMPT), schema.empty(schema.EVIDENCE),
                    {"attempts": 0, "requests": 0, "failed_attempts": 0, "by_verdict": {}, "by_cause": {}},
                    corr.offsets, ruleset, redact_secrets, notes, corr.links)


def _on_reference_clock(logs: Logs, offsets: list[correlate.ClockOffset]) -> tuple[datetime, datetime] | None:
    """The first and last time of the whole files (read before any window), offsets applied."""
    shift = {o.source: o.seconds for o in offsets if o.applied}
    spans = [(pd.Timestamp(r.first_ts) - pd.Timedelta(seconds=shift.get(r.kind, 0.0)),
              pd.Timestamp(r.last_ts) - pd.Timedelta(seconds=shift.get(r.kind, 0.0)))
             for r in logs.stats.itertuples() if pd.notna(r.first_ts) and pd.notna(r.last_ts)]
    if not spans:
        return None
    return min(a for a, _ in spans).to_pydatetime(), max(b for _, b in spans).to_pydatetime()


def _empty_window_note(logs: Logs, offsets: list[correlate.ClockOffset]) -> str:
    assert logs.window is not None

    def fmt(t):
        return f"{t:%Y-%m-%d %H:%M:%S}" if t is not None else "…"

    lo, hi = logs.window
    text = f"the window {fmt(lo)} to {fmt(hi)} UTC leaves no request attempt"
    span = _on_reference_clock(logs, offsets)
    if span is None:
        return text
    fixed = [o.source for o in offsets if o.applied]
    how = f"{', '.join(fixed)} corrected to the reference clock" if fixed else "no clock correction needed"
    return f"{text}: the logs cover {fmt(span[0])} to {fmt(span[1])} UTC ({how})"


def _beyond_pad(logs: Logs, offsets: list[correlate.ClockOffset]) -> list[str]:
    """A warning when a clock trusted while reading (its lines carry their offset) proved further off
    than the margin the window was read with: lines near the window's edges may be missing."""
    if logs.window is None:
        return []
    trusted = {r.kind for r in logs.stats.itertuples() if isinstance(r.zone_source, str)
               and ingest.clock_trusted(r.zone_source)}
    return [f"{o.source}'s clock is {o.seconds:+.0f} s off, more than the {clock.MAX_SKEW_S:.0f} s a window is "
            "widened by while reading its files: some of its lines may be missing; run without --since/--until"
            for o in offsets if o.applied and o.source in trusted and abs(o.seconds) > clock.MAX_SKEW_S]


def _requests_frame(a: pl.DataFrame) -> pl.DataFrame:
    out = a.with_columns(
        pl.col("c_status_client").cast(pl.Int64).alias("status_client"),
        pl.col("p_status_proxy").cast(pl.Int64).alias("status_proxy"),
        pl.col("p_status_upstream").cast(pl.Int64).alias("status_upstream"),
        pl.col("c_client_error").cast(pl.String).alias("client_error"),
        pl.col("c_elapsed_ms").cast(pl.Float64).alias("elapsed_ms"),
        pl.col("p_request_time").cast(pl.Float64).alias("request_time"),
        pl.col("p_upstream_response_time").cast(pl.Float64).alias("upstream_response_time"),
        pl.col("p_upstream_addr").cast(pl.String).alias("upstream_addr"),
        pl.col("p_connection").cast(pl.Int64).alias("connection"),
        pl.col("p_client_addr").cast(pl.String).alias("client_addr"),
        pl.col("p_user_agent").cast(pl.String).alias("user_agent"),
        pl.col("confidence").cast(pl.Float64).fill_null(1.0),
        pl.col("attempt").cast(pl.Int64),
        pl.col("c_send").alias("client_send"),
        pl.col("c_done").alias("client_done"),
    )
    # The proxy's span: a whole-second access time is only a floor, so when the client's send time
    # is known the span starts there and lasts $request_time.
    rt = pl.duration(microseconds=(pl.col("request_time").fill_null(0) * 1e6).round().cast(pl.Int64))
    urt = pl.duration(microseconds=(pl.col("upstream_response_time").fill_null(0) * 1e6).round().cast(pl.Int64))
    at_proxy = pl.col("p_row").is_not_null()
    start = pl.when(at_proxy).then(pl.coalesce(pl.col("c_send"), pl.col("p_start")))
    out = out.with_columns(start.alias("proxy_start")).with_columns(
        pl.when(at_proxy).then(pl.max_horizontal(pl.col("proxy_start") + rt, pl.col("proxy_start"))).alias("proxy_end"))
    out = out.with_columns(
        # $upstream_response_time can exceed $request_time by a rounding millisecond: the upstream
        # span still starts inside the proxy's.
        pl.when(pl.col("upstream_response_time").is_not_null())
        .then(pl.max_horizontal(pl.col("proxy_end") - urt, pl.col("proxy_start"))).alias("upstream_start"),
        pl.when(pl.col("upstream_response_time").is_not_null()).then(pl.col("proxy_end")).alias("upstream_end"),
    )
    return schema.conform(out, schema.ATTEMPT).sort("ts", nulls_last=True)


def _evidence(ev: pl.DataFrame, cause_lines: pl.DataFrame, attempts: pl.DataFrame, logs: Logs,
              redact_secrets: bool, offsets: list[correlate.ClockOffset]) -> pl.DataFrame:
    """The lines that prove each verdict and cause, with their text read back from the files.

    Verdict evidence: the client's outcome line, the proxy's access line and its error line.
    Cause evidence: the lines that met the chosen rule. Text is read for failed attempts only; an
    ok attempt cites its lines by file and line. Times are on the reference clock.
    """
    cols = ["attempt_id", "kind", "row", "file", "line", "line_ts", "link", "confidence", "level"]
    verdict_lines = ev.filter(
        (pl.col("kind") == "nginx_access") | pl.col("nginx_class").is_not_null()
        | ((pl.col("kind") == "vac") & (pl.col("status").is_not_null() | pl.col("client_error").is_not_null()))
    ).select(cols).with_columns(pl.lit("verdict").alias("role"))
    parts = [verdict_lines]
    if cause_lines.height:
        parts.append(cause_lines.select(cols).with_columns(pl.lit("cause").alias("role")))
    out = pl.concat(parts, how="vertical_relaxed").unique(["attempt_id", "kind", "row", "role"], maintain_order=True)
    out = out.sort(["attempt_id", "role", "line_ts", "kind", "line"]).filter(
        pl.int_range(pl.len()).over(["attempt_id", "role"]) < EVIDENCE_PER_ROLE)
    failed = attempts.filter(pl.col("verdict") != "ok").select("attempt_id")
    need = out.join(failed, on="attempt_id", how="inner").select("file", "line", "kind").unique()
    texts = []
    for (file, kind), group in need.group_by(["file", "kind"]):
        span = EVIDENCE_SPAN if kind == "crm" else 1
        texts.append(_quoted(file, group["line"], logs.text_of(file, group["line"].to_list(), span), span))
    out = out.with_columns(pl.col("file").cast(pl.String))
    if texts:
        out = out.join(pl.concat(texts).unique(["file", "line"]), on=["file", "line"], how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.String).alias("text"))
    if redact_secrets:
        out = out.with_columns(redact.mask(pl.col("text")).alias("text"))
    shift = {o.source: o.seconds for o in offsets if o.applied}
    offset = pl.col("kind").replace_strict(shift, default=0.0, return_dtype=pl.Float64)
    aligned = (pl.col("line_ts") - pl.duration(microseconds=(offset * 1e6).round().cast(pl.Int64))).alias("ts")
    return schema.conform(out.with_columns(aligned), schema.EVIDENCE)

