"""Container log wrappers: real nginx and Spring Boot lines, written the way Docker, containerd and
docker compose write them, must parse exactly as the bare lines do, every original line counted."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from loganalyzer.parsers import containers, engine, mixed
from loganalyzer.parsers.formats import compile_definition, load_definitions

from loganalyzer import ingest

from .conftest import DATA, SAMPLES

FORMATS = {c.name: c for c in (compile_definition(d) for d in load_definitions())}
CANDIDATES = list(FORMATS.values())
ACCESS = (SAMPLES / "mixed-faults" / "logs" / "access.log").read_text().splitlines()[:200]
ERROR = (SAMPLES / "mixed-faults" / "logs" / "error.log").read_text().splitlines()[:200]
# Spring Boot 3 lines with offsets; lines 1-400 hold Jackson stack traces (entries of 20+ lines).
CRM = (SAMPLES / "mixed-faults" / "logs" / "crm.log").read_text().splitlines()[:400]
# Spring Boot 2 lines: naive local times.
CRM2 = (SAMPLES / "trailing-comma" / "logs" / "crm.log").read_text().splitlines()[:400]
BANNER = (DATA / "spring-boot" / "actuator-docs-sample.log").read_text().splitlines()
BASE_NS = 1_795_684_486_070_123_456  # 2026-11-26T09:14:46.070123456Z
STEP_NS = 1_234_567  # the container clock advances 1.23 ms between lines


# --------------------------------------------------------------------------------------------
# writers that do what the runtimes do


def rfc3339(ns: int, fixed: bool = False, offset_minutes: int = 0) -> str:
    """Go's time.RFC3339Nano (trailing zeros of the fraction dropped) or RFC3339NanoFixed."""
    seconds, frac = divmod(ns, 1_000_000_000)
    zone = timezone(timedelta(minutes=offset_minutes))
    text = datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}" if fixed else f"{frac:09d}".rstrip("0")
    if digits:
        text += "." + digits
    if offset_minutes == 0:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    return text + f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"


def go_json_string(text: str) -> str:
    """A JSON string as moby's jsonlog writes it: Go's HTML-safe escapes (<, >, & as \\u00XX),
    \\n and \\r short, other control characters as \\u00XX, UTF-8 kept as is."""
    out = json.dumps(text, ensure_ascii=False)
    for short, code in (("\\t", "\\u0009"), ("\\b", "\\u0008"), ("\\f", "\\u000c")):
        out = out.replace(short, code)
    return (out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def docker_json_file(records: list[tuple[str, str, int]], max_bytes: int = 16 * 1024, tag: str | None = None
                     ) -> list[str]:
    """The lines of a json-file log for (text, stream, ns) lines: the copier's 16 KiB buffer cuts a
    longer line into records, all but the last without the line's \\n."""
    attrs = f',"attrs":{{"tag":{go_json_string(tag)}}}' if tag else ""
    out = []
    for text, stream, ns in records:
        data = text.encode()
        pieces = [data[i:i + max_bytes] for i in range(0, len(data), max_bytes)] or [b""]
        for j, piece in enumerate(pieces):
            log = piece.decode() + ("\n" if j == len(pieces) - 1 else "")
            out.append(f'{{"log":{go_json_string(log)},"stream":"{stream}"{attrs},'
                       f'"time":"{rfc3339(ns + j * 1000)}"}}')
    return out


def cri_file(records: list[tuple[str, str, int]], max_bytes: int) -> list[str]:
    """The lines containerd writes for (text, stream, ns) lines: ``P`` pieces of ``max_bytes``, then ``F``."""
    out = []
    for text, stream, ns in records:
        data = text.encode()
        pieces = [data[i:i + max_bytes] for i in range(0, len(data), max_bytes)] or [b""]
        for j, piece in enumerate(pieces):
            tag = "F" if j == len(pieces) - 1 else "P"
            out.append(f"{rfc3339(ns + j * 1000)} {stream} {tag} {piece.decode()}")
    return out


def compose_output(records: list[tuple[str, str, int]], timestamps: bool = False, color: bool = False,
                   offset_minutes: int = 0) -> list[str]:
    """``docker compose logs`` for (service, text, ns) lines: the name padded to the widest name seen
    so far plus one, then `` | ``; with --timestamps the read time (RFC3339NanoFixed) before the text."""
    seen: set[str] = set()
    colors = {}
    out = []
    for name, text, ns in records:
        seen.add(name)
        width = max(len(s) for s in seen) + 1
        prefix = f"{name:<{width}} | "
        if color:
            colors.setdefault(name, 36 + len(colors) % 3)
            prefix = f"\x1b[{colors[name]}m{prefix}\x1b[0m"
        body = f"{rfc3339(ns, fixed=True, offset_minutes=offset_minutes)} {text}" if timestamps else text
        out.append(prefix + body)
    return out


def stamped(lines: list[str], stream: str = "stdout") -> list[tuple[str, str, int]]:
    return [(text, stream, BASE_NS + i * STEP_NS) for i, text in enumerate(lines)]


def series(lines: list[str]) -> pl.Series:
    return pl.Series("text", lines, dtype=pl.String)


def check_accounting(result: engine.ParseResult, lines: int) -> None:
    assert result.lines == lines
    assert result.parsed + result.continuation + result.rejected == lines


def same_entries(wrapped: pl.DataFrame, bare: pl.DataFrame, columns: list[str]) -> None:
    """Wrapped entries carry the bare parse's values, in the same order."""
    assert wrapped.height == bare.height
    for col in columns:
        assert wrapped[col].to_list() == bare[col].to_list(), col


# --------------------------------------------------------------------------------------------
# records the runtimes wrote (tests/data/containers/PROVENANCE.md)

REAL = DATA / "containers"


def ns_of(ts) -> list[int]:
    return ts.cast(pl.Int64).to_list()


def test_real_docker_json_file_records():
    u = containers.unwrap(series((REAL / "docker_json.log").read_text().splitlines()))
    assert u is not None and u.wrapper == "docker_json"
    shutdown = "1:M 09 Nov 13:27:36.276 # User requested shutdown..."
    assert u.payload.to_list() == [shutdown, "unfiltered", shutdown, "hello"]
    assert u.meta["line"].to_list() == [1, 2, 3, 5]
    assert u.meta["records"].to_list() == [1, 1, 2, 1]
    assert u.meta["stream"].to_list() == ["stdout", "stderr", "stdout", "stdout"]
    assert u.continuation == 1
    assert set(ns_of(u.meta["container_ts"])) == {1510234056277747246}  # 2017-11-09T13:27:36.277747246Z


def test_real_cri_records_tagged_and_untagged():
    u = containers.unwrap(series((REAL / "cri.log").read_text().splitlines()))
    assert u is not None and u.wrapper == "cri"
    cache = "2017-10-12 13:32:21.212 [INFO][88] table.go 710: Invalidating dataplane cache"
    assert u.payload.to_list() == [cache, "2017-11-12 23:32:21.212 [ERROR][77] table.go 111: error",
                                   "2017-12-12 10:32:21.212 [WARN][88] table.go 222: Warn", cache + " error"]
    assert u.meta["records"].to_list() == [1, 1, 1, 2]
    assert u.meta["stream"].to_list() == ["stdout", "stderr", "stdout", "stdout"]
    # A joined line has the time of its first record.
    assert ns_of(u.meta["container_ts"])[3] == 1507815141232861448  # 2017-10-12T13:32:21.232861448Z
    old = containers.unwrap(series((REAL / "cri_untagged.log").read_text().splitlines()))
    assert old is not None and old.wrapper == "cri"
    assert old.payload.to_list() == ["2017-09-12 22:32:21.212 [INFO][88] table.go 710: Invalidating dataplane cache"]


# --------------------------------------------------------------------------------------------
# Docker json-file


def test_docker_json_file_of_nginx_access_lines_parses_like_the_bare_lines():
    raw = docker_json_file(stamped(ACCESS))
    u = containers.unwrap(series(raw))
    assert u is not None and u.wrapper == "docker_json"
    assert u.payload.to_list() == ACCESS
    fmt = ingest.detect(u.payload, CANDIDATES).format
    assert fmt.name == "main"
    result = u.restore(engine.parse(u.payload, fmt, None))
    bare = engine.parse(series(ACCESS), fmt, None)
    check_accounting(result, len(raw))
    assert result.rejected == 0 and result.continuation == 0
    same_entries(result.entries, bare.entries, ["ts", "status", "path", "upstream_status", "request_id", "line"])
    # Inner time wins: nginx's second-resolution time, not the container's nanosecond clock.
    assert (result.entries["ts"] != result.entries["container_ts"]).all()
    assert result.entries["container_ts"].cast(pl.Int64).to_list() == [BASE_NS + i * STEP_NS
                                                                         for i in range(len(ACCESS))]
    assert set(result.entries["stream"]) == {"stdout"}


def test_docker_splits_long_lines_at_16_kib_and_they_are_joined_again():
    long_line = ACCESS[0].replace("GET /api/customers/", "GET /api/customers/?q=" + "x" * 40_000 + "&id=")
    lines = [ACCESS[1], long_line, ACCESS[2]]
    raw = docker_json_file(stamped(lines))
    assert len(raw) == 2 + 3  # 40 KiB: two full 16 KiB records and the rest
    assert not json.loads(raw[1])["log"].endswith("\n") and json.loads(raw[3])["log"].endswith("\n")
    u = containers.unwrap(series(raw))
    assert u is not None
    assert u.payload.to_list() == lines
    assert u.meta["line"].to_list() == [1, 2, 5] and u.meta["records"].to_list() == [1, 3, 1]
    result = u.restore(engine.parse(u.payload, FORMATS["main"], None))
    check_accounting(result, 5)
    assert (result.parsed, result.continuation, result.rejected) == (3, 2, 0)
    assert result.entries["line"].to_list() == [1, 2, 5]
    bare = engine.parse(series(lines), FORMATS["main"], None)
    assert result.entries["query"].to_list() == bare.entries["query"].to_list()
    assert len(result.entries["query"][1]) > 40_000


def test_partial_stdout_line_with_stderr_records_between_its_pieces():
    long_line = CRM[0] + " " + "y" * 20_000
    first = docker_json_file([(long_line, "stdout", BASE_NS)])
    err = docker_json_file([(CRM[1], "stderr", BASE_NS + 5)])
    raw = [first[0], err[0], first[1]]  # the stderr goroutine wrote between the two pieces
    u = containers.unwrap(series(raw))
    assert u is not None
    assert u.payload.to_list() == [long_line, CRM[1]]
    assert u.meta["stream"].to_list() == ["stdout", "stderr"]
    assert u.meta["line"].to_list() == [1, 2]


def test_json_escapes_are_undone():
    text = '10.0.0.1 - - [26/Nov/2026:04:15:19 +0300] "GET /a?x=<b>&y=\\"z\\" HTTP/1.1" 200 5 "-" "tab\there ü ✓"'
    raw = docker_json_file([(text, "stdout", BASE_NS)], tag="web")
    assert "\\u003cb\\u003e" in raw[0] and "\\u0026" in raw[0] and "\\u0009" in raw[0]
    u = containers.unwrap(series(raw))
    assert u is not None
    assert u.payload.to_list() == [text]
    assert u.meta["service"].to_list() == ["web"]


def test_lines_that_are_not_records_are_rejected_and_counted():
    raw = docker_json_file(stamped(ACCESS[:30]))
    raw.insert(10, "ok: this line was appended by hand")
    raw.append(raw[-1][:37])  # a record cut short by a crash
    raw.append(raw[-2][:60] + "}")  # a record that lost its middle but still looks like one
    u = containers.unwrap(series(raw))
    assert u is not None
    result = u.restore(engine.parse(u.payload, FORMATS["main"], None))
    check_accounting(result, 33)
    assert result.parsed == 30
    assert result.rejects["line"].to_list() == [11, 32, 33]
    assert set(result.rejects["reason"]) == {"not a Docker json-file record"}


# --------------------------------------------------------------------------------------------
# CRI (containerd, CRI-O)


def test_cri_partial_records_of_spring_boot_lines_with_stack_traces():
    raw = cri_file(stamped(CRM), max_bytes=80)
    assert sum(" P " in line[:45] for line in raw) > 300  # many lines were cut
    u = containers.unwrap(series(raw))
    assert u is not None and u.wrapper == "cri"
    assert u.payload.to_list() == CRM
    fmt = ingest.detect(u.payload, CANDIDATES).format
    assert fmt.name == "spring_boot_3"
    result = containers.parse(u, fmt, "Europe/Berlin")
    bare = engine.parse(series(CRM), fmt, "Europe/Berlin")
    check_accounting(result, len(raw))
    assert result.rejected == bare.rejected == 0
    assert result.continuation == bare.continuation + (len(raw) - len(CRM))
    same_entries(result.entries, bare.entries, ["ts", "level", "logger", "message", "stack_trace", "exception"])
    assert bare.entries["stack_trace"].drop_nulls().len() >= 5
    # Entry lines are the original lines where each entry's first record stands.
    first_record = u.meta.filter(pl.col("payload_line").is_in(bare.entries["line"].to_list()))["line"]
    assert result.entries["line"].to_list() == first_record.to_list()


def test_empty_cri_text_and_stderr_stream():
    raw = [f"{rfc3339(BASE_NS)} stdout F {CRM[0]}", f"{rfc3339(BASE_NS + 1)} stderr F ",
           f"{rfc3339(BASE_NS + 2)} stdout F {CRM[1]}"]
    u = containers.unwrap(series(raw))
    assert u is not None
    assert u.payload.to_list() == [CRM[0], "", CRM[1]]
    assert u.meta["stream"].to_list() == ["stdout", "stderr", "stdout"]


def test_container_time_fills_lines_without_their_own_time():
    """The Spring Boot banner has no timestamp: the container's clock gives it one when asked."""
    raw = cri_file(stamped(BANNER), max_bytes=16 * 1024)
    u = containers.unwrap(series(raw))
    assert u is not None
    fmt = ingest.detect(u.payload, CANDIDATES).format
    parsed = engine.parse(u.payload, fmt, "Europe/London")
    plain = u.restore(parsed)
    check_accounting(plain, len(raw))
    banner_lines = [i + 1 for i, t in enumerate(BANNER[:8]) if t.strip()]
    assert plain.rejects["line"].to_list() == list(range(1, 9))
    filled = u.restore(parsed, fill_untimed=True)
    check_accounting(filled, len(raw))
    assert filled.rejects["line"].to_list() == [i for i in range(1, 9) if i not in banner_lines]
    assert filled.parsed == plain.parsed + len(banner_lines)
    first = filled.entries.filter(pl.col("line").is_in(banner_lines))
    assert first["ts"].cast(pl.Int64).to_list() == [BASE_NS + (i - 1) * STEP_NS for i in banner_lines]
    assert first["message"].to_list() == [BANNER[i - 1] for i in banner_lines]
    # The entries that have their own time keep it.
    timed = filled.entries.filter(~pl.col("line").is_in(banner_lines))
    assert timed["ts"].to_list() == plain.entries["ts"].to_list()


def test_container_clock_tells_the_offset_of_naive_inner_times():
    """Spring Boot 2 lines carry no offset; the CRI time (UTC) written a moment later does."""
    bare = engine.parse(series(CRM2), FORMATS["spring_boot_2"], "+0000")
    assert bare.continuation > 100  # stack traces: their lines carry no time of their own
    starts = dict(zip(bare.entries["line"].to_list(), bare.entries["ts"].to_list(), strict=True))
    records, current = [], None
    for i, text in enumerate(CRM2, start=1):
        current = starts.get(i, current)
        # Written in UTC+03:00: the UTC clock reads three hours less, plus the write delay.
        ns = int((current - timedelta(hours=3)).timestamp() * 1e9) + 2_000_000
        records.append((text, "stdout", ns))
    u = containers.unwrap(series(cri_file(records, max_bytes=4096)))
    assert u is not None
    result = u.restore(engine.parse(u.payload, FORMATS["spring_boot_2"], None))
    assert result.zone_assumed
    assert containers.container_offset(result.entries) == "+0300"
    random_clock = u.restore(engine.parse(u.payload, FORMATS["spring_boot_2"], None))
    assert containers.container_offset(random_clock.entries.with_columns(
        pl.col("container_ts") - pl.duration(seconds=pl.int_range(pl.len()) * 97))) is None


# --------------------------------------------------------------------------------------------
# docker compose


def two_replicas() -> list[tuple[str, str, int]]:
    """crm-1 and crm-2 printing the same application's lines, interleaved line by line."""
    a, b = CRM[:200], CRM[200:400]
    out = []
    for i in range(200):
        out.append(("crm-1", a[i], BASE_NS + 2 * i * STEP_NS))
        out.append(("crm-2", b[i], BASE_NS + (2 * i + 1) * STEP_NS))
    return out


@pytest.mark.parametrize("timestamps,color", [(False, False), (True, False), (False, True)])
def test_compose_services_interleaved_keep_their_entries_whole(timestamps, color):
    records = two_replicas()
    raw = ["Attaching to crm-1, crm-2"] + compose_output(records, timestamps=timestamps, color=color,
                                                        offset_minutes=180)
    u = containers.unwrap(series(raw))
    assert u is not None
    assert u.wrapper == ("compose_timestamps" if timestamps else "compose")
    assert u.payload.to_list() == CRM[:200] + CRM[200:400]  # regrouped by service
    fmt = ingest.detect(u.payload, CANDIDATES).format
    result = containers.parse(u, fmt, "Europe/Berlin")
    check_accounting(result, len(raw))
    bare = [engine.parse(series(part), fmt, "Europe/Berlin") for part in (CRM[:200], CRM[200:400])]
    # crm-2 starts inside a stack trace: those lines precede its first entry and are rejected,
    # not taken as crm-1's. crm-1's line n is line 2n of the output, crm-2's line n is 2n + 1.
    assert bare[1].rejected > 0
    expected_rejects = [1] + [2 * n for n in bare[0].rejects["line"]] + [2 * n + 1 for n in bare[1].rejects["line"]]
    assert result.rejects["line"].to_list() == sorted(expected_rejects)
    assert result.parsed == sum(b.parsed for b in bare)
    by_service = {s: result.entries.filter(pl.col("service") == s) for s in ("crm-1", "crm-2")}
    for part, service in zip(bare, by_service, strict=True):
        same_entries(by_service[service], part.entries, ["ts", "message", "stack_trace"])
    # Original line numbers: crm-1's lines are the even ones after the status line.
    assert by_service["crm-1"]["line"].to_list() == [2 * n for n in bare[0].entries["line"].to_list()]
    if timestamps:
        expected = [BASE_NS + 2 * (n - 1) * STEP_NS for n in bare[0].entries["line"].to_list()]
        assert by_service["crm-1"]["container_ts"].cast(pl.Int64).to_list() == expected
    else:
        assert "container_ts" not in result.entries.columns


def test_bare_lines_are_not_taken_for_a_wrapper():
    for lines in (ACCESS, ERROR, CRM, BANNER, (DATA / "lnav" / "logfile_shop_access_log.0").read_text().splitlines()):
        assert containers.unwrap(series(lines)) is None
    assert containers.detect_wrapper(series([])) is None


# --------------------------------------------------------------------------------------------
# chunks and mixed payloads


@pytest.mark.parametrize("size", [1, 37])
def test_parse_stream_in_chunks_holds_back_partial_lines(size):
    raw = cri_file(stamped(CRM), max_bytes=60)
    whole = containers.unwrap(series(raw))
    assert whole is not None
    expected = containers.parse(whole, FORMATS["spring_boot_3"], "UTC")
    chunks = [series(raw[i:i + size]) for i in range(0, len(raw), size)]
    result = containers.parse_stream(chunks, FORMATS["spring_boot_3"], "UTC", "cri")
    check_accounting(result, len(raw))
    assert (result.parsed, result.continuation, result.rejected) == (
        expected.parsed, expected.continuation, expected.rejected)
    same_entries(result.entries, expected.entries, ["line", "ts", "message", "stack_trace", "container_ts"])


def test_nginx_container_access_on_stdout_error_on_stderr():
    """The nginx image sends access.log to stdout and error.log to stderr: one json-file, two formats."""
    records = []
    for i in range(150):
        records.append((ACCESS[i], "stdout", BASE_NS + 2 * i * STEP_NS))
        records.append((ERROR[i], "stderr", BASE_NS + (2 * i + 1) * STEP_NS))
    raw = docker_json_file(records)
    u = containers.unwrap(series(raw))
    assert u is not None
    assert mixed.is_mixed(u.payload, CANDIDATES)
    parts = containers.parse_mixed(u, CANDIDATES, {"nginx_error": "+0300"})
    by_name = {fmt.name: r for fmt, r in parts}
    assert set(by_name) == {"main", "nginx_error"}
    assert sum(r.lines for r in by_name.values()) == len(raw)
    assert sum(r.parsed + r.continuation + r.rejected for r in by_name.values()) == len(raw)
    bare_error = engine.parse(series(ERROR[:150]), FORMATS["nginx_error"], "+0300")
    assert by_name["main"].parsed == 150 and by_name["main"].rejected == 0
    assert by_name["nginx_error"].parsed == bare_error.parsed
    assert set(by_name["main"].entries["stream"]) == {"stdout"}
    assert set(by_name["nginx_error"].entries["stream"]) == {"stderr"}
    assert by_name["nginx_error"].entries["message"].to_list() == bare_error.entries["message"].to_list()
    assert by_name["main"].entries["line"].to_list() == list(range(1, 301, 2))
    # The same file read in chunks.
    chunks = [series(raw[i:i + 25]) for i in range(0, len(raw), 25)]
    streamed = {fmt.name: r for fmt, r in containers.parse_mixed_stream(chunks, CANDIDATES, "docker_json",
                                                                          {"nginx_error": "+0300"})}
    assert sum(r.lines for r in streamed.values()) == len(raw)
    for name, r in by_name.items():
        assert (streamed[name].parsed, streamed[name].rejected) == (r.parsed, r.rejected)
        assert streamed[name].entries["line"].to_list() == r.entries["line"].to_list()


def test_compose_stack_of_nginx_and_spring_boot_services():
    """``docker compose logs`` of a stack: web-1 (nginx, access and error lines) and crm-1 (Spring Boot)."""
    web = [line for pair in zip(ACCESS[:100], ERROR[:100], strict=True) for line in pair]
    records = []
    for i in range(max(len(web), len(CRM))):
        if i < len(web):
            records.append(("web-1", web[i], BASE_NS + 2 * i * STEP_NS))
        if i < len(CRM):
            records.append(("crm-1", CRM[i], BASE_NS + (2 * i + 1) * STEP_NS))
    raw = compose_output(records, timestamps=True)
    u = containers.unwrap(series(raw))
    assert u is not None and u.wrapper == "compose_timestamps"
    assert mixed.is_mixed(u.payload, CANDIDATES)
    parts = {fmt.name: r for fmt, r in containers.parse_mixed(u, CANDIDATES, {"nginx_error": "+0300"})}
    assert set(parts) == {"main", "nginx_error", "spring_boot_3"}
    assert sum(r.lines for r in parts.values()) == len(raw)
    assert sum(r.parsed + r.continuation + r.rejected for r in parts.values()) == len(raw)
    assert set(parts["main"].entries["service"]) == set(parts["nginx_error"].entries["service"]) == {"web-1"}
    assert set(parts["spring_boot_3"].entries["service"]) == {"crm-1"}
    assert parts["main"].parsed == 100 and parts["main"].rejected == 0
    bare = engine.parse(series(CRM), FORMATS["spring_boot_3"], None)
    assert parts["spring_boot_3"].entries["stack_trace"].to_list() == bare.entries["stack_trace"].to_list()
    assert parts["spring_boot_3"].entries["ts"].to_list() == bare.entries["ts"].to_list()


# --------------------------------------------------------------------------------------------
# the fallback: a payload no format reads, timed by the runtime

# Redis 3's own layout (pid:role, a day and month without a year): no definition describes it.
REDIS = [
    "1:C 09 Nov 13:27:30.112 # Warning: no config file specified, using the default config.",
    "1:M 09 Nov 13:27:30.114 * Running mode=standalone, port=6379.",
    "1:M 09 Nov 13:27:30.114 # Server started, Redis version 3.2.11",
    "1:M 09 Nov 13:27:30.114 * The server is now ready to accept connections on port 6379",
    "",
    "1:signal-handler (1510234056) Received SIGTERM scheduling shutdown...",
    "1:M 09 Nov 13:27:36.276 # User requested shutdown...",
]


def test_a_payload_no_format_reads_is_read_as_messages_timed_by_docker(tmp_path):
    records = stamped(REDIS)
    records[3] = (records[3][0] + " " + "x" * 40, "stderr", records[3][2])  # cut into two records below
    path = tmp_path / "redis-json.log"
    path.write_text("\n".join(docker_json_file(records, max_bytes=60)) + "\n")
    logs = ingest.load([str(path)])
    row = logs.stats.iloc[0]
    assert (row["format"], row["kind"], row["unread"]) == ("container_text", "other", 0)
    assert row["parsed"] == len(REDIS) - 1 and row["rejected"] == 1  # the blank line
    assert row["lines"] == row["parsed"] + row["continuation"] + row["rejected"]
    entries = logs["other"]
    assert entries["message"].tolist()[0] == REDIS[0]
    assert entries["message"].tolist()[3].endswith("x" * 40)
    assert entries["stream"].tolist()[3] == "stderr"
    assert [t.value for t in entries["ts"]] == [ns for text, _, ns in records if text]
    assert any("timed by the container" in n for n in logs.notes)


def test_the_repository_sample_is_read_whole():
    logs = ingest.load([str(DATA / "containers" / "docker_json.log")])
    row = logs.stats.iloc[0]
    assert (row["lines"], row["parsed"], row["continuation"], row["rejected"], row["unread"]) == (5, 4, 1, 0, 0)


@pytest.mark.parametrize("size", [2, 3, 100])
def test_the_fallback_in_chunks_reads_as_whole_on_cri(size):
    raw = cri_file(stamped(REDIS + ["a longer line the runtime cut in pieces"]), max_bytes=16)
    whole = containers.parse_plain_stream([series(raw)], "cri")
    chunked = containers.parse_plain_stream([series(raw[i:i + size]) for i in range(0, len(raw), size)], "cri")
    assert whole.entries.equals(chunked.entries)
    assert whole.parsed == len(REDIS) and whole.lines == len(raw)
    assert whole.parsed + whole.continuation + whole.rejected == whole.lines


def test_a_wrapper_without_times_has_no_fallback():
    with pytest.raises(ValueError, match="no time"):
        containers.parse_plain_stream([series(compose_output([("redis", t, 0) for t in REDIS]))], "compose")
