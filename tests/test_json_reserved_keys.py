"""JSON keys named like the engine's own columns (line, text, file, ts) become <key>_field, never a crash."""

from __future__ import annotations

import loganalyzer
from tests.conftest import accounted


def test_a_json_log_with_line_and_file_keys_reads(write):
    lines = [
        '{"time": "2026-11-26T09:14:46.070Z", "level": "error", "msg": "boom", "line": 42, "file": "app.go", "text": "x"}',
        '{"time": "2026-11-26T09:14:47.070Z", "level": "info", "msg": "ok", "line": 43, "file": "app.go", "text": "y"}',
    ]
    logs = loganalyzer.load(write("app.json", "\n".join(lines) + "\n"))
    kind = logs.stats.iloc[0]["kind"]
    df = logs.polars[kind]
    assert df.height == 2 and df["line"].to_list() == [1, 2]
    assert df["line_field"].cast(str).to_list() == ["42", "43"]
    accounted(logs)
