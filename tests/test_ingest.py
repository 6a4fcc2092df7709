"""Reading inputs: directories, rotated sets, compression, encodings, bad input, line accounting."""

from __future__ import annotations

import bz2
import gzip
import os
from pathlib import Path

import pytest

import loganalyzer
from loganalyzer import ingest

from .conftest import DATA, accounted


def access(i: int, path: str = "/api/x", day: int = 24) -> str:
    return f'10.0.0.1 - - [{day}/Nov/2026:10:15:{i % 60:02d} +0000] "GET {path}/{i} HTTP/1.1" 200 5 "-" "curl/8"\n'


def test_rotated_set_is_read_oldest_first(write, tmp_path):
    write("nginx/access.log.2.gz", "".join(access(i, "/old") for i in range(3)), gz=True)
    write("nginx/access.log.1", "".join(access(i, "/mid") for i in range(3)))
    write("nginx/access.log", "".join(access(i, "/new") for i in range(3)))
    write("nginx/notes.md", "# not a log\n")
    files, notes = ingest.expand([tmp_path / "nginx"])
    assert [Path(f).name for f in files] == ["access.log.2.gz", "access.log.1", "access.log"]
    assert any("passed over 1 file" in n for n in notes)
    logs = loganalyzer.load(tmp_path)
    assert logs.stats["parsed"].tolist() == [3, 3, 3]
    assert logs["nginx_access"]["file"].str.endswith("access.log.2.gz").sum() == 3


def test_source_code_beside_the_logs_is_passed_over(write, tmp_path):
    # A generator or reproducer kept next to the log it wrote is code: a walk does not read it as a log.
    write("svc/app.log", "".join(access(i) for i in range(3)))
    write("svc/main.go", "package main\n\nfunc main() {}\n")
    write("svc/gen.js", "const pino = require('pino')\n")
    files, notes = ingest.expand([tmp_path / "svc"])
    assert [Path(f).name for f in files] == ["app.log"]
    assert any("passed over 2 file" in n for n in notes)


def test_dateext_rotation_order():
    paths = [Path("a/app.log"), Path("a/app.log-20261124.gz"), Path("a/app.log-20261123")]
    assert [p.name for p in ingest.order_rotated(paths)] == ["app.log-20261123", "app.log-20261124.gz", "app.log"]


def test_bz2_and_gzip_give_the_same_entries_as_plain(write):
    text = "".join(access(i) for i in range(50))
    plain = loganalyzer.load(write("a.log", text))["nginx_access"]
    gz = loganalyzer.load(write("b.log.gz", text, gz=True))["nginx_access"]
    bz = loganalyzer.load(write("c.log.bz2", bz2.compress(text.encode())))["nginx_access"]
    for other in (gz, bz):
        assert other["message"].tolist() == plain["message"].tolist()
        assert other["ts"].tolist() == plain["ts"].tolist()


def test_truncated_gzip_keeps_what_it_holds_and_says_so(write):
    data = gzip.compress("".join(access(i) for i in range(2000)).encode())
    logs = loganalyzer.load(write("cut.log.gz", data[: len(data) // 2]))
    assert any("truncated" in n for n in logs.notes)
    stats = logs.stats.iloc[0]
    assert 0 < stats.parsed < 2000
    accounted(logs)  # the half line at the cut is a counted reject, not a crash


def test_gbk_encoding_per_kind(write):
    line = '10.0.0.1 - - [24/Nov/2026:10:15:02 +0000] "GET /客户 HTTP/1.1" 200 5 "-" "客户端/1.0"\n'
    path = write("gbk.log", line.encode("gbk"))
    wrong = loganalyzer.load(path)
    assert wrong.stats.iloc[0].replaced_bytes > 0 and any("undecodable" in n for n in wrong.notes)
    right = loganalyzer.load(path, encoding={"nginx_access": "gbk"})
    assert right["nginx_access"]["http_user_agent"].iloc[0] == "客户端/1.0"
    assert right.stats.iloc[0].replaced_bytes == 0


def test_mixed_encodings_in_one_file_are_replaced_and_counted(write):
    text = access(1).encode() + access(2).replace("/api", "/caf\u00e9").encode("latin-1") + access(3).encode()
    logs = loganalyzer.load(write("mixed.log", text))
    stats = logs.stats.iloc[0]
    assert (stats.parsed, stats.rejected, stats.replaced_bytes) == (3, 0, 1)
    assert "caf\ufffd" in logs["nginx_access"]["path"].iloc[1]


def test_empty_file_in_a_directory_is_noted(write, tmp_path):
    write("logs/empty.log", "")
    write("logs/access.log", access(1))
    logs = loganalyzer.load(tmp_path / "logs")
    assert any("empty file" in n for n in logs.notes)
    assert len(logs["nginx_access"]) == 1


def test_binary_junk_named_explicitly_is_a_one_line_error(write):
    junk = bytes(range(256)) * 400 + b"\x00\x1f\xff\n" * 50
    with pytest.raises(loganalyzer.LoadError) as exc:
        loganalyzer.load(write("junk.bin", junk))
    assert "matches no known format" in str(exc.value) and "\n" not in str(exc.value)


def test_binary_junk_inside_a_directory_is_passed_over(write, tmp_path):
    write("d/core.dump", os.urandom(50_000))
    write("d/access.log", access(1))
    logs = loganalyzer.load(tmp_path / "d")
    assert any("core.dump" in n and "were not read" in n for n in logs.notes)
    assert len(logs["nginx_access"]) == 1
    # Its lines are counted as unread, not as "0 rejected".
    dump = logs.stats[logs.stats["file"].str.endswith("core.dump")].iloc[0]
    assert dump["unread"] > 0 and dump["unread"] == dump["lines"] and dump["rejected"] == 0


def test_ten_megabyte_line_is_a_counted_reject(write):
    huge = "x" * (10 * 1024 * 1024)
    logs = loganalyzer.load(write("big.log", access(1) + huge + "\n" + access(2)))
    stats = logs.stats.iloc[0]
    assert (stats.lines, stats.parsed, stats.rejected) == (3, 2, 1)
    # Cut when read (see MAX_LINE_BYTES): the reject keeps the start of the line and says why.
    reject = logs.rejects.iloc[0]
    assert reject["line"] == 2 and "longer than 1,048,576 bytes" in reject["reason"]
    assert 0 < len(reject["text"]) < len(huge) and huge.startswith(reject["text"])


def test_foreign_lines_interleaved_are_rejected_with_their_reason(write):
    text = access(1) + "2026/11/24 10:15:02 [error] 1#1: *1 boom\n" + access(2) + '{"level":"info"}\n' + access(3)
    logs = loganalyzer.load(write("mixed.log", text))
    accounted(logs)
    assert logs.rejects["line"].tolist() == [2, 4]
    assert set(logs.rejects["reason"]) == {"does not match format combined"}


def test_crlf_line_endings(write):
    logs = loganalyzer.load(write("crlf.log", access(1).replace("\n", "\r\n") * 3))
    assert logs.stats.iloc[0].rejected == 0
    assert not logs["nginx_access"]["message"].str.endswith("\r").any()


def test_since_and_until_filter_in_utc(write):
    logs = loganalyzer.load(write("a.log", "".join(access(i) for i in range(10))),
                            since="2026-11-24T10:15:03Z", until="2026-11-24T13:15:05+03:00")
    assert logs["nginx_access"]["ts"].dt.second.tolist() == [3, 4, 5]


def test_as_overrides_detection(write):
    path = write("odd.txt", access(1))
    with pytest.raises(loganalyzer.UsageError, match="no format 'nope' for kind nginx_access"):
        loganalyzer.load(path, as_={str(path): "nginx_access:nope"})
    with pytest.raises(loganalyzer.UsageError, match="'proxy' is not a source kind"):
        loganalyzer.load(path, as_={str(path): "proxy"})
    logs = loganalyzer.load(path, as_={str(path): "nginx_access:combined"})
    assert logs.stats.iloc[0].format == "combined"


def test_unknown_zone_and_codec_are_clear_errors(write):
    path = write("a.log", access(1))
    with pytest.raises(loganalyzer.UsageError, match="unknown time zone 'Mars/Olympus'"):
        loganalyzer.load(path, tz={"nginx_access": "Mars/Olympus"})
    with pytest.raises(loganalyzer.UsageError, match="unknown encoding 'klingon'"):
        loganalyzer.load(path, encoding="klingon")


def test_fixed_offset_zone_is_accepted(write):
    text = "2026/11/24 10:15:02 [error] 1#1: *1 boom, client: 1.2.3.4, server: x\n"
    logs = loganalyzer.load(write("error.log", text), tz={"nginx_error": "+05:30"})
    assert logs["nginx_error"]["ts"].iloc[0].isoformat() == "2026-11-24T04:45:02+00:00"


def test_missing_path_is_a_clear_error():
    with pytest.raises(loganalyzer.LoadError, match="no such file or directory: /nonexistent/x.log"):
        loganalyzer.load("/nonexistent/x.log")


def test_every_public_sample_accounts_for_every_line():
    logs = loganalyzer.load([DATA / "lnav", DATA / "elastic-beats-nginx", DATA / "spring-boot"],
                            tz={"vac": "UTC", "crm": "UTC"})
    accounted(logs)
    assert logs.stats["kind"].notna().sum() >= 12


def test_a_file_whose_lines_carry_no_time_is_reported_as_not_a_log(write, tmp_path):
    # A catalog of nginx's error messages (prose, templates) beside a real log: shown and counted.
    catalog = (DATA / "catalog" / "nginx_error_messages.txt").read_text(encoding="utf-8")
    write("d/nginx_error_messages.txt", catalog)
    write("d/access.log", "".join(access(i) for i in range(3)))
    # Lines with times no format reads stay "matches no known format", not "not a log".
    write("d/odd.txt", "".join(f"@@ at 10:15:{i:02d} thing {i} happened @@\n" for i in range(5)))
    logs = loganalyzer.load(tmp_path / "d")
    st = logs.stats.set_index(logs.stats["file"].map(lambda f: Path(f).name))
    row = st.loc["nginx_error_messages.txt"]
    assert bool(row["not_log"]) and not isinstance(row["kind"], str)
    assert int(row["unread"]) == int(row["lines"]) == len(catalog.splitlines())
    assert any("nginx_error_messages.txt: matches no known format, and is not a log" in n for n in logs.notes)
    assert not bool(st.loc["odd.txt", "not_log"]) and int(st.loc["odd.txt", "unread"]) == 5
    assert not bool(st.loc["access.log", "not_log"])
    with pytest.raises(ingest.LoadError, match="not a log"):
        loganalyzer.load(tmp_path / "d" / "nginx_error_messages.txt")
