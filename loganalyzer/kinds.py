"""Which hop wrote a log: decided from what its lines are about, not from its layout alone.

A Python ``logging`` or logback layout is used by clients and servers alike, and a JSON log can be
anybody's. So a file read by an application format (one whose definition says ``kind = "app"``, or
names a default kind) is classified by its content: lines about **outbound** calls make it the
client's (``vac``), lines about **inbound** handling the upstream's (``crm``). The evidence patterns
are data (``loganalyzer/rules/kinds.toml``); each classification keeps the evidence it rests on and
a confidence, which the per-file table shows.

Access and error lines are the proxy's by the format that reads them: those kinds are not scored.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

import polars as pl

from loganalyzer.parsers.formats import KINDS

#: Sides an application log can be on.
APP_SIDES = ("vac", "crm")
#: Share of sampled entries with a side's evidence for it to count at all.
MIN_SHARE = 0.01


@dataclass(frozen=True)
class Evidence:
    side: str
    what: str
    column: str
    pattern: str
    weight: float = 1.0


@dataclass
class KindDecision:
    """A file's kind, why, and how sure: ``confidence`` is 1.0 when only one side has evidence."""

    kind: str
    confidence: float
    evidence: str  # "retries a call (12 %), calls an absolute URL (40 %)"
    scores: dict[str, float]
    by_content: bool  # False: the format's own kind was kept (no evidence, or a proxy format)

    def describe(self) -> str:
        if not self.by_content:
            return self.evidence
        return f"{self.kind} ({self.confidence:.0%}): {self.evidence}"


def load_evidence() -> list[Evidence]:
    """The built-in evidence patterns (``rules/kinds.toml``)."""
    text = resources.files("loganalyzer").joinpath("rules/kinds.toml").read_text(encoding="utf-8")
    return [Evidence(**e) for e in tomllib.loads(text)["evidence"]]


_EVIDENCE: list[Evidence] | None = None


def evidence_patterns() -> list[Evidence]:
    global _EVIDENCE
    if _EVIDENCE is None:
        _EVIDENCE = load_evidence()
    return _EVIDENCE


def classify(entries: pl.DataFrame, format_kind: str) -> KindDecision:
    """The kind of a file from a sample of its parsed entries (``message``, ``logger``, ``thread``, ``url``).

    ``format_kind`` is what the format's definition says (``app`` when it says nothing): proxy
    kinds are kept as they are; an application log goes to the side its lines show; with no
    evidence either way the format's own kind stands, or ``other`` for ``app``: a log that is not a hop.
    """
    if format_kind in ("nginx_access", "nginx_error"):
        return _by_format(format_kind)
    exprs = _evidence_exprs(entries.columns)
    if not exprs:
        return _fallback(format_kind)
    return _decide(entries.select(exprs).row(0, named=True), format_kind)


def classify_many(frames: list[pl.DataFrame], format_kind: str) -> list[KindDecision]:
    """:func:`classify` for the entries of many files (frames of one schema), in one pass: the
    evidence is scored per file by one group-by, not by a query per file."""
    if format_kind in ("nginx_access", "nginx_error"):
        return [_by_format(format_kind)] * len(frames)
    exprs = _evidence_exprs(frames[0].columns) if frames else []
    if not exprs:
        return [_fallback(format_kind) for _ in frames]
    heights = [f.height for f in frames]
    part = pl.Series("__part", [i for i, h in enumerate(heights) for _ in range(h)], dtype=pl.Int64)
    rows = pl.concat(frames, how="vertical", rechunk=False).with_columns(part).group_by("__part").agg(exprs)
    found = {r.pop("__part"): r for r in rows.iter_rows(named=True)}
    return [_decide(found.get(i, {}), format_kind) for i in range(len(frames))]


def _by_format(format_kind: str) -> KindDecision:
    return KindDecision(format_kind, 1.0, "access/error lines of the proxy (by format)", {}, False)


def _evidence_exprs(columns: list[str]) -> list[pl.Expr]:
    """The share of entries showing each piece of evidence, and the share showing any of a side's."""
    per_side: dict[str, pl.Expr] = {}
    shares = []
    for ev in evidence_patterns():
        if ev.column not in columns:
            continue
        match = pl.col(ev.column).cast(pl.String).str.contains(ev.pattern).fill_null(False)
        shares.append(match.mean().alias(f"{ev.side}|{ev.what}"))
        per_side[ev.side] = per_side[ev.side] | match if ev.side in per_side else match
    return [*shares, *[e.mean().alias(f"__any_{s}") for s, e in per_side.items()]] if shares else []


def _decide(row: dict[str, float | None], format_kind: str) -> KindDecision:
    """The kind from the evidence shares of :func:`_evidence_exprs` (an empty row: no entries)."""
    hits: dict[str, list[tuple[str, float]]] = {s: [] for s in APP_SIDES}
    weights = {(e.side, e.what): e.weight for e in evidence_patterns()}
    scores = {s: 0.0 for s in APP_SIDES}
    for key, share in row.items():
        if key.startswith("__any_") or not share:
            continue
        side, what = key.split("|", 1)
        hits[side].append((what, share))
        scores[side] += share * weights[(side, what)]
    # A side's strength: the share of entries showing any of its evidence, how varied it is, and
    # its heaviest pattern (what a line means can outweigh what any program's lines show).
    strength = {s: (row.get(f"__any_{s}") or 0.0) * (1 + 0.25 * (len(hits[s]) - 1))
                * max(weights[(s, what)] for what, _ in hits[s]) if hits[s] else 0.0
                for s in APP_SIDES}
    strength = {s: v for s, v in strength.items() if v >= MIN_SHARE}
    if not strength:
        return _fallback(format_kind)
    kind = max(strength, key=strength.get)
    total = sum(strength.values())
    confidence = strength[kind] / total
    text = ", ".join(f"{what} ({share:.0%})" for what, share in sorted(hits[kind], key=lambda h: -h[1])[:3])
    return KindDecision(kind, confidence, text, {s: round(v, 4) for s, v in strength.items()}, True)


def _fallback(format_kind: str) -> KindDecision:
    if format_kind in KINDS:
        return KindDecision(format_kind, 0.5, f"no line says which side it is on; the format's kind ({format_kind})",
                            {}, False)
    return KindDecision("other", 0.0, "no line is about an HTTP call made or handled: not a hop of the request "
                        "(read, not correlated)", {}, False)
