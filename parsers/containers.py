"""Container log wrappers: take the application's lines out of what the container runtime wrote.

Three wrappers are recognised, each as its runtime writes it:

``docker_json``
    Docker's ``json-file`` driver (``/var/lib/docker/containers/<id>/<id>-json.log``), one JSON
    object per record: ``{"log":"GET / HTTP/1.1 ...\\n","stream":"stdout","time":"<RFC 3339 nano>"}``
    (plus ``"attrs"`` when labels or a tag are logged). ``log`` keeps the line's ``\\n``; a line
    longer than the daemon's 16 KiB buffer is split into several records, all but the last
    without the ``\\n``.
``cri``
    The CRI format containerd and CRI-O write for the kubelet (``/var/log/pods/...``):
    ``<RFC 3339 nano> <stdout|stderr> <P|F>[:more tags] <text>``; ``P`` marks a partial record
    that the next record of the same stream continues, ``F`` the record that ends a line (runtimes
    older than Kubernetes 1.10 wrote no tag: every record is a whole line).
``compose`` / ``compose_timestamps``
    ``docker compose logs`` output: ``<service>  | <text>``, the service name padded to the widest
    one, lines of all services interleaved; with ``--timestamps`` each text starts with the time
    the line was read (RFC 3339, nine fraction digits).

:func:`unwrap` turns the raw lines into :class:`Unwrapped`: the payload lines (partials joined,
in a per-service order) to detect and parse the inner format on, and per payload line the
original line number, the container's time, the stream and the service. :meth:`Unwrapped.restore`
maps an inner :class:`~loganalyzer.parsers.engine.ParseResult` back onto the original lines, so
that ``lines = parsed + continuation + rejected`` still holds for the file as read (the extra
records of a joined line count as continuation). :func:`parse` does both for lines in memory
(per compose service), :func:`parse_stream` for a file that arrives in chunks, and
:func:`parse_mixed` / :func:`parse_mixed_stream` for a payload of several formats (an nginx
container's access lines on stdout, its error log on stderr). Entries gain ``container_ts``,
``stream`` and ``service`` where the wrapper says them; ``ts`` stays the application's own time.

Typical use (ingest)::

    u = containers.unwrap(sample)                       # None: not a container log
    if u is not None:
        if mixed.is_mixed(u.payload, candidates):       # e.g. nginx: access on stdout, errors on stderr
            parts = containers.parse_mixed_stream(chunks, candidates, u.wrapper, zones)
        else:
            fmt = detect(u.payload, candidates).format  # the inner format, on the payload
            result = containers.parse_stream(chunks, fmt, zone, u.wrapper)

Public names: ``WRAPPERS``, :func:`detect_wrapper`, :func:`unwrap`, :class:`Unwrapped`
(``restore``, ``restore_all``), :func:`parse`, :func:`parse_mixed`, :func:`parse_stream`,
:func:`parse_mixed_stream`, :func:`parse_plain_stream` (``PLAIN``, ``TIMED_WRAPPERS``),
:func:`container_offset`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import polars as pl

from . import engine, mixed
from .formats import Compiled, FormatDef

WRAPPERS = ("docker_json", "cri", "compose", "compose_timestamps")
#: Share of a sample's non-blank lines that must be records of one wrapper for it to be taken.
MIN_WRAPPED = 0.9
DETECT_SAMPLE = 1000
#: Columns added to the entries, when the wrapper provides them and the inner format has no
#: column of that name already.
META_COLUMNS = ("container_ts", "stream", "service")

_TS = pl.Datetime("ns", "UTC")
_ANSI = r"\x1b\[[0-9;]*[A-Za-z]"
_RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})"
# The tag field came with Kubernetes 1.10's partial lines; older runtimes wrote lines without it.
_CRI = (rf"^(?P<time>{_RFC3339}) (?P<stream>stdout|stderr)"
        r"(?: (?P<tag>[PF])(?::\S*)?(?: (?P<text>.*))?$| (?P<untagged>.*)$|$)")
# compose pads the name to (widest name + 1) and appends " | "; a line with no text keeps "| ".
_COMPOSE = r"^(?P<service>[A-Za-z0-9][\w.-]*) +\|(?: (?P<text>.*))?$"
# --timestamps writes Go's RFC3339NanoFixed: always nine fraction digits, which sets it apart
# from an application's own ISO time (milliseconds, as logback and most loggers write).
_COMPOSE_TS = r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}(?:Z|[+-]\d{2}:\d{2})) (?P<rest>.*)$"
_DOCKER_START = '{"log":"'


@dataclass
class Unwrapped:
    """The application's lines inside a container log, and where each came from.

    ``payload`` has one string per application line, in the order to parse them (compose output is
    regrouped by service, first-seen service first, so a service's multi-line entries stay whole).
    ``meta`` has one row per payload line: ``payload_line`` (1-based, the number the engine gives
    the line when it parses ``payload``), ``line`` (the original line of its first record),
    ``records`` (original lines joined into it), ``complete`` (False for a partial line the input
    ended inside), ``container_ts`` (UTC), ``stream`` and ``service`` (null where the wrapper does
    not say). ``rejects`` are original lines that are not records of the wrapper (line, text,
    reason). ``lines`` counts the original lines.
    """

    wrapper: str
    payload: pl.Series
    meta: pl.DataFrame
    rejects: pl.DataFrame
    lines: int

    @property
    def continuation(self) -> int:
        """Original lines that continue a joined payload line (its records after the first)."""
        return int(self.meta["records"].sum()) - self.meta.height if self.meta.height else 0

    def restore(self, result: engine.ParseResult, fill_untimed: bool = False) -> engine.ParseResult:
        """Map a parse of ``payload`` back onto the original lines.

        Entry and reject ``line`` numbers become original line numbers; entries gain the
        wrapper's columns (``container_ts``, ``stream``, ``service``; only those the wrapper
        fills). ``ts`` stays the inner format's time; the container's time fills it only where
        the inner one is missing. With ``fill_untimed``, payload lines the inner format rejected
        that are plain text (not blank, not the start of some other log format: a start-up
        banner, ``Listening on :8080``) become entries timed by the container, with the text as
        ``message``, instead of rejects. The wrapper's own rejects are added, and the joined
        records count as continuation. ``line_count`` (multi-line entries) still counts payload
        lines.
        """
        if result.lines != self.meta.height:
            raise ValueError(f"the result covers {result.lines} lines, the payload has {self.meta.height}")
        entries, rejects = self._map(result, fill_untimed)
        rejects = pl.concat([rejects, self.rejects], how="vertical_relaxed").sort("line")
        return _accounted(self.lines, entries.sort("line"), rejects, result.zone_assumed, result.batched)

    def restore_all(self, results: list[tuple[Compiled, engine.ParseResult]], fill_untimed: bool = False
                    ) -> list[tuple[Compiled, engine.ParseResult]]:
        """:meth:`restore` for the segments of a payload parsed by :func:`mixed.parse_mixed`.

        The wrapper's rejects and the extra records of joined lines are counted with the first
        segment, so the segments' ``lines`` add up to the original line count. No segments (no
        candidate matched the payload) gives ``[]``.
        """
        if not results:
            return []
        covered = sum(r.lines for _, r in results)
        if covered != self.meta.height:
            raise ValueError(f"the results cover {covered} lines, the payload has {self.meta.height}")
        out = []
        for i, (fmt, result) in enumerate(results):
            entries, rejects = self._map(result, fill_untimed)
            lines = result.lines
            if i == 0:
                rejects = pl.concat([rejects, self.rejects], how="vertical_relaxed").sort("line")
                lines += self.rejects.height + self.continuation
            out.append((fmt, _accounted(lines, entries.sort("line"), rejects, result.zone_assumed, result.batched)))
        return out

    # ----------------------------------------------------------------------------------------

    def _meta_columns(self) -> list[str]:
        return [c for c in META_COLUMNS if self.meta[c].null_count() < self.meta.height]

    def _map(self, result: engine.ParseResult, fill_untimed: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
        keep = self._meta_columns()
        meta = self.meta.select(pl.col("payload_line").alias("line"), pl.col("line").alias("__orig"), *keep)
        entries = result.entries
        extra = [c for c in keep if c not in entries.columns]
        entries = entries.join(meta.select("line", "__orig", *extra), on="line", how="left", maintain_order="left")
        if "container_ts" in keep:
            ts = pl.coalesce("ts", "container_ts") if "container_ts" in entries.columns else pl.col("ts")
            entries = entries.with_columns(ts.alias("ts"))
        entries = entries.with_columns(pl.col("__orig").alias("line")).drop("__orig")
        rejects = result.rejects.join(meta.select("line", "__orig", *keep), on="line", how="left",
                                      maintain_order="left")
        if fill_untimed and "container_ts" in keep:
            plain = (
                pl.col("container_ts").is_not_null() & (pl.col("text").str.strip_chars() != "")
                & ~pl.col("text").str.contains(engine.FOREIGN_START)
            )
            adopted = rejects.filter(plain).select(
                pl.col("__orig").alias("line"), pl.col("container_ts").alias("ts"),
                pl.lit(None, pl.String).alias("level"), pl.lit(None, pl.String).alias("request_id"),
                pl.col("text").alias("message"), *[pl.col(c) for c in extra],
            )
            if adopted.height:
                entries = pl.concat([entries, adopted], how="diagonal_relaxed")
                rejects = rejects.filter(~plain)
        rejects = rejects.select(pl.col("__orig").alias("line"), "text", "reason")
        return entries, rejects


def _accounted(lines: int, entries: pl.DataFrame, rejects: pl.DataFrame, assumed: bool, batched: int = 0
               ) -> engine.ParseResult:
    continuation = lines + batched - entries.height - rejects.height
    return engine.ParseResult(entries, rejects, lines, continuation, assumed, batched)


# --------------------------------------------------------------------------------------------
# recognising and unwrapping


def detect_wrapper(lines: pl.Series) -> str | None:
    """Which wrapper the lines are written in (one of ``WRAPPERS``), or None for bare lines.

    A wrapper is taken when at least ``MIN_WRAPPED`` of the sample's non-blank lines are its
    records: one literal prefix test and at most two regex tests over the sample.
    """
    sample = _clean(lines.head(DETECT_SAMPLE))
    sample = sample.filter(sample.str.strip_chars() != "")
    if sample.len() == 0:
        return None
    n = sample.len()
    docker = sample.str.starts_with(_DOCKER_START) & sample.str.json_path_match("$.time").is_not_null()
    if docker.sum() >= MIN_WRAPPED * n:
        return "docker_json"
    if sample.str.contains(_CRI).sum() >= MIN_WRAPPED * n:
        return "cri"
    compose = sample.filter(sample.str.contains(_COMPOSE))
    if compose.len() >= MIN_WRAPPED * n:
        texts = compose.str.extract(_COMPOSE, 2).drop_nulls()
        timed = texts.str.contains(_COMPOSE_TS).sum()
        return "compose_timestamps" if texts.len() and timed >= MIN_WRAPPED * texts.len() else "compose"
    return None


def unwrap(lines: pl.Series, wrapper: str | None = None, first_line: int = 1) -> Unwrapped | None:
    """The payload of container-wrapped lines, or None when the lines are not wrapped.

    ``wrapper`` forces one of ``WRAPPERS`` (later chunks of a file whose wrapper is known);
    otherwise it is detected on the first lines. ``first_line`` numbers the lines when this is
    a later chunk. Everything runs as polars expressions over all the lines at once.
    """
    wrapper = wrapper or detect_wrapper(lines)
    if wrapper is None:
        return None
    if wrapper not in WRAPPERS:
        raise ValueError(f"unknown container wrapper {wrapper!r} (one of {', '.join(WRAPPERS)})")
    numbers = pl.int_range(first_line, first_line + len(lines), eager=True, dtype=pl.Int64)
    df = pl.DataFrame({"line": numbers, "raw": _clean(lines)})
    if wrapper == "docker_json":
        recs, bad = _docker(df)
    elif wrapper == "cri":
        recs, bad = _cri(df)
    else:
        recs, bad = _compose(df, timestamps=wrapper == "compose_timestamps")
    if "end" in recs.columns:
        recs = _join_partials(recs)
    else:
        recs = recs.with_columns(records=pl.lit(1, pl.UInt32), complete=pl.lit(True))
    recs = recs.with_row_index("payload_line", offset=1).with_columns(pl.col("payload_line").cast(pl.Int64))
    meta = recs.select("payload_line", "line", pl.col("records").cast(pl.Int64), "complete",
                       pl.col("container_ts").cast(_TS), pl.col("stream").cast(pl.String),
                       pl.col("service").cast(pl.String))
    rejects = bad.select("line", pl.col("raw").alias("text"), pl.lit(f"not a {_NAMES[wrapper]} record").alias("reason"))
    return Unwrapped(wrapper, recs["text"].alias("text"), meta, rejects, len(lines))


_NAMES = {"docker_json": "Docker json-file", "cri": "CRI (containerd/CRI-O)", "compose": "docker compose",
          "compose_timestamps": "docker compose"}


def _clean(lines: pl.Series) -> pl.Series:
    """Drop the CR of CRLF and colour codes (compose colours its prefixes on a terminal)."""
    text = lines.cast(pl.String)
    if text.str.ends_with("\r").any():
        text = text.str.strip_suffix("\r")
    if text.str.contains("\x1b", literal=True).any():
        text = text.str.replace_all(_ANSI, "")
    return text


def _rfc3339(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace(r"Z$", "+00:00").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="ns").dt.convert_time_zone("UTC")


_DOCKER_RECORD = pl.Struct({"log": pl.String, "stream": pl.String, "attrs": pl.Struct({"tag": pl.String}),
                            "time": pl.String})


def _docker(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw = pl.col("raw")
    shaped = raw.str.starts_with(_DOCKER_START) & raw.str.strip_chars_end().str.ends_with("}")
    df = df.with_columns(shaped.alias("__obj"))
    objs = df.filter("__obj")
    try:
        # One JSON parse per record; a malformed one among them makes polars refuse the lot, and
        # then each field is read on its own (null where the record is broken).
        fields = objs.select(pl.col("raw").str.json_decode(_DOCKER_RECORD).alias("__r")).unnest("__r")
        fields = fields.select(pl.col("log").alias("text"), "stream",
                               pl.col("attrs").struct.field("tag").alias("service"), "time")
    except pl.exceptions.ComputeError:
        fields = objs.select(*(raw.str.json_path_match(path).alias(name) for name, path in (
            ("text", "$.log"), ("stream", "$.stream"), ("service", "$.attrs.tag"), ("time", "$.time"))))
    objs = pl.concat([objs.select("line", "raw"), fields], how="horizontal")
    df = df.filter(~pl.col("__obj")).select("line", "raw")
    objs = objs.with_columns(_rfc3339(pl.col("time")).alias("container_ts"))
    ok = pl.col("text").is_not_null() & pl.col("container_ts").is_not_null()
    recs = objs.filter(ok).with_columns(end=pl.col("text").str.ends_with("\n"))
    recs = recs.with_columns(pl.col("text").str.strip_suffix("\n"))
    bad = pl.concat([df, objs.filter(~ok).select("line", "raw")]).sort("line")
    return recs.drop("raw", "time"), bad


def _cri(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    df = df.with_columns(pl.col("raw").str.extract_groups(_CRI).alias("__c")).unnest("__c")
    df = df.with_columns(_rfc3339(pl.col("time")).alias("container_ts"), pl.lit(None, pl.String).alias("service"))
    ok = pl.col("container_ts").is_not_null()
    recs = df.filter(ok).with_columns(pl.coalesce("text", "untagged", pl.lit("")).alias("text"),
                                      end=pl.col("tag").fill_null("F") == "F")
    return recs.drop("raw", "time", "tag", "untagged"), df.filter(~ok)


def _compose(df: pl.DataFrame, timestamps: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    df = df.with_columns(pl.col("raw").str.extract_groups(_COMPOSE).alias("__c")).unnest("__c")
    ok = pl.col("service").is_not_null()
    recs = df.filter(ok).with_columns(pl.col("text").fill_null(""))
    if timestamps:
        parts = pl.col("text").str.extract_groups(_COMPOSE_TS)
        recs = recs.with_columns(parts.alias("__t")).unnest("__t").with_columns(
            _rfc3339(pl.col("time")).alias("container_ts"),
            pl.coalesce("rest", "text").alias("text"),
        ).drop("time", "rest")
    else:
        recs = recs.with_columns(pl.lit(None, _TS).alias("container_ts"))
    # Services interleave line by line; each service's lines are put together (in the order its
    # first line appears) so an entry's continuation lines follow it, not another service's line.
    recs = recs.with_columns(pl.lit(None, pl.String).alias("stream"))
    recs = recs.sort(pl.col("line").min().over("service"), "line")
    return recs.drop("raw"), df.filter(~ok)


def _join_partials(recs: pl.DataFrame) -> pl.DataFrame:
    """Join partial records: within a stream, a line runs up to and including its next ``end`` record.

    stdout and stderr are copied by separate goroutines, so a partial stdout line may have stderr
    records between its pieces; grouping per stream joins the right pieces.
    """
    grp = pl.col("end").cast(pl.Int64).cum_sum().shift(1, fill_value=0).over("stream")
    recs = recs.with_columns(grp.alias("__g"))
    if recs.select(pl.col("end").all()).item():
        return recs.with_columns(records=pl.lit(1, pl.UInt32), complete=pl.lit(True)).drop("__g", "end")
    joined = recs.group_by("stream", "__g", maintain_order=True).agg(
        pl.col("line").first(), pl.col("text").str.join(""), pl.col("container_ts").first(),
        pl.col("service").first(), pl.len().alias("records"), pl.col("end").last().alias("complete"),
    )
    return joined.sort("line").drop("__g")


# --------------------------------------------------------------------------------------------
# parsing the payload


def _blocks(u: Unwrapped) -> list[tuple[int, int]]:
    """(first payload line, count) per service block; one block unless compose output."""
    if not u.wrapper.startswith("compose") or u.meta.height == 0:
        return [(1, u.meta.height)]
    blocks = u.meta.group_by("service", maintain_order=True).agg(
        pl.col("payload_line").min().alias("first"), pl.len().alias("n"))
    return [(int(f), int(n)) for f, n in blocks.select("first", "n").iter_rows()]


def parse(u: Unwrapped, fmt: Compiled, zone: str | None, fill_untimed: bool = False) -> engine.ParseResult:
    """Parse the payload with ``fmt`` and :meth:`~Unwrapped.restore` it onto the original lines.

    Each compose service is parsed on its own, so the first lines of one service (a stack trace
    whose entry was cut off by ``--tail``) never continue another service's last entry.
    """
    results = [engine.parse(u.payload.slice(first - 1, n), fmt, zone, first_line=first) for first, n in _blocks(u)]
    return u.restore(mixed._merge(results), fill_untimed)


def parse_mixed(u: Unwrapped, candidates: list[Compiled], zone: str | None | Mapping[str, str | None] = None,
                fill_untimed: bool = False) -> list[tuple[Compiled, engine.ParseResult]]:
    """:func:`mixed.parse_mixed` on the payload (per compose service), restored onto the original lines.

    One (format, result) per format used; the results' ``lines`` add up to the original line count
    (the wrapper's rejects and joined records are counted with the first).
    """
    by_name: dict[str, tuple[Compiled, list[engine.ParseResult]]] = {}
    for first, n in _blocks(u):
        for fmt, result in mixed.parse_mixed(u.payload.slice(first - 1, n), candidates, zone, first_line=first):
            by_name.setdefault(fmt.name, (fmt, []))[1].append(result)
    merged = [(fmt, mixed._merge(results)) for fmt, results in by_name.values()]
    return u.restore_all(merged, fill_untimed)


# --------------------------------------------------------------------------------------------
# streaming


def parse_stream(chunks: Iterable[pl.Series], fmt: Compiled, zone: str | None, wrapper: str,
                 fill_untimed: bool = False) -> engine.ParseResult:
    """Unwrap and parse a wrapped file that arrives in chunks; lines are the file's own.

    A partial line cut by a chunk boundary is held back and joined with the next chunk. The
    payload goes through :func:`engine.parse_stream`, so multi-line entries that straddle
    chunks stay whole. Compose output (a terminal capture, services interleaved) is read whole
    and parsed per service with :func:`parse`.
    """
    if wrapper.startswith("compose"):
        return parse(_whole(chunks, wrapper), fmt, zone, fill_untimed)
    stream = _PayloadStream(chunks, wrapper)
    result = engine.parse_stream(stream, fmt, zone)
    return stream.unwrapped().restore(result, fill_untimed)


def parse_mixed_stream(chunks: Iterable[pl.Series], candidates: list[Compiled], wrapper: str,
                       zone: str | None | Mapping[str, str | None] = None, fill_untimed: bool = False
                       ) -> list[tuple[Compiled, engine.ParseResult]]:
    """:func:`parse_stream` for a payload of several formats, through :func:`mixed.parse_stream`."""
    if wrapper.startswith("compose"):
        return parse_mixed(_whole(chunks, wrapper), candidates, zone, fill_untimed)
    stream = _PayloadStream(chunks, wrapper)
    results = mixed.parse_stream(stream, candidates, zone)
    return stream.unwrapped().restore_all(results, fill_untimed)


#: Wrappers that time every record: a payload no format reads can still be read as their messages.
TIMED_WRAPPERS = ("docker_json", "cri", "compose_timestamps")
#: The fallback's definition: not a format detection may pick, the name the per-file table shows.
PLAIN = FormatDef(name="container_text", kind="app", syntax="regex", pattern=r"^(?P<message>.*)$",
                  description="payload lines no format reads, each a message timed by the container runtime")


def parse_plain_stream(chunks: Iterable[pl.Series], wrapper: str) -> engine.ParseResult:
    """The fallback for a payload no format (nor an inferred layout) reads: each payload line an
    entry, timed by the wrapper (``ts`` is ``container_ts``), its text the ``message``.

    A Redis or a shell script in a container writes what no definition describes; the runtime's
    own record still says when and on which stream each line was written, which is enough to put
    it on the timeline. Blank payload lines are rejected, joined records count as continuation.
    """
    if wrapper not in TIMED_WRAPPERS:
        raise ValueError(f"{wrapper} records carry no time of their own")
    if wrapper.startswith("compose"):
        u = _whole(chunks, wrapper)
        payloads = [u.payload]
    else:
        stream = _PayloadStream(chunks, wrapper)
        payloads = list(stream)
        u = stream.unwrapped()
    text = pl.concat(payloads) if payloads else pl.Series("text", [], dtype=pl.String)
    keep = u._meta_columns()
    frame = u.meta.with_columns(text.alias("message"))
    good = (pl.col("message").str.strip_chars() != "") & pl.col("container_ts").is_not_null()
    entries = frame.filter(good).select(
        "line", pl.col("container_ts").alias("ts"), pl.lit(None, pl.String).alias("level"),
        pl.lit(None, pl.String).alias("request_id"), "message", *keep,
        pl.col("records").cast(pl.Int32).alias("line_count"))
    reason = pl.when(pl.col("container_ts").is_null()).then(pl.lit("no time in its container record")).otherwise(
        pl.lit("empty line"))
    rejects = frame.filter(~good).select("line", pl.col("message").alias("text"), reason.alias("reason"))
    rejects = pl.concat([rejects, u.rejects], how="vertical_relaxed").sort("line")
    return _accounted(u.lines, entries.sort("line"), rejects, False)


def _whole(chunks: Iterable[pl.Series], wrapper: str) -> Unwrapped:
    parts = list(chunks)
    u = unwrap(pl.concat(parts) if parts else pl.Series("text", [], dtype=pl.String), wrapper)
    assert u is not None
    return u


class _PayloadStream:
    """Iterate over the payload of wrapped chunks, keeping what :meth:`unwrapped` needs to restore.

    A partial line the chunk ends inside is held back and unwrapped with the next chunk.
    """

    def __init__(self, chunks: Iterable[pl.Series], wrapper: str):
        self.chunks = chunks
        self.wrapper = wrapper
        self.parts: list[Unwrapped] = []

    def __iter__(self) -> Iterator[pl.Series]:
        held: pl.Series | None = None
        first = 1
        done = 0
        for chunk in self.chunks:
            lines = chunk if held is None else pl.concat([held, chunk])
            u = self._unwrap(lines, first)
            unfinished = u.meta.filter(~pl.col("complete"))
            if unfinished.height:
                cut = int(unfinished["line"].min()) - first
                lines, held = lines.head(cut), lines.slice(cut)
                u = self._unwrap(lines, first)
            else:
                held = None
            first += len(lines)
            done = self._keep(u, done)
            if u.meta.height:
                yield u.payload
        if held is not None and len(held):
            u = self._unwrap(held, first)
            self._keep(u, done)
            if u.meta.height:
                yield u.payload

    def _unwrap(self, lines: pl.Series, first: int) -> Unwrapped:
        u = unwrap(lines, self.wrapper, first)
        assert u is not None
        return u

    def _keep(self, u: Unwrapped, done: int) -> int:
        # Payload lines are numbered through the whole file, as engine.parse_stream numbers them.
        u.meta = u.meta.with_columns(pl.col("payload_line") + done)
        self.parts.append(u)
        return done + u.meta.height

    def unwrapped(self) -> Unwrapped:
        """The whole file's metadata and rejects (no payload: it has been parsed)."""
        if not self.parts:
            return _whole([], self.wrapper)
        return Unwrapped(self.wrapper, pl.Series("text", [], dtype=pl.String),
                         pl.concat([p.meta for p in self.parts]), pl.concat([p.rejects for p in self.parts]),
                         sum(p.lines for p in self.parts))


def container_offset(entries: pl.DataFrame) -> str | None:
    """The UTC offset naive inner times were written in, read off the container's clock.

    ``entries`` is a restored result whose inner times were read as UTC (no offset in the lines,
    no zone given). The container time is UTC and lags the inner time by the write delay only,
    so their median difference, rounded to a quarter hour, is the writer's offset (``+0300``).
    None without container times or when the differences do not agree on one offset.
    """
    if "container_ts" not in entries.columns or entries.height == 0:
        return None
    diff = (entries["ts"] - entries["container_ts"]).dt.total_seconds().drop_nulls()
    if diff.len() == 0:
        return None
    quarter = 900
    median = diff.median()
    assert median is not None
    minutes = round(float(median) / quarter) * quarter // 60
    # Most lines must sit within a minute of that offset, else the clocks tell nothing.
    near = ((diff - minutes * 60).abs() <= 60).mean()
    if near is None or float(near) < 0.9:
        return None
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
