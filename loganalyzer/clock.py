"""Clock offsets between two hosts' logs, measured from the traffic itself, and interval matching.

Two logs of the same traffic (a client's sends and a proxy's access lines, a proxy's access lines
and the upstream's request lines) show the same bursts, gaps and retries, shifted by the
difference of the two hosts' clocks plus the time a request takes from one to the other.
:func:`estimate_offset` finds that shift without request ids:

1. **coarse** — per-second event counts of both sides are cross-correlated over every lag in
   ``±max_offset_s`` (FFT, block by block, so a month of logs costs a few FFTs). Each lag is scored
   against what independent traffic would give at that overlap (a z-score), so short logs and
   edges do not fake peaks. Where the tables share keys (method, path, status) a second
   correlation counts only same-key coincidences: keys are folded into a few channels with random
   signs, so that different keys cancel and same keys add (no per-key loop).
2. **snap** — the offset is split into a whole quarter-hour part (``zone_seconds``: a zone
   mistake, when the offset is within 2 minutes of one) and the rest; a rest of a few seconds or
   less that explains no more pairs than the zone alone is latency, not clock, and is not counted
   in the whole-second part.
3. **refine** — with the coarse offset applied, every same-key pair within a few seconds is
   gathered by a sorted merge (``searchsorted`` on one array sorted by key and time) and the
   differences histogrammed at 10 ms. Related pairs form a block as wide as the logs' precision
   plus latency; unrelated ones a smooth background, fitted outside the block and subtracted
   (nearest-neighbour pairing would pull the median to wherever the window was centred in dense
   traffic without keys). The block's median, re-centred three times, is the offset; what is left
   below a whole second is kept apart as ``residual_s``, with its spread and standard error.

The data cannot tell a 40 ms clock skew from 40 ms of latency: both sit in ``residual_s``. What it
can tell is whether a peak stands out. ``measured`` is False when it does not (too few events, no
possible overlap, a flat correlation, two peaks of similar height): the offset is then unknown —
``describe()`` says "could not measure", never "0 s".

How to apply an estimate — measured in ``tests/test_clock.py::test_apply_modes``: access
attempts as intervals ``[end - request_time, end + 1 s)`` from a whole-second log, upstream lines
(ms) logged 1-5 ms after each request reached the upstream and anywhere inside it, the upstream's
clock skewed by 3 s, 2.4 s, -0.6 s and 8 h 0.25 s; offset estimated from the lines alone (no keys),
applied, lines counted inside their own interval:

==========================  =========  =========  =========  ==========
applied, window slack       3 s        2.4 s      -0.6 s     8 h 0.25 s
==========================  =========  =========  =========  ==========
whole seconds, none         100 %      89 %       89 %       96 %
whole seconds, |residual|   100 %      100 %      100 %      100 %
full median, none           98.7 %     98.6 %     98.7 %     98.9 %
full median, 3 x its s.e.   100 %      100 %      100 %      100 %
==========================  =========  =========  =========  ==========

(start lines; lines logged later inside the request: the same with slack, and without it
77-89 % whole, 99.9 % full). Both keep every line when given
their slack, but the whole-second mode needs ``|residual_s|`` of it — up to half a second on both
sides of every interval, which in that traffic raised the intervals containing a line from 7.2
to 9-10.4 — while the full median needs only the uncertainty of the median (0.1 s): the
residual is mostly clock whenever the two events are close in the request's life (client send vs
proxy start, proxy start vs upstream request line), and what latency it removes is a few
milliseconds. Hence :func:`apply_offset` defaults to ``mode="full"`` with slack
``3 * uncertainty_s``, and never adds the residuals' 10-90 % spread, which is the logs' own
precision that the intervals already carry. Estimating from events far apart in a request's life
(client send vs proxy *end*) puts the request time into the residual: pair events that happen
together.

:func:`interval_match` then places point events (ms precision) into intervals known only to a
second, one to one, with a per-link candidate count.

Which events to pair (all measured on the bundled samples with their request ids dropped):

* client vs proxy: the client's send lines against the access lines' start *floors*
  (``$time_local - $request_time``), ``keys=["method", "path"]`` (plus the status where both log
  it), ``ref_precision_s=1.0``; without ``$request_time``, the client's last line (status) against
  the access lines' ``$time_local``.
* upstream vs proxy: every upstream line against the same start floors, no keys (upstream lines
  rarely name the request); the coarse step needs some variation in the traffic — a minute of
  mixed requests was enough in the samples, an evenly spaced beat is not.
* times passed must be floors of their precision: a start already moved to the middle of its
  second (``end + 0.5 s - request_time``) must be passed as is minus 0.5 s, or the residual is
  half a second off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

_NS = pl.Datetime("ns", "UTC")
_US = 1_000_000
#: Sign channels the keys are folded into for the keyed correlation.
_KEY_CHANNELS = 4
#: Below this many events on either side no offset is measured.
MIN_EVENTS = 20
#: Below this many pairs at the chosen offset it is not measured either.
MIN_PAIRS = 8
#: A peak must stand this many standard deviations above independent traffic (and 2 above the
#: highest that noise reaches over the lags searched).
MIN_Z = 4.0
#: A second peak this close to the first in height makes the offset ambiguous.
MAX_PEAK_RATIO = 0.8
#: A rest within this of a whole quarter hour may be latency rather than clock.
SNAP_S = 3.0
#: An offset this close to a whole quarter hour is read as a zone mistake plus clock skew.
ZONE_NEAR_S = 120.0
#: The largest clock skew, beyond whole zones, the traffic estimate searches for; hosts that log
#: their offset are trusted to this (a window is cut this much wider while reading).
MAX_SKEW_S = 600.0
#: The largest offset searched: a zone mistake (zones run from UTC-12 to UTC+14) plus the skew.
MAX_OFFSET_S = 14 * 3600 + MAX_SKEW_S
#: Overlaps shorter than this (seconds) are not scored: a few seconds of coincidence prove nothing.
MIN_OVERLAP_S = 20


@dataclass
class OffsetEstimate:
    """How far ``other``'s clock is ahead of ``ref``'s: subtract from ``other`` to align.

    ``seconds`` = ``zone_seconds`` (whole quarter hours) + whole seconds; ``residual_s`` is the
    median of what is left between paired events (latency and any sub-second skew), with
    ``residual_lo_s``/``residual_hi_s`` its 10th/90th percentiles (they include the logs' own
    precision: a whole-second log spreads them over a second) and ``uncertainty_s`` the standard
    error of that median. ``pairs``: related pairs at the final offset (the excess over unrelated
    coincidences; an estimate where there are no keys); ``candidates``: coarse peaks examined;
    ``peak_z``/``runner_up``: the best peak's score and the next one's height relative to it.
    ``confidence`` in [0, 1] grows with the peak's lead over the runner-up, its score and the pair
    count. When ``measured`` is False the numbers are not an offset and must not be applied.
    """

    seconds: float
    zone_seconds: float
    residual_s: float
    pairs: int
    candidates: int
    method: str
    evidence: str
    confidence: float
    measured: bool
    residual_lo_s: float = 0.0
    residual_hi_s: float = 0.0
    uncertainty_s: float = 0.0
    peak_z: float = 0.0
    runner_up: float | None = field(default=None, repr=False)

    @property
    def total_s(self) -> float:
        """The median measured difference: ``seconds + residual_s``."""
        return self.seconds + self.residual_s

    def describe(self) -> str:
        """One line for a report: the offset, its zone part, the residual and how it was found."""
        if not self.measured:
            return f"could not measure the offset ({self.evidence})"
        s = abs(self.seconds)
        h, rem = divmod(s, 3600)
        m, sec = divmod(rem, 60)
        amount = f"{int(h)}h{int(m):02d}m{sec:02.0f}s" if h else f"{int(m)}m{sec:02.0f}s" if m else f"{sec:.0f}s"
        sign = "+" if self.seconds >= 0 else "-"
        rest = self.seconds - self.zone_seconds
        zone = ""
        if self.zone_seconds:
            zone = f", a whole-zone offset (UTC{self.zone_seconds / 3600:+g})"
            zone += f" and {rest:+.0f} s of clock" if rest else ""
        return (f"{sign}{amount}{zone}; median residual {self.residual_s * 1000:+.0f} ms "
                f"({self.residual_lo_s * 1000:+.0f}..{self.residual_hi_s * 1000:+.0f} ms); {self.pairs:,} pairs "
                f"by {self.method}, confidence {self.confidence:.2f}")


# --------------------------------------------------------------------------------------------
# the coarse step: correlation of per-second counts


def _per_second(bins: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted event bins and their weights (rows x channels) as occupied seconds and totals."""
    first = np.flatnonzero(np.concatenate([[True], bins[1:] != bins[:-1]]))
    return bins[first], np.add.reduceat(weights, first, axis=0)


def _correlate(rb: np.ndarray, rw: np.ndarray, ob: np.ndarray, ow: np.ndarray, lag_lo: int, lag_hi: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Correlation of weighted per-second counts for lags [lag_lo, lag_hi] (other bin - ref bin),
    with its expectation and variance under independence at each lag's overlap.

    ``rb``/``ob``: integer second bins (sorted), ``rw``/``ow``: weights (one or more channels, rows
    = events). The ref timeline is cut into blocks so that each FFT stays small whatever the span.
    """
    n_lags = lag_hi - lag_lo + 1
    channels = rw.shape[1]
    rs, rt = _per_second(rb, rw)
    os_, ot = _per_second(ob, ow)
    r0, r1 = int(rs[0]), int(rs[-1])
    o0, o1 = int(os_[0]), int(os_[-1])
    corr = np.zeros((channels, n_lags))
    block = max(1 << 16, 2 * n_lags)
    for start in range(r0, r1 + 1, block):
        stop = min(start + block, r1 + 1)
        i0, i1 = np.searchsorted(rs, [start, stop])
        if i0 == i1:
            continue
        seg_lo, seg_hi = start + lag_lo, stop - 1 + lag_hi
        j0, j1 = np.searchsorted(os_, [seg_lo, seg_hi + 1])
        if j0 == j1:
            continue
        x = np.zeros((channels, stop - start))
        y = np.zeros((channels, seg_hi - seg_lo + 1))
        x[:, rs[i0:i1] - start] = rt[i0:i1].T
        y[:, os_[j0:j1] - seg_lo] = ot[j0:j1].T
        n = 1 << int(np.ceil(np.log2(x.shape[1] + y.shape[1])))
        c = np.fft.irfft(np.conj(np.fft.rfft(x, n, axis=1)) * np.fft.rfft(y, n, axis=1), n, axis=1)
        corr += c[:, :n_lags]
    # Expectation and variance from sums over each lag's overlap of the two spans.
    lags = np.arange(lag_lo, lag_hi + 1)
    a = np.maximum(r0, o0 - lags)
    b = np.minimum(r1, o1 - lags)
    length = np.maximum(b - a + 1, 0)
    ok = length > 0
    n = length[ok]

    def window_sums(secs: np.ndarray, totals: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        cum = np.vstack([np.zeros((1, channels)), np.cumsum(totals, axis=0)])
        return (cum[np.searchsorted(secs, hi + 1)] - cum[np.searchsorted(secs, lo)]).T

    sx = window_sums(rs, rt, a[ok], b[ok])
    sy = window_sums(os_, ot, a[ok] + lags[ok], b[ok] + lags[ok])
    qx = window_sums(rs, rt ** 2, a[ok], b[ok])
    qy = window_sums(os_, ot ** 2, a[ok] + lags[ok], b[ok] + lags[ok])
    expect = np.zeros((channels, n_lags))
    var = np.zeros((channels, n_lags))
    expect[:, ok] = sx * sy / n
    # Variance of the product sum when one series is shifted at random: centred squares.
    var[:, ok] = np.maximum(qx - sx ** 2 / n, 0) * np.maximum(qy - sy ** 2 / n, 0) / n
    corr[:, ~ok] = 0.0
    return corr, expect, var, length


def _zscores(rb, rw, ob, ow, lag_lo, lag_hi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per lag: the z-score of the excess coincidences over all channels, the overlap (s), and
    whether the score is that of the lag and the next one together."""
    corr, expect, var, length = _correlate(rb, rw, ob, ow, lag_lo, lag_hi)
    c = corr.sum(axis=0)
    e = expect.sum(axis=0)
    v = var.sum(axis=0)
    z1 = np.where(v > 0, (c - e) / np.sqrt(np.maximum(v, 1e-12)), 0.0)
    # Latency spreads pairs over two neighbouring seconds: also score lags in twos (z at i is
    # then the score of seconds i and i+1 together); each lag keeps the better of both.
    nxt = lambda a: np.concatenate([a[1:], [0.0]])  # noqa: E731
    v2 = v + nxt(v)
    z2 = np.where(v2 > 0, (c + nxt(c) - e - nxt(e)) / np.sqrt(np.maximum(v2, 1e-12)), 0.0)
    z = np.maximum(z1, z2)
    half = z2 > z1
    return z, length, half


def _peaks(z: np.ndarray, valid: np.ndarray, k: int) -> tuple[list[int], float | None]:
    """The ``k`` highest separate peaks (indices) and the runner-up's height relative to the best.

    A peak's own flanks (where the score stays above half its height, plus 3 s) are not peaks.
    """
    z = np.where(valid, z, -np.inf)
    found: list[int] = []
    mask = np.zeros(len(z), dtype=bool)
    for _ in range(k):
        zz = np.where(mask, -np.inf, z)
        i = int(np.argmax(zz))
        if not np.isfinite(zz[i]) or (found and zz[i] <= 0):
            break
        found.append(i)
        half = zz[i] / 2
        lo = i
        while lo > 0 and z[lo - 1] > half:
            lo -= 1
        hi = i
        while hi < len(z) - 1 and z[hi + 1] > half:
            hi += 1
        mask[max(lo - 3, 0):hi + 4] = True
    ratio = None
    if len(found) >= 2 and z[found[0]] > 0:
        ratio = float(max(z[found[1]], 0.0) / z[found[0]])
    return found, ratio


# --------------------------------------------------------------------------------------------
# the refine step: same-key pairs near the coarse offset

#: Events of ``other`` examined when refining (every k-th beyond this): the median needs no more.
REFINE_SAMPLE = 50_000
#: Pair differences gathered at most when refining; denser traffic is sampled further.
REFINE_PAIRS = 1_000_000
_BIN_S = 0.01
#: Margin (s) around the reference's span within which shifted ``other`` events are looked up.
_PAD_S = 10.0


@dataclass
class _Pairs:
    """Both tables as arrays for pair look-ups: the reference as one sorted composite array
    ``group * width + (time - base) // unit`` (each key group a contiguous run, µs or coarser so
    that it fits in int64), ``other`` as centred times (µs) and group ids."""

    comp_r: np.ndarray
    base: int
    width: int
    unit: int
    t_o: np.ndarray
    g_o: np.ndarray
    n_r: int
    period: float = 0.0


def _pair_index(rt: np.ndarray, ot: np.ndarray, hr: np.ndarray, ho: np.ndarray, period: float) -> _Pairs:
    """``rt``/``ot``: centred times (µs); ``hr``/``ho``: key hashes (zeros without keys);
    ``period``: the coarser log's precision when it is whole seconds or so (see :func:`_excess`)."""
    groups, gid = np.unique(np.concatenate([hr, ho]), return_inverse=True)
    gr, go = gid[:len(hr)].astype(np.int64), gid[len(hr):].astype(np.int64)
    pad = int(_PAD_S * _US)
    base = int(rt.min()) - pad
    span = int(rt.max()) + pad - base + 1
    unit = 1
    while len(groups) * (span // unit + 1) >= 2 ** 62:  # the composite must fit: coarsen the clock
        unit *= 10
    width = span // unit + 1
    return _Pairs(np.sort(gr * width + (rt - base) // unit), base, width, unit, ot, go, len(rt), period)


def _differences(p: _Pairs, centre: float, half: float) -> tuple[np.ndarray, np.ndarray, float]:
    """All same-key differences ``other - ref - centre`` (s) within ``±half``, a weight for each
    (one over its event's number of candidates), and the share of ``other`` events they were
    gathered from (sampling keeps the work bounded). Each event's window is two
    ``searchsorted`` calls on the sorted composite: a sorted merge."""
    h = int(np.ceil(half * _US)) // p.unit
    step = max(1, len(p.t_o) // REFINE_SAMPLE)
    to = p.t_o[::step] - int(round(centre * _US))
    go = p.g_o[::step]
    rel = (to - p.base) // p.unit
    inside = (rel >= 0) & (rel < p.width)  # beyond the reference's span ± the pad: nothing to pair
    comp_o = go[inside] * p.width + rel[inside]
    lo = np.searchsorted(p.comp_r, comp_o - h, side="left")
    hi = np.searchsorted(p.comp_r, comp_o + h, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total > REFINE_PAIRS:  # very dense traffic without keys: fewer events, same picture
        keep = slice(None, None, int(np.ceil(total / REFINE_PAIRS)))
        comp_o, lo, counts = comp_o[keep], lo[keep], counts[keep]
        step *= keep.step
    owner = np.repeat(np.arange(len(comp_o)), counts)
    pos = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + lo[owner]
    diff = (comp_o[owner] - p.comp_r[pos]) * (p.unit / _US)
    # Each event spreads one unit over its candidates: an event alone in its window says exactly
    # where its partner is, one in a burst of fifty says little.
    weight = 1.0 / counts[owner]
    return diff, weight, 1.0 / step


def _excess(diff: np.ndarray, half: float, core: float, weight: np.ndarray | None = None, period: float = 0.0
            ) -> tuple[np.ndarray, np.ndarray, float]:
    """Histogram of differences (10 ms bins over ±half) minus what unrelated events give.

    Related events pile up in a block (within ``±core``) as wide as the logs' precision plus
    latency; unrelated same-key events give a background that is flat for steady traffic and a
    broad hump where both sides' bursts coincide. The background is a quadratic fitted to the
    bins outside the core, so that a hump is not taken for pairs. Where a log writes whole
    seconds (``period``), every one of its times sits on the same sub-second phase, so the
    background also repeats every second, shaped by when in the second the other side's events
    fall: that profile is read off the outer bins too and multiplies the trend. Returns the core's
    bin centres, excess and the sum of squared weights in it (the variance of its counts,
    background included).
    """
    nbins = int(round(2 * half / _BIN_S))
    k = np.floor((diff + half) / _BIN_S).astype(np.int64)
    ok = (k >= 0) & (k < nbins)
    k = k[ok]
    hist = np.bincount(k, weights=None if weight is None else weight[ok], minlength=nbins).astype(float)
    x = -half + (np.arange(nbins) + 0.5) * _BIN_S
    inside = np.abs(x) <= core
    sq = np.bincount(k, weights=None if weight is None else weight[ok] ** 2, minlength=nbins)
    noise = sq[inside].sum()
    outer = ~inside
    level = np.zeros_like(x)
    if outer.sum() >= 10:
        level = np.polyval(np.polyfit(x[outer], hist[outer], 2), x)
        phases = int(round(period / _BIN_S))
        if phases >= 10 and outer.sum() >= 2 * phases and (level[outer] > 0).all():
            phase = np.arange(nbins) % phases
            ratio = np.bincount(phase[outer], weights=hist[outer] / level[outer], minlength=phases)
            seen = np.bincount(phase[outer], minlength=phases)
            profile = np.where(seen > 0, ratio / np.maximum(seen, 1), 1.0)
            profile /= profile.mean()
            # Only a profile that stands out of counting noise is used (4 sigma of a chi-square):
            # otherwise it would add noise, not remove bias.
            # each outer bin's ratio has variance (sum of squared weights) / level^2
            var = np.bincount(phase[outer], weights=sq[outer] / level[outer] ** 2, minlength=phases)
            var = np.where(seen > 0, var / np.maximum(seen, 1) ** 2, np.inf)
            chi2 = float(((profile - 1) ** 2 / np.maximum(var, 1e-12)).sum())
            if chi2 > phases + 4 * np.sqrt(2 * phases):
                level = level * profile[phase]
    # Not clipped at zero: the noise must average out, not pile up as pairs everywhere.
    return x[inside], hist[inside] - level[inside], float(noise)


def _quantiles(x: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Weighted quantiles of a histogram (bin centres ``x``, counts ``w``, which may dip below
    zero where the background was over-estimated), linear within a bin."""
    cw = np.cumsum(w)
    if len(cw) == 0 or cw[-1] <= 0:
        return [0.0 for _ in qs]
    out = []
    for q in qs:
        target = q * cw[-1]
        k = int(np.argmax(cw >= target))
        before = cw[k - 1] if k else 0.0
        frac = float(np.clip((target - before) / w[k], 0, 1)) if w[k] > 0 else 0.5
        out.append(float(x[k] - _BIN_S / 2 + frac * _BIN_S))
    return out


def _median_of_excess(diff: np.ndarray, weight: np.ndarray, half: float, core: float, period: float
                       ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """The excess's median and its standard error, counting pairs either plainly or weighted by
    one over their event's candidates — whichever gives the smaller error (weights help where
    quiet stretches pin pairs down, plain counts where every event has many candidates)."""
    best = (0.0, float("inf"), np.empty(0), np.empty(0))
    for wt in (weight, None):
        x, w, noise = _excess(diff, half, core, wt, period)
        if w.sum() <= 0:
            continue
        med = _quantiles(x, w, [0.5])[0]
        # sqrt(variance of the counts) / (2 * density at the median); the variance includes the
        # unrelated pairs, so dense traffic without keys reports its doubt.
        density = float(w[np.abs(x - med) <= 0.1].sum()) / 0.2
        se = float(np.sqrt(max(noise, 0.0)) / (2 * density)) + _BIN_S / 2 if density > 0 else float("inf")
        if se < best[1] or not len(best[2]):
            best = (med, se, x, w)
    return best


def _refine(p: _Pairs, start: float, precision: float
            ) -> tuple[float, float, np.ndarray, np.ndarray, float]:
    """Re-centre on the median of the related pairs near ``start``; returns the centre, the
    related pairs' count (scaled back from any sampling), the final excess histogram (bins
    relative to the centre) and the standard error of the median."""
    centre = start
    for core in (precision / 2 + 2.0, precision / 2 + 1.0, precision / 2 + 1.0):
        diff, weight, share = _differences(p, centre, core + 3.0)
        med, se, x, w = _median_of_excess(diff, weight, core + 3.0, core, p.period)
        if not len(w):
            return centre, 0.0, x, w, float("inf")
        centre += med
    _, counted, _ = _excess(diff, core + 3.0, core, None, p.period)
    n = min(float(counted.sum() / share), float(len(p.t_o)), float(p.n_r))
    return centre, n, x - med, w, se


def _explained(p: _Pairs, centre: float, precision: float) -> float:
    """Related pairs within half the combined precision (+0.25 s) of ``centre``."""
    core = precision / 2 + 1.0
    diff, _, share = _differences(p, centre, core + 3.0)
    x, w, _ = _excess(diff, core + 3.0, core, None, p.period)
    return float(w[np.abs(x) <= precision / 2 + 0.25].sum() / share)


# --------------------------------------------------------------------------------------------
# the public functions


def estimate_offset(
    ref: pl.DataFrame,
    other: pl.DataFrame,
    *,
    ref_time: str = "ts",
    other_time: str = "ts",
    keys: Sequence[str] = (),
    ref_precision_s: float,
    other_precision_s: float,
    max_offset_s: float = MAX_OFFSET_S,
) -> OffsetEstimate:
    """Estimate how far ``other``'s clock is from ``ref``'s, from the two event tables alone.

    ``ref``/``other``: one row per event (e.g. access-log request starts and client sends, or
    access-log ends and CRM request lines); ``*_time``: their timestamp columns (any datetime);
    ``keys``: columns both share (method, path, status) — same-key events are what pair;
    ``*_precision_s``: the resolution each log writes, times being floors (``$time_local`` lines
    are 1.0: the event happened in ``[t, t + 1 s)``; millisecond logs 0.001). Offsets outside
    ``±max_offset_s`` are not considered. Events may be a subset on either side (an upstream logs
    only some requests; a client logs requests the proxy never saw). Null times or keys are
    dropped. See :class:`OffsetEstimate` for the result; check ``measured`` before using it.
    """
    keys = list(keys)
    precision = ref_precision_s + other_precision_s

    def table(df: pl.DataFrame, col: str, p: float) -> pl.DataFrame:
        t = df.select([pl.col(col).cast(_NS).alias("__raw")] + [pl.col(k).cast(pl.String) for k in keys]).drop_nulls()
        # Floors are centred so that both sides' times mean "the middle of when it happened";
        # keys become one 64-bit hash (strings on both sides, so 200 and "200" agree).
        key = pl.struct(keys).hash(seed=11) if keys else pl.lit(0, pl.UInt64)
        return t.select((pl.col("__raw").dt.epoch("us") + int(p * _US / 2)).alias("__t"),
                        key.alias("__h")).sort("__t")

    r, o = table(ref, ref_time, ref_precision_s), table(other, other_time, other_precision_s)

    def unmeasured(why: str, candidates: int = 0, z: float = 0.0) -> OffsetEstimate:
        return OffsetEstimate(0.0, 0.0, 0.0, 0, candidates, "traffic", why, 0.0, False, peak_z=z)

    if r.height < MIN_EVENTS or o.height < MIN_EVENTS:
        return unmeasured(f"too few events: {r.height} and {o.height}, at least {MIN_EVENTS} each are needed")
    rt, ot = r["__t"].to_numpy(), o["__t"].to_numpy()
    hr, ho = r["__h"].to_numpy(), o["__h"].to_numpy()
    rb, ob = rt // _US, ot // _US
    span_lo = max(int(ob[0] - rb[-1]), -int(max_offset_s))
    span_hi = min(int(ob[-1] - rb[0]), int(max_offset_s))
    if span_hi - span_lo < 0:
        return unmeasured("the two logs cannot overlap within the offsets considered")
    ones_r, ones_o = np.ones((len(rb), 1)), np.ones((len(ob), 1))
    z, length, half = _zscores(rb, ones_r, ob, ones_o, span_lo, span_hi)
    method = "traffic counts"
    if keys:
        bits = np.arange(_KEY_CHANNELS, dtype=np.uint64)
        sign = lambda h: ((h[:, None] >> bits) & np.uint64(1)).astype(np.float64) * 2 - 1  # noqa: E731
        zk, _, half_k = _zscores(rb, sign(hr), ob, sign(ho), span_lo, span_hi)
        half = np.where(zk > z, half_k, half)
        z = (z + zk) / np.sqrt(2)
        method = f"traffic counts by {', '.join(keys)}"
    shortest = min(rb[-1] - rb[0], ob[-1] - ob[0]) + 1
    valid = length >= min(MIN_OVERLAP_S, shortest)
    if not valid.any():
        return unmeasured("the two logs overlap by less than a few seconds at every offset")
    found, ratio = _peaks(z, valid, 5)
    best_z = float(z[found[0]]) if found else 0.0
    # The highest of n lags of pure noise is near sqrt(2 ln n) deviations: stand clear of it.
    need = max(MIN_Z, float(np.sqrt(2 * np.log(max(int(valid.sum()), 2)))) + 2.0)
    if best_z < need:
        return unmeasured(f"no offset stands out in the traffic (best peak z={best_z:.1f} < {need:.1f})",
                          len(found), best_z)
    # Each peak: refine and count the pairs it explains; the best-explaining wins ties of height.
    coarse = max(ref_precision_s, other_precision_s)
    index = _pair_index(rt, ot, hr, ho, coarse if coarse >= 0.1 else 0.0)
    tried = []
    for i in found[:3]:
        if i != found[0] and z[i] < MAX_PEAK_RATIO * best_z:
            continue
        lag = span_lo + i + (0.5 if half[i] else 0.0)  # a pair of seconds scored together: between them
        centre, n, x, w, se = _refine(index, lag, precision)
        tried.append((_explained(index, centre, precision), centre, n, x, w, i, se))
    tried.sort(key=lambda t: -t[0])
    n_best, centre, n_pairs, x, w, i_best, uncertainty = tried[0]
    if ratio is not None and ratio >= MAX_PEAK_RATIO:
        rivals = [t for t in tried if t[5] != i_best]
        if not rivals or rivals[0][0] >= 0.8 * n_best:
            second = span_lo + (found[1] if found[1] != i_best else found[0])
            return unmeasured(f"two offsets fit the traffic about equally ({span_lo + i_best:+d} s and {second:+d} s,"
                              f" peak ratio {ratio:.2f})", len(found), best_z)
    pairs = int(round(n_pairs))
    if pairs < MIN_PAIRS:
        return unmeasured(f"only {pairs} events pair at the best offset", len(found), best_z)
    # A zone mistake is a whole quarter hour plus at most a clock's drift; 10 minutes is not a zone.
    zone = round(centre / 900) * 900
    zone = zone if abs(centre - zone) <= ZONE_NEAR_S else 0
    whole = round(centre - zone)
    if whole and abs(centre - zone) <= SNAP_S:
        # Is the rest clock or latency? Keep it only if it explains more pairs than the zone alone.
        if _explained(index, zone, precision) >= _explained(index, zone + whole, precision):
            whole = 0
    seconds = float(zone + whole)
    lo, med, hi = (v + centre - seconds for v in _quantiles(x, w, [0.1, 0.5, 0.9]))
    ratio_v = 0.0 if ratio is None else ratio
    confidence = float(np.clip((1 - ratio_v) * (1 - np.exp(-pairs / 30)) * min(1.0, best_z / (2 * MIN_Z)), 0, 1))
    evidence = (f"peak z={best_z:.1f}" + (f", runner-up at {ratio_v:.2f} of it" if ratio is not None else "")
                + f"; about {pairs:,} of {o.height:,} events pair with one of the reference")
    return OffsetEstimate(seconds, float(zone), med, pairs, len(found), method, evidence, confidence, True,
                          lo, hi, float(uncertainty), best_z, ratio)


def apply_offset(df: pl.DataFrame, estimate: OffsetEstimate, columns: Sequence[str], *, mode: str = "full"
                 ) -> tuple[pl.DataFrame, float]:
    """Move ``df``'s time ``columns`` (from the estimate's ``other`` log) onto the reference clock.

    Returns the shifted frame and the slack (seconds) its time windows need on each side.
    ``mode="full"`` (the default) subtracts ``seconds + residual_s``; slack: three times the
    median's ``uncertainty_s``. ``mode="whole"`` subtracts ``seconds`` only; slack: ``|residual_s|``
    plus the same. Neither needs the residuals' spread: that is the logs' precision, which the
    intervals already carry (see the module notes for the measurement). An unmeasured estimate
    leaves the frame as it is, with no slack to offer: do not match on time across hosts that
    could not be aligned.
    """
    if mode not in ("whole", "full"):
        raise ValueError(f"mode must be 'whole' or 'full', not {mode!r}")
    if not estimate.measured:
        return df, 0.0
    slack = 3 * estimate.uncertainty_s
    if mode == "whole":
        shift, slack = estimate.seconds, slack + abs(estimate.residual_s)
    else:
        shift = estimate.total_s
    delta = pl.duration(microseconds=int(round(shift * _US)))
    return df.with_columns([(pl.col(c).cast(_NS) - delta).alias(c) for c in columns]), float(slack)


def interval_match(
    left: pl.DataFrame,
    right: pl.DataFrame,
    by: Sequence[str],
    left_start: str,
    left_end: str,
    right_time: str,
    *,
    tolerance_s: float = 0.0,
    left_id: str = "left_id",
    right_id: str = "right_id",
    rounds: int = 64,
) -> pl.DataFrame:
    """Place point events (``right``) into intervals (``left``), one to one.

    ``left``: one row per interval ``[left_start, left_end)`` (e.g. an access attempt whose
    ``$time_local`` end stands for ``[t, t + 1 s)``: pass ``end = t + 1 s``); ``right``: one row per
    point (e.g. a CRM line at ms precision); ``by``: keys both must share; ``tolerance_s`` widens
    every interval on both sides. ``left_id``/``right_id`` name unique id columns (added from row
    numbers when absent).

    Each point goes to a containing interval with the nearest centre; each interval takes at most
    one point (the nearest to its centre; the others try the remaining intervals next round).
    ``candidates`` counts the intervals (same keys) containing the point, whether or not free;
    ``confidence = 1 / candidates``. Returns ``left_id, right_id, dt`` (point - centre, s),
    ``candidates, confidence``. Sorted merges only: each round is four ``join_asof`` lookups per
    point (nearest centre, latest start, earliest end, and the centre just before), so a point
    whose only free containing interval is none of those four (a long interval around two short
    ones) may stay unpaired.
    """
    by = list(by)
    tol = int(round(tolerance_s * _US))
    if left_id not in left.columns:
        left = left.with_row_index(left_id)
    if right_id not in right.columns:
        right = right.with_row_index(right_id)
    lt = left.select([left_id] + by + [
        (pl.col(left_start).cast(_NS).dt.epoch("us") - tol).alias("__s"),
        (pl.col(left_end).cast(_NS).dt.epoch("us") + tol).alias("__e"),
    ]).drop_nulls().with_columns(((pl.col("__s") + pl.col("__e")) // 2).alias("__c"))
    rt = right.select([right_id] + by + [pl.col(right_time).cast(_NS).dt.epoch("us").alias("__t")]).drop_nulls()
    empty = pl.DataFrame(schema={left_id: lt.schema[left_id], right_id: rt.schema[right_id], "dt": pl.Float64,
                                 "candidates": pl.UInt32, "confidence": pl.Float64})
    if lt.height == 0 or rt.height == 0:
        return empty
    rt = rt.sort("__t")
    rt = rt.with_columns(_containing(lt, rt, by).alias("candidates")).filter(pl.col("candidates") > 0)
    bykw = {"by": by} if by else {}
    won_all = []
    for _ in range(rounds):
        if lt.height == 0 or rt.height == 0:
            break
        looks = []
        for on, strategy in (("__c", "nearest"), ("__s", "backward"), ("__e", "forward"), ("__c", "backward")):
            pool = lt.sort(on).with_columns(pl.col(on).alias("__k"))
            j = rt.join_asof(pool.select([left_id, "__k", "__s", "__e", "__c"] + by), left_on="__t",
                             right_on="__k", strategy=strategy, check_sortedness=False, **bykw)
            looks.append(j.select(right_id, left_id, "__t", "__s", "__e", "__c", "candidates"))
        cand = pl.concat(looks).filter(
            pl.col(left_id).is_not_null() & (pl.col("__s") <= pl.col("__t")) & (pl.col("__t") < pl.col("__e")))
        if cand.height == 0:
            break
        cand = cand.with_columns((pl.col("__t") - pl.col("__c")).abs().alias("__d"))
        # The point's nearest containing centre, then one point per interval: the nearest wins.
        mine = cand.sort([right_id, "__d", left_id]).unique(right_id, keep="first")
        won = mine.sort([left_id, "__d", right_id]).unique(left_id, keep="first")
        won_all.append(won)
        lt = lt.join(won.select(left_id), on=left_id, how="anti")
        rt = rt.join(won.select(right_id), on=right_id, how="anti")
    if not won_all:
        return empty
    out = pl.concat(won_all)
    return out.select(left_id, right_id, ((pl.col("__t") - pl.col("__c")) / _US).alias("dt"),
                      pl.col("candidates").cast(pl.UInt32),
                      (1.0 / pl.col("candidates").cast(pl.Float64)).alias("confidence")).sort(right_id)


def _containing(lt: pl.DataFrame, rt: pl.DataFrame, by: list[str]) -> pl.Series:
    """How many intervals of ``lt`` (same keys) contain each point of ``rt`` (sorted by ``__t``):
    the starts at or before it minus the ends at or before it, each a backward ``join_asof``
    onto a running count."""
    bykw = {"by": by} if by else {}

    def running(col: str) -> pl.DataFrame:
        s = lt.select(by + [col]).sort(by + [col]) if by else lt.select(col).sort(col)
        n = pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
        s = s.with_columns((n.over(by) if by else n).alias("__n"))
        # Equal times: the running count after the last of them.
        return s.group_by(by + [col]).agg(pl.col("__n").max()).sort(col)

    starts = rt.join_asof(running("__s"), left_on="__t", right_on="__s", strategy="backward",
                          check_sortedness=False, **bykw)["__n"].fill_null(0)
    ends = rt.join_asof(running("__e"), left_on="__t", right_on="__e", strategy="backward",
                        check_sortedness=False, **bykw)["__n"].fill_null(0)
    return (starts - ends).clip(lower_bound=0)
