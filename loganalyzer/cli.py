"""Command line: parses options, calls the library, prints. Nothing else lives here."""

from __future__ import annotations

import sys

import click
import pandas as pd

from loganalyzer import ingest
from loganalyzer.parsers.formats import KINDS


def _pairs(values: tuple[str, ...], option: str, what: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key or not val:
            raise click.BadParameter(f"expected {what}, got {v!r}", param_hint=option)
        out[key] = val
    return out


def _load_options(as_, tz, encoding, formats) -> dict:
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
    return {"tz": _pairs(tz, "--tz", "KIND=Area/City or PATH=Area/City"), "as_": as_map,
            "encoding": enc, "formats": list(formats)}


def source_options(f):
    """Options every command that reads logs shares."""
    f = click.option("--formats", "formats", multiple=True, type=click.Path(dir_okay=False),
                     help="TOML file with more format definitions (repeatable).")(f)
    f = click.option("--encoding", multiple=True, metavar="[KIND=|PATH=]CODEC",
                     help="Text encoding, for all files or one kind/file (default utf-8).")(f)
    f = click.option("--tz", multiple=True, metavar="KIND=ZONE",
                     help=f"Zone of lines without an offset, per kind ({', '.join(KINDS)}) or file path.")(f)
    f = click.option("--as", "as_", multiple=True, metavar="KIND[:FORMAT]=PATH",
                     help="Read PATH as this kind (and format) instead of detecting it.")(f)
    f = click.option("--since", help="Drop entries before this time (ISO-8601; UTC unless an offset is given).")(f)
    f = click.option("--until", help="Drop entries after this time.")(f)
    return f


def _short_ts(ts) -> str:
    if ts is None or pd.isna(ts):
        return "-"
    return pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def print_sources(logs: ingest.Logs, samples: int = 3) -> None:
    stats = logs.stats
    rows = [("FILE", "KIND", "FORMAT", "LINES", "PARSED", "CONT", "REJECTED", "FIRST (UTC)", "LAST (UTC)", "ZONE")]
    for r in stats.itertuples():
        fmt = "-" if pd.isna(r.format) or r.format is None else f"{r.format} ({r.match_rate:.0%})"
        zone = r.zone_source if not r.zone or pd.isna(r.zone) else f"{r.zone} ({r.zone_source})"
        rows.append((r.file, r.kind if isinstance(r.kind, str) else "-", fmt, f"{r.lines:,}", f"{r.parsed:,}",
                     f"{r.continuation:,}", f"{r.rejected:,}", _short_ts(r.first_ts), _short_ts(r.last_ts),
                     zone or "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) if i < 3 else str(c).rjust(w) if i < 7 else str(c).ljust(w)
                             for i, (c, w) in enumerate(zip(row[:-1], widths, strict=True))) + "  " + row[-1])
    for note in logs.notes:
        click.echo(f"note: {note}")
    if len(logs.rejects) and samples:
        click.echo(f"\nrejected lines: {len(logs.rejects):,} (first {samples} per file)")
        for file, group in logs.rejects.groupby("file", sort=False):
            for r in group.head(samples).itertuples():
                text = r.text if len(r.text) <= 100 else r.text[:97] + "..."
                click.echo(f"  {file}:{r.line}: {r.reason}: {text!r}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loganalyzer")
def cli() -> None:
    """Line up client, Nginx and Spring Boot logs and say where each request died, and why."""


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@source_options
@click.option("--out", type=click.Path(dir_okay=False), help="Write the parsed entries (.parquet, .csv, .jsonl).")
@click.option("--samples", default=3, show_default=True, help="Rejected lines to show per file.")
def parse(paths, as_, tz, encoding, formats, since, until, out, samples) -> None:
    """Parse log files and report, per file, its kind, format, line counts and time range."""
    logs = ingest.load(paths, since=since, until=until, **_load_options(as_, tz, encoding, formats))
    print_sources(logs, samples)
    if out:
        n = logs.write(out)
        click.echo(f"wrote {n:,} entries to {out}")


def main() -> None:
    """Entry point: expected problems print one line; unexpected ones too, unless --debug."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ingest.LoadError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"Error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(1)
