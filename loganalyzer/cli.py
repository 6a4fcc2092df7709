"""Command line: parses options, calls the library, prints. Nothing else lives here."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

import click

from loganalyzer import errors

if TYPE_CHECKING:
    from loganalyzer import analysis as analysis_mod
    from loganalyzer import ingest


#: Human text goes to stderr when stdout carries data (an output named "-"); -q silences it.
_HUMAN_TO_STDERR = False
_QUIET = False


def _say(message: str = "", **kw) -> None:
    if not _QUIET:
        click.echo(message, err=_HUMAN_TO_STDERR, **kw)


def _shown(text: str | None, width: int, masked: bool = True) -> str:
    """Log text for a terminal: secrets masked, control characters visible, cut to ``width``."""
    from loganalyzer import redact

    text = redact.printable(redact.mask_text(text) if masked else text)
    return text if len(text) <= width else text[: width - 3] + "..."


def _missing(v) -> bool:
    """None, NaN, NaT or pandas' NA (the library's frames hand these out)."""
    import pandas as pd

    return v is None or bool(pd.isna(v))


def _pairs(values: tuple[str, ...], option: str, what: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key or not val:
            raise click.BadParameter(f"expected {what}, got {v!r}", param_hint=option)
        out[key] = val
    return out


def _load_options(as_, tz, encoding, formats, config=None) -> dict:
    as_map = {}
    for v in as_:
        spec, sep, path = v.partition("=")
        if not sep or not path:
            raise click.BadParameter(f"expected KIND[:FORMAT]=PATH, got {v!r}", param_hint="--as")
        as_map[path] = spec
    enc: dict[str, str] = {}
    for v in encoding:
        key, sep, val = v.partition("=")
        if sep:
            enc[key] = val
        else:
            enc["*"] = v
    # A bare zone (--tz Europe/Berlin) is for every file whose lines carry no offset.
    zones = _pairs(tuple(v if "=" in v else f"*={v}" for v in tz), "--tz", "KIND=Area/City or PATH=Area/City")
    return {"tz": zones, "as_": as_map,
            "encoding": enc, "formats": list(formats), "config": config}


class _KindsHelp(click.Option):
    """An option whose help names the source kinds: filled in when help is shown, so that starting
    the command does not load the format definitions."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from loganalyzer.parsers.formats import KINDS

        if self.help and "{kinds}" in self.help:
            self.help = self.help.replace("{kinds}", ", ".join(KINDS))
        return super().get_help_record(ctx)


def source_options(f):
    """Options every command that reads logs shares."""
    f = click.option("--formats", "formats", multiple=True, type=click.Path(dir_okay=False),
                     help="TOML file with more format definitions (repeatable).")(f)
    f = click.option("--encoding", multiple=True, metavar="[KIND=|PATH=]CODEC",
                     help="Text encoding, for all files or one kind/file (default utf-8).")(f)
    f = click.option("--tz", multiple=True, metavar="KIND=ZONE", cls=_KindsHelp,
                     help="Zone of lines without an offset, per kind ({kinds}) or file path.")(f)
    f = click.option("--as", "as_", multiple=True, metavar="KIND[:FORMAT]=PATH",
                     help="Read PATH as this kind (and format) instead of detecting it.")(f)
    f = click.option("--since", help="Drop entries before this time (ISO-8601; UTC unless an offset is given).")(f)
    f = click.option("--until", help="Drop entries after this time.")(f)
    f = click.option("--config", type=click.Path(dir_okay=False),
                     help="Settings file (zones, encodings, formats, rules); default ./loganalyzer.toml.")(f)
    return f


def _mask_option(f):
    def add(ctx, param, values):
        from loganalyzer import redact

        try:
            redact.add_patterns(list(values))
        except errors.UsageError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
        return values

    return click.option("--mask-pattern", "mask_patterns", multiple=True, metavar="REGEX", callback=add,
                        expose_value=False, is_eager=True,
                        help="Also mask what this regex matches, in every output (repeatable).")(f)


def _short_ts(ts) -> str:
    if ts is None or ts != ts:  # None, NaN or NaT
        return "-"
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def print_sources(report: ingest.ParseReport, samples: int = 3) -> None:
    """The per-file table of ``loganalyzer parse``, its notes and the first rejected lines of each file."""
    rows = [("FILE", "KIND", "FORMAT", "LINES", "PARSED", "CONT", "REJECTED", "UNREAD", "FIRST (UTC)", "LAST (UTC)",
             "ZONE")]
    for r in report.stats:
        fmt = "-" if r["format"] is None else f"{r['format']} ({r['match_rate']:.0%})"
        zone = r["zone_source"] if not r["zone"] else f"{r['zone']} ({r['zone_source']})"
        rows.append((r["file"], r["kind"] or "-", fmt, f"{r['lines']:,}", f"{r['parsed']:,}",
                     f"{r['continuation']:,}", f"{r['rejected']:,}", f"{r['unread']:,}", _short_ts(r["first_ts"]),
                     _short_ts(r["last_ts"]), zone or "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        _say("  ".join(str(c).ljust(w) if i < 3 else str(c).rjust(w) if i < 8 else str(c).ljust(w)
                             for i, (c, w) in enumerate(zip(row[:-1], widths, strict=True))) + "  " + row[-1])
    for r in report.stats:
        if r["kind"] and r["kind_evidence"] and r["kind_evidence"] != "given":
            _say(f"kind: {r['file']}: {r['kind_evidence']}")
    for note in report.notes:
        _say(f"note: {note}")
    if report.rejected and samples:
        _say(f"\nrejected lines: {report.rejected:,} (first {samples} per file)")
        shown: dict[str, int] = {}
        for r in report.rejects:
            if shown.setdefault(r["file"], 0) < samples:
                shown[r["file"]] += 1
                _say(f"  {r['file']}:{r['line']}: {r['reason']}: {_shown(r['text'], 100)}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loganalyzer")
def cli() -> None:
    """Line up client, Nginx and Spring Boot logs and say where each request died, and why."""


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@source_options
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write the parsed entries (.parquet, .csv, .jsonl), in file order, as they are parsed.")
@click.option("--samples", default=3, show_default=True, help="Rejected lines to show per file.")
@_mask_option
def parse(paths, as_, tz, encoding, formats, since, until, config, out, samples) -> None:
    """Parse log files and report, per file, its kind, format, line counts and time range.

    \b
    Examples:
      loganalyzer parse /var/log/nginx
      loganalyzer parse app.log --as crm=app.log --tz crm=Europe/Berlin
      loganalyzer parse logs/ --out entries.parquet
      zcat access.log.2.gz | loganalyzer parse -
    """
    from loganalyzer import ingest

    global _HUMAN_TO_STDERR, _QUIET
    _HUMAN_TO_STDERR = _QUIET = False  # parse prints its report; an earlier command in this process may have muted it
    if out:
        try:
            ingest.check_output_type(out)
        except errors.UsageError as exc:
            raise click.BadParameter(str(exc), param_hint="--out") from exc
    report = ingest.parse_files(paths, out=out, samples=samples, since=since, until=until,
                       **_load_options(as_, tz, encoding, formats, config))
    print_sources(report, samples)
    if out:
        click.echo(f"wrote {report.written:,} entries to {out}")


def _ts(value) -> str:
    if value is None:
        return "-"
    return str(value).replace("T", " ").replace("Z", "")[:23] + " UTC"


def print_analysis(a: analysis_mod.Analysis, evidence_per_cause: int = 1) -> None:
    """The terminal summary: sources, offsets, counts by verdict and cause, evidence, trigger."""
    s = a.summary
    _say("Sources")
    for r in a.sources.itertuples():
        if not isinstance(r.kind, str):
            continue
        zone = r.zone if isinstance(r.zone, str) and r.zone else "-"
        _say(f"  {r.kind:<13} {r.format:<22} {r.parsed:>9,} entries  {r.rejected:>6,} rejected  "
                   f"zone {zone} ({r.zone_source})  {r.file}")
    if a.offsets:
        _say("Clock offsets")
        for o in a.offsets:
            _say(f"  {o.describe()}")
    for note in a.entries.notes:
        if "passed over" in note or "undecodable" in note or "truncated" in note or "corrupt" in note:
            _say(f"  note: {note}")
    _say("")
    if not s.get("attempts"):
        window = [n for n in a.entries.notes if "leaves no entry" in n]
        if window:
            _say(f"No request attempts found: {window[0]}.")
        else:
            _say("No request attempts found: these logs tell of no request (load a client, proxy or "
                 "upstream log that does).")
        return
    _say(f"{s['attempts']:,} attempts ({s['requests']:,} requests) from {_ts(s['time_range']['from'])} "
               f"to {_ts(s['time_range']['to'])}; {s['failed_attempts']:,} attempts failed "
               f"({s['failed_requests']:,} requests)")
    if s["first_failure"]:
        run = s["longest_failure_run"]
        _say(f"First failure {_ts(s['first_failure'])}, last {_ts(s['last_failure'])}; longest run of "
                   f"failures: {run['attempts']:,} attempts ({_ts(run['from'])} to {_ts(run['to'])})")
    _say("\nWhere they died (verdict)")
    for verdict, n in s["by_verdict"].items():
        _say(f"  {verdict:<18} {n:>8,}")
    if s["by_cause"]:
        _say("\nWhy (root cause)")
        ev = a.evidence
        req = a.requests
        for c in a.causes().itertuples():
            details = req[(req["root_cause"] == c.root_cause) & (req["verdict"] != "ok")]["root_cause_detail"]
            top = details.dropna().value_counts()
            detail = f" ({top.index[0]})" if len(top) else ""
            _say(f"  {c.root_cause + detail:<40} {c.attempts:>8,}  {c.explanation or ''}")
            ids = req[(req["root_cause"] == c.root_cause) & (req["verdict"] != "ok")]["attempt_id"].head(1).tolist()
            lines = ev[ev["attempt_id"].isin(ids) & (ev["role"] == "cause")]
            if lines.empty:
                lines = ev[ev["attempt_id"].isin(ids)]
            for e in lines.head(evidence_per_cause).itertuples():
                for text in _telling_lines(e.text or ""):
                    _say(f"      {e.file}:{e.line}  {_shown(text, 160, a.redacted)}")
    trigger = s.get("suspected_trigger")
    if trigger:
        _say(f"\nSuspected trigger: {trigger['cause']} first at {_ts(trigger['first_failure'])} "
                   f"({trigger['endpoint']}, request {trigger['request_id'] or '#' + str(trigger['attempt_id'])})")
        ch = trigger.get("change")
        if ch:
            was = f", was {ch['previous_version']}" if ch.get("previous_version") else ""
            version = f" {ch['version']}" if ch.get("version") else ""
            _say(f"  {ch['before_first_failure_s']:.3f} s before it: {ch['label']}{version}{was} — "
                       f"{ch['file']}:{ch['line']}  {_shown(ch['text'], 120, a.redacted)}")
        else:
            _say("  no release, restart or reload was logged in the two hours before it")
    if a.differences:
        _say("\nWhat sets the failures apart")
        for d in a.differences[:6]:
            _say(f"  {_shown(d.sentence, 400, a.redacted)}")
    eps = [e for e in s["by_endpoint"] if e["failed"]][:5]
    if eps:
        _say("\nFailing endpoints")
        for e in eps:
            _say(f"  {_shown(e['endpoint'], 60, a.redacted):<40} {e['failed']:>6,} of {e['attempts']:,} "
                       f"failed, mostly {e['top_cause']}")


def _telling_lines(text: str) -> list[str]:
    """An evidence entry's first line, and the exception line of its stack trace if it has one."""
    lines = [x for x in text.split("\n") if x.strip()]
    if not lines:
        return [""]
    exception = next((x for x in lines[1:] if re.match(r"(Caused by: )?[\w$.]+(Exception|Error)\b", x)), None)
    return [lines[0]] + ([exception.strip()] if exception else [])


def _analyze_options(f):
    f = click.option("--rules", "rules", multiple=True, type=click.Path(dir_okay=False),
                     help="TOML file with more diagnosis rules (repeatable).")(f)
    f = click.option("--no-redact", is_flag=True, help="Show secrets (tokens, passwords, keys) instead of ****.")(f)
    f = click.option("--no-clock-correction", "no_clock", is_flag=True,
                     help="Measure and report clock offsets between hosts, but compare times as logged.")(f)
    return _mask_option(f)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@source_options
@_analyze_options
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the whole result as JSON.")
@click.option("-o", "--output", "html_out", type=click.Path(dir_okay=False), help="Write the HTML report.")
@click.option("--markdown", "md_out", type=click.Path(dir_okay=False), help="Write a Markdown postmortem.")
@click.option("--otlp", "otlp_out", type=click.Path(dir_okay=False),
              help="Write the requests as OpenTelemetry traces (OTLP/JSON lines) for Jaeger or Tempo.")
@click.option("--ecs", "ecs_out", type=click.Path(dir_okay=False), help="Write the attempts as ECS NDJSON.")
@click.option("--export", "export_dir", type=click.Path(file_okay=False),
              help="Write the export as a directory: attempts.parquet, evidence.parquet and a small analysis.json "
              "(for large logs; report and trace --from read it back).")
@click.option("--check", is_flag=True, help=f"Exit {errors.ExitStatus.FAILURES.value} when any attempt failed.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (the exit status still tells).")
@click.option("--format", "out_format", type=click.Choice(["text", "json", "ndjson", "ecs"]), default="text",
              show_default=True, help="What stdout gets: the summary (text), the JSON export, the attempts as "
              "NDJSON, or the attempts as ECS documents; with anything but text the summary goes to stderr.")
def analyze(paths, as_, tz, encoding, formats, since, until, config, rules, no_redact, no_clock, json_out, html_out,
            md_out, otlp_out, ecs_out, export_dir, check, out_format, quiet) -> int:
    """Rebuild every request from the logs and say where each died (verdict) and why (root cause).

    \b
    Examples:
      loganalyzer analyze incident/logs -o report.html --markdown postmortem.md
      loganalyzer analyze client.log access.log error.log crm.log --since 09:00 --until 10:30
      loganalyzer analyze logs/ --json - | jq .summary
      loganalyzer analyze logs/ --check -q || page-oncall
      loganalyzer analyze big/logs --export out/ && loganalyzer report out/ -o report.html

    Exit status: 0 done, 2 bad usage, 3 unreadable input, 4 no request attempt found,
    5 failures found (--check).
    """
    from loganalyzer import analysis as analysis_mod

    global _HUMAN_TO_STDERR, _QUIET
    _QUIET = quiet
    outputs = [o for o in (json_out, html_out, md_out, otlp_out, ecs_out) if o]
    if sum(o == "-" for o in outputs) + (out_format != "text") > 1:
        raise click.UsageError("only one output can go to stdout (-)")
    _HUMAN_TO_STDERR = out_format != "text" or "-" in outputs
    from loganalyzer.outputs import check_writable

    for o in outputs:
        check_writable(o, list(paths))
    a = analysis_mod.analyze(paths, since=since, until=until, rules=rules, redact_secrets=not no_redact,
                             clock_correction=not no_clock, **_load_options(as_, tz, encoding, formats, config))
    print_analysis(a)
    if out_format != "text":
        _write_stdout(a, out_format)
    if json_out:
        a.write_json(json_out if json_out != "-" else sys.stdout)
        _say(f"\nwrote {json_out}")
    if export_dir:
        from loganalyzer import export

        n = export.write(a, export_dir)
        _say(f"wrote {export_dir} ({n:,} attempts)")
    _write_reports(a, html_out, md_out, otlp_out, ecs_out)
    if not a.summary.get("attempts"):
        click.get_current_context().exit(errors.ExitStatus.NOTHING_TO_ANALYSE)
    if check and a.summary.get("failed_attempts"):
        click.get_current_context().exit(errors.ExitStatus.FAILURES)
    return errors.ExitStatus.OK


@cli.command()
@click.argument("request_id")
@click.argument("paths", nargs=-1)
@source_options
@_analyze_options
@click.option("--from", "from_dir", type=click.Path(exists=True, file_okay=False),
              help="Read an export directory (analyze --export) instead of the logs: its evidence lines.")
def trace(request_id, paths, as_, tz, encoding, formats, since, until, config, rules, no_redact, no_clock,
          from_dir) -> None:
    """Print one request's hop chain: every line of every hop, attempt by attempt, in time order.

    \b
    Examples:
      loganalyzer trace d293cf8d2a2b4dec98adfc250fd2b2d9 incident/logs
      loganalyzer trace '#227' incident/logs       # an attempt without a request id
      loganalyzer trace d293cf8d2a2b4dec98adfc250fd2b2d9 --from out/   # from analyze --export out/
    """
    if from_dir and paths:
        raise click.UsageError("give either log paths or --from DIR, not both")
    if from_dir:
        from loganalyzer import export

        attempts, lines, redacted = export.trace(from_dir, request_id)
        if attempts.height == 0:
            raise click.ClickException(f"no request {request_id!r} in the export {from_dir}")
        _print_trace(attempts.to_pandas(), lines.to_pandas(), redacted)
        return
    if not paths:
        raise click.UsageError("give the logs to read (PATHS), or an export with --from DIR")
    from loganalyzer import analysis as analysis_mod

    a = analysis_mod.analyze(paths, since=since, until=until, rules=rules, redact_secrets=not no_redact,
                             clock_correction=not no_clock, **_load_options(as_, tz, encoding, formats, config))
    lines = a.trace(request_id)
    if lines.empty:
        raise click.ClickException(f"no request {request_id!r} in these logs")
    req = a.requests
    mine = req[(req["request_id"] == request_id) | (req["logical_id"] == request_id)
               | (("#" + req["attempt_id"].astype(str)) == request_id)]
    _print_trace(mine, lines, a.redacted)


def _print_trace(mine, lines, redacted: bool) -> None:
    """Each attempt's outcome, then its lines (pandas frames: attempts, and lines with kind, file, line, link)."""
    for r in mine.itertuples():
        cause = r.root_cause + (f" ({r.root_cause_detail})" if isinstance(r.root_cause_detail, str) else "")
        click.echo(f"attempt {r.attempt}  {_ts(r.ts.isoformat())}  {r.method} {r.path}  "
                   f"client {_status(r.status_client)}  proxy {_status(r.status_proxy)}  "
                   f"upstream {_status(r.status_upstream)}  -> {r.verdict}: {cause}")
        click.echo(f"  {r.verdict_reason}; linked by {r.link}")
        for e in lines[lines["attempt_id"] == r.attempt_id].itertuples():
            text = _shown((e.text or e.message or "").split("\n")[0], 150, redacted)
            click.echo(f"    {e.ts.strftime('%H:%M:%S.%f')[:-3]}  {e.kind:<12} {e.file}:{e.line}  [{e.link}]  {text}")


def _status(v) -> str:
    return "-" if _missing(v) else str(int(v))


@cli.command()
@click.argument("json_file", type=click.Path(exists=True))
@click.option("-o", "--output", "html_out", type=click.Path(dir_okay=False), help="Write the HTML report.")
@click.option("--markdown", "md_out", type=click.Path(dir_okay=False), help="Write a Markdown postmortem.")
@click.option("--otlp", "otlp_out", type=click.Path(dir_okay=False), help="Write OpenTelemetry traces (OTLP/JSON).")
@click.option("--ecs", "ecs_out", type=click.Path(dir_okay=False), help="Write the attempts as ECS NDJSON.")
def report(json_file, html_out, md_out, otlp_out, ecs_out) -> None:
    """Render the HTML report, the Markdown postmortem or the traces again from a saved --json export
    (or an --export directory).

    \b
    Examples:
      loganalyzer report analysis.json -o report.html
      loganalyzer report analysis.json --markdown postmortem.md
      loganalyzer report analysis.json --otlp traces.jsonl
      loganalyzer report out/ -o report.html        # from analyze --export out/
    """
    from loganalyzer import reports

    if not (html_out or md_out or otlp_out or ecs_out):
        raise click.UsageError("say what to write: -o report.html, --markdown postmortem.md, --otlp or --ecs")
    from pathlib import Path

    if Path(json_file).is_dir():
        from loganalyzer import export

        data = export.read(json_file)
    else:
        data = reports.read_json(json_file)
    _write_reports(data, html_out, md_out, otlp_out, ecs_out)


def _write_stdout(a, out_format: str) -> None:
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


def _write_reports(source, html_out: str | None, md_out: str | None, otlp_out: str | None = None,
                   ecs_out: str | None = None) -> None:
    """The HTML report, the Markdown postmortem, traces and ECS documents, from an Analysis or an export."""
    if not (html_out or md_out or otlp_out or ecs_out):
        return
    from loganalyzer import reports

    if otlp_out or ecs_out:
        from loganalyzer.reports import otlp

        data = reports.export(source)
        if otlp_out:
            n = otlp.write_otlp(data, otlp_out if otlp_out != "-" else sys.stdout)
            _say(f"wrote {n:,} traces to {otlp_out}")
        if ecs_out:
            n = otlp.write_ecs(data, ecs_out if ecs_out != "-" else sys.stdout)
            _say(f"wrote {n:,} attempts to {ecs_out}")

    if html_out:
        reports.write_html(source, html_out if html_out != "-" else sys.stdout)
        _say(f"wrote {html_out}")
    if md_out:
        reports.write_markdown(source, md_out if md_out != "-" else sys.stdout)
        _say(f"wrote {md_out}")


@cli.group()
def formats() -> None:
    """The format definitions: list them, check a file of your own, or infer one from a log."""


@formats.command("list")
def formats_list() -> None:
    """List the built-in format definitions: name, kind, syntax and what each reads."""
    from loganalyzer.parsers import formats as formats_mod

    for d in sorted(formats_mod.builtin_definitions(), key=lambda d: (d.kind, d.name)):
        click.echo(f"{d.name:<28} {d.kind:<13} {d.syntax:<8} {d.description}")


@formats.command("suggest")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the file.")
def formats_suggest(path, encoding) -> None:
    """Infer a format definition from a log's own lines and print it as TOML.

    Save it and pass it back: loganalyzer formats suggest app.log > app.toml;
    loganalyzer analyze --formats app.toml LOGS
    """
    from loganalyzer import ingest

    click.echo(ingest.suggest_format(path, encoding), nl=False)


@formats.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def formats_check(files) -> None:
    """Compile format definition files and parse the sample lines they carry."""
    from loganalyzer.parsers import formats as formats_mod
    from loganalyzer.parsers.samples import check_samples

    problems = []
    for f in files:
        try:
            defs = formats_mod.load_definitions([f])
            mine = [d for d in defs if d.origin == str(f)]
            for d in mine:
                problems += check_samples(formats_mod.compile_definition(d))
        except formats_mod.DefinitionError as exc:
            raise errors.FormatsError(str(exc)) from exc
        click.echo(f"{f}: {len(mine)} format(s)")
    if problems:
        raise errors.FormatsError("; ".join(problems))


def main() -> None:
    """Entry point: expected problems print one line; unexpected ones too, unless --debug."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        status = cli(standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C inside a click prompt
        click.echo("interrupted", err=True)
        sys.exit(errors.ExitStatus.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except errors.LoganalyzerError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_status)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(errors.ExitStatus.INTERRUPTED)
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        sys.exit(errors.ExitStatus.OK)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} — this is a bug in loganalyzer; "
                   "run again with --debug and report the traceback", err=True)
        sys.exit(errors.ExitStatus.ERROR)
    sys.exit(status if isinstance(status, int) else errors.ExitStatus.OK)
