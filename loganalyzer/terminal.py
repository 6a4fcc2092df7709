"""Human output on a terminal: colours, width, progress. The command line's printing goes through here.

What a terminal gets and a pipe does not:

- colour, decided by ``--color auto|always|never``; with ``auto`` (the default) ``NO_COLOR``
  turns it off and ``FORCE_COLOR`` on (https://no-color.org), else only a terminal gets it;
- lines fitted to the terminal's width: wrapped, or cut with an ellipsis where a line is a
  table row or a quoted log line;
- progress on stderr (bytes of each file, then the stages), which disappears when done.

Piped output is the plain text, unwrapped, byte for byte what it was before this module: scripts
and ``grep`` see whole lines. Colours come from the rules vocabulary (a verdict's ``colour``),
never from a table here; rich turns them into what the terminal can show (truecolor, 256 or 16
colours). rich is imported only when a terminal or forced colour needs it, so a piped run and
``--help`` do not pay for it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from typing import IO, Any

import click

from loganalyzer import progress

#: A piece of a line: plain text, or (text, style) where style is a colour ("#c62828") or
#: words rich understands ("bold", "dim").
Part = str | tuple[str, str]

COLOR_CHOICES = ("auto", "always", "never")


class Settings:
    """The display settings of one run (a plain class: a dataclass compiles its methods at import,
    which --help would pay for)."""

    def __init__(self, color: str = "auto", verbose: int = 0, quiet: bool = False, to_stderr: bool = False) -> None:
        self.color = color
        self.verbose = verbose
        self.quiet = quiet
        #: Human text goes to stderr when stdout carries data (an output named "-").
        self.to_stderr = to_stderr
        #: Stage timings of the last run, for -v.
        self.timings = progress.Timings()


SETTINGS = Settings()


def human_stream() -> IO[str]:
    return sys.stderr if SETTINGS.to_stderr else sys.stdout


def is_tty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def colour_on(stream: IO[str], mode: str | None = None, environ: dict[str, str] | None = None) -> bool:
    """Whether ``stream`` gets colour: the option first, then NO_COLOR, then FORCE_COLOR, then "is it a terminal"."""
    mode = mode or SETTINGS.color
    env = os.environ if environ is None else environ
    if mode == "always":
        return True
    if mode == "never":
        return False
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR") not in (None, "", "0", "false"):
        return True
    return is_tty(stream) and env.get("TERM") != "dumb"


def width(stream: IO[str]) -> int | None:
    """The terminal's width in columns, or None when ``stream`` is not a terminal (nothing is fitted)."""
    if not is_tty(stream):
        return None
    return max(shutil.get_terminal_size((100, 24)).columns, 20)


_consoles: dict[tuple[int, bool, int | None], Any] = {}


def _console(stream: IO[str], colour: bool, cols: int | None):
    """A rich console for ``stream`` (kept while the stream lives: CliRunner swaps streams per run)."""
    key = (id(stream), colour, cols)
    found = _consoles.get(key)
    if found is not None and found.file is stream:
        return found
    from rich.console import Console

    console = Console(file=stream, force_terminal=colour, no_color=not colour, color_system="auto" if colour else None,
                      width=cols or 10_000, highlight=False, markup=False, emoji=False, soft_wrap=cols is None)
    _consoles.clear()
    _consoles[key] = console
    return console


def say(*parts: Part, indent: int = 0, fit: str = "wrap", err: bool = False) -> None:
    """Print one line made of ``parts``; ``indent`` leading spaces (kept on wrapped lines too).

    ``fit`` says what a line too wide for the terminal does: "wrap" (hanging indent) or "cut"
    (an ellipsis at the edge). Off a terminal neither happens.
    """
    if SETTINGS.quiet:
        return
    from loganalyzer.redact import printable

    # whatever a line holds (a path, a request id, a detail read from a log), it cannot act on the terminal
    parts = tuple(printable(p, keep_newlines=True) if isinstance(p, str)
                  else (printable(p[0], keep_newlines=True), p[1]) for p in parts)
    stream = sys.stderr if err else human_stream()
    colour = colour_on(stream)
    cols = width(stream)
    if not colour and cols is None:
        click.echo(" " * indent + "".join(p if isinstance(p, str) else p[0] for p in parts), file=stream)
        return
    from rich.text import Text

    text = Text.assemble(*[p if isinstance(p, str) else (p[0], p[1]) for p in parts])
    console = _console(stream, colour, cols)
    if cols is None:  # colour forced into a pipe: whole lines, as without colour
        console.print(Text(" " * indent) + text, soft_wrap=True)
        return
    if fit == "cut":
        text.truncate(max(cols - indent, 1), overflow="ellipsis")
        lines = [text]
    else:  # lines after the first hang two columns deeper
        lines = list(text.wrap(console, max(cols - indent, 10)))
        if len(lines) > 1:
            rest = text[len(lines[0].plain):]
            rest = rest[len(rest.plain) - len(rest.plain.lstrip()):]
            lines = lines[:1] + list(rest.wrap(console, max(cols - indent - 2, 10)))
    for n, line in enumerate(lines):
        line.rstrip()
        console.print(Text(" " * (indent + (2 if n else 0))) + line, soft_wrap=True)


class TerminalProgress:
    """A :class:`progress.Listener` drawing on stderr: one bar per file (bytes), then the stage.

    Used only when stderr is a terminal; it leaves nothing on the screen when done. It also keeps
    stage timings (for ``-v``).
    """

    def __init__(self, timings: progress.Timings) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )
        from rich.text import Text

        def files_only(column):
            """A column drawn for files only (a stage has no bytes to count)."""
            render = column.render
            column.render = lambda task: Text("") if task.fields.get("stage") else render(task)
            return column

        self.timings = timings
        console = _console(sys.stderr, colour_on(sys.stderr), width(sys.stderr))
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), files_only(BarColumn()),
                            files_only(DownloadColumn()), files_only(TransferSpeedColumn()), TimeElapsedColumn(),
                            console=console, transient=True, redirect_stdout=False, redirect_stderr=False)
        self._stage = None

    def __enter__(self) -> TerminalProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timings.end()
        self.bar.stop()

    def file(self, path: str, size: int | None) -> object:
        from loganalyzer.redact import printable

        name = printable(os.path.basename(path) or path)
        return self.bar.add_task(f"reading {name}", total=size, stage=False)

    def advance(self, handle: object, done: int) -> None:
        if handle is not None:
            self.bar.update(handle, completed=done)  # type: ignore[arg-type]

    def stage(self, name: str) -> None:
        self.timings.begin(name)
        if self._stage is not None:
            self.bar.update(self._stage, visible=False)
        if name != "reading":  # reading shows per file
            self._stage = self.bar.add_task(name, total=None, stage=True)


class TimingOnly:
    """A listener that only keeps stage timings (``-v`` off a terminal)."""

    def __init__(self, timings: progress.Timings) -> None:
        self.timings = timings

    def __enter__(self) -> TimingOnly:
        return self

    def __exit__(self, *exc) -> None:
        self.timings.end()

    def file(self, path: str, size: int | None) -> object:
        return None

    def advance(self, handle: object, done: int) -> None:
        pass

    def stage(self, name: str) -> None:
        self.timings.begin(name)


def listener() -> TerminalProgress | TimingOnly | None:
    """What to show progress with for this run: a bar on a terminal's stderr (not with -q), timings
    alone with -v, else nothing."""
    if not SETTINGS.quiet and is_tty(sys.stderr):
        return TerminalProgress(SETTINGS.timings)
    if SETTINGS.verbose:
        return TimingOnly(SETTINGS.timings)
    return None


@contextlib.contextmanager
def showing_progress() -> Iterator[None]:
    """Progress on stderr while the library works, when stderr is a terminal (and stage timings for -v)."""
    shown = listener()
    if shown is None:
        yield
        return
    with shown, progress.reporting(shown):
        yield
