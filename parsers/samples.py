"""Sample lines carried by format definitions, checked by parsing them (as lnav checks its formats).

A definition's ``samples`` are real lines the format must read. Each one must parse into exactly one
entry (``entries = N`` for a line holding a batch of N records) with no rejected line, and the (first)
entry must hold every ``expect``-ed value (compared as text, so
``expect = {status = 502}`` and ``{status = "502"}`` are the same check; ``ts`` is compared as an
ISO-8601 UTC string).
"""

from __future__ import annotations

import polars as pl

from . import engine
from .formats import Compiled


def check_samples(fmt: Compiled) -> list[str]:
    """Problems with ``fmt``'s own sample lines, one sentence each; empty when all read as promised."""
    problems = []
    for i, sample in enumerate(fmt.definition.samples):
        where = f"{fmt.definition.origin}: format {fmt.name!r}: sample {i + 1}"
        lines = pl.Series("text", sample["line"].split("\n"), dtype=pl.String)
        try:
            result = engine.parse(lines, fmt, fmt.zone or "UTC")
        except Exception as exc:  # noqa: BLE001 - a sample that crashes the engine is reported, not raised
            problems.append(f"{where}: parsing raised {type(exc).__name__}: {exc}")
            continue
        if result.rejected or result.parsed != sample.get("entries", 1):
            reasons = "; ".join(result.rejects["reason"].to_list()[:2])
            problems.append(f"{where}: read as {result.parsed} entries and {result.rejected} rejected line(s)"
                            + (f" ({reasons})" if reasons else ""))
            continue
        row = result.entries.row(0, named=True)
        for column, want in (sample.get("expect") or {}).items():
            got = row.get(column)
            if column == "ts" and got is not None:
                got = got.strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")
                want = str(want).replace("+00:00", "Z")
            if got is None or str(got) != str(want):
                problems.append(f"{where}: {column} is {got!r}, expected {want!r}")
    return problems
