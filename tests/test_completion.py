"""Shell completion (click's): the scripts are produced, and completion answers with commands,
option values, zone names and kind:format specs, without reading any log."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def complete(shell: str, words: str, cword: int | None = None) -> list[str]:
    """What the completion script gets back for ``words`` (the word being completed is the last)."""
    parts = words.split(" ")
    env = {**os.environ, "_LOGANALYZER_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(parts) - 1 if cword is None else cword)}
    out = subprocess.run([sys.executable, "-m", "loganalyzer"], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    if shell == "bash":  # "type,value" lines
        return [line.partition(",")[2] for line in out.splitlines()]
    lines = out.splitlines()  # zsh: type, value, help, one per line
    return [lines[i + 1] for i in range(0, len(lines), 3)]


@pytest.mark.parametrize("shell,marker", [("bash", "complete -o nosort -F _loganalyzer_completion loganalyzer"),
                                          ("zsh", "#compdef loganalyzer"), ("fish", "complete --no-files")])
def test_the_completion_script_is_produced(shell, marker):
    env = {**os.environ, "_LOGANALYZER_COMPLETE": f"{shell}_source"}
    out = subprocess.run([sys.executable, "-m", "loganalyzer"], env=env, capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert marker in out and "_LOGANALYZER_COMPLETE" in out


def test_command_names_complete():
    assert complete("bash", "loganalyzer an") == ["analyze"]
    assert {"analyze", "parse", "trace", "report", "formats"} <= set(complete("bash", "loganalyzer "))


def test_option_values_complete():
    assert complete("bash", "loganalyzer analyze --color ") == ["auto", "always", "never"]
    assert complete("bash", "loganalyzer analyze --format nd") == ["ndjson"]
    assert "Europe/Berlin" in complete("zsh", "loganalyzer analyze --tz Europe/Be")
    assert complete("zsh", "loganalyzer analyze --tz crm=Asia/Shang") == ["crm=Asia/Shanghai"]
    assert "crm=" in complete("zsh", "loganalyzer analyze --tz cr")
    assert {"crm:spring_boot_2=", "crm:spring_boot_3="} <= set(complete("zsh", "loganalyzer analyze --as crm:spring"))
