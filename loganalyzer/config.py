"""Settings kept in a file, so a team writes its zones and formats down once.

``loganalyzer.toml`` in the current directory is read when present, or the file ``--config``
names. Options given on the command line (or as keyword arguments) win over the file::

    formats = ["formats/edge.toml"]      # paths are relative to this file
    rules = ["rules/ours.toml"]

    [tz]                                 # zone of lines without an offset, per kind or per file
    crm = "Asia/Shanghai"
    "legacy/app.log" = "Europe/Berlin"

    [encoding]
    crm = "gbk"

    [as]                                 # kind (and format) of files detection should not guess
    "exports/gateway.txt" = "nginx_access:combined"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_NAME = "loganalyzer.toml"


class ConfigError(ValueError):
    """A settings file that cannot be read."""


@dataclass
class Settings:
    tz: dict[str, str] = field(default_factory=dict)
    encoding: dict[str, str] = field(default_factory=dict)
    as_: dict[str, str] = field(default_factory=dict)
    formats: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    source: str | None = None  # the file these came from


def read(path: str | Path | None = None) -> Settings:
    """The settings in ``path``, or in ./loganalyzer.toml when there is one; empty otherwise."""
    if path is None:
        default = Path(DEFAULT_NAME)
        if not default.is_file():
            return Settings()
        path = default
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read settings file {p}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    unknown = set(data) - {"tz", "encoding", "as", "formats", "rules"}
    if unknown:
        raise ConfigError(f"{p}: unknown setting(s) {', '.join(sorted(unknown))} "
                          "(known: tz, encoding, as, formats, rules)")
    for table in ("tz", "encoding", "as"):
        if not isinstance(data.get(table, {}), dict):
            raise ConfigError(f"{p}: [{table}] must be a table of NAME = \"value\"")
    for files in ("formats", "rules"):
        if not isinstance(data.get(files, []), list):
            raise ConfigError(f"{p}: {files} must be a list of files")

    def here(name: str) -> str:
        return str(p.parent / name) if not Path(name).is_absolute() else name

    return Settings(
        tz={str(k): str(v) for k, v in data.get("tz", {}).items()},
        encoding={str(k): str(v) for k, v in data.get("encoding", {}).items()},
        as_={str(k): str(v) for k, v in data.get("as", {}).items()},
        formats=[here(f) for f in data.get("formats", [])],
        rules=[here(f) for f in data.get("rules", [])],
        source=str(p),
    )
