"""README.md's two opening commands are the ones users and CI run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent.parent


def _opening_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```", 2)[1]
    return [line for line in block.splitlines()[1:] if line.strip()]


def test_the_readme_opens_with_two_commands_and_ci_runs_the_second():
    commands = _opening_block()
    assert len(commands) == 2
    assert commands[1] == "./scripts/test"
    ci = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.strip() and not line.startswith("#")]
    assert ci[-1] == commands[1]
    assert ci == ["set -euo pipefail", commands[1]]  # nothing else: the command, exactly


def test_the_test_script_installs_what_the_tests_need():
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    for package in ("nginx", "openjdk-17-jdk-headless", "chromium", "liblogback-java", "tzdata"):
        assert package in script
    assert "pip install" in script and "pytest" in script
