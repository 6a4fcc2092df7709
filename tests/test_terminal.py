"""Terminal output: colour only where it belongs, from the rules vocabulary; progress only on a
terminal's stderr; lines fitted to the terminal; -v; control characters never reach the terminal."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
from click.testing import CliRunner

from loganalyzer import terminal
from loganalyzer.cli import cli

from .conftest import SAMPLES

TRAILING = SAMPLES / "trailing-comma" / "logs"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(*args, env=None):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False, env=env)


def on_a_pty(*args, stderr_tty=True, columns=80, env=None):
    """Run the CLI with stdout (and stderr) on a pseudo-terminal ``columns`` wide: (pty bytes, piped stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    environ.update({"TERM": "xterm-256color", **(env or {})})
    p = subprocess.Popen([sys.executable, "-m", "loganalyzer", *map(str, args)], stdout=slave,
                         stderr=slave if stderr_tty else subprocess.PIPE, stdin=subprocess.DEVNULL, env=environ)
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    err = p.stderr.read() if p.stderr else b""
    p.wait(timeout=120)
    os.close(master)
    assert p.returncode == 0, out.decode(errors="replace")[-2000:]
    return out.decode(), err.decode()


def test_colour_decision_follows_the_option_then_no_color_then_force_color():
    tty, pipe = io.StringIO(), io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert terminal.colour_on(tty, "auto", {}) and not terminal.colour_on(pipe, "auto", {})
    assert not terminal.colour_on(tty, "auto", {"NO_COLOR": "1"})
    assert terminal.colour_on(pipe, "auto", {"FORCE_COLOR": "1"})
    assert not terminal.colour_on(pipe, "auto", {"FORCE_COLOR": "0"})
    assert not terminal.colour_on(tty, "auto", {"TERM": "dumb"})
    assert terminal.colour_on(pipe, "always", {"NO_COLOR": "1"})  # the command line wins
    assert not terminal.colour_on(tty, "never", {"FORCE_COLOR": "1"})


def test_piped_output_has_no_escape_and_color_always_colours_the_verdicts():
    plain = run("analyze", TRAILING).output
    assert "\x1b" not in plain and "upstream_crash          144" in plain
    coloured = run("--color", "always", "analyze", TRAILING, env={"COLORTERM": "truecolor"}).output
    # upstream_crash in its vocabulary colour (#c62828), in truecolor
    assert "\x1b[38;2;198;40;40mupstream_crash" in coloured
    assert ANSI.sub("", coloured) == plain  # the same text underneath
    # the option is taken after the command too, and FORCE_COLOR does the same as always
    assert "\x1b[" in run("analyze", TRAILING, "--color", "always").output
    assert "\x1b[" in run("analyze", TRAILING, env={"FORCE_COLOR": "1"}).output
    assert "\x1b" not in run("analyze", TRAILING, "--color", "never", env={"FORCE_COLOR": "1"}).output


def test_verdict_colours_come_from_the_rules_file(tmp_path):
    rules = tmp_path / "colours.toml"
    rules.write_text('[[verdict]]\nname = "upstream_crash"\ngloss = "the CRM dropped the connection"\n'
                     'colour = "#123456"\nplace = "in the upstream"\nanswered = "proxy"\n'
                     'errors_from = ["crm", "nginx_error"]\n', encoding="utf-8")
    out = run("--color", "always", "analyze", TRAILING, "--rules", rules, env={"COLORTERM": "truecolor"}).output
    assert "\x1b[38;2;18;52;86mupstream_crash" in out


def test_verbose_adds_files_offsets_links_rules_and_timings():
    plain = run("analyze", TRAILING).output
    out = run("analyze", "-v", TRAILING).output
    assert "within tolerance" not in plain and "vac is +0.036s from nginx_access" in out
    assert "FILE" in out and "REJECTED" in out  # the per-file table
    assert "How attempts were linked" in out and re.search(r"request_id\s+418", out)
    assert re.search(r"json_malformed:trailing_comma\s+144", out)
    assert re.search(r"Timings: detecting formats [\d.]+ s, reading [\d.]+ s, linking requests", out)
    assert "note: " in out and out.count("note: ") > plain.count("note: ")


def test_control_characters_in_log_text_are_shown_not_obeyed(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for f in TRAILING.iterdir():
        (logs / f.name).write_bytes(f.read_bytes())
    crm = (logs / "crm.log").read_text(encoding="utf-8")
    # the cited cause line of the first failure gets a terminal title sequence and a clear screen
    crm = crm.replace("Unreadable JSON payload", "Unreadable \x1b]0;pwned\x07\x1b[2J\x9b31m JSON payload", 1)
    (logs / "crm.log").write_text(crm, encoding="utf-8")
    for out in (run("analyze", logs).output, run("--color", "always", "analyze", logs).output):
        assert "\x07" not in out and "\x9b" not in out and "\x1b]" not in out and "\x1b[2J" not in out
        assert "Unreadable \\e]0;pwned\\a\\e[2J\\x9b" in out


@pytest.mark.parametrize("color", ["never", "always"])
def test_every_printed_part_is_made_printable(monkeypatch, color):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(terminal, "SETTINGS", terminal.Settings(color=color))
    terminal.say("request ", ("a\x1b]0;x\x07b", "bold"), " \x9b2J end")
    assert "\x07" not in out.getvalue() and "\x9b" not in out.getvalue() and "\x1b]" not in out.getvalue()
    assert "a\\e]0;x\\ab" in ANSI.sub("", out.getvalue()) and "\\x9b2J end" in out.getvalue()


def test_on_a_terminal_progress_colour_width_and_the_message():
    out, _ = on_a_pty("analyze", TRAILING, columns=80)
    assert "reading crm.log" in out and "linking requests" in out  # progress, on the terminal's stderr
    summary = ANSI.sub("", out[out.rindex("Sources"):]).replace("\r", "")
    assert max(len(line) for line in summary.split("\n")) <= 80
    # the evidence line shows the message (not the Spring Boot prefix), with its path relative to the folder
    assert re.search(r"\n {6}crm\.log:\d+  ERROR Unreadable JSON payload", summary)
    assert "samples/trailing-comma" not in summary
    assert "\x1b[38;5;" in out[out.rindex("Sources"):]  # verdict colours, in the terminal's 256 colours


@pytest.mark.parametrize("args,stages", [
    (["parse", TRAILING], ["detecting formats"]),
    (["trace", "d293cf8d2a2b4dec98adfc250fd2b2d9", TRAILING], ["linking requests", "tracing"]),
])
def test_parse_and_trace_show_progress_on_a_terminal_only(args, stages):
    out, _ = on_a_pty(*args)
    drawn = ANSI.sub("", out)
    # the bytes of each file (rich's download column: "12.3/45.6 kB"), then the stages
    assert re.search(r"reading crm\.log.*\d+(\.\d+)?/\d+(\.\d+)? kB", drawn)
    assert all(stage in drawn for stage in stages)
    piped = subprocess.run([sys.executable, "-m", "loganalyzer", *map(str, args)], capture_output=True, text=True,
                           timeout=120, check=True)
    assert piped.stderr == "" and "reading crm.log" not in piped.stdout


def test_no_progress_when_stderr_is_not_a_terminal_and_no_colour_with_no_color():
    out, err = on_a_pty("analyze", TRAILING, stderr_tty=False, env={"NO_COLOR": "1"})
    assert err == ""
    assert "\x1b" not in out and "upstream_crash" in out


def test_each_leading_cause_with_a_trigger_of_its_own_is_named():
    out = run("analyze", SAMPLES / "mixed-faults" / "logs").output
    assert "its scope: upstream_down explains 18 % of the failures (26 of 141 failed attempts)" in out
    assert re.search(r"db_pool_exhausted: [\d.]+ s after upstream restart — \S+crm\.log:\d+ \(explains 11 %", out)


@pytest.mark.parametrize("args", [["analyze", "-q"], ["analyze", "--json", "-"]])
def test_quiet_and_data_on_stdout_keep_the_human_text_apart(args):
    result = CliRunner().invoke(cli, [*args, str(TRAILING)], catch_exceptions=False)
    if "-q" in args:
        assert result.output == ""
    else:
        assert result.stdout.lstrip().startswith("{") and "Where they died" in result.stderr


def test_every_invisible_character_in_an_export_is_found_and_shown():
    """visible_data checks the export's JSON text first: each invisible character (raw there, or
    escaped by JSON below U+0020) must still be found."""
    from loganalyzer import redact

    plain = {"requests": [{"text": "GET /x\tok\nnext"}], "n": 3}
    assert redact.visible_data(plain) is plain
    for lo, hi in redact._INVISIBLE:
        for cp in {lo, hi}:
            data = {"requests": [{"evidence": [{"text": f"a{chr(cp)}b"}]}]}
            shown = redact.visible_data(data)["requests"][0]["evidence"][0]["text"]
            assert chr(cp) not in shown and shown.startswith("a\\"), hex(cp)


def test_an_export_read_from_json_text_knows_whether_it_holds_invisible_characters(tmp_path):
    """reports.export and read_json search the JSON text they decode, so rendering does not encode
    the export again; what is shown is the same as for a plain dict."""
    import json

    from loganalyzer import redact, reports

    clean = {"loganalyzer": "2", "requests": [{"text": "GET /x\tok"}]}
    dirty = {"loganalyzer": "2", "requests": [{"text": "GET /x\x1b]0;owned\x07 \u202e"}]}
    for data, invisible in ((clean, False), (dirty, True)):
        path = tmp_path / f"{invisible}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        loaded = reports._loaded(path.read_text(encoding="utf-8"))
        assert loaded == data and loaded.invisible is invisible
        shown = redact.visible_data(loaded)
        assert shown == redact.visible_data(dict(data))
        assert (shown is loaded) is not invisible
    assert redact.visible_data(reports._loaded(json.dumps(dirty)))["requests"][0]["text"] == \
        "GET /x\\e]0;owned\\a \\u202e"
    # A flag that says clean is trusted: that is what lets a large export skip the encoding.
    trusted = reports.Export(dirty)
    trusted.invisible = False
    assert redact.visible_data(trusted) is trusted
