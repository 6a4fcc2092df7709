"""Correlate: rebuild request attempts from the parsed logs of every hop.

An *attempt* is one HTTP request as one hop saw it, joined with what the other hops saw of the same
request. Attempts come from the client (vac: one per request id and attempt number) and from the
proxy (one per access-log line); each client attempt is paired with at most one access line.
Then nginx error lines and CRM lines are attached to attempts.

Links are made by request id where both sides carry one, and otherwise by what real logs do have:
nginx's connection number, method, path and status, worker thread and time. Every link records how
it was made and a confidence, so that ambiguous matches show as such.

All joins on time are sorted merges (``join_asof``) or joins on keys with small groups; nothing
compares every row with every other. Clock offsets between hosts are estimated from pairs linked by
request id (or, failing ids, from the traffic: :mod:`loganalyzer.clock`) and removed before matching
on time; the nginx error log, on its access log's clock, is off by a whole zone at most
(:func:`error_log_offset`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from loganalyzer import calls, clock

_NS = pl.Datetime("ns", "UTC")
#: Slack added to every time window: clocks and log writes are never exactly in step.
SLACK_S = 0.25
#: The longest an attempt's interval is searched back for a line logged during it.
MAX_SPAN_S = 600.0
#: How far past a time window (:func:`correlate`'s ``within``) entries are still linked: an attempt
#: that starts inside keeps every line of its span, and one that starts outside is built whole, so it
#: cannot leave a fragment that looks like an attempt inside.
WINDOW_MARGIN_S = MAX_SPAN_S
#: How much wider than the window files that log their offset are read for an analysis: the margin,
#: plus the clock skew that may still be corrected (files whose zone was assumed are read whole).
READ_PAD_S = WINDOW_MARGIN_S + clock.MAX_SKEW_S
#: How long before its answer a request no line tells the sending of may have gone out, when
#: nothing times it: the lane's line before, if no further back than this.
UNSENT_REACH_S = 3.0
#: Offsets smaller than this are left alone: they are within the logs' own time precision.
MIN_OFFSET_S = 1.0
_REQUEST_IN_TEXT = re.compile(r"\b(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) (/[^\s?,;:)\]]*)")


@dataclass
class ClockOffset:
    """How far a source's timestamps are from the reference source's (add ``-seconds`` to align)."""

    source: str
    reference: str
    seconds: float
    pairs: int
    method: str
    applied: bool
    measured: bool = True  # False: the logs could not tell (no ids, traffic without a clear peak)
    evidence: str = ""
    #: How far lines may fall before their attempt's start once this offset is applied: what is
    #: left of request latency and the estimate's uncertainty.
    slack_s: float = SLACK_S

    def describe(self) -> str:
        if not self.measured:
            return (f"{self.source} vs {self.reference}: could not measure the clock offset ({self.evidence}); "
                    "times compared as logged")
        sign = "+" if self.seconds >= 0 else "-"
        s = abs(self.seconds)
        h, rem = divmod(s, 3600)
        m, sec = divmod(rem, 60)
        amount = (f"{int(h)}h{int(m):02d}m{sec:06.3f}s" if h else f"{int(m)}m{sec:06.3f}s" if m else f"{sec:.3f}s")
        what = "corrected" if self.applied else "measured, not applied (clock correction off)" \
            if self.evidence == "clock correction off" else "within tolerance, left as is"
        hint = ""
        if self.applied and abs(s - round(s / 900) * 900) < 0.5 and s >= 900:
            zone = round(self.seconds / 3600 * 4) / 4
            hint = f" — a whole-zone offset: the {self.source} host probably logs in UTC{zone:+g} (say --tz)"
        return (f"{self.source} is {sign}{amount} from {self.reference} ({self.pairs:,} pairs by {self.method}; "
                f"{what}){hint}")


@dataclass
class Correlation:
    attempts: pl.DataFrame  # one row per attempt
    links: pl.DataFrame  # attempt_id, kind, row, link, confidence: which entries belong to which attempt
    offsets: list[ClockOffset] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# the per-source tables


def _rows(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_row_index("row")


def _rid(column: str = "request_id") -> pl.Expr:
    """Request ids as 64-bit hashes: joins and groupings on them run on integers, not strings."""
    return pl.when(pl.col(column).is_not_null()).then(pl.col(column).hash(seed=7)).alias("rid")


def _col(df: pl.DataFrame, name: str, dtype=pl.String) -> pl.Expr:
    return pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype).alias(name)


def _second_precision(ts: pl.Series) -> bool:
    """True when a source writes whole seconds (nginx $time_local): its times are floors."""
    sample = ts.drop_nulls().head(5000)
    return len(sample) > 0 and bool((sample.dt.nanosecond() == 0).all() and (sample.dt.millisecond() == 0).all())


def access_table(df: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    """Access lines as attempts at the proxy: start, end, statuses, timings. Returns the precision.

    nginx writes the line when the request ends; without ``$request_time`` the start is unknown
    and equals the end here (callers then match on end times: see ``has_duration``).
    """
    whole = _second_precision(df["ts"])
    half = 0.5 if whole else 0.0
    rt = _col(df, "request_time", pl.Float64).fill_null(0.0)
    end = pl.col("ts") + pl.duration(milliseconds=half * 1000)
    table = _rows(df).select(
        "row", "file", "line",
        end.cast(_NS).alias("end"),
        (end - pl.duration(microseconds=(rt * 1e6).round().cast(pl.Int64))).cast(_NS).alias("start"),
        _col(df, "request_id"), _col(df, "method"), _col(df, "path"),
        _col(df, "status", pl.Int64).alias("status_proxy"),
        _col(df, "upstream_status", pl.Int64).alias("status_upstream"),
        _col(df, "upstream_addr").alias("upstream_addr"),
        rt.alias("request_time"),
        _col(df, "upstream_response_time", pl.Float64).alias("upstream_response_time"),
        _col(df, "connection", pl.Int64).alias("connection"),
        _col(df, "remote_addr").alias("client_addr"),
        _col(df, "http_user_agent").alias("user_agent"),
    ).with_columns(_rid())
    return table, (1.0 if whole else 0.001)


def vac_table(df: pl.DataFrame) -> pl.DataFrame:
    """Client attempts, from what the client's lines say about its outbound calls (with request ids
    or without: see :mod:`loganalyzer.calls`); ``logical`` groups retries into one request."""
    attempts = calls.client_attempts(calls.client_calls(df))
    if attempts.height and attempts["method"].null_count():
        # Some libraries name no method when a call fails below HTTP (urllib3's retry lines): an
        # endpoint is called with one method, so take the one the same client used on it.
        from loganalyzer.summary import endpoint

        folded = endpoint(pl.lit(""), pl.col("path")).alias("__ep")
        usual = attempts.filter(pl.col("method").is_not_null()).group_by(["file", folded]).agg(
            pl.col("method").mode().first().alias("__m"))
        attempts = attempts.with_columns(folded).join(usual, on=["file", "__ep"], how="left").with_columns(
            pl.coalesce("method", "__m").alias("method")).drop("__ep", "__m")
    return attempts


def error_table(df: pl.DataFrame) -> pl.DataFrame:
    """nginx error lines that belong to a request (they name one, or a connection)."""
    table = _rows(df).select(
        "row", "ts", "level", "message",
        _col(df, "connection", pl.Int64), _col(df, "method"), _col(df, "path"),
        _col(df, "upstream"), _col(df, "client"),
    )
    return table.filter(pl.col("method").is_not_null())


def crm_table(df: pl.DataFrame) -> pl.DataFrame:
    return _rows(df).select(
        "row", "ts", "level", "message", _col(df, "request_id"), _col(df, "thread"),
        _col(df, "span_id"), _col(df, "exception"), _col(df, "root_cause"),
    ).with_columns(_rid())


# --------------------------------------------------------------------------------------------
# clock offsets


def _id_differences(a: pl.DataFrame, a_time: str, b: pl.DataFrame, b_time: str) -> np.ndarray:
    """Seconds of b - a over request ids that occur once on each side (no retries to confuse)."""
    ones_a = a.filter(pl.col("rid").is_not_null()).filter(pl.len().over("rid") == 1)
    ones_b = b.filter(pl.col("rid").is_not_null()).filter(pl.len().over("rid") == 1)
    pairs = ones_a.select("rid", pl.col(a_time).alias("__a")).join(
        ones_b.select("rid", pl.col(b_time).alias("__b")), on="rid")
    return (pairs["__b"] - pairs["__a"]).dt.total_microseconds().to_numpy() / 1e6


def offset_by_id(a: pl.DataFrame, a_time: str, b: pl.DataFrame, b_time: str) -> tuple[float, int]:
    """Median of b - a over request ids that occur once on each side, and the number of pairs."""
    d = _id_differences(a, a_time, b, b_time)
    return (float(np.median(d)), len(d)) if len(d) >= 3 else (0.0, len(d))


def spread_below_median(a: pl.DataFrame, a_time: str, b: pl.DataFrame, b_time: str) -> float:
    """How far the earliest few percent of id pairs fall below their median (b - a): once the
    median is removed, that is how much earlier than its attempt's start a line may be."""
    d = _id_differences(a, a_time, b, b_time)
    return float(np.median(d) - np.quantile(d, 0.01)) if len(d) >= 3 else SLACK_S


# --------------------------------------------------------------------------------------------
# one-to-one matching on time


def match_nearest(left: pl.DataFrame, right: pl.DataFrame, by: list[str], left_time: str, right_time: str,
                  tolerance_s: float, rounds: int = 64, strategy: str = "nearest") -> pl.DataFrame:
    """Pair rows 1:1 by equal ``by`` keys and nearest time within the tolerance.

    A sorted merge (``join_asof``) per round; where two left rows claim the same right row the
    nearer keeps it and the other tries again in the next round, until no pair is left to make
    (a burst of same-key rows within the time precision takes one round per row of the burst).
    ``strategy="backward"`` only pairs a left row with a right row at or before it.
    Returns ``left_id, right_id, dt``.
    """
    pairs = []
    lt = left.select(["left_id", left_time] + by).drop_nulls(by + [left_time])
    rt = right.select(["right_id", right_time] + by).drop_nulls(by + [right_time]).rename({right_time: "__rt"})
    tol = f"{int(tolerance_s * 1e6)}us"
    for _ in range(rounds):
        if lt.height == 0 or rt.height == 0:
            break
        j = lt.sort(left_time).join_asof(rt.sort("__rt"), left_on=left_time, right_on="__rt", by=by or None,
                                         strategy=strategy, tolerance=tol, check_sortedness=False)
        j = j.filter(pl.col("right_id").is_not_null()).with_columns(
            (pl.col("__rt") - pl.col(left_time)).dt.total_microseconds().abs().alias("__dt"))
        if j.height == 0:
            break
        won = j.sort(["right_id", "__dt", left_time]).unique("right_id", keep="first", maintain_order=True)
        pairs.append(won.select("left_id", "right_id", (pl.col("__dt") / 1e6).alias("dt")))
        lt = lt.join(won.select("left_id"), on="left_id", how="anti")
        rt = rt.join(won.select("right_id"), on="right_id", how="anti")
    if not pairs:
        return pl.DataFrame(schema={"left_id": pl.UInt32, "right_id": pl.UInt32, "dt": pl.Float64})
    return pl.concat(pairs)


def _rank_within(df: pl.DataFrame, key: str, order: list[str], size: str) -> pl.DataFrame:
    """``__k``: the row's rank within its key in ``order``; ``size``: the key's row count.

    Sorting by key first and counting from each key's first row is much cheaper than window
    expressions over hundreds of thousands of small groups.
    """
    df = df.sort([key] + order).with_row_index("__i")
    first = pl.col(key) != pl.col(key).shift(1)
    df = df.with_columns(pl.when(first.fill_null(True)).then(pl.col("__i")).forward_fill().alias("__first"))
    df = df.with_columns((pl.col("__i") - pl.col("__first")).alias("__k"))
    sizes = df.group_by("__first").agg(pl.len().alias(size))
    return df.join(sizes, on="__first").drop("__i", "__first")


def match_in_order(left: pl.DataFrame, right: pl.DataFrame, key: str, left_order: list[str],
                   right_order: list[str], left_time: str, right_time: str, tolerance_s: float) -> pl.DataFrame:
    """Pair the k-th left row with the k-th right row of each key (retries of one request id).

    Groups whose sizes differ (an attempt that never reached the proxy) pair the rows whose times
    fit the window, in order. Returns ``left_id, right_id, dt``.
    """
    lt = left.select(["left_id", key, left_time] + [c for c in left_order if c != left_time]).drop_nulls(key)
    rt = right.select(["right_id", key, right_time] + [c for c in right_order if c != right_time]).drop_nulls(key)
    lt = _rank_within(lt, key, left_order, "__nl")
    rt = _rank_within(rt, key, right_order, "__nr")
    counts = lt.filter(pl.col("__k") == 0).select(key, "__nl").join(
        rt.filter(pl.col("__k") == 0).select(key, "__nr"), on=key)
    same = counts.filter(pl.col("__nl") == pl.col("__nr")).select(key)
    ranked = lt.join(same, on=key).join(rt.join(same, on=key), on=[key, "__k"])
    ranked = ranked.with_columns(
        ((pl.col(right_time) - pl.col(left_time)).dt.total_microseconds() / 1e6).alias("dt"))
    good = ranked.filter(pl.col("dt").abs() <= tolerance_s).select("left_id", "right_id", "dt")
    # The rest (uneven groups, or rank pairs out of window): nearest in time within the key.
    rest_l = lt.join(good.select("left_id"), on="left_id", how="anti")
    rest_r = rt.join(good.select("right_id"), on="right_id", how="anti")
    nearest = match_nearest(rest_l, rest_r, [key], left_time, right_time, tolerance_s)
    return pl.concat([good, nearest], how="vertical_relaxed")


# --------------------------------------------------------------------------------------------
# the whole correlation


def correlate(frames: dict[str, pl.DataFrame], nginx_classes: list[tuple[str, str, int]],
              clock_correction: bool = True, given_offsets: list[ClockOffset] | None = None,
              within: tuple[datetime | None, datetime | None] | None = None,
              held: Collection[str] | None = None) -> Correlation:
    """Build attempts from parsed frames (``{"vac": df, "nginx_access": df, ...}``).

    ``clock_correction=False`` measures and reports clock offsets but compares times as logged.

    ``nginx_classes``: (class, message regex, status) from the rules, used to pair error lines
    with access lines when the access log has no connection number.

    ``given_offsets``: clock offsets measured elsewhere (a scan measures them once for all its
    time windows, so that every window compares times alike); they replace this call's own.

    ``within``: a time window (from, to) on the reference clock. Offsets are measured on everything given; then
    only entries within ``WINDOW_MARGIN_S`` of the window are linked (the caller keeps the attempts
    that start inside it).

    ``held``: the kinds the logs hold entries of, when ``frames`` are a time window of them (a
    batch's or a scan's); by default those ``frames`` hold. When they hold the upstream's log alone,
    its requests are the attempts; a window of upstream lines in logs with the proxy's access log or
    the client's has none.
    """
    frames = {k: v if v.schema["ts"] == _NS else v.with_columns(pl.col("ts").cast(_NS)) for k, v in frames.items()
              if v.height}
    offsets: list[ClockOffset] = []
    access, precision = (access_table(frames["nginx_access"]) if "nginx_access" in frames
                         else (pl.DataFrame(), 1.0))
    vac = vac_table(frames["vac"]) if "vac" in frames else pl.DataFrame()
    errors = error_table(frames["nginx_error"]) if "nginx_error" in frames else pl.DataFrame()
    crm = crm_table(frames["crm"]) if "crm" in frames else pl.DataFrame()
    proxy_kind = "nginx_access"
    if access.height == 0 and errors.height:
        # No access log: the error log's lines name their request, client and upstream; each
        # request they tell of is an attempt at the proxy, with the status its message implies.
        access, proxy_kind = proxy_from_errors(errors, nginx_classes), "nginx_error"
    have_access, have_vac = access.height > 0, vac.height > 0
    access_ids = have_access and access["request_id"].is_not_null().any()

    # Clock offsets, relative to the proxy (or the client when there is no proxy log).
    reference = "nginx_access" if have_access else "vac" if have_vac else "crm"
    window = precision / 2 + SLACK_S
    # The proxy's request starts as floors of its precision: what the traffic estimate pairs with.
    half = 0.5 if precision >= 1.0 else 0.0
    floors = access.select((pl.col("start") - pl.duration(milliseconds=half * 1000)).alias("__t"), "method",
                           "path") if have_access else pl.DataFrame()
    if have_vac and have_access:
        if access_ids and vac["rid"].is_not_null().any():
            sec, n = offset_by_id(access, "start", vac, "send")
            offsets.append(_offset("vac", reference, sec, n, "request id", snap_s=0.5 + precision))
        else:
            est = clock.estimate_offset(floors, vac.select(pl.col("send").alias("__t"), "method", "path"),
                                        ref_time="__t", other_time="__t", keys=["method", "path"],
                                        ref_precision_s=precision, other_precision_s=0.001)
            offsets.append(_from_estimate("vac", reference, est, "method and path"))
    crm_first = None
    if crm.height:
        crm_first = crm.filter(pl.col("rid").is_not_null()).group_by("rid").agg(
            pl.col("ts").min().alias("first"))
        by_id = None
        # Pair the events that happen together, on the finest clock: the client's send (ms) and
        # the upstream's first line of the request, else the proxy's start (to its precision).
        vac_ids = have_vac and crm_first.height and vac["rid"].is_not_null().any()
        if vac_ids:
            sec, n = offset_by_id(vac, "send", crm_first, "first")
            if n >= 3:
                vac_off = next((o.seconds for o in offsets if o.source == "vac" and o.applied), 0.0)
                base = sec - vac_off if have_access else sec
                # Both clocks are precise to the millisecond here: a skew under a second is real too.
                by_id = _offset("crm", reference, base, n, "request id, through vac" if have_access else "request id",
                                min_s=0.05)
                if by_id.applied and by_id.slack_s:
                    # Not a zone setting: the median holds the request's latency too. Align on the
                    # earliest pairs (latency is never negative), so lines stay after their starts.
                    by_id.seconds -= spread_below_median(vac, "send", crm_first, "first")
                    by_id.slack_s = 0.01
        if (by_id is None or by_id.pairs < 3) and have_access and access_ids and crm_first.height:
            sec, n = offset_by_id(access, "start", crm_first, "first")
            by_id = _offset("crm", reference, sec, n, "request id", snap_s=0.5 + precision)
        if by_id is not None and by_id.pairs >= 3:
            offsets.append(by_id)
        elif have_access:  # no ids to pair: the traffic itself, every upstream line against the proxy's starts
            # One event per request the upstream names (its own trace ids), else every line.
            requests_lines = worker_lines(crm).select(pl.col("ts").alias("__t"))
            events = crm_first.select(pl.col("first").alias("__t")) if crm_first.height >= 20 else requests_lines
            est = clock.estimate_offset(floors, events, ref_time="__t", other_time="__t",
                                        ref_precision_s=precision, other_precision_s=0.001)
            if not est.measured and crm_first.height >= 20:
                est = clock.estimate_offset(floors, requests_lines, ref_time="__t",
                                            other_time="__t", ref_precision_s=precision, other_precision_s=0.001)
            offsets.append(_from_estimate("crm", reference, est, "traffic"))
    if errors.height and have_access and proxy_kind == "nginx_access":
        off = error_log_offset(errors, access)
        if off is not None:
            offsets.append(_offset("nginx_error", reference, off[0], off[1], off[2], snap_s=0.5 + max(precision, 1.0)))

    if given_offsets is not None:
        offsets = [replace(o) for o in given_offsets]
    if not clock_correction:
        for o in offsets:
            if o.applied:
                o.applied, o.evidence = False, "clock correction off"

    def aligned(df: pl.DataFrame, source: str, cols: list[str]) -> pl.DataFrame:
        off = next((o for o in offsets if o.source == source and o.applied), None)
        if off is None or df.height == 0:
            return df
        shift = pl.duration(microseconds=int(round(off.seconds * 1e6)))
        return df.with_columns([(pl.col(c) - shift).cast(_NS).alias(c) for c in cols])

    vac = aligned(vac, "vac", ["send", "opened", "last_seen", "done"])
    crm = aligned(crm, "crm", ["ts"])
    errors = aligned(errors, "nginx_error", ["ts"])
    if within is not None:
        vac = _near(vac, within, ["send", "opened", "last_seen", "done"])
        access = _near(access, within, ["start", "end"])
        crm, errors = _near(crm, within, ["ts"]), _near(errors, within, ["ts"])

    # Without $request_time the proxy's start is unknown: pair the client's end with the proxy's.
    has_duration = have_access and bool((access["request_time"] > 0).any())
    times = ("send", "start") if has_duration else ("done", "end")
    attempts, links = _pair_client_and_proxy(vac, access, access_ids, window, times, proxy_kind)
    # The error log counts here only in its own lines: most of its lines tell of no request.
    tellers = {"nginx_access", "vac"}
    if attempts.height == 0 and crm.height and not tellers & set(frames if held is None else held):
        # Only the upstream's log: the requests it handled are the attempts it tells of.
        attempts, links = upstream_attempts(crm)
        return Correlation(_logical_requests(attempts), links, offsets)
    if attempts.height == 0:  # no log that tells of requests: nothing to correlate
        return Correlation(attempts, links, offsets)
    links = [links]
    if errors.height and have_access and proxy_kind == "nginx_access":
        links.append(_link_errors(errors, attempts, nginx_classes, precision))
    elif proxy_kind == "nginx_error":  # the other lines of each request told of in the error log
        links.append(_link_error_group(errors, access, attempts))
    if crm.height:
        crm_off = next((o for o in offsets if o.source == "crm" and o.applied), None)
        links.append(_link_crm(crm, attempts, crm_off.slack_s if crm_off else 0.0))
    links = [x for x in links if x.height]
    all_links = pl.concat(links, how="vertical_relaxed") if links else pl.DataFrame()
    attempts = _logical_requests(attempts)
    return Correlation(attempts, all_links, offsets)


def _near(df: pl.DataFrame, window: tuple[datetime | None, datetime | None], cols: list[str]) -> pl.DataFrame:
    """The rows whose times (any of ``cols``) come within ``WINDOW_MARGIN_S`` of the window."""
    if df.height == 0:
        return df
    margin = timedelta(seconds=WINDOW_MARGIN_S)
    lo, hi = window
    keep = pl.lit(True)
    if lo is not None:
        keep &= pl.max_horizontal(cols) >= lo - margin
    if hi is not None:
        keep &= pl.min_horizontal(cols) <= hi + margin
    return df.filter(keep)


def worker_lines(crm: pl.DataFrame) -> pl.DataFrame:
    """The upstream's lines logged while handling requests: those of its worker pools' threads.

    A server handles requests on pools of threads named alike but for a number (``exec-1`` …
    ``exec-10``, ``qtp…-42``, ``reactor-http-nio-3``); start-up, shutdown and timers run on threads
    of their own (``main``, a shutdown hook). Their bursts (a start-up writes dozens of lines in a
    second) are not traffic and blur the match with the proxy's requests. Without thread names, or
    with too few pool lines to measure on, every line counts.
    """
    if "thread" not in crm.columns or crm["thread"].null_count() == crm.height:
        return crm
    pool = pl.col("thread").str.replace_all(r"\d+", "#")
    workers = crm.filter(pl.col("thread").is_not_null()).filter(pl.col("thread").n_unique().over(pool) >= 2)
    return workers if workers.height >= clock.MIN_EVENTS else crm


#: Id-less lines of one thread this close together are taken as one request's.
_THREAD_GROUP_GAP_S = 1.0


def upstream_attempts(crm: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Attempts as the upstream's log alone tells of them: one per request id, and one per burst of
    id-less warnings or errors on one worker thread (a request that failed before its id was set).

    Lines on the main thread without an id (start-up, shutdown) are not requests.
    """
    named = crm.with_columns(
        pl.col("message").str.extract(_REQUEST_IN_TEXT.pattern, 1).alias("__m"),
        pl.col("message").str.extract(_REQUEST_IN_TEXT.pattern, 2).alias("__p"))
    with_id = named.filter(pl.col("rid").is_not_null()).with_columns(pl.col("rid").alias("__key"))
    loose = named.filter(pl.col("rid").is_null() & pl.col("level").is_in(["WARN", "ERROR", "FATAL"])
                         & pl.col("thread").is_not_null() & (pl.col("thread") != "main")).sort(["thread", "ts"])
    burst = ((pl.col("thread") != pl.col("thread").shift(1))
             | ((pl.col("ts") - pl.col("ts").shift(1)).dt.total_milliseconds() > _THREAD_GROUP_GAP_S * 1000)
             ).fill_null(True)
    loose = loose.with_columns((burst.cast(pl.UInt64).cum_sum() + (1 << 62)).alias("__key"))
    lines = pl.concat([with_id, loose], how="vertical_relaxed")
    if lines.height == 0:
        return pl.DataFrame(), pl.DataFrame()
    groups = lines.group_by("__key").agg(
        pl.col("request_id").first(), pl.col("rid").first(), pl.col("ts").min().alias("ts"),
        pl.col("ts").max().alias("__end"), pl.col("__m").drop_nulls().first().alias("method"),
        pl.col("__p").drop_nulls().first().alias("path"), pl.col("row"),
    ).sort("ts").with_row_index("attempt_id")
    attempts = groups.with_columns(
        pl.lit("upstream only").alias("link"), pl.lit(None, pl.Int64).alias("c_attempt"),
        pl.col("ts").alias("u_start"), pl.col("__end").alias("u_end"))
    attempts = _with_paired_columns(attempts)
    links = attempts.select("attempt_id", "row").explode("row").select(
        "attempt_id", pl.lit("crm").alias("kind"), pl.col("row").cast(pl.UInt32),
        pl.lit("request_id").alias("link"), pl.lit(1.0).alias("confidence"))
    return attempts.drop("row", "__key", "__end"), links


#: How far (s) an error line may fall outside its request's interval: both logs write whole seconds.
_ERROR_LINE_SLACK_S = 1.5
#: Zone offsets considered between an error log and its access log: UTC-14 to UTC+14 in quarter hours.
_QUARTERS = 14 * 4
#: Error lines sampled to score each candidate zone.
_ERROR_SAMPLE = 5000


def error_log_offset(errors: pl.DataFrame, access: pl.DataFrame) -> tuple[float, int, str] | None:
    """How far the error log's times are from its access log's: ``(seconds, pairs, method)``, or None.

    Both logs are written by one nginx, on one clock: they can differ only by the zone each is
    written (or read) in, a whole number of quarter hours. An error line is written while its
    request is in progress, so at the right offset it falls inside ``[start, end]`` of a request
    of its connection (nginx's connection number), give or take the logs' whole seconds.

    Nearest-line pairing is not enough: a kept-alive connection carries a client's requests for as
    long as it runs, and hours off, the nearest line of a connection is its last, not the one the
    error belongs to. So each zone the connections' spans allow is tried, and the one that puts the
    most lines inside a request of their connection wins. Without connection numbers, the lines'
    method and path against the access lines' are scored the same way.
    """
    by = ["connection"] if errors["connection"].is_not_null().any() and access["connection"].is_not_null().any() \
        else ["method", "path"]
    e = errors.select(by + ["ts"]).drop_nulls()
    a = access.select(by + ["start", "end"]).drop_nulls()
    if e.height < 3 or a.height == 0:
        return None
    slack = _ERROR_LINE_SLACK_S
    # The quarter hours each line allows: its time minus anything within its group's span.
    spans = a.group_by(by).agg(pl.col("start").min().alias("__lo"), pl.col("end").max().alias("__hi"))
    allowed = e.join(spans, on=by).select(
        ((((pl.col("ts") - pl.col("__hi")).dt.total_milliseconds() / 1000 - slack) / 900).ceil()
         .clip(-_QUARTERS, _QUARTERS + 1).cast(pl.Int64).alias("__q0")),
        ((((pl.col("ts") - pl.col("__lo")).dt.total_milliseconds() / 1000 + slack) / 900).floor()
         .clip(-_QUARTERS - 1, _QUARTERS).cast(pl.Int64).alias("__q1")),
    ).filter(pl.col("__q0") <= pl.col("__q1"))
    if allowed.height == 0:
        return None
    # Lines allowing each quarter hour: +1 where a line's range opens, -1 past where it closes.
    steps = pl.concat([allowed.select(pl.col("__q0").alias("q"), pl.lit(1).alias("d")),
                       allowed.select((pl.col("__q1") + 1).alias("q"), pl.lit(-1).alias("d"))])
    cover = steps.group_by("q").agg(pl.col("d").sum()).sort("q").with_columns(pl.col("d").cum_sum().alias("n"))
    top = int(cover["n"].max())
    candidates = cover.filter(pl.col("n") >= top / 2).with_columns(pl.col("q").abs().alias("__abs")).sort(
        ["n", "__abs"], descending=[True, False])["q"]
    # Each candidate: the lines inside a request of their group, the one that started last before them
    # (a sample of the lines does; only the access lines of their groups are looked up).
    e = e.gather_every(max(1, e.height // _ERROR_SAMPLE))
    pool = a.join(e.select(by).unique(), on=by, how="semi").sort("start")
    pad = pl.duration(milliseconds=int(slack * 1000))
    best: tuple[int, int] | None = None
    for q in candidates.to_list():
        # Looked up from the line's time plus the slack: a line may be logged just before the start.
        shifted = e.with_columns((pl.col("ts") - pl.duration(seconds=900 * q) + pad).cast(_NS).alias("__k")).sort("__k")
        j = shifted.join_asof(pool, left_on="__k", right_on="start", by=by, strategy="backward",
                              check_sortedness=False)
        inside = j.filter(pl.col("__k") <= pl.col("end") + 2 * pad).height
        if best is None or inside > best[1] or (inside == best[1] and abs(q) < abs(best[0])):
            best = (q, inside)
    if best is None or best[1] < 3:
        return None
    what = "connection number" if by == ["connection"] else "method and path"
    return float(900 * best[0]), best[1], f"{what}: error lines inside a request of theirs, one clock"


def _from_estimate(source: str, reference: str, est: clock.OffsetEstimate, what: str) -> ClockOffset:
    """A traffic estimate as an offset to apply (or, when the traffic could not tell, one that is not)."""
    if not est.measured:
        return ClockOffset(source, reference, 0.0, est.pairs, f"{what} (traffic)", applied=False, measured=False,
                           evidence=est.describe())
    off = _offset(source, reference, est.total_s, max(est.pairs, 3), f"{what}, from the traffic",
                  snap_s=max(0.5, 3 * est.uncertainty_s))
    off.evidence = est.describe()
    off.slack_s = min(1.0, max(0.1, 3 * est.uncertainty_s))
    return off


def _offset(source: str, reference: str, seconds: float, pairs: int, method: str,
            min_s: float = MIN_OFFSET_S, snap_s: float = 0.5) -> ClockOffset:
    """An offset to apply. One within its events' precision of a whole quarter-hour is a zone setting, and
    is applied exactly: the rest is network and processing time, which is real and stays."""
    zone = round(seconds / 900) * 900
    # What is left within the events' own precision (plus latency) is not a clock set a second off.
    if zone and abs(seconds - zone) < snap_s:
        seconds = float(zone)
    off = ClockOffset(source, reference, seconds, pairs, method, applied=abs(seconds) >= min_s and pairs >= 3)
    if zone and seconds == zone:  # a zone setting: latency is not in it, lines stay after their starts
        off.slack_s = 0.0
    return off


#: The columns of paired attempts before diagnosis: the client's (c_) and the proxy's (p_) view.
_PAIRED_COLUMNS: dict[str, pl.DataType] = {
    "c_rid": pl.UInt64, "p_rid": pl.UInt64, "c_request_id": pl.String, "p_request_id": pl.String,
    "c_method": pl.String, "p_method": pl.String, "c_path": pl.String, "p_path": pl.String,
    "c_send": _NS, "p_start": _NS, "c_attempt": pl.Int64, "c_row": pl.UInt32, "p_row": pl.UInt32,
    "link": pl.String, "confidence": pl.Float64, "p_status_proxy": pl.Int64, "c_status_client": pl.Int64,
    "c_client_error": pl.String, "p_end": _NS, "p_status_upstream": pl.Int64, "p_upstream_addr": pl.String,
    "p_request_time": pl.Float64, "p_upstream_response_time": pl.Float64, "p_connection": pl.Int64,
    "p_client_addr": pl.String, "p_user_agent": pl.String, "c_elapsed_ms": pl.Float64, "c_last_seen": _NS,
    "c_done": _NS, "c_opened": _NS, "c_logical": pl.String, "c_error_class": pl.String, "c_reached": pl.Boolean,
}


def _with_paired_columns(attempts: pl.DataFrame) -> pl.DataFrame:
    """Either side may be missing: its columns are typed nulls, never untyped ones."""
    missing = [pl.lit(None, t).alias(c) for c, t in _PAIRED_COLUMNS.items() if c not in attempts.columns]
    untyped = [pl.col(c).cast(t) for c, t in _PAIRED_COLUMNS.items()
               if c in attempts.columns and attempts.schema[c] == pl.Null]
    return attempts.with_columns(missing + untyped) if missing or untyped else attempts


def _pair_client_and_proxy(vac: pl.DataFrame, access: pl.DataFrame, access_ids: bool, window: float,
                           times: tuple[str, str], proxy_kind: str = "nginx_access"):
    """Attempts: client attempts paired with access lines; the unpaired of both sides stay attempts."""
    link_cols = {"attempt_id": pl.UInt32, "kind": pl.String, "row": pl.UInt32, "link": pl.String,
                 "confidence": pl.Float64}
    if vac.height == 0 and access.height == 0:
        return pl.DataFrame(), pl.DataFrame(schema=link_cols)
    v = vac.with_row_index("left_id") if vac.height else pl.DataFrame()
    a = access.with_row_index("right_id") if access.height else pl.DataFrame()
    if v.height and a.height:
        if access_ids:
            pairs = match_in_order(v, a, "rid", [times[0], "attempt"], [times[1], "line"], *times,
                                   window + 1.0).with_columns(pl.lit("request_id").alias("link"),
                                                              pl.lit(1.0).alias("confidence"))
            # Attempts the ids did not pair (no id on one side: a log_format without it, part of a
            # file) are paired as id-less ones are.
            unpaired = v.join(pairs.select("left_id"), on="left_id", how="anti")
            rest = a.join(pairs.select("right_id"), on="right_id", how="anti")
            if unpaired.height and rest.height:
                pairs = pl.concat([pairs, _pair_without_ids(unpaired, rest, window, times)])
        else:
            pairs = _pair_without_ids(v, a, window, times)
    else:
        pairs = pl.DataFrame(schema={"left_id": pl.UInt32, "right_id": pl.UInt32, "dt": pl.Float64,
                                     "link": pl.String, "confidence": pl.Float64})
    client_cols = ["request_id", "rid", "attempt", "send", "opened", "last_seen", "done", "method", "path",
                   "status_client", "client_error", "elapsed_ms", "logical", "error_class", "reached"]
    if v.height:
        v = v.with_columns(*[pl.lit(None, dtype).alias(c) for c, dtype in
                             (("logical", pl.String), ("error_class", pl.String), ("reached", pl.Boolean))
                             if c not in v.columns])
    proxy_cols = ["start", "end", "request_id", "rid", "method", "path", "status_proxy", "status_upstream",
                  "upstream_addr", "request_time", "upstream_response_time", "connection", "client_addr", "user_agent",
                  "row"]
    parts = []
    if v.height:
        vv = v.select(["left_id"] + client_cols).rename({c: f"c_{c}" for c in client_cols}).with_columns(
            pl.col("left_id").alias("c_row"))
        parts.append(vv.join(pairs.select("left_id", "right_id", "link", "confidence"), on="left_id", how="left"))
    if a.height:
        aa = a.select(["right_id"] + proxy_cols).rename({c: f"p_{c}" for c in proxy_cols})
        if parts:
            joined = parts[0].join(aa, on="right_id", how="left")
            proxy_only = aa.join(pairs.select("right_id"), on="right_id", how="anti")
            attempts = pl.concat([joined, proxy_only], how="diagonal_relaxed")
        else:
            attempts = aa
    else:
        attempts = parts[0]
    attempts = _with_paired_columns(attempts)
    # A send no client line tells of happened between the lane's line before (c_opened) and the
    # answer: where the proxy timed the request, its start (within those bounds) is the better
    # time; where it did not ($request_time not logged), the lane's line before is, as a
    # sequential client sends right after it (a retry after its announcement), unless that line
    # is too long before to be the request's own.
    unsent = (pl.col("c_opened") < pl.col("c_send")).fill_null(False)
    timed = pl.col("p_start").is_not_null() & (pl.col("p_request_time").fill_null(0) > 0)
    reach = pl.duration(microseconds=int(UNSENT_REACH_S * 1e6))
    attempts = attempts.with_columns(
        pl.when(unsent & timed).then(pl.min_horizontal(pl.max_horizontal("p_start", "c_opened"), "c_send"))
        .when(unsent).then(pl.max_horizontal("c_opened", pl.col("c_send") - reach))
        .otherwise(pl.col("c_send")).cast(_NS).alias("c_send"))
    attempts = attempts.with_columns(
        pl.coalesce("c_request_id", "p_request_id").alias("request_id"),
        pl.coalesce("c_rid", "p_rid").alias("rid"),
        pl.coalesce("c_method", "p_method").alias("method"),
        pl.coalesce("c_path", "p_path").alias("path"),
        pl.coalesce("c_send", "p_start").alias("ts"),
        pl.when(pl.col("c_row").is_not_null() & pl.col("p_row").is_not_null()).then(pl.col("link"))
        .when(pl.col("p_row").is_not_null()).then(pl.lit("proxy only"))
        .otherwise(pl.lit("client only")).alias("link"),
    ).sort("ts", nulls_last=True).with_row_index("attempt_id")
    # c_row is the client attempt's index in v; its lines are v's row lists.
    vac_rows = (v.select("left_id", "row").explode("row").join(
        attempts.select("attempt_id", pl.col("c_row").cast(pl.UInt32).alias("left_id")), on="left_id")
        if v.height else pl.DataFrame(schema={"attempt_id": pl.UInt32, "row": pl.UInt32}))
    links = pl.concat([
        vac_rows.select("attempt_id", pl.lit("vac").alias("kind"), pl.col("row").cast(pl.UInt32),
                        pl.lit("attempt").alias("link"), pl.lit(1.0).alias("confidence")),
        attempts.filter(pl.col("p_row").is_not_null()).select(
            "attempt_id", pl.lit(proxy_kind).alias("kind"), pl.col("p_row").cast(pl.UInt32).alias("row"),
            pl.col("link"), pl.col("confidence").cast(pl.Float64).fill_null(1.0)),
    ], how="vertical_relaxed")
    return attempts, links


def _pair_without_ids(v: pl.DataFrame, a: pl.DataFrame, window: float, times: tuple[str, str]) -> pl.DataFrame:
    """Client attempts and access lines by method, path and the status both saw, nearest in time.

    A client that timed out saw no status; the proxy logged 499 for it. A client that could not
    connect is not looked for at all.
    """
    reached = pl.col("reached").fill_null(True)
    key = pl.coalesce(pl.col("status_client"),
                      pl.when(pl.col("client_error").str.contains("(?i)time")).then(pl.lit(499)))
    left = v.filter(reached).with_columns(key.cast(pl.Int64).alias("__status"))
    right = a.with_columns(pl.col("status_proxy").cast(pl.Int64).alias("__status"))
    keys = ["method", "path", "__status"]
    if times == ("done", "end") or "opened" not in left.columns:
        pairs = match_nearest(left, right, keys, *times, window + 0.5)
    else:
        # A client that logs a call only once answered (urllib3 on a kept-alive connection, httpx)
        # gives no send time (``opened`` is then the lane's line before, earlier than ``send``): a
        # slow request's answer comes long after the proxy's start, and would meet the start of
        # the next attempt. Its answer meets the proxy's end; logged sends meet starts.
        unsent = (pl.col("opened") < pl.col("send")).fill_null(False)
        pairs = match_nearest(left.filter(~unsent), right, keys, *times, window + 0.5)
        rest = right.join(pairs.select("right_id"), on="right_id", how="anti")
        pairs = pl.concat([pairs, match_nearest(left.filter(unsent), rest, keys, "done", "end", window + 0.5)])
    # Confidence: how many proxy lines of that method, path and status fall in the same second.
    second = pl.col(times[1]).dt.truncate("1s").alias("__second")
    crowd = right.group_by(["method", "path", "__status", second]).len()
    dense = pairs.join(right.select("right_id", "method", "path", "__status", second), on="right_id")
    dense = dense.join(crowd, on=["method", "path", "__status", "__second"], how="left")
    return dense.select("left_id", "right_id", "dt", pl.lit("time+method+path+status").alias("link"),
                        (1.0 / pl.col("len").cast(pl.Float64)).alias("confidence"))


def _implied_status(classes: list[tuple[str, str, int]]) -> pl.Expr:
    """The status an nginx error message implies (its class's, from the rules), else null."""
    status = pl.lit(None, pl.Int64)
    for _cls, pattern, code in reversed(classes):
        if code:
            status = pl.when(pl.col("message").str.contains(pattern)).then(pl.lit(code, pl.Int64)).otherwise(status)
    return status


#: Error lines of one request: same connection, same request, at most this far apart.
_ERROR_GROUP_GAP_S = 5.0


def _error_groups(errors: pl.DataFrame) -> pl.DataFrame:
    """``errors`` with ``__g``: lines of one request share it (connection, request line, close in time)."""
    e = errors.sort(["connection", "method", "path", "ts"], nulls_last=True)
    new = (
        pl.col("connection").is_null()
        | (pl.col("connection") != pl.col("connection").shift(1))
        | (pl.col("method") != pl.col("method").shift(1)) | (pl.col("path") != pl.col("path").shift(1))
        | ((pl.col("ts") - pl.col("ts").shift(1)).dt.total_milliseconds() > _ERROR_GROUP_GAP_S * 1000)
    ).fill_null(True)
    return e.with_columns(new.cast(pl.UInt32).cum_sum().alias("__g"))


def proxy_from_errors(errors: pl.DataFrame, classes: list[tuple[str, str, int]]) -> pl.DataFrame:
    """Attempts at the proxy as its error log tells of them, shaped like :func:`access_table`'s rows.

    One attempt per request the lines name (lines of one connection and request line, close in
    time, are one request); its status is the one its most telling message implies, its time the
    first line's. ``row`` is that first error line.
    """
    g = _error_groups(errors.with_columns(_implied_status(classes).alias("__status")))
    whole = _second_precision(g["ts"])
    first = g.sort("ts").group_by("__g", maintain_order=True).agg(
        pl.col("row").first(), pl.col("ts").min().alias("start"), pl.col("ts").max().alias("end"),
        pl.col("method").first(), pl.col("path").first(), pl.col("connection").first(),
        pl.col("__status").drop_nulls().max().alias("status_proxy"),
        pl.col("upstream").drop_nulls().first().alias("upstream_addr"),
        pl.col("client").drop_nulls().first().alias("client_addr"),
    )
    half = pl.duration(milliseconds=500 if whole else 0)
    return first.select(
        "row", (pl.col("end") + half).cast(_NS).alias("end"), (pl.col("start") + half).cast(_NS).alias("start"),
        pl.lit(None, pl.String).alias("request_id"), "method", "path",
        pl.col("status_proxy").cast(pl.Int64), pl.lit(None, pl.Int64).alias("status_upstream"),
        pl.col("upstream_addr").cast(pl.String), pl.lit(0.0).alias("request_time"),
        pl.lit(None, pl.Float64).alias("upstream_response_time"), pl.col("connection").cast(pl.Int64),
        pl.col("client_addr").cast(pl.String), pl.lit(None, pl.String).alias("user_agent"),
        pl.lit(None, pl.UInt64).alias("rid"),
    ).sort("start")


def _link_error_group(errors: pl.DataFrame, proxy: pl.DataFrame, attempts: pl.DataFrame) -> pl.DataFrame:
    """The other error lines of the requests :func:`proxy_from_errors` made attempts of."""
    g = _error_groups(errors)
    first = g.group_by("__g").agg(pl.col("row").sort_by("ts").first().alias("__first"))
    members = g.join(first, on="__g").join(
        attempts.select("attempt_id", pl.col("p_row").cast(pl.UInt32).alias("__first")), on="__first")
    return members.filter(pl.col("row") != pl.col("__first")).select(
        "attempt_id", pl.lit("nginx_error").alias("kind"), pl.col("row").cast(pl.UInt32),
        pl.lit("connection").alias("link"), pl.lit(1.0).alias("confidence"))


def _link_errors(errors: pl.DataFrame, attempts: pl.DataFrame, classes: list[tuple[str, str, int]],
                 precision: float) -> pl.DataFrame:
    """nginx error lines to attempts: by connection number, else by method, path, implied status, time."""
    proxy = attempts.filter(pl.col("p_row").is_not_null()).select(
        "attempt_id", pl.col("p_connection").alias("connection"), pl.col("p_end").alias("end"),
        pl.col("p_method").alias("method"), pl.col("p_path").alias("path"),
        pl.col("p_status_proxy").cast(pl.Int64).alias("status"), pl.col("p_client_addr").alias("client"))
    tol = 1.0 + precision + SLACK_S
    out = []
    rest = errors
    if errors["connection"].is_not_null().any() and proxy["connection"].is_not_null().any():
        # A connection carries many requests (keep-alive), and one request may write several
        # error lines: each line goes to the request of its connection that ended next (nginx
        # writes the access line last), of the status the line implies where it implies one.
        e = errors.with_columns(_implied_status(classes).alias("status")).drop_nulls(["connection", "ts"])
        right = proxy.drop_nulls(["connection", "end"]).sort("end")
        found = []
        tolerance = f"{int((tol + 1.0) * 1e6)}us"
        # First one line per request (the requests of a connection within a second each get theirs),
        # then the remaining lines of a request to it.
        for by, part, one_to_one in ((["connection", "status"], e.filter(pl.col("status").is_not_null()), True),
                                     (["connection"], e, True), (["connection"], e, False)):
            part = part.join(pl.concat(found).select("row"), on="row", how="anti") if found else part
            if part.height == 0:
                continue
            pool = right.drop("status") if by == ["connection"] else right
            if one_to_one:
                pool = pool.join(pl.concat(found).select("attempt_id"), on="attempt_id", how="anti") if found else pool
                m = match_nearest(part.rename({"row": "left_id"}), pool.rename({"attempt_id": "right_id"}), by,
                                  "ts", "end", tol + 1.0)
                found.append(m.select(pl.col("left_id").alias("row"), pl.col("right_id").alias("attempt_id")))
                continue
            j = part.sort("ts").join_asof(pool, left_on="ts", right_on="end", by=by, strategy="forward",
                                          tolerance=tolerance, check_sortedness=False)
            found.append(j.filter(pl.col("attempt_id").is_not_null()).select("row", "attempt_id"))
        pairs = pl.concat(found).select(pl.col("attempt_id").alias("right_id"), pl.col("row").alias("left_id"))
        out.append(pairs.select(pl.col("right_id").alias("attempt_id"), pl.lit("nginx_error").alias("kind"),
                                pl.col("left_id").cast(pl.UInt32).alias("row"), pl.lit("connection").alias("link"),
                                pl.lit(1.0).alias("confidence")))
        rest = errors.join(pairs.select(pl.col("left_id").alias("row")), on="row", how="anti")
    if rest.height:
        left = rest.with_columns(_implied_status(classes).alias("status")).rename({"row": "left_id"})
        # The client's address too, where both logs have it (error lines say "client: …").
        by = ["method", "path", "status"]
        if rest["client"].is_not_null().all() and proxy["client"].is_not_null().all():
            by.append("client")
        pairs = match_nearest(left, proxy.rename({"attempt_id": "right_id"}), by, "ts", "end", tol + 1.0)
        out.append(pairs.select(pl.col("right_id").alias("attempt_id"), pl.lit("nginx_error").alias("kind"),
                                pl.col("left_id").cast(pl.UInt32).alias("row"),
                                pl.lit("time+method+path+status").alias("link"), pl.lit(0.9).alias("confidence")))
    return pl.concat(out, how="vertical_relaxed") if out else pl.DataFrame()


def _link_crm(crm: pl.DataFrame, attempts: pl.DataFrame, slack_s: float = 0.0) -> pl.DataFrame:
    """CRM lines to attempts: by request id (the latest attempt of that id started before the line),
    and lines without an id (errors logged before the id reached the MDC) by thread and time."""
    # An attempt's interval: from its start to when the client heard back (precise), else to the
    # latest the proxy's line allows (a whole-second time + 1 s, at least start + request_time).
    proxy_end = pl.max_horizontal(
        pl.col("p_end") + pl.duration(milliseconds=500),
        pl.col("ts") + pl.duration(microseconds=(pl.col("p_request_time").cast(pl.Float64).fill_null(0) * 1e6)
                                   .round().cast(pl.Int64)),
    )
    # A client that logs a call only once answered (httpx) leaves its start open: from the lane's
    # line before (``c_opened``), but no earlier than the proxy's time for it plus a second allows.
    earliest = pl.col("ts") - pl.duration(microseconds=((pl.col("p_request_time").cast(pl.Float64).fill_null(0) + 1.0)
                                                        * 1e6).round().cast(pl.Int64))
    start = pl.when(pl.col("c_opened").is_not_null()).then(
        pl.min_horizontal("ts", pl.max_horizontal("c_opened", earliest))).otherwise(pl.col("ts"))
    starts = attempts.select(
        "attempt_id", "rid", start.cast(_NS).alias("start"),
        pl.coalesce(pl.col("c_last_seen"), proxy_end).cast(_NS).alias("end"), "method", "path",
        (pl.col("p_row").is_not_null() & pl.col("p_upstream_addr").is_not_null()).alias("at_upstream"),
        pl.col("p_row").is_not_null().alias("at_proxy"))
    out = []
    with_id = crm.filter(pl.col("rid").is_not_null())
    if with_id.height:
        lines = with_id.select("row", "rid", "ts", "thread", "span_id")
        # Lines of one span (Boot 3 tracing) belong to one attempt: place the span by its first line.
        lines = lines.with_columns(
            pl.when(pl.col("span_id").is_not_null()).then(pl.col("ts").min().over(["rid", "span_id"]))
            .otherwise(pl.col("ts")).alias("__place"))
        j = lines.sort("__place").join_asof(
            starts.filter(pl.col("rid").is_not_null()).sort("start"), left_on="__place", right_on="start",
            by="rid", strategy="backward", tolerance="2s", check_sortedness=False)
        missed = j.filter(pl.col("attempt_id").is_null()).select(list(lines.columns))
        if missed.height:  # a line a little before its attempt's estimated start
            j2 = missed.sort("__place").join_asof(
                starts.filter(pl.col("rid").is_not_null()).sort("start"), left_on="__place",
                right_on="start", by="rid", strategy="nearest", check_sortedness=False)
            j = pl.concat([j.filter(pl.col("attempt_id").is_not_null()), j2], how="diagonal_relaxed")
        out.append(j.filter(pl.col("attempt_id").is_not_null()).select(
            "attempt_id", pl.lit("crm").alias("kind"), pl.col("row").cast(pl.UInt32),
            pl.lit("request_id").alias("link"), pl.lit(1.0).alias("confidence")))
        # Ids the upstream made itself (its own trace ids) name none of the attempts: each such
        # request is placed as a whole, by its first line, as id-less lines are.
        known = starts.filter(pl.col("rid").is_not_null()).select("rid").unique()
        foreign = with_id.join(known, on="rid", how="anti")
        if foreign.height:
            first = foreign.sort("ts").group_by("rid", maintain_order=True).agg(
                pl.col("row").first().alias("__first"), pl.col("row").alias("__rows"))
            heads = crm.join(first.select(pl.col("__first").alias("row")), on="row")
            placed = _link_by_thread_and_time(heads, starts, None, crm, slack_s)
            if placed.height:
                out.append(placed.join(first.select(pl.col("__first").alias("row"), "__rows"), on="row")
                           .drop("row").explode("__rows").rename({"__rows": "row"})
                           .select("attempt_id", "kind", pl.col("row").cast(pl.UInt32), "link", "confidence"))
    id_less = crm.filter(pl.col("rid").is_null() & pl.col("level").is_in(["WARN", "ERROR", "FATAL"]))
    if id_less.height:
        # The threads of attempts placed so far (by their ids) say where id-less lines may go.
        placed = [o for o in out if o.height]
        known_threads = pl.concat(placed, how="vertical_relaxed") if placed else None
        out.append(_link_by_thread_and_time(id_less, starts, known_threads, crm, slack_s))
    out = [o for o in out if o.height]
    return pl.concat(out, how="vertical_relaxed") if out else pl.DataFrame()


def _link_by_thread_and_time(lines: pl.DataFrame, starts: pl.DataFrame, id_links: pl.DataFrame | None,
                             crm: pl.DataFrame, slack_s: float = 0.0) -> pl.DataFrame:
    """An id-less CRM error belongs to an attempt that was at the upstream at that moment, on that
    thread: attempts whose thread is known (from their id lines) must be on the line's thread;
    method and path must agree when the line names them."""
    named = lines.with_columns(
        pl.col("message").str.extract(_REQUEST_IN_TEXT.pattern, 1).alias("method"),
        pl.col("message").str.extract(_REQUEST_IN_TEXT.pattern, 2).alias("path"),
    )
    # Attempts that got past the proxy; if the access log does not say (no $upstream_addr), all of them.
    candidates = starts.filter(pl.col("at_upstream")) if starts["at_upstream"].any() else \
        starts.filter(pl.col("at_proxy"))
    if id_links is not None and id_links.height:
        threads = id_links.join(crm.select("row", "thread", "ts"), on="row").group_by("attempt_id").agg(
            pl.col("thread").drop_nulls().first().alias("thread"), pl.col("ts").min().alias("__first"),
            pl.col("ts").max().alias("__last"))
        # An attempt was at the upstream from its first line of its own to its last, whatever the
        # proxy's whole seconds put its start at: a thread serves one request at a time, so an
        # id-less line logged on that thread after them is the same request's.
        candidates = candidates.join(threads, on="attempt_id", how="left").with_columns(
            pl.min_horizontal("start", "__first").cast(_NS).alias("start"),
            pl.max_horizontal("end", "__last").cast(_NS).alias("end")).drop("__first", "__last")
    else:
        candidates = candidates.with_columns(pl.lit(None, pl.String).alias("thread"))
    # The end gets slack; the start does not, so that retries a few milliseconds apart keep their order.
    candidates = candidates.with_columns(
        pl.col("end").alias("__end"),
        (pl.col("end") + pl.duration(milliseconds=int(SLACK_S * 1000))).cast(_NS).alias("end"))
    known = candidates.filter(pl.col("thread").is_not_null())
    free = candidates.filter(pl.col("thread").is_null())
    results = []
    # A line that names its request may also sit just before the attempt's estimated start (a
    # filter logs before the client's own line is written; clocks within tolerance are not moved).
    stages = (("thread+time", ["thread"], known, "backward", MAX_SPAN_S),
              ("time+path", ["method", "path"], free, "backward", MAX_SPAN_S),
              ("time+path", ["method", "path"], free, "forward", SLACK_S), ("time", [], free, "backward", MAX_SPAN_S))
    # Inside an attempt's own interval first; only the lines left may use the offset's slack (in
    # dense traffic the slack reaches later attempts, and "latest start before" would pick those).
    shifts = (0.0, slack_s) if slack_s > 0 else (0.0,)
    for (name, by, pool, strategy, reach), slack in ((st, sh) for st in stages for sh in shifts):
        pending = named if not results else named.join(pl.concat(results).select("row"), on="row", how="anti")
        pending = pending.drop_nulls(by) if by else pending
        if pending.height == 0 or pool.height == 0:
            continue
        # One line per attempt where it can be: two traces in flight go to two attempts.
        taken = pl.concat(results).select("attempt_id") if results else pool.head(0).select("attempt_id")
        pool = pool.join(taken, on="attempt_id", how="anti")
        # A line may sit up to the offset's slack before its attempt's start (latency left in the offset).
        shift = pl.duration(microseconds=int(slack * 1e6))
        moved = pending.with_columns((pl.col("ts") + shift).cast(_NS).alias("__mts"))
        pairs = match_nearest(moved.rename({"row": "left_id"}), pool.rename({"attempt_id": "right_id"}), by,
                              "__mts", "start", reach, strategy=strategy)
        j = pairs.join(pending.select(pl.col("row").alias("left_id"), "ts"), on="left_id").join(
            pool.select(pl.col("attempt_id").alias("right_id"), "end"), on="right_id")
        j = j.filter(pl.col("ts") <= pl.col("end"))
        if j.height:
            results.append(j.select(pl.col("left_id").alias("row"), pl.col("right_id").alias("attempt_id"), "ts",
                                    pl.lit(name).alias("link")))
    if not results:
        return pl.DataFrame()
    linked = pl.concat(results)
    # Confidence: one over the number of id-less attempts in flight at that moment (their own
    # intervals, without the slack that let the line be found).
    s = np.sort(free["start"].dt.epoch("us").to_numpy())
    e = np.sort(free["__end"].dt.epoch("us").to_numpy())
    t = linked["ts"].dt.epoch("us").to_numpy()
    in_flight = np.searchsorted(s, t, side="right") - np.searchsorted(e, t, side="left")
    return linked.with_columns(pl.Series("n", np.maximum(in_flight, 1))).select(
        "attempt_id", pl.lit("crm").alias("kind"), pl.col("row").cast(pl.UInt32), "link",
        (1.0 / pl.col("n").cast(pl.Float64)).alias("confidence"))


def _logical_requests(attempts: pl.DataFrame) -> pl.DataFrame:
    """Attempts of one logical request share a request id or, without one, the client's grouping of
    its retries (``c_logical``); the outcome is the last attempt's. Without either an attempt is a
    request of its own (``#N``, N its first attempt's id)."""
    if attempts.height == 0:
        return attempts
    def col(name: str, dtype) -> pl.Expr:
        return pl.col(name) if name in attempts.columns else pl.lit(None, dtype)

    # The client's grouping first (its id, or its retry chain); a proxy-made id names one attempt only.
    by_client = pl.when(col("c_rid", pl.UInt64).is_null() & col("c_logical", pl.String).is_not_null()).then(
        col("c_logical", pl.String).hash(seed=3))
    group = pl.coalesce(col("c_rid", pl.UInt64), by_client, pl.col("rid"),
                        pl.col("attempt_id").cast(pl.UInt64) + (1 << 63))
    a = attempts.with_columns(group.alias("__g"))
    named = pl.coalesce(col("c_request_id", pl.String), pl.when(by_client.is_null()).then(pl.col("request_id")))
    a = a.with_columns(pl.coalesce(named.drop_nulls().first().over("__g"),
                                   pl.format("#{}", pl.col("attempt_id").min().over("__g"))).alias("logical_id"))
    ranked = _rank_within(a.select("attempt_id", "__g"), "__g", ["attempt_id"], "__n")
    ranked = ranked.select("attempt_id", (pl.col("__k") + 1).alias("__rank"),
                           (pl.col("__k") == pl.col("__n") - 1).alias("last_attempt"))
    return a.join(ranked, on="attempt_id").with_columns(
        pl.coalesce(pl.col("c_attempt"), pl.col("__rank")).alias("attempt")).drop("__g", "__rank").sort("attempt_id")
