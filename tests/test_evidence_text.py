"""The text an attempt's evidence quotes: each line with the lines after it, read back from its file."""

from __future__ import annotations

import polars as pl


def test_quoted_evidence_equals_joining_each_lines_span():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from loganalyzer.analysis import _quoted

    texts = st.dictionaries(st.integers(1, 40), st.sampled_from(["", "a", "b c", "\n", "x\n"]), max_size=30)

    @settings(max_examples=200, deadline=None)
    @given(texts, st.lists(st.integers(1, 40), min_size=1, max_size=20), st.sampled_from([1, 2, 8]))
    def check(got, lines, span):
        out = _quoted("f.log", pl.Series(lines, dtype=pl.Int64), got, span)
        expected = {n: "\n".join(got.get(n + i, "") for i in range(span)).rstrip("\n") for n in lines}
        assert dict(zip(out["line"].to_list(), out["text"].to_list(), strict=True)) == expected
        assert out["line"].to_list() == list(dict.fromkeys(lines)) and set(out["file"]) == {"f.log"}

    check()
