"""Command line: parses options, calls the library, prints. Nothing else lives here."""

from __future__ import annotations

import contextlib
import re
import sys
from typing import TYPE_CHECKING

import click

from loganalyzer import errors, terminal

if TYPE_CHECKING:
    from loganalyzer import analysis as analysis_mod
    from loganalyzer import ingest


def _say(message: str = "", *parts: terminal.Part, indent: int = 0, fit: str = "wrap") -> None:
    """One line of human text (stderr when stdout carries data; nothing with -q), fitted to a terminal."""
    terminal.say(message, *parts, indent=indent, fit=fit)


def _shown(text: str | None, width: int | None, masked: bool = True) -> str:
    """Log text for a terminal: secrets masked, control characters visible, cut to ``width`` (None: whole)."""
    from loganalyzer import redact

    text = redact.printable(redact.mask_text(text) if masked else text)
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


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


def _complete_zone(ctx, param, incomplete: str) -> list[str]:
    """--tz: zone names, for every file (Europe/Berlin) or one kind (crm=Europe/Berlin)."""
    import zoneinfo

    from loganalyzer.parsers.formats import KINDS

    prefix, sep, zone = incomplete.rpartition("=")
    lead = prefix + sep
    kinds = [] if sep else [f"{k}=" for k in KINDS if k.startswith(incomplete)]
    return kinds + sorted(lead + z for z in zoneinfo.available_timezones() if z.lower().startswith(zone.lower()))


def _complete_as(ctx, param, incomplete: str) -> list[str]:
    """--as: a kind, or a kind and one of its formats, then '=' and the path."""
    if "=" in incomplete:  # the path: the shell's own file completion does better
        return []
    from loganalyzer.kinds import APP_SIDES
    from loganalyzer.parsers import formats as formats_mod
    from loganalyzer.parsers.formats import KINDS

    # An application layout reads either application side (and logs that are neither).
    specs = list(KINDS) + sorted({f"{k}:{d.name}" for d in formats_mod.builtin_definitions()
                                  for k in ((*APP_SIDES, "other") if d.kind == "app" else (d.kind,))})
    return [f"{s}=" for s in specs if s.startswith(incomplete)]


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
                     shell_complete=_complete_zone,
                     help="Zone of lines without an offset, per kind ({kinds}) or file path.")(f)
    f = click.option("--as", "as_", multiple=True, metavar="KIND[:FORMAT]=PATH", shell_complete=_complete_as,
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
        shown: dict[str, int] = {}
        for r in report.rejects:
            if shown.setdefault(r["file"], 0) < samples:
                shown[r["file"]] += 1
                _say(f"  {r['file']}:{r['line']}: {r['reason']}: {_shown(r['text'], 100, masked)}")


def _display_options() -> list[click.Option]:
    """--color and -v: accepted before the command and after it (every command gets them)."""
    def color(ctx, param, value):
        if value is not None:
            terminal.SETTINGS.color = value

    def verbose(ctx, param, value):
        terminal.SETTINGS.verbose = max(terminal.SETTINGS.verbose, value or 0)

    return [
        click.Option(["--color"], type=click.Choice(terminal.COLOR_CHOICES), default=None, expose_value=False,
                     is_eager=True, callback=color, metavar="auto|always|never",
                     help="Colour the output: auto (default: on a terminal, unless NO_COLOR is set), always, never."),
        click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=verbose,
                     help="More detail: every file's counts, clock offset and note, how attempts were linked, "
                          "which rules matched, stage timings."),
    ]


class _Group(click.Group):
    """A group whose commands all take the display options, and which starts each run from the defaults."""

    def make_context(self, info_name, args, parent=None, **extra):
        if parent is None:  # a new run (tests run many in one process)
            terminal.SETTINGS = terminal.Settings()
        return super().make_context(info_name, args, parent=parent, **extra)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(cmd, name)
        taken = {o for p in cmd.params for o in getattr(p, "opts", [])}
        cmd.params.extend(p for p in _display_options() if not taken & set(p.opts))


_Group.group_class = _Group


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, params=_display_options())
@click.version_option(package_name="loganalyzer")
def cli() -> None:
    """Line up client, Nginx and Spring Boot logs and say where each request died, and why.

    \b
    Shell completion: eval "$(_LOGANALYZER_COMPLETE=bash_source loganalyzer)" in ~/.bashrc
    (zsh_source for zsh; fish_source for fish).
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@source_options
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write the parsed entries (.parquet, .csv, .jsonl), in file order, as they are parsed.")
@click.option("--samples", default=3, show_default=True, help="Rejected lines to show per file.")
@click.option("--no-redact", is_flag=True, help="Show and write secrets (tokens, passwords, keys) instead of ****.")
@_mask_option
def parse(paths, as_, tz, encoding, formats, since, until, config, out, samples, no_redact) -> None:
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
                                redact_secrets=not no_redact, **_load_options(as_, tz, encoding, formats, config))
    print_sources(report, samples, masked=not no_redact)
    if out:
        click.echo(f"wrote {report.written:,} entries to {out}")


@contextlib.contextmanager
def _progress():
    """Progress on stderr while the library works, when stderr is a terminal (and stage timings for -v)."""
    from loganalyzer import progress

    shown = terminal.listener()
    if shown is None:
        yield
        return
    with shown, progress.reporting(shown):
        yield


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
            _say(f"note: {_shown(note, None, False)}", indent=2)
    _say("")
    if not s.get("attempts"):
        window = [n for n in a.entries.notes if "leaves no entry" in n]
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
        ev = a.evidence
        req = a.requests
        cited = []
        for c in a.causes().itertuples():
            mine = req[(req["root_cause"] == c.root_cause) & (req["verdict"] != "ok")]
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
            _say((f"{_shown(c.root_cause + detail, None, a.redacted):<40}", style),
                 f" {c.attempts:>8,}  {_shown(c.explanation or '', None, a.redacted)}", indent=2)
            for e in lines.itertuples():
                place = f"{where(e.file)}:{e.line}"
                if (e.file, int(e.line)) in messages:  # a terminal: the message, on one line
                    _say((place, "dim"), f"  {_shown(messages[(e.file, int(e.line))], None, a.redacted)}",
                         indent=6, fit="cut")
                    continue
                for text in _telling_lines(e.text or ""):
                    _say((place, "dim"), f"  {_shown(text, None if verbose else 160, a.redacted)}", indent=6)
    trigger = s.get("suspected_trigger")
    if trigger:
        _say("")
        _say(("Suspected trigger:", "bold"), f" {trigger['cause']} first at {_ts(trigger['first_failure'])} "
             f"({_shown(trigger['endpoint'], 60, a.redacted)}, request "
             f"{_shown(trigger['request_id'], 60, a.redacted) or '#' + str(trigger['attempt_id'])})")
        ch = trigger.get("change")
        if ch:
            was = f", was {ch['previous_version']}" if ch.get("previous_version") else ""
            version = f" {ch['version']}" if ch.get("version") else ""
            _say(f"{ch['before_first_failure_s']:.3f} s before it: {ch['label']}{version}{was} — ",
                 (f"{where(ch['file'])}:{ch['line']}", "dim"), f"  {_shown(ch['text'], 120, a.redacted)}", indent=2)
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
            _say(_shown(d.sentence, 400, a.redacted), indent=2)
    eps = [e for e in s["by_endpoint"] if e["failed"]][:5]
    if eps:
        _say("")
        heading("Failing endpoints")
        for e in eps:
            _say(f"{_shown(e['endpoint'], 60, a.redacted):<40} {e['failed']:>6,} of {e['attempts']:,} "
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

    terminal.SETTINGS.quiet = quiet
    outputs = [o for o in (json_out, html_out, md_out, otlp_out, ecs_out) if o]
    if sum(o == "-" for o in outputs) + (out_format != "text") > 1:
        raise click.UsageError("only one output can go to stdout (-)")
    terminal.SETTINGS.to_stderr = out_format != "text" or "-" in outputs
    from loganalyzer.outputs import check_writable

    for o in outputs:
        check_writable(o, list(paths))
    with _progress():
        a = analysis_mod.analyze(paths, since=since, until=until, rules=rules, redact_secrets=not no_redact,
                                 clock_correction=not no_clock, **_load_options(as_, tz, encoding, formats, config))
    print_analysis(a, roots=tuple(paths))
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
        request = _shown(f"{r.method} {r.path}", 200, redacted)  # the request line is the log's text
        click.echo(f"attempt {r.attempt}  {_ts(r.ts.isoformat())}  {request}  "
                   f"client {_status(r.status_client)}  proxy {_status(r.status_proxy)}  "
                   f"upstream {_status(r.status_upstream)}  -> {r.verdict}: {_shown(cause, 200, redacted)}")
        click.echo(f"  {_shown(r.verdict_reason, 300, redacted)}; linked by {r.link}")
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
    with _progress():  # what was written is said once the progress display is gone
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


@cli.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False))
def init(folder) -> None:
    """Write a commented starter loganalyzer.toml (sources, history, thresholds, outputs) in FOLDER."""
    from loganalyzer import scan as scan_mod

    target = scan_mod.init(folder)
    _say(f"wrote {target}: name your log files under [[sources]], then run: loganalyzer scan")


@cli.command()
@click.option("--config", type=click.Path(dir_okay=False),
              help="The settings file (default: loganalyzer.toml here or above, else "
              "$XDG_CONFIG_HOME/loganalyzer/config.toml).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False),
              help="Write the night's summary as JSON (- for stdout).")
@click.option("-o", "--output", "html_out", type=click.Path(dir_okay=False), help="Write the night's HTML report.")
@click.option("--prom", "prom_out", type=click.Path(dir_okay=False),
              help="Write a Prometheus textfile (atomically) for node_exporter's textfile collector.")
@click.option("--complete", is_flag=True, help="The logs are finished: commit every attempt, hold nothing back.")
@click.option("--no-redact", is_flag=True, help="Keep secrets in the stored evidence (masked by default).")
@click.option("--rebuild", is_flag=True,
              help="A history that cannot be opened is moved aside and built again from the logs on disk.")
@click.option("--scheduler", metavar="ADDRESS", help="Run on the Dask cluster at tcp://HOST:8786 (the dask extra).")
@click.option("--workers", type=click.IntRange(min=1), help="Run on a local Dask cluster of N processes.")
@click.option("-v", "--verbose", is_flag=True, help="Say more: the Dask dashboard's address, the notes.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when no threshold is breached.")
def scan(config, json_out, html_out, prom_out, complete, no_redact, rebuild, scheduler, workers, verbose,
         quiet) -> int:
    """Read what is new in the configured logs, keep the night in the history, check the thresholds.

    \b
    Examples:
      loganalyzer init /etc/loganalyzer && $EDITOR /etc/loganalyzer/loganalyzer.toml
      loganalyzer scan --config /etc/loganalyzer/loganalyzer.toml -q --prom /var/lib/node_exporter/la.prom
      loganalyzer scan --json - | jq .breaches

    Exit status: 0 done, 2 bad settings, 3 unreadable logs or history, 4 no request attempt found,
    5 a threshold breached, 6 another scan is running, 7 the Dask cluster was lost.
    """
    from loganalyzer import scan as scan_mod

    outputs = {k: v for k, v in (("json", json_out), ("html", html_out), ("prom", prom_out)) if v}
    if sum(v == "-" for v in outputs.values()) > 1:
        raise click.UsageError("only one output can go to stdout (-)")
    terminal.SETTINGS.to_stderr = "-" in outputs.values()
    try:
        cfg = scan_mod.load_config(config)
    except errors.ConfigError as exc:
        if config is None and "no loganalyzer.toml" in str(exc):
            raise errors.ConfigError(f"{exc} (loganalyzer init writes a starter, or say --config FILE)") from exc
        raise
    outputs = {**cfg.outputs, **outputs}
    from loganalyzer.outputs import check_writable

    for o in outputs.values():
        check_writable(o, [])
    from loganalyzer import history

    if scheduler and workers:
        raise click.UsageError("say --scheduler or --workers, not both")

    def on_cluster(link: str | None) -> None:
        if verbose:
            click.echo(f"Dask dashboard: {link}", err=True)

    try:
        result = scan_mod.scan(cfg, complete=complete, redact_secrets=not no_redact, rebuild=rebuild,
                               scheduler=scheduler, workers=workers, on_cluster=on_cluster)
    except history.HistoryError as exc:
        raise history.HistoryError(f"{exc} (or say --rebuild)") from exc
    terminal.SETTINGS.quiet = quiet and not result.breaches
    print_scan(result)
    if verbose:
        for note in result.notes:
            click.echo(f"note: {_shown(note, 300)}", err=True)
    export = result.to_dict()
    if outputs.get("json"):
        result.write_json(outputs["json"] if outputs["json"] != "-" else sys.stdout)
    if outputs.get("html"):
        from loganalyzer.reports import night

        night.write(export, outputs["html"])
        _say(f"wrote {outputs['html']}")
    if outputs.get("prom"):
        from loganalyzer.reports import prom

        prom.write(export, outputs["prom"])
        if outputs["prom"] != "-":
            _say(f"wrote {outputs['prom']}")
    if result.breaches:
        click.get_current_context().exit(errors.ExitStatus.FAILURES)
    if result.lines["read"] and not result.attempts.height and not result.held_until_next_run:
        click.get_current_context().exit(errors.ExitStatus.NOTHING_TO_ANALYSE)
    return errors.ExitStatus.OK


def print_scan(r) -> None:
    """The night in a few lines: what was read, what was found, what breached (what is new first)."""
    s = r.summary()
    _say(f"settings: {r.config_file}")
    changed = [p for p in r.pieces if p.status != "unchanged"]
    _say(f"read {r.lines['read']:,} new lines from {sum(1 for p in r.pieces if p.new_lines)} of {len(r.pieces)} "
         f"files ({r.lines['rejected']:,} rejected, {r.lines['unread']:,} unread)")
    for p in changed:
        if p.status in ("rotated", "truncated", "gone"):
            _say(f"  {p.status}: {_shown(p.path, 100, masked=False)}")
    if s["attempts"]:
        rate = s["success_rate"]
        _say(f"{s['attempts']:,} attempts ({s['requests']:,} requests), {s['failed_attempts']:,} failed; "
             f"{rate:.1%} succeeded")
        for cause, n in s["by_cause"].items():
            _say(f"  {n:>6,}  {_shown(cause, 80, masked=False)}")
    if r.held_until_next_run:
        _say(f"{r.held_until_next_run:,} recent entries held for the next run (requests may be in flight)")
    for note in r.notes:
        if note.startswith("nothing new"):
            _say(note)
    ordered = sorted(r.breaches, key=lambda b: (not b["new"], b["rule"]))
    if ordered:
        _say(f"{len(ordered)} breach(es):")
    for b in ordered:
        _say(f"  {'NEW ' if b['new'] else ''}{b['rule']}: {_shown(b['message'], 160)}")
    if r.run_id is not None:
        _say(f"history: {r.history} (run {r.run_id})")


def main() -> None:
    """Entry point: expected problems print one line; unexpected ones too, unless --debug."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        status = cli(standalone_mode=False, prog_name="loganalyzer")  # also names the completion variable
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
