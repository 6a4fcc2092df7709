"""Layouts any language writes (kind "app", multiline "any") read Java and Python traces alike."""

from __future__ import annotations

import polars as pl
from loganalyzer.parsers import engine, formats


def test_each_entry_s_trace_is_read_in_its_own_language():
    d = next(x for x in formats.builtin_definitions() if x.name == "go_log")
    assert d.multiline_mode == "any"
    lines = pl.Series([
        "2026/11/26 09:14:46 handling request", "com.example.Boom: bad", "\tat com.example.A.b(A.java:1)",
        "Caused by: java.io.IOException: root", "\tat x.Y.z(Y.java:2)",
        "2026/11/26 09:14:47 next", "Traceback (most recent call last):", '  File "a.py", line 1, in <module>',
        "ValueError: nope", "2026/11/26 09:14:48 plain"])
    r = engine.parse(lines, formats.compile_definition(d), "UTC")
    rows = r.entries.select("exception", "root_cause", "root_cause_message").rows()
    assert rows == [("com.example.Boom", "java.io.IOException", "root"), ("ValueError", "ValueError", "nope"),
                    (None, None, None)]
    assert r.lines == r.parsed + r.continuation + r.rejected
