"""Files of several formats: an nginx reload that changed log_format, access and error lines in one
container stream, a Spring Boot banner; real lines throughout."""

from __future__ import annotations

import polars as pl
import pytest
from loganalyzer.parsers import engine, mixed
from loganalyzer.parsers.formats import compile_definition, load_definitions

from loganalyzer import ingest

from .conftest import DATA, SAMPLES

FORMATS = {c.name: c for c in (compile_definition(d) for d in load_definitions())}
CANDIDATES = list(FORMATS.values())
# nginx's predefined combined format: Filebeat's fixture (its last line is a vhost_combined one)
# and lnav's.
COMBINED = (DATA / "elastic-beats-nginx" / "access.log").read_text().splitlines()[:12] + \
    (DATA / "lnav" / "logfile_access_log.0").read_text().splitlines()
MAIN = (SAMPLES / "mixed-faults" / "logs" / "access.log").read_text().splitlines()[:100]
ERROR_LOG = (DATA / "elastic-beats-nginx" / "error.log").read_text().splitlines()
BANNER_LOG = (DATA / "spring-boot" / "actuator-docs-sample.log").read_text().splitlines()


def series(lines: list[str]) -> pl.Series:
    return pl.Series("text", lines, dtype=pl.String)


def accounted(results: list[tuple[object, engine.ParseResult]], n: int) -> None:
    """The results cover every line once: lines add up, and no line is both an entry and a reject."""
    assert sum(r.lines for _, r in results) == n
    assert sum(r.parsed + r.continuation + r.rejected for _, r in results) == n
    seen = pl.concat([pl.concat([r.entries["line"], r.rejects["line"]]) for _, r in results])
    assert seen.is_unique().all() and seen.is_between(1, n).all()


def test_the_lines_are_what_the_test_says():
    assert all(engine.parse(series([line]), FORMATS["combined"], None).parsed == 1 for line in COMBINED)
    assert engine.parse(series(MAIN), FORMATS["main"], None).parsed == len(MAIN)


def test_log_format_changed_by_a_reload_and_back():
    """combined, then main after a reload, then combined again: every access line parses, none rejected."""
    lines = COMBINED[:7] + MAIN + COMBINED[7:]
    n = len(lines)
    main_lines = list(range(8, 8 + len(MAIN)))
    combined_lines = [i for i in range(1, n + 1) if i not in main_lines]
    # One format for the whole file loses a block.
    single = ingest.detect(series(lines), CANDIDATES).format
    assert single.name == "main"
    assert engine.parse(series(lines), single, None).rejected == len(COMBINED)
    assert mixed.is_mixed(series(lines), CANDIDATES)

    segments = mixed.split_by_format(series(lines), CANDIDATES)
    assert [(s.format.name, s.lines.to_list(), s.starts) for s in segments] == [
        ("combined", combined_lines, len(COMBINED)), ("main", main_lines, len(MAIN))]

    results = mixed.parse_mixed(series(lines), CANDIDATES)
    accounted(results, n)
    by_name = {fmt.name: r for fmt, r in results}
    assert all(r.rejected == 0 and r.continuation == 0 for r in by_name.values())
    main, combined = by_name["main"].entries, by_name["combined"].entries
    assert main["line"].to_list() == main_lines and combined["line"].to_list() == combined_lines
    # The right columns: main's upstream fields are read, combined has none to read.
    bare_main = engine.parse(series(MAIN), FORMATS["main"], None).entries
    for col in ("ts", "status", "path", "nginx_request_id", "upstream_status", "request_time",
                "upstream_response_time"):
        assert main[col].to_list() == bare_main[col].to_list(), col
    assert main["upstream_status"].null_count() < main.height
    assert "upstream_status" not in combined.columns and "request_time" not in combined.columns
    bare_combined = engine.parse(series(COMBINED), FORMATS["combined"], None).entries
    for col in ("ts", "status", "path", "http_user_agent", "body_bytes_sent"):
        assert combined[col].to_list() == bare_combined[col].to_list(), col


def test_access_and_error_lines_of_one_stream_with_a_multi_line_error():
    """An nginx container's stream: access lines and error-log lines, one error event of three lines."""
    error_entries = engine.parse(series(ERROR_LOG), FORMATS["nginx_error"], "+0200")
    assert error_entries.continuation == 2
    # Each error entry (with its continuation lines) after an access line.
    lines = interleaved_access_and_error()
    assert mixed.is_mixed(series(lines), CANDIDATES)
    results = mixed.parse_mixed(series(lines), CANDIDATES, {"nginx_error": "+0200", "nginx_access": None})
    accounted(results, len(lines))
    by_name = {fmt.name: r for fmt, r in results}
    assert set(by_name) == {"combined", "nginx_error"}
    err = by_name["nginx_error"]
    assert (err.parsed, err.continuation, err.rejected) == (error_entries.parsed, 2, 0)
    for col in ("ts", "level", "message", "connection", "client", "server", "request"):
        if col in error_entries.entries.columns:
            assert err.entries[col].to_list() == error_entries.entries[col].to_list(), col
    assert "PHP message" in err.entries["message"][2]  # the continuation lines stayed with their entry
    assert by_name["combined"].parsed == len(COMBINED) and by_name["combined"].rejected == 0


def test_spring_boot_banner_before_the_first_entry():
    """A banner is no second format: one segment, the banner lines rejected, each counted once."""
    lines = series(BANNER_LOG)
    assert not mixed.is_mixed(lines, CANDIDATES)
    segments = mixed.split_by_format(lines, CANDIDATES)
    assert [s.format.name for s in segments] == ["spring_boot_2"]
    assert segments[0].lines.to_list() == list(range(1, len(BANNER_LOG) + 1))
    results = mixed.parse_mixed(lines, CANDIDATES, "Europe/London")
    accounted(results, len(BANNER_LOG))
    alone = engine.parse(lines, FORMATS["spring_boot_2"], "Europe/London")
    (fmt, r), = results
    assert (r.parsed, r.continuation, r.rejected) == (alone.parsed, alone.continuation, alone.rejected)
    assert r.rejects["line"].to_list() == list(range(1, 9))
    assert r.rejects["reason"].str.starts_with("before the first").sum() == 7


@pytest.mark.parametrize("path", [
    *sorted(SAMPLES.glob("*/logs/*.log")),
    DATA / "lnav" / "logfile_shop_access_log.0",
    DATA / "elastic-beats-nginx" / "error.log",
    DATA / "spring-boot" / "actuator-docs-sample.log",
], ids=lambda p: f"{p.parent.parent.name}/{p.name}" if p.parent.name == "logs" else p.name)
def test_files_of_one_format_are_not_mixed(path):
    assert not mixed.is_mixed(series(path.read_text().splitlines()), CANDIDATES)


def test_the_more_specific_format_takes_a_line_both_match():
    """combined_kv (any key=value tail) matches every main line; main, with more fields, takes them."""
    lines = series(MAIN)
    assert lines.str.contains(FORMATS["combined_kv"].regex).all()
    for cands in (CANDIDATES, CANDIDATES[::-1], [FORMATS["combined_kv"], FORMATS["main"]]):
        assert [s.format.name for s in mixed.split_by_format(lines, cands)] == ["main"]


def test_the_dominant_format_keeps_a_line_a_more_specific_one_also_matches():
    """A python_asctime file whose messages sometimes start with [brackets] stays one format."""
    vac = (SAMPLES / "healthy" / "logs" / "vac.log").read_text().splitlines()[:200]
    # The same lines as `%(asctime)s %(levelname)s %(message)s` writes them: no logger name...
    plain = series(vac).str.replace(r"^(\S+ \S+ \S+) \[[^\]]*\] ", "${1} ")
    # ... except a few whose message happens to start with a bracketed word.
    lines = pl.concat([plain.head(150), series(vac[150:155]), plain.slice(155)])
    assert lines.str.contains(FORMATS["python_bracket_logger"].regex).sum() == 5
    segments = mixed.split_by_format(lines, CANDIDATES)
    assert [s.format.name for s in segments] == ["python_asctime"]
    assert not mixed.is_mixed(lines, CANDIDATES)


def test_no_candidate_matches():
    haproxy = series((DATA / "lnav" / "logfile_haproxy.0").read_text().splitlines())
    assert mixed.split_by_format(haproxy, [FORMATS["main"], FORMATS["nginx_error"]]) == []
    assert mixed.parse_mixed(haproxy, [FORMATS["main"]]) == []
    assert not mixed.is_mixed(haproxy, CANDIDATES)


def interleaved_access_and_error() -> list[str]:
    """Filebeat's access lines, each followed by one of its error-log events, as one stream."""
    errors = engine.parse(series(ERROR_LOG), FORMATS["nginx_error"], "+0200").entries["line"].to_list()
    bounds = [*errors, len(ERROR_LOG) + 1]
    events = [ERROR_LOG[a - 1:b - 1] for a, b in zip(bounds, bounds[1:], strict=False)]
    lines: list[str] = []
    for i, access in enumerate(COMBINED):
        lines.append(access)
        lines.extend(events[i] if i < len(events) else [])
    return lines


@pytest.mark.parametrize("size", [1, 4, 50])
@pytest.mark.parametrize("case", ["reload", "interleaved"])
def test_parse_stream_gives_what_parse_mixed_gives(size, case):
    lines = COMBINED[:7] + MAIN + COMBINED[7:] if case == "reload" else interleaved_access_and_error()
    whole = {fmt.name: r for fmt, r in mixed.parse_mixed(series(lines), CANDIDATES, "+0200")}
    chunks = [series(lines[i:i + size]) for i in range(0, len(lines), size)]
    streamed = mixed.parse_stream(chunks, CANDIDATES, "+0200")
    accounted(streamed, len(lines))
    got = {fmt.name: r for fmt, r in streamed}
    assert set(got) == set(whole)
    for name, r in whole.items():
        s = got[name]
        assert (s.lines, s.parsed, s.continuation, s.rejected) == (r.lines, r.parsed, r.continuation, r.rejected)
        assert s.entries["line"].to_list() == r.entries["line"].to_list()
        assert s.entries["message"].to_list() == r.entries["message"].to_list()


def _blocks(path) -> dict[str, list[int]]:
    """Line numbers (1-based) of each ``## <format>`` block of a generated layout log."""
    out: dict[str, list[int]] = {}
    name = ""
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("## "):
            name = line[3:].split(" ")[0]
        else:
            out.setdefault(name, []).append(i)
    return out


def test_a_pool_of_layouts_that_no_one_format_reads_is_read_per_line(tmp_path):
    # Thirteen Python logging layouts in one file, each written by CPython's logging: no format
    # reads half of it, together they read every line, and each block's entries go to its own
    # (python_asctime reads the python_bracket_logger lines too, but owns no majority of the file:
    # the layout with more fields takes them).
    path = DATA / "text_layouts" / "python_layouts.log"
    lines = series(path.read_text().splitlines())
    assert ingest.detect(lines, CANDIDATES).rate < ingest.MIN_MATCH_RATE
    rate, used = mixed.pool_rate(lines, CANDIDATES)
    assert rate >= ingest.MIN_MATCH_RATE and used == 13
    logs = ingest.load(path)
    assert int(logs.stats["unread"].sum()) == 0 and int(logs.stats["lines"].sum()) == lines.len()
    assert any("each line is read with the format that matches it" in n for n in logs.notes)
    assert sorted(logs.stats["format"]) == sorted(_blocks(path))
    read = {fmt.name: set(r.entries["line"].to_list()) for fmt, r in mixed.parse_mixed(lines, CANDIDATES, "UTC")}
    for fmt, numbers in _blocks(path).items():
        assert len(read[fmt]) == 7 and read[fmt] <= set(numbers), fmt


def test_logfmt_lines_start_entries_of_their_own_after_a_go_log_line():
    # slog's "time=..." lines are not continuations of the Go log line before them.
    path = DATA / "text_layouts" / "go_layouts.log"
    result = engine.parse(series(path.read_text().splitlines()), FORMATS["go_log"], "UTC")
    assert result.parsed == 4
    assert result.continuation == 3  # the "## ..." headings after the first entry
    assert result.rejected == 1 + 8  # the heading before it, and the slog and logrus entries
