"""loganalyzer: line up client, proxy and upstream logs and say where each request died, and why.

    >>> import loganalyzer
    >>> logs = loganalyzer.load(["samples/trailing-comma/logs"])      # parse: one frame per kind
    >>> logs["nginx_access"].head()
    >>> analysis = loganalyzer.analyze(["samples/trailing-comma/logs"])  # correlate and diagnose
    >>> analysis.requests.groupby(["verdict", "root_cause"]).size()
"""

from loganalyzer.analysis import Analysis, analyze
from loganalyzer.errors import ExitStatus, LoganalyzerError, UsageError
from loganalyzer.ingest import LoadError, Logs, load

__all__ = ["Analysis", "ExitStatus", "LoadError", "LoganalyzerError", "Logs", "UsageError", "analyze", "load"]
__version__ = "0.1.0"
