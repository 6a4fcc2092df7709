"""Each exit status of the documented enum, driven through the real command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loganalyzer.errors import ExitStatus
from tests.conftest import SAMPLES


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loganalyzer", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_ok():
    assert run("analyze", str(SAMPLES / "healthy" / "logs"), "--check").returncode == ExitStatus.OK


def test_failures_found_with_check_and_not_without():
    logs = str(SAMPLES / "trailing-comma" / "logs")
    assert run("analyze", logs, "--check").returncode == ExitStatus.FAILURES
    assert run("analyze", logs).returncode == ExitStatus.OK


def test_usage_errors_are_one_line_and_exit_2():
    for args in (["analyze", "--tz", "crm=+25:00", str(SAMPLES / "healthy" / "logs")],
                 ["analyze", "--tz", "crm=Mars/Olympus", str(SAMPLES / "healthy" / "logs")],
                 ["analyze", "--no-such-option", "x"]):
        p = run(*args)
        assert p.returncode == ExitStatus.USAGE, (args, p.stderr)
        assert "Traceback" not in p.stderr


def test_unreadable_input_exits_3(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 100)
    for path in (str(tmp_path / "missing.log"), str(junk)):
        p = run("analyze", path)
        assert p.returncode == ExitStatus.INPUT, p.stderr
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_debug_is_an_option_that_adds_the_traceback_and_keeps_the_status(tmp_path):
    assert "--debug" in run("--help").stdout and "--debug" in run("analyze", "--help").stdout
    for args in (["--debug", "analyze", str(tmp_path / "missing.log")], ["analyze", str(tmp_path / "missing.log"),
                                                                          "--debug"]):
        p = run(*args)
        assert p.returncode == ExitStatus.INPUT, p.stderr
        assert "Traceback" in p.stderr and p.stderr.rstrip().endswith("no such file or directory: "
                                                                      f"{tmp_path / 'missing.log'}")


def test_nothing_to_analyse_exits_4():
    # The healthy error log names no request: nothing tells of an attempt.
    p = run("analyze", str(SAMPLES / "healthy" / "logs" / "error.log"))
    assert p.returncode == ExitStatus.NOTHING_TO_ANALYSE, p.stdout + p.stderr


@pytest.mark.parametrize("member,code", [("OK", 0), ("ERROR", 1), ("USAGE", 2), ("INPUT", 3),
                                         ("NOTHING_TO_ANALYSE", 4), ("FAILURES", 5), ("LOCKED", 6),
                                         ("INTERRUPTED", 130)])
def test_the_enum_is_the_documented_table(member, code):
    assert ExitStatus[member] == code
