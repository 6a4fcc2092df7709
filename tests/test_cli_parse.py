"""`loganalyzer parse`: the per-file report, --out, stdin, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
from click.testing import CliRunner

from loganalyzer.cli import cli

from .conftest import DATA

ACCESS = '10.0.0.1 - - [24/Nov/2026:10:15:02 +0300] "GET /a HTTP/1.1" 200 5 "-" "curl/8"\n'


def run(*args, input=None):
    return CliRunner().invoke(cli, list(map(str, args)), input=input, catch_exceptions=False)


def test_report_names_kind_format_counts_range_and_zone():
    result = run("parse", DATA / "lnav" / "logfile_shop_access_log.0", DATA / "spring-boot" / "actuator-docs-sample.log")
    assert result.exit_code == 0
    out = result.output
    assert "nginx_access  combined_xff (100%)" in out
    assert "2019-01-22 00:26:14.000" in out and "offset in each line" in out
    assert "crm           spring_boot_2" in out and "assumed" in out
    assert "note:" in out and "--tz crm=Area/City" in out
    assert "rejected lines: 8" in out and "before the first spring_boot_2 entry" in out


def test_out_formats_round_trip(tmp_path):
    src = DATA / "lnav" / "logfile_shop_access_log.0"
    for suffix in ("parquet", "csv", "jsonl"):
        out = tmp_path / f"entries.{suffix}"
        result = run("parse", src, "--out", out)
        assert result.exit_code == 0 and "wrote 1,000 entries" in result.output
        if suffix == "parquet":
            df = pd.read_parquet(out)
        elif suffix == "csv":
            df = pd.read_csv(out)
        else:
            df = pd.DataFrame([json.loads(line) for line in out.read_text().splitlines()])
        assert len(df) == 1000 and df["status"].astype(int).sum() > 0
        assert {"ts", "source", "file", "line", "message"} <= set(df.columns)


def test_stdin_with_dash():
    result = run("parse", "-", input=ACCESS * 3)
    assert result.exit_code == 0 and "-  " in result.output and "combined (100%)" in result.output


def test_bad_options_and_inputs_are_one_line_errors(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 10)
    cases = [
        (["parse", junk], "matches no known format"),
        (["parse", tmp_path / "missing.log"], "no such file or directory"),
        (["parse", junk, "--tz", "nonsense"], "unknown time zone 'nonsense'"),
        (["parse", junk, "--as", "crm"], "expected KIND[:FORMAT]=PATH"),
        (["parse", DATA / "lnav" / "logfile_access_log.0", "--out", tmp_path / "x.xlsx"], "unknown file type .xlsx"),
    ]
    for args, message in cases:
        proc = subprocess.run([sys.executable, "-m", "loganalyzer", *map(str, args)], capture_output=True, text=True)
        assert proc.returncode != 0, args
        assert message in proc.stderr, (args, proc.stderr)
        # One "Error: ..." line (click adds its usage hint above it for option errors), no traceback.
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("Error: "), proc.stderr


def test_bad_formats_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "f.toml"
    bad.write_text('name = "x"\nkind = "proxy"\nsyntax = "nginx"\npattern = "$status"\n')
    proc = subprocess.run([sys.executable, "-m", "loganalyzer", "parse", str(DATA / "lnav" / "logfile_access_log.0"),
                           "--formats", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "kind must be one of vac, nginx_access, nginx_error, crm" in proc.stderr
