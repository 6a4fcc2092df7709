"""Command line: parses options, calls the library, prints (through loganalyzer.printing). Nothing else lives here.

This module is what ``--help`` and shell completion load: it imports click and the option
definitions only; the library, and the printing of results, are imported inside each command."""

from __future__ import annotations

import sys

import click

from loganalyzer import __version__, errors, terminal

# One instance of each path type for all options: click asks gettext for the type's name in
# each one's constructor, and two dozen of those lookups were a third of --help's own time.
_FILE = click.Path(dir_okay=False)
_DIR = click.Path(file_okay=False)


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
    f = click.option("--formats", "formats", multiple=True, type=_FILE,
                     help="TOML file with more format definitions (repeatable).")(f)
    f = click.option("--encoding", multiple=True, metavar="[KIND=|PATH=]CODEC",
                     help="Text encoding, for all files or one kind/file (default utf-8).")(f)
    f = click.option("--tz", multiple=True, metavar="KIND=ZONE", cls=_KindsHelp,
                     shell_complete=_complete_zone,
                     help="Zone of lines without an offset, per kind ({kinds}) or file path.")(f)
    f = click.option("--as", "as_", multiple=True, metavar="KIND[:FORMAT]=PATH", shell_complete=_complete_as,
                     help="Read PATH as this kind (and format) instead of detecting it.")(f)
    # parse corrects no clock, so it cuts lines as logged; analyze and trace cut on the corrected clock.
    which = ("entries, times as logged (parse corrects no clock)" if f.__name__ == "parse"
             else "attempts by their start, on the reference clock once clock offsets are corrected")
    f = click.option("--since", metavar="TIME",
                     help=f"Keep only {which}, from TIME: now, -2h, 30m ago, yesterday, HH:MM[:SS] on the logs' "
                     "date, or ISO-8601 (UTC unless it has an offset or --tz ZONE is given).")(f)
    f = click.option("--until", metavar="TIME", help="The end of that window (same forms as --since).")(f)
    f = click.option("--config", type=_FILE,
                     help="Settings file (zones, encodings, formats, rules); default ./loganalyzer.toml.")(f)
    return f


def _mask_option(f):
    def add(ctx, param, values):
        if not values or ctx.resilient_parsing:  # completing a word must not load polars for the regex check
            return values
        from loganalyzer import redact

        try:
            redact.add_patterns(list(values))
        except errors.UsageError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
        return values

    return click.option("--mask-pattern", "mask_patterns", multiple=True, metavar="REGEX", callback=add,
                        expose_value=False, is_eager=True,
                        help="Also mask what this regex matches, in every output (repeatable).")(f)


def _display_options() -> list[click.Option]:
    """--color, --debug and -v: accepted before the command and after it (every command gets them)."""
    def color(ctx, param, value):
        if value is not None:
            terminal.SETTINGS.color = value

    def verbose(ctx, param, value):
        terminal.SETTINGS.verbose = max(terminal.SETTINGS.verbose, value or 0)

    return [
        click.Option(["--color"], type=click.Choice(terminal.COLOR_CHOICES), default=None, expose_value=False,
                     is_eager=True, callback=color, metavar="auto|always|never",
                     help="Colour the output: auto (default: on a terminal, unless NO_COLOR is set), always, never."),
        # main() acts on it (it must know before the options are parsed); declared so that help names it
        click.Option(["--debug"], is_flag=True, expose_value=False,
                     help="On an unexpected error, show the traceback (to report a bug) instead of one line."),
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
@click.version_option(version=__version__, prog_name="loganalyzer")  # not importlib.metadata: slow
def cli() -> None:
    """Line up client, Nginx and Spring Boot logs and say where each request died, and why.

    \b
    Examples:
      loganalyzer analyze incident/logs -o report.html --markdown postmortem.md
      loganalyzer parse /var/log/nginx
      loganalyzer trace d293cf8d2a2b4dec98adfc250fd2b2d9 incident/logs
      loganalyzer init /etc/loganalyzer && loganalyzer scan --config /etc/loganalyzer/loganalyzer.toml

    \b
    Shell completion: eval "$(_LOGANALYZER_COMPLETE=bash_source loganalyzer)" in ~/.bashrc
    (zsh_source for zsh; fish_source for fish).
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@source_options
@click.option("--out", type=_FILE,
              help="Write the parsed entries (.parquet, .csv, .jsonl; - for JSON lines on stdout), in file order.")
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
    from loganalyzer import ingest, printing

    if out:
        try:
            ingest.check_output_type(out)
        except errors.UsageError as exc:
            raise click.BadParameter(str(exc), param_hint="--out") from exc
        (out,) = _outputs((out,), paths)  # with --out - the entries are stdout's, the table stderr's
    options = _load_options(as_, tz, encoding, formats, config)
    with terminal.showing_progress():
        report = ingest.parse_files(paths, out=out, samples=samples, since=since, until=until,
                                    redact_secrets=not no_redact, **options)
    printing.print_sources(report, samples, masked=not no_redact)
    if out:
        terminal.say(f"wrote {report.written:,} entries to {out}")


def _outputs(outputs: tuple[str | None, ...], inputs, stdout_taken: bool = False) -> tuple[str | None, ...]:
    """The outputs, checked before any input is read: ``/dev/stdout`` and the like become ``-``, at
    most one goes to stdout (and then the human text goes to stderr), each can be written and
    overwrites no input."""
    from loganalyzer.outputs import as_stdout, check_writable

    outputs = tuple(map(as_stdout, outputs))
    if sum(o == "-" for o in outputs) + stdout_taken > 1:
        raise click.UsageError("only one output can go to stdout (-)")
    terminal.SETTINGS.to_stderr = stdout_taken or "-" in outputs
    for o in outputs:
        if o:
            check_writable(o, list(inputs))
    return outputs


def _analyze_options(f):
    f = click.option("--rules", "rules", multiple=True, type=_FILE,
                     help="TOML file with more diagnosis rules (repeatable).")(f)
    f = click.option("--no-redact", is_flag=True, help="Show secrets (tokens, passwords, keys) instead of ****.")(f)
    f = click.option("--no-clock-correction", "no_clock", is_flag=True,
                     help="Measure and report clock offsets between hosts, but compare times as logged.")(f)
    f = click.option("--max-memory", metavar="SIZE", callback=_check_memory,
                     help="The memory the analysis may take, estimated from the logs' size, e.g. 8GB; 'none' for "
                     "no limit (default: 80% of the memory available at the start, or max_memory in the settings). "
                     "Logs that would take more are analysed in batches (trace refuses them).")(f)
    return _mask_option(f)


def _check_memory(ctx, param, value):
    if value is None or ctx.resilient_parsing:
        return value
    from loganalyzer import budget

    try:
        budget.limit_of(value)
    except errors.UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix("max_memory: "), ctx=ctx, param=param) from exc
    return value


def _analyze(paths, hint: str = "", **options):
    """``analysis.analyze``, with the commands and options that lift a refusal for size named."""
    from loganalyzer import analysis as analysis_mod

    try:
        return analysis_mod.analyze(paths, **options)
    except errors.TooLarge as exc:
        raise errors.TooLarge(f"{exc} (loganalyzer init, then scan){hint}; or allow more with --max-memory SIZE") \
            from exc


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@source_options
@_analyze_options
@click.option("--json", "json_out", type=_FILE, help="Write the whole result as JSON.")
@click.option("-o", "--output", "html_out", type=_FILE, help="Write the HTML report.")
@click.option("--markdown", "md_out", type=_FILE, help="Write a Markdown postmortem.")
@click.option("--otlp", "otlp_out", type=_FILE,
              help="Write the requests as OpenTelemetry traces (OTLP/JSON lines) for Jaeger or Tempo.")
@click.option("--ecs", "ecs_out", type=_FILE, help="Write the attempts as ECS NDJSON.")
@click.option("--export", "export_dir", type=_DIR,
              help="Write the export as a directory: attempts.parquet, evidence.parquet and a small analysis.json "
              "(for large logs; report and trace --from read it back).")
@click.option("--check", is_flag=True, help=f"Exit {errors.ExitStatus.FAILURES.value} when any attempt failed.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (the exit status still tells).")
@click.option("--format", "out_format", type=click.Choice(["text", "json", "ndjson", "ecs"]), default="text",
              show_default=True, help="What stdout gets: the summary (text), the JSON export, the attempts as "
              "NDJSON, or the attempts as ECS documents; with anything but text the summary goes to stderr.")
def analyze(paths, as_, tz, encoding, formats, since, until, config, rules, no_redact, no_clock, max_memory, json_out,
            html_out, md_out, otlp_out, ecs_out, export_dir, check, out_format, quiet) -> int:
    """Rebuild every request from the logs and say where each died (verdict) and why (root cause).

    \b
    Examples:
      loganalyzer analyze incident/logs -o report.html --markdown postmortem.md
      loganalyzer analyze client.log access.log error.log crm.log --since 09:00 --until 10:30
      loganalyzer analyze logs/ --json - | jq .summary
      loganalyzer analyze logs/ --check -q || page-oncall
      loganalyzer analyze big/logs --export out/ && loganalyzer report out/ -o report.html

    Exit status: 0 done, 2 bad usage, 3 unreadable input, 4 no request attempt found,
    5 failures found (--check), 8 logs too large for the memory allowed (--max-memory).
    """
    from loganalyzer import printing

    terminal.SETTINGS.quiet = quiet
    json_out, html_out, md_out, otlp_out, ecs_out = _outputs((json_out, html_out, md_out, otlp_out, ecs_out), paths,
                                                             stdout_taken=out_format != "text")
    with terminal.showing_progress():
        a = _analyze(paths, since=since, until=until, rules=rules, redact_secrets=not no_redact,
                     clock_correction=not no_clock, max_memory=max_memory,
                     **_load_options(as_, tz, encoding, formats, config))
    printing.print_analysis(a, roots=tuple(paths))
    if out_format != "text":
        printing.write_stdout(a, out_format)
    if json_out:
        a.write_json(json_out if json_out != "-" else sys.stdout)
        terminal.say(f"\nwrote {json_out}")
    if export_dir:
        from loganalyzer import export

        n = export.write(a, export_dir)
        terminal.say(f"wrote {export_dir} ({n:,} attempts)")
    printing.write_reports(a, html_out, md_out, otlp_out, ecs_out)
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
@click.option("--from", "from_dir", type=click.Path(exists=True),
              help="Read a saved export (analyze --export DIR or --json FILE) instead of the logs: its evidence.")
def trace(request_id, paths, as_, tz, encoding, formats, since, until, config, rules, no_redact, no_clock,
          max_memory, from_dir) -> None:
    """Print one request's hop chain: every line of every hop, attempt by attempt, in time order.

    \b
    Examples:
      loganalyzer trace d293cf8d2a2b4dec98adfc250fd2b2d9 incident/logs
      loganalyzer trace '#227' incident/logs       # an attempt without a request id
      loganalyzer trace d293cf8d2a2b4dec98adfc250fd2b2d9 --from analysis.json   # from analyze --json
    """
    from loganalyzer import printing

    if from_dir and paths:
        raise click.UsageError("give either log paths or --from DIR, not both")
    if from_dir:
        from loganalyzer import export

        attempts, lines, redacted = export.trace(from_dir, request_id)
        if attempts.height == 0:
            raise click.ClickException(f"no request {request_id!r} in the export {from_dir}")
        printing.print_trace(attempts.to_pandas(), lines.to_pandas(), redacted)
        return
    if not paths:
        raise click.UsageError("give the logs to read (PATHS), or an export with --from DIR")
    from loganalyzer import progress

    options = _load_options(as_, tz, encoding, formats, config)
    with terminal.showing_progress():
        # A trace reads the parsed entries, which an analysis in batches does not keep.
        a = _analyze(paths, "; or trace from an export (analyze --export DIR, then trace --from DIR)", since=since,
                     until=until, rules=rules, redact_secrets=not no_redact, clock_correction=not no_clock,
                     max_memory=max_memory, whole=True, **options)
        progress.stage("tracing")
        lines = a.trace(request_id)
    if lines.empty:
        raise click.ClickException(f"no request {request_id!r} in these logs")
    req = a.requests
    mine = req[(req["request_id"] == request_id) | (req["logical_id"] == request_id)
               | (("#" + req["attempt_id"].astype(str)) == request_id)]
    printing.print_trace(mine, lines, a.redacted)


@cli.command()
@click.argument("json_file", type=click.Path(exists=True))
@click.option("-o", "--output", "html_out", type=_FILE, help="Write the HTML report.")
@click.option("--markdown", "md_out", type=_FILE, help="Write a Markdown postmortem.")
@click.option("--otlp", "otlp_out", type=_FILE, help="Write OpenTelemetry traces (OTLP/JSON).")
@click.option("--ecs", "ecs_out", type=_FILE, help="Write the attempts as ECS NDJSON.")
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
    from loganalyzer import printing, reports

    if not (html_out or md_out or otlp_out or ecs_out):
        raise click.UsageError("say what to write: -o report.html, --markdown postmortem.md, --otlp or --ecs")
    html_out, md_out, otlp_out, ecs_out = _outputs((html_out, md_out, otlp_out, ecs_out), (json_file,))
    from pathlib import Path

    if Path(json_file).is_dir():
        from loganalyzer import export

        data = export.read(json_file)
    else:
        data = reports.read_json(json_file)
    printing.write_reports(data, html_out, md_out, otlp_out, ecs_out)


@cli.group()
def formats() -> None:
    """The format definitions: list them, check a file of your own, or infer one from a log.

    \b
    Examples:
      loganalyzer formats list
      loganalyzer formats suggest app.log > app.toml
      loganalyzer formats check app.toml
      loganalyzer analyze --formats app.toml logs/
    """


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
@click.argument("folder", default=".", type=_DIR)
def init(folder) -> None:
    """Write a commented starter loganalyzer.toml (sources, history, thresholds, outputs) in FOLDER.

    \b
    Examples:
      loganalyzer init                      # ./loganalyzer.toml, which scan finds here or below
      loganalyzer init /etc/loganalyzer && $EDITOR /etc/loganalyzer/loganalyzer.toml
      loganalyzer scan --config /etc/loganalyzer/loganalyzer.toml
    """
    from loganalyzer import scan as scan_mod

    target = scan_mod.init(folder)
    terminal.say(f"wrote {target}: name your log files under [[sources]], then run: loganalyzer scan")


@cli.command()
@click.option("--config", type=_FILE,
              help="The settings file (default: loganalyzer.toml here or above, else "
              "$XDG_CONFIG_HOME/loganalyzer/config.toml).")
@click.option("--json", "json_out", type=_FILE,
              help="Write the night's summary as JSON (- for stdout).")
@click.option("-o", "--output", "html_out", type=_FILE, help="Write the night's HTML report.")
@click.option("--prom", "prom_out", type=_FILE,
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
    from loganalyzer import printing
    from loganalyzer import scan as scan_mod
    from loganalyzer.outputs import as_stdout, check_writable

    outputs = {k: as_stdout(v) for k, v in (("json", json_out), ("html", html_out), ("prom", prom_out)) if v}
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
    printing.print_scan(result)
    if verbose:
        for note in result.notes:
            click.echo(f"note: {printing.shown(note, 300)}", err=True)
    export = result.to_dict()
    if outputs.get("json"):
        result.write_json(outputs["json"] if outputs["json"] != "-" else sys.stdout)
    if outputs.get("html"):
        from loganalyzer.reports import night

        night.write(export, outputs["html"])
        terminal.say(f"wrote {outputs['html']}")
    if outputs.get("prom"):
        from loganalyzer.reports import prom

        prom.write(export, outputs["prom"])
        if outputs["prom"] != "-":
            terminal.say(f"wrote {outputs['prom']}")
    if result.breaches:
        click.get_current_context().exit(errors.ExitStatus.FAILURES)
    if result.lines["read"] and not result.summary()["attempts"] and not result.held_until_next_run:
        click.get_current_context().exit(errors.ExitStatus.NOTHING_TO_ANALYSE)
    return errors.ExitStatus.OK


def main() -> None:
    """Entry point: expected problems print one line; unexpected ones too, unless --debug."""
    debug = "--debug" in sys.argv
    try:
        status = cli(standalone_mode=False, prog_name="loganalyzer")  # also names the completion variable
    except click.exceptions.Abort:  # Ctrl-C inside a click prompt
        click.echo("interrupted", err=True)
        sys.exit(errors.ExitStatus.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except errors.LoganalyzerError as exc:
        if debug:  # the traceback, and still the exit status that says what kind of problem it was
            import traceback

            traceback.print_exc()
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
