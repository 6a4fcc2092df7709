"""Settings kept in a file, so a team writes its zones and formats down once.

``loganalyzer.toml`` in the current directory is read when present, or the file ``--config``
names. Options given on the command line (or as keyword arguments) win over the file::

    formats = ["formats/edge.toml"]      # paths are relative to this file
    rules = ["rules/ours.toml"]
    max_memory = "8GB"                   # what analyze may hold ("auto": most of what is free)

    [tz]                                 # zone of lines without an offset, per kind or per file
    crm = "Asia/Shanghai"
    "legacy/app.log" = "Europe/Berlin"

    [encoding]
    crm = "gbk"

    [as]                                 # kind (and format) of files detection should not guess
    "exports/gateway.txt" = "nginx_access:combined"

The nightly scan reads its own tables from the same file (``[scan]``, ``[[sources]]``,
``[thresholds]``, ``[outputs]``): see :mod:`loganalyzer.scan` and ``loganalyzer init``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_NAME = "loganalyzer.toml"
#: The file's top-level keys: the analysis settings, then the scan's tables.
KNOWN = ("tz", "encoding", "as", "formats", "rules", "max_memory", "scan", "sources", "thresholds", "outputs")


class ConfigError(ValueError):
    """A settings file that cannot be read."""


@dataclass
class Settings:
    tz: dict[str, str] = field(default_factory=dict)
    encoding: dict[str, str] = field(default_factory=dict)
    as_: dict[str, str] = field(default_factory=dict)
    formats: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    #: The memory an analysis may take ("8GB", "auto", "none"; see :mod:`loganalyzer.budget`), unchecked here.
    max_memory: str | int | None = None
    source: str | None = None  # the file these came from
    #: The scan's tables as written (checked by :mod:`loganalyzer.scan`), paths not yet resolved.
    scan: dict = field(default_factory=dict)
    sources: list[dict] = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # the whole file, for its hash

    def here(self, name: str) -> str:
        """A path named in the file, relative to the file's folder."""
        if self.source is None or Path(name).is_absolute():
            return name
        return str(Path(self.source).parent / name)


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
    unknown = set(data) - set(KNOWN)
    if unknown:
        raise ConfigError(f"{p}: unknown setting(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(KNOWN)})")
    for table in ("tz", "encoding", "as"):
        if not isinstance(data.get(table, {}), dict):
            raise ConfigError(f"{p}: [{table}] must be a table of NAME = \"value\"")
    for table in ("scan", "thresholds", "outputs"):
        if not isinstance(data.get(table, {}), dict):
            raise ConfigError(f"{p}: [{table}] must be a table")
    if not isinstance(data.get("sources", []), list) or not all(isinstance(s, dict) for s in data.get("sources", [])):
        raise ConfigError(f"{p}: sources must be [[sources]] tables")
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
        max_memory=data.get("max_memory"),
        source=str(p),
        scan=dict(data.get("scan", {})), sources=[dict(x) for x in data.get("sources", [])],
        thresholds=dict(data.get("thresholds", {})), outputs=dict(data.get("outputs", {})), data=data,
    )


def find(start: str | Path | None = None, environ: dict[str, str] | None = None) -> Path | None:
    """The settings file as tools people know look for theirs: ``loganalyzer.toml`` in ``start``
    (default: the working folder) or a folder above it, else ``$XDG_CONFIG_HOME/loganalyzer/config.toml``
    (``~/.config`` when unset). None when there is none."""
    import os

    env = os.environ if environ is None else environ
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / DEFAULT_NAME
        if candidate.is_file():
            return candidate
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    user = Path(base) / "loganalyzer" / "config.toml"
    return user if user.is_file() else None
