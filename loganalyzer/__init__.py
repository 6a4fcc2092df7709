"""loganalyzer: line up client, proxy and upstream logs and say where each request died, and why.

    >>> import loganalyzer
    >>> logs = loganalyzer.load(["samples/trailing-comma/logs"])
    >>> logs["nginx_access"].head()
"""

from loganalyzer.ingest import LoadError, Logs, load

__all__ = ["LoadError", "Logs", "load"]
__version__ = "0.1.0"
