"""Many small files: each read once, and parsed stacked with the others of its format, as it
would be alone."""

from __future__ import annotations

import polars as pl
import pytest
from loganalyzer.parsers import engine

import loganalyzer
from loganalyzer import ingest, sources

from .conftest import SAMPLES

LOGS = SAMPLES / "trailing-comma" / "logs"
UTC = {"*": "UTC"}
COLUMNS = ["line", "ts", "level", "request_id", "message"]


def _lines(name: str) -> list[str]:
    return (LOGS / name).read_text(encoding="utf-8").splitlines()


@pytest.fixture
def folder(tmp_path):
    """Small files of several formats: one-line and few-line client files, upstream files holding
    a stack trace (one cut so that it starts inside it), access and error files, a blank line."""
    d = tmp_path / "many"
    d.mkdir()
    vac, crm = _lines("vac.log"), _lines("crm.log")
    for i in range(8):
        n = 1 + i % 3
        (d / f"client-{i}.log").write_text("\n".join(vac[40 * i:40 * i + n]) + "\n")
    trace = next(i for i, x in enumerate(crm) if "JsonParseException" in x) - 1
    (d / "crm-0.log").write_text("\n".join(crm[trace - 2:trace + 12]) + "\n")
    (d / "crm-1.log").write_text("\n".join(crm[:5]) + "\n\n")
    end = next(i for i in range(trace + 1, len(crm)) if crm[i][:2] == "20")
    (d / "crm-2.log").write_text("\n".join(crm[end - 2:end + 30]) + "\n")  # starts in the trace
    (d / "access-0.log").write_text("\n".join(_lines("access.log")[:3]) + "\n")
    (d / "access-1.log").write_text("\n".join(_lines("access.log")[10:12]) + "\nnot an access line\n")
    (d / "error-0.log").write_text("\n".join(_lines("error.log")[:4]) + "\n")
    return d


def _by_file(logs) -> dict[str, tuple[dict, pl.DataFrame, list]]:
    out = {}
    for row in logs.stats.to_dict("records"):
        frame = pl.from_pandas(logs[row["kind"]]) if row["kind"] in logs.polars else pl.DataFrame()
        mine = frame.filter(pl.col("file") == row["file"]).select(COLUMNS).sort("line") if frame.height else frame
        rej = logs.rejects[logs.rejects["file"] == row["file"]]
        counts = {k: row[k] for k in ("kind", "format", "lines", "parsed", "continuation", "rejected")}
        out[row["file"]] = (counts, mine, sorted(zip(rej["line"], rej["reason"], strict=True)))
    return out


def test_small_files_load_as_each_loads_alone(folder):
    together = _by_file(loganalyzer.load(folder, tz=UTC))
    assert len(together) == len(list(folder.iterdir()))
    for path in sorted(folder.iterdir()):
        alone = _by_file(loganalyzer.load(path, tz=UTC))[str(path)]
        counts, entries, rejects = together[str(path)]
        assert counts == alone[0], path.name
        assert entries.equals(alone[1]), path.name
        assert rejects == alone[2], path.name
    # The cut trace's lines are rejected in its own file, not attached to another file's entry.
    counts, _, rejects = together[str(folder / "crm-2.log")]
    assert rejects[0] == (1, "before the first spring_boot_2 entry")
    assert counts["continuation"] > 0  # the entries after the cut still hold their own traces


def test_a_small_file_is_read_and_parsed_once(tmp_path, monkeypatch):
    """Its start, read to tell its format, is the whole file; one parse of all of them stands for
    telling their kinds and reading them."""
    vac = _lines("vac.log")
    for i in range(30):
        (tmp_path / f"client-{i:02d}.log").write_text(vac[i] + "\n")
    calls = {"parse": 0, "line_chunks": 0, "head": 0}

    def counted(name, real):
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(engine, "parse", counted("parse", engine.parse))
    monkeypatch.setattr(sources, "line_chunks", counted("line_chunks", sources.line_chunks))
    monkeypatch.setattr(sources, "head", counted("head", sources.head))
    logs = loganalyzer.load(tmp_path, tz=UTC)
    assert int(logs.stats["parsed"].sum()) == 30
    assert calls == {"parse": 1, "line_chunks": 0, "head": 30}


def test_a_file_in_another_zone_is_parsed_again_in_it(tmp_path):
    """The stacked parse read naive times in the format's zone: a file given another is read anew."""
    vac = [x for x in _lines("vac.log") if " req=" in x]
    for i in range(3):
        (tmp_path / f"client-{i}.log").write_text(vac[i] + "\n")
    utc = loganalyzer.load(tmp_path, tz=UTC)
    shanghai = loganalyzer.load(tmp_path, tz={str(tmp_path / "client-1.log"): "Asia/Shanghai", "*": "UTC"})
    a, b = (pl.from_pandas(x["vac"]).sort("file") for x in (utc, shanghai))
    shift = (a["ts"] - b["ts"]).dt.total_hours().to_list()
    assert shift == [0, 8, 0]


def test_a_multi_line_file_starting_inside_an_entry_is_not_stacked(folder):
    fmt = next(f for f in ingest._compiled_formats(ingest.Options()) if f.name == "spring_boot_2")
    cut = (folder / "crm-2.log").read_text().splitlines()
    src = ingest._Source("x", "", fmt, 1.0, "utf-8", pl.Series("text", cut))
    assert not ingest._stackable(src)
    src.sample = pl.Series("text", (folder / "crm-0.log").read_text().splitlines())
    assert ingest._stackable(src)
