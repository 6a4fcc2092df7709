"""What the commands print: the parse table, the analysis summary, a trace, the night, and the
outputs written. The command line imports this only when a command runs, so that ``--help`` and
shell completion do not load (or compile) it."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

import click

from loganalyzer import terminal

if TYPE_CHECKING:
    from loganalyzer import analysis as analysis_mod
    from loganalyzer import ingest


def _say(message: str = "", *parts: terminal.Part, indent: int = 0, fit: str = "wrap") -> None:
    """One line of human text (stderr when stdout carries data; nothing with -q), fitted to a terminal."""
    terminal.say(message, *parts, indent=indent, fit=fit)


def shown(text: str | None, width: int | None, masked: bool = True) -> str:
    """Log text for a terminal: secrets masked, control characters visible, cut to ``width`` (None: whole)."""
    from loganalyzer import redact

    text = redact.printable(redact.mask_text(text) if masked else text)
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


def _missing(v) -> bool:
    """None, NaN, NaT or pandas' NA (the library's frames hand these out)."""
    import pandas as pd

    return v is None or bool(pd.isna(v))


def _short_ts(ts) -> str:
    if ts is None or ts != ts:  # None, NaN or NaT
        return "-"
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def print_sources(report: ingest.ParseReport, samples: int = 3, masked: bool = True) -> None:
    """The per-file table of ``loganalyzer parse``, its notes and the first rejected lines of each file."""
    rows = [("FILE", "KIND", "FORMAT", "LINES", "PARSED", "CONT", "REJECTED", "UNREAD", "FIRST (UTC)", "LAST (UTC)",
             "ZONE")]
    for r in report.stats:
        fmt = "(not a log)" if r.get("not_log") else "-" if r["format"] is None else \
            f"{r['format']} ({r['match_rate']:.0%})"
        zone = r["zone_source"] if not r["zone"] else f"{r['zone']} ({r['zone_source']})"
        rows.append((r["file"], r["kind"] or "-", fmt, f"{r['lines']:,}", f"{r['parsed']:,}",
                     f"{r['continuation']:,}", f"{r['rejected']:,}", f"{r['unread']:,}", _short_ts(r["first_ts"]),
                     _short_ts(r["last_ts"]), zone or "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        _say("  ".join(str(c).ljust(w) if i < 3 else str(c).rjust(w) if i < 8 else str(c).ljust(w)
                       for i, (c, w) in enumerate(zip(row[:-1], widths, strict=True))) + "  " + row[-1], fit="cut")
    for r in report.stats:
        if r["kind"] and r["kind_evidence"] and r["kind_evidence"] != "given":
            _say(f"kind: {r['file']}: {r['kind_evidence']}")
    for note in report.notes:
        _say(f"note: {note}")
    if report.rejected and samples:
        _say(f"\nrejected lines: {report.rejected:,} (first {samples} per file)")
        per_file: dict[str, int] = {}
        for r in report.rejects:
            if per_file.setdefault(r["file"], 0) < samples:
                per_file[r["file"]] += 1
                _say(f"  {r['file']}:{r['line']}: {r['reason']}: {shown(r['text'], 100, masked)}")


def _ts(value) -> str:
    if value is None:
        return "-"
    return str(value).replace("T", " ").replace("Z", "")[:23] + " UTC"


def _verdict_styles(a: analysis_mod.Analysis) -> dict[str, str]:
    """Verdict -> its colour, from the rules vocabulary (so a user's rules file recolours the terminal too)."""
    from loganalyzer import diagnose

    return {v["name"]: v["colour"] for v in diagnose.vocabulary(a.rules)["verdicts"] if v.get("colour")}


def _relative(file: str, roots: tuple[str, ...]) -> str:
    """``file`` relative to the folder given on the command line, when it is under one (terminals only)."""
    import os

    for root in roots:
        if os.path.isdir(root):
            rel = os.path.relpath(file, root)
            if not rel.startswith(".."):
                return rel
    return file


def _messages(a: analysis_mod.Analysis, lines) -> dict[tuple[str, int], str]:
    """The parsed message of each (file, line) cited: what a terminal shows instead of the raw line,
    whose prefix (time, level, thread, logger) would spend the width."""
    import polars as pl

    out: dict[tuple[str, int], str] = {}
    frames = a.entries.polars
    for kind, group in lines.groupby("kind"):
        df = frames.get(kind)
        if df is None or "message" not in df.columns:
            continue
        hits = df.filter(pl.col("file").is_in(list(group["file"].unique()))
                         & pl.col("line").is_in([int(x) for x in group["line"]])).select("file", "line", "level",
                                                                                        "message")
        for file, line, level, message in hits.iter_rows():
            first = (message or "").split("\n")[0]
            out[(file, int(line))] = f"{level} {first}" if level else first
    return out


def print_analysis(a: analysis_mod.Analysis, evidence_per_cause: int = 1, roots: tuple[str, ...] = ()) -> None:
    """The terminal summary: sources, offsets, counts by verdict and cause, evidence, trigger.

    With -v also every file's line counts, every clock offset and note, how attempts were linked,
    which rules named the causes, and how long each stage took.
    """
    if terminal.SETTINGS.quiet:  # -q prints nothing: nothing to work out for it
        return
    s = a.summary
    verbose = terminal.SETTINGS.verbose
    tty = terminal.width(terminal.human_stream()) is not None
    colours = _verdict_styles(a)
    where = (lambda f: _relative(f, roots)) if tty else (lambda f: f)

    def heading(text: str) -> None:
        _say("", (text, "bold"))

    if verbose:
        heading("Files")
        print_sources(a.entries.report(samples=3), samples=3, masked=a.redacted)
        _say("")
    heading("Sources")
    for r in a.sources.itertuples():
        if not isinstance(r.kind, str):
            continue
        zone = r.zone if isinstance(r.zone, str) and r.zone else "-"
        counts = f"{r.kind:<13} {r.format:<22} {r.parsed:>9,} entries  {r.rejected:>6,} rejected  "
        zone = f"zone {zone} ({r.zone_source})"
        # a terminal gets the file before the (long) zone note, which may then wrap
        _say(counts + (f"{where(r.file)}  {zone}" if tty else f"{zone}  {r.file}"), indent=2)
    offsets = a.offsets if verbose else [o for o in a.offsets if o.applied]
    if offsets:
        heading("Clock offsets")
        for o in offsets:
            _say(o.describe(), indent=2)
    for note in ([] if verbose else a.entries.notes):  # -v printed them all with the files
        if "passed over" in note or "undecodable" in note or "truncated" in note or "corrupt" in note:
            _say(f"note: {shown(note, None, False)}", indent=2)
    if a.bounded:
        _say(f"note: {shown(a.bounded, None, False)}", indent=2)
    _say("")
    if not s.get("attempts"):
        window = [n for n in a.notes + a.entries.notes if "window" in n and " leaves no " in n]
        if window:
            _say(f"No request attempts found: {window[0]}.")
        else:
            _say("No request attempts found: these logs tell of no request (load a client, proxy or "
                 "upstream log that does).")
        _print_timings()
        return
    failed = (f"{s['failed_attempts']:,} attempts failed", "bold") if s["failed_attempts"] else "no attempt failed"
    _say(f"{s['attempts']:,} attempts ({s['requests']:,} requests) from {_ts(s['time_range']['from'])} "
         f"to {_ts(s['time_range']['to'])}; ", failed, f" ({s['failed_requests']:,} requests)")
    if s["first_failure"]:
        run = s["longest_failure_run"]
        _say(f"First failure {_ts(s['first_failure'])}, last {_ts(s['last_failure'])}; longest run of "
             f"failures: {run['attempts']:,} attempts ({_ts(run['from'])} to {_ts(run['to'])})")
    _say("")
    heading("Where they died (verdict)")
    for verdict, n in s["by_verdict"].items():
        _say("  ", (f"{verdict:<18}", colours.get(verdict, "")), f" {n:>8,}")
    if s["by_cause"]:
        _say("")
        heading("Why (root cause)")
        import polars as pl

        # The failed attempts and the evidence of each cause's first, as pandas: not all of them.
        failed = a.attempts_frame().filter(pl.col("verdict") != "ok").select(
            "attempt_id", "root_cause", "root_cause_detail", "verdict")
        req = failed.to_pandas()
        ev = a.evidence_frame()
        firsts = failed.group_by("root_cause", maintain_order=True).first()["attempt_id"]
        ev = ev.filter(pl.col("attempt_id").is_in(firsts.implode())).to_pandas()
        cited = []
        for c in a.causes().itertuples():
            mine = req[req["root_cause"] == c.root_cause]
            top = mine["root_cause_detail"].dropna().value_counts()
            detail = f" ({top.index[0]})" if len(top) else ""
            verdict = mine["verdict"].mode()
            style = colours.get(verdict.iloc[0], "") if len(verdict) else ""
            lines = ev[ev["attempt_id"].isin(mine["attempt_id"].head(1).tolist()) & (ev["role"] == "cause")]
            if lines.empty:
                lines = ev[ev["attempt_id"].isin(mine["attempt_id"].head(1).tolist())]
            cited.append((c, detail, style, lines.head(evidence_per_cause)))
        import pandas as pd

        messages = _messages(a, pd.concat([x[3] for x in cited])) if tty and not verbose else {}
        for c, detail, style, lines in cited:
            # Details and unexplained causes quote the logs' exception names and messages.
            _say((f"{shown(c.root_cause + detail, None, a.redacted):<40}", style),
                 f" {c.attempts:>8,}  {shown(c.explanation or '', None, a.redacted)}", indent=2)
            for e in lines.itertuples():
                place = f"{where(e.file)}:{e.line}"
                if (e.file, int(e.line)) in messages:  # a terminal: the message, on one line
                    _say((place, "dim"), f"  {shown(messages[(e.file, int(e.line))], None, a.redacted)}",
                         indent=6, fit="cut")
                    continue
                for text in _telling_lines(e.text or ""):
                    _say((place, "dim"), f"  {shown(text, None if verbose else 160, a.redacted)}", indent=6)
    trigger = s.get("suspected_trigger")
    if trigger:
        _say("")
        _say(("Suspected trigger:", "bold"), f" {trigger['cause']} first at {_ts(trigger['first_failure'])} "
             f"({shown(trigger['endpoint'], 60, a.redacted)}, request "
             f"{shown(trigger['request_id'], 60, a.redacted) or '#' + str(trigger['attempt_id'])})")
        ch = trigger.get("change")
        if ch:
            was = f", was {ch['previous_version']}" if ch.get("previous_version") else ""
            version = f" {ch['version']}" if ch.get("version") else ""
            _say(f"{ch['before_first_failure_s']:.3f} s before it: {ch['label']}{version}{was} — ",
                 (f"{where(ch['file'])}:{ch['line']}", "dim"), f"  {shown(ch['text'], 120, a.redacted)}", indent=2)
        else:
            _say("no release, restart or reload was logged in the two hours before it", indent=2)
        if trigger.get("explains"):
            _say(f"its scope: {trigger['cause']} {trigger['explains']}", indent=2)
        for c in s.get("causes") or []:  # the other leading causes' own triggers
            other = (c.get("trigger") or {}).get("change")
            if other and c.get("cause") != trigger["cause"]:
                _say(f"{c['cause']}: {other['before_first_failure_s']:.3f} s after {other['label']} — ",
                     (f"{where(other['file'])}:{other['line']}", "dim"),
                     f" ({c['trigger'].get('explains') or ''})", indent=2)
    if a.differences:
        _say("")
        heading("What sets the failures apart")
        for d in a.differences[:6]:
            _say(shown(d.sentence, 400, a.redacted), indent=2)
    eps = [e for e in s["by_endpoint"] if e["failed"]][:5]
    if eps:
        _say("")
        heading("Failing endpoints")
        for e in eps:
            _say(f"{shown(e['endpoint'], 60, a.redacted):<40} {e['failed']:>6,} of {e['attempts']:,} "
                 f"failed, mostly {e['top_cause']}", indent=2)
    if verbose:
        _print_links(a)
        _print_timings()


def _print_links(a: analysis_mod.Analysis) -> None:
    """-v: how the attempts were linked across the logs, and which rules named their causes."""
    req = a.requests
    _say("")
    _say("", ("How attempts were linked", "bold"))
    for method, n in req["link"].value_counts().items():
        _say(f"  {method:<24} {n:>8,}")
    rules = req.loc[req["verdict"] != "ok", "rule"].fillna("(no rule: named by its error signature)")
    if len(rules):
        _say("")
        _say("", ("Rules that named the causes", "bold"))
        for rule, n in rules.value_counts().items():
            _say(f"  {rule:<40} {n:>8,}")


def _print_timings() -> None:
    stages = terminal.SETTINGS.timings.stages
    if terminal.SETTINGS.verbose and stages:
        _say("")
        _say("Timings: " + ", ".join(f"{name} {sec:.2f} s" for name, sec in stages))


def _telling_lines(text: str) -> list[str]:
    """An evidence entry's first line, and the exception line of its stack trace if it has one."""
    lines = [x for x in text.split("\n") if x.strip()]
    if not lines:
        return [""]
    exception = next((x for x in lines[1:] if re.match(r"(Caused by: )?[\w$.]+(Exception|Error)\b", x)), None)
    return [lines[0]] + ([exception.strip()] if exception else [])


def print_trace(mine, lines, redacted: bool) -> None:
    """Each attempt's outcome, then its lines (pandas frames: attempts, and lines with kind, file, line, link)."""
    for r in mine.itertuples():
        cause = r.root_cause + (f" ({r.root_cause_detail})" if isinstance(r.root_cause_detail, str) else "")
        request = shown(f"{r.method} {r.path}", 200, redacted)  # the request line is the log's text
        click.echo(f"attempt {r.attempt}  {_ts(r.ts.isoformat())}  {request}  "
                   f"client {_status(r.status_client)}  proxy {_status(r.status_proxy)}  "
                   f"upstream {_status(r.status_upstream)}  -> {r.verdict}: {shown(cause, 200, redacted)}")
        click.echo(f"  {shown(r.verdict_reason, 300, redacted)}; linked by {r.link}")
        for e in lines[lines["attempt_id"] == r.attempt_id].itertuples():
            # An export cites a successful attempt's lines by file and line alone: no text to show.
            said = next((v for v in (e.text, e.message) if isinstance(v, str) and v), "")
            text = shown(said.split("\n")[0], 150, redacted)
            click.echo(f"    {e.ts.strftime('%H:%M:%S.%f')[:-3]}  {e.kind:<12} {e.file}:{e.line}  [{e.link}]  {text}")


def _status(v) -> str:
    return "-" if _missing(v) else str(int(v))


def write_stdout(a, out_format: str) -> None:
    """The export (json), its attempts (ndjson) or ECS documents (ecs), on stdout."""
    import json

    from loganalyzer import reports
    from loganalyzer.reports import otlp

    data = reports.export(a)
    if out_format == "json":
        from loganalyzer.outputs import write_json

        write_json(data, sys.stdout)
        sys.stdout.write("\n")
        return
    docs = data["requests"] if out_format == "ndjson" else otlp.ecs_documents(data)
    for doc in docs:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")


def write_reports(source, html_out: str | None, md_out: str | None, otlp_out: str | None = None,
                   ecs_out: str | None = None) -> None:
    """The HTML report, the Markdown postmortem, traces and ECS documents, from an Analysis or an export."""
    if not (html_out or md_out or otlp_out or ecs_out):
        return
    with terminal.showing_progress():  # what was written is said once the progress display is gone
        done = _write_each(source, html_out, md_out, otlp_out, ecs_out)
    for line in done:
        _say(line)


def _write_each(source, html_out: str | None, md_out: str | None, otlp_out: str | None,
                ecs_out: str | None) -> list[str]:
    from loganalyzer import progress, reports

    done = []

    if otlp_out or ecs_out:
        from loganalyzer.reports import otlp

        data = reports.export(source)
        if otlp_out:
            progress.stage(f"writing {otlp_out}")
            n = otlp.write_otlp(data, otlp_out if otlp_out != "-" else sys.stdout)
            done.append(f"wrote {n:,} traces to {otlp_out}")
        if ecs_out:
            progress.stage(f"writing {ecs_out}")
            n = otlp.write_ecs(data, ecs_out if ecs_out != "-" else sys.stdout)
            done.append(f"wrote {n:,} attempts to {ecs_out}")

    if html_out:
        progress.stage(f"writing {html_out}")
        reports.write_html(source, html_out if html_out != "-" else sys.stdout)
        done.append(f"wrote {html_out}")
    if md_out:
        progress.stage(f"writing {md_out}")
        reports.write_markdown(source, md_out if md_out != "-" else sys.stdout)
        done.append(f"wrote {md_out}")
    return done


def print_scan(r) -> None:
    """The night in a few lines: what was read, what was found, what breached (what is new first)."""
    s = r.summary()
    _say(f"settings: {r.config_file}")
    changed = [p for p in r.pieces if p.status != "unchanged"]
    _say(f"read {r.lines['read']:,} new lines from {sum(1 for p in r.pieces if p.new_lines)} of {len(r.pieces)} "
         f"files ({r.lines['rejected']:,} rejected, {r.lines['unread']:,} unread)")
    for p in changed:
        if p.status in ("rotated", "truncated", "gone"):
            _say(f"  {p.status}: {shown(p.path, 100, masked=False)}")
    if s["attempts"]:
        rate = s["success_rate"]
        _say(f"{s['attempts']:,} attempts ({s['requests']:,} requests), {s['failed_attempts']:,} failed; "
             f"{rate:.1%} succeeded")
        for cause, n in s["by_cause"].items():
            _say(f"  {n:>6,}  {shown(cause, 80, masked=False)}")
    if r.held_until_next_run:
        _say(f"{r.held_until_next_run:,} recent entries held for the next run (requests may be in flight)")
    for note in r.notes:
        if note.startswith("nothing new"):
            _say(note)
    ordered = sorted(r.breaches, key=lambda b: (not b["new"], b["rule"]))
    if ordered:
        _say(f"{len(ordered)} breach(es):")
    for b in ordered:
        _say(f"  {'NEW ' if b['new'] else ''}{b['rule']}: {shown(b['message'], 160)}")
    if r.run_id is not None:
        _say(f"history: {r.history} (run {r.run_id})")
