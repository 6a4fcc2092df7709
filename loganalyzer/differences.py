"""What sets the failing requests apart: each leading cause's failures against the successes beside them.

For a cause, its failed attempts are compared with the successful attempts **of the same endpoints
and time span** over every dimension the logs carry: the attempt's own fields (user agent — a client
release —, client and upstream address, retry number, hour) and the low-cardinality fields of the
lines linked to it (an access log's request length or server name, the upstream's thread pool, a
client's own key=value fields). Numbers are put in power-of-two buckets, thread names lose their
numbers (``http-nio-8080-exec-7`` is pool ``http-nio-8080-exec-#``).

For each dimension value the 2x2 table (failed/ok x has/has not) gets a one-sided Fisher exact test;
a value is reported only when it is a strong separator (shares differ by at least
``MIN_SHARE_GAP``) and significant after a Bonferroni correction over every value tried. When no
dimension separates the groups, nothing is said, rather than ranking noise.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import timedelta

import polars as pl

from loganalyzer import redact, summary

#: Shares (failed minus ok) below this are not worth a sentence.
MIN_SHARE_GAP = 0.5
#: Family-wise significance level, before the Bonferroni correction.
ALPHA = 0.001
#: Dimensions with more values than this are identifiers, not dimensions.
MAX_VALUES = 40
#: Leading causes examined.
MAX_CAUSES = 5


def _dimension_rules() -> dict:
    import tomllib
    from importlib import resources

    return tomllib.loads(resources.files("loganalyzer").joinpath("rules/dimensions.toml").read_text("utf-8"))


@dataclass
class Separator:
    """One dimension value that sets a cause's failures apart."""

    cause: str
    dimension: str
    value: str
    failed_with: int
    failed: int
    ok_with: int
    ok: int
    p_value: float
    sentence: str

    def to_dict(self) -> dict:
        return asdict(self)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(a: int, b: int, c: int, d: int) -> float:
    """One-sided Fisher exact p-value that the first row has the value more often than the second.

    Table: ``[[a, b], [c, d]]`` = failed with/without the value, ok with/without it.
    """
    row1, col1, n = a + b, a + c, a + b + c + d
    lo, hi = a, min(row1, col1)
    if hi - lo > 20_000:  # large counts: the normal approximation is exact enough and bounded in time
        p1, p2 = a / max(row1, 1), c / max(c + d, 1)
        p = col1 / n
        se = math.sqrt(max(p * (1 - p) * (1 / max(row1, 1) + 1 / max(c + d, 1)), 1e-300))
        return 0.5 * math.erfc((p1 - p2) / se / math.sqrt(2))
    denom = _log_comb(n, col1)
    total = 0.0
    for x in range(lo, hi + 1):
        total += math.exp(_log_comb(row1, x) + _log_comb(n - row1, col1 - x) - denom)
    return min(1.0, total)


def _share(n: int, of: int) -> str:
    if n == of:
        return f"all {of:,}"
    if n == 0:
        return f"none of the {of:,}"
    return f"{n:,} of the {of:,}"


def _bucket(values: pl.Expr) -> pl.Expr:
    """Numbers as power-of-two ranges: 600 -> "512-1023"."""
    v = values.cast(pl.Float64)
    lo = (pl.lit(2.0).pow(v.clip(1, None).log(2).floor())).cast(pl.Int64)
    return pl.when(v.is_null()).then(None).when(v < 1).then(pl.lit("0")).otherwise(
        pl.format("{}-{}", lo, lo * 2 - 1))


def all_dimensions(requests: pl.DataFrame, links: pl.DataFrame | None, frames: dict[str, pl.DataFrame]
                   ) -> pl.DataFrame:
    """Every request-side dimension value each attempt has, ``attempt_id, dimension, value``."""
    rules = _dimension_rules()
    derived = {"hour": pl.col("ts").dt.strftime("%Y-%m-%d %H:00 UTC")}
    own = requests.select("attempt_id", *[
        (derived[col] if col in derived else pl.col(col).cast(pl.String)).alias(name)
        for name, col in rules["attempt"].items() if col in derived or col in requests.columns])
    parts = [own.unpivot(index="attempt_id", variable_name="dimension", value_name="value")]
    by_kind = {r["kind"]: r for r in rules.get("source", [])}
    if links is not None and links.height:
        for kind, df in frames.items():
            rule = by_kind.get(kind)
            mine = links.filter(pl.col("kind") == kind).select("attempt_id", "row")
            if rule is None or mine.height == 0:
                continue
            include = re.compile(rule["include"])
            cols = [c for c, t in df.schema.items() if include.match(c) and not redact.secret_field(c)
                    and (t in (pl.String, pl.Categorical) or t.is_numeric())]
            if not cols:
                continue
            digits = set(rule.get("mask_digits", []))
            rows = df.with_row_index("row").select("row", *[
                (pl.col(c).cast(pl.String).str.replace_all(r"\d+", "#") if c in digits
                 else _bucket(pl.col(c)) if df.schema[c].is_numeric() else pl.col(c).cast(pl.String)
                 ).alias(f"{kind}.{c}") for c in cols])
            rows = mine.join(rows, on="row").drop("row")
            parts.append(rows.unpivot(index="attempt_id", variable_name="dimension", value_name="value"))
    return pl.concat(parts, how="vertical_relaxed").drop_nulls("value").unique()


def dimensions(requests: pl.DataFrame, links: pl.DataFrame | None, frames: dict[str, pl.DataFrame]
               ) -> pl.DataFrame:
    """A long table ``attempt_id, dimension, value``: every request-side dimension value each attempt has
    (which ones: ``rules/dimensions.toml``), of the dimensions that can tell attempts apart."""
    return narrow(all_dimensions(requests, links, frames), 2)


def window_dimensions(requests: pl.DataFrame, links: pl.DataFrame | None, frames: dict[str, pl.DataFrame]
                      ) -> pl.DataFrame:
    """:func:`dimensions` of one time window's attempts, before the values of every window are
    counted: only the identifiers (too many values in this window alone) are left out yet."""
    return narrow(all_dimensions(requests, links, frames), 1)


def narrow(long: pl.DataFrame, fewest: int = 2) -> pl.DataFrame:
    """The dimensions with ``fewest`` to :data:`MAX_VALUES` values. A dimension with too many values
    is an identifier; one with a single value separates nothing."""
    width = long.group_by("dimension").agg(pl.col("value").n_unique().alias("__n"))
    keep = width.filter((pl.col("__n") >= fewest) & (pl.col("__n") <= MAX_VALUES)).select("dimension")
    return long.join(keep, on="dimension")


def separators(requests: pl.DataFrame, links: pl.DataFrame | None, frames: dict[str, pl.DataFrame],
               redacted: bool = True, dims: pl.DataFrame | None = None) -> list[Separator]:
    """The dimension values that set each leading cause's failures apart from the successes beside them.
    ``dims``: the attempts' :func:`dimensions`, when known (then ``links`` and ``frames`` are not read)."""
    if requests.height == 0 or not (requests["verdict"] != "ok").any():
        return []
    dims = dimensions(requests, links, frames) if dims is None else dims
    # The groups need who, when, where and how each attempt ended: not every column, for each cause.
    requests = requests.select("attempt_id", "verdict", "root_cause", "ts", "method", "path")
    failed = requests.filter(pl.col("verdict") != "ok")
    endpoint = summary.endpoint(pl.col("method"), pl.col("path"))
    causes = failed.group_by("root_cause").len().sort(["len", "root_cause"], descending=[True, False]).head(
        MAX_CAUSES)["root_cause"].to_list()
    out: list[Separator] = []
    ok_all = requests.filter(pl.col("verdict") == "ok").with_columns(endpoint.alias("__ep"))
    for cause in causes:
        f = failed.filter(pl.col("root_cause") == cause).with_columns(endpoint.alias("__ep"))
        lo, hi = f["ts"].min(), f["ts"].max()
        pad = max(hi - lo, timedelta(minutes=10))
        ok = ok_all.filter(pl.col("__ep").is_in(f["__ep"].unique().implode())
                           & pl.col("ts").is_between(lo - pad, hi + pad))
        if ok.height < 5:
            continue
        group = pl.concat([f.select("attempt_id", pl.lit(True).alias("__failed")),
                           ok.select("attempt_id", pl.lit(False).alias("__failed"))])
        counts = dims.join(group, on="attempt_id").group_by(["dimension", "value"]).agg(
            pl.col("__failed").sum().alias("a"), (~pl.col("__failed")).sum().alias("c"))
        tried = counts.height  # every value the two groups have, before any is left out
        nf, nok = f.height, ok.height
        counts = counts.with_columns(((pl.col("a") / nf) - (pl.col("c") / nok)).alias("gap")).filter(
            pl.col("gap") >= MIN_SHARE_GAP)
        endpoints = ", ".join(sorted(f["__ep"].unique().to_list())[:3])
        found = []
        for r in counts.sort(["gap", "dimension", "value"], descending=[True, False, False]).iter_rows(named=True):
            p = fisher_greater(r["a"], nf - r["a"], r["c"], nok - r["c"])
            if p * max(tried, 1) >= ALPHA:
                continue
            value = redact.mask_text(r["value"]) if redacted else r["value"]
            sentence = (f"{_share(r['a'], nf)} failed attempts ({cause}) had {r['dimension']} {value}; "
                        f"{_share(r['c'], nok)} successful ones on {endpoints} in the same span did")
            found.append(Separator(cause, r["dimension"], value, r["a"], nf, r["c"], nok, p, sentence))
        # One sentence per dimension (its strongest value), strongest first.
        seen: set[str] = set()
        for s in found:
            if s.dimension not in seen:
                seen.add(s.dimension)
                out.append(s)
    return out
