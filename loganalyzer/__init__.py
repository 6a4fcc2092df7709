"""loganalyzer: line up client, proxy and upstream logs and say where each request died, and why.

    >>> import loganalyzer
    >>> logs = loganalyzer.load(["samples/trailing-comma/logs"])      # parse: one frame per kind
    >>> logs["nginx_access"].head()
    >>> analysis = loganalyzer.analyze(["samples/trailing-comma/logs"])  # correlate and diagnose
    >>> analysis.requests.groupby(["verdict", "root_cause"]).size()
"""

from typing import TYPE_CHECKING, Any

from loganalyzer.errors import ExitStatus, LoganalyzerError, UsageError

if TYPE_CHECKING:
    from loganalyzer.analysis import Analysis, analyze
    from loganalyzer.ingest import LoadError, Logs, load

__all__ = ["Analysis", "ExitStatus", "LoadError", "LoganalyzerError", "Logs", "UsageError", "analyze", "load"]
# pandas and polars load only when the library is used, so `loganalyzer --help` starts at once.
_LAZY = {"Analysis": "analysis", "analyze": "analysis", "LoadError": "ingest", "Logs": "ingest", "load": "ingest"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"loganalyzer.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'loganalyzer' has no attribute {name!r}")
__version__ = "0.1.0"
