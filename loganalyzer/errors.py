"""The one exception hierarchy, and the exit status each error carries.

Every problem a user can cause has its own class here and its own exit status; the command line
prints the message on one line and exits with ``exc.exit_status``. Library code raises these with
``raise ... from exc`` so that the cause chain stays for ``--debug``. Messages speak of the library's
terms (a zone, a file, a rule), never of command-line flags: the command line adds those.

=====  ==========================  ==================================================================
code   name                        meaning
=====  ==========================  ==================================================================
0      OK                          done; nothing to report
1      ERROR                       an internal error (a bug: please report it)
2      USAGE                       bad usage, option or configuration (formats, rules, settings)
3      INPUT                       unreadable or unrecognised input
4      NOTHING_TO_ANALYSE          no request attempts, or a time window that left none
5      FAILURES                    failed attempts found (``analyze --check``) or a threshold breached
6      LOCKED                      another scan holds the lock
7      CLUSTER                     the Dask cluster was lost, or cannot run this release
8      TOO_LARGE                   logs too large to analyse whole in the memory allowed
130    INTERRUPTED                 interrupted (Ctrl-C)
=====  ==========================  ==================================================================
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    INPUT = 3
    NOTHING_TO_ANALYSE = 4
    FAILURES = 5
    LOCKED = 6
    CLUSTER = 7
    TOO_LARGE = 8
    INTERRUPTED = 130


class LoganalyzerError(Exception):
    """Base of every error the library raises on purpose; ``exit_status`` says how a CLI ends."""

    exit_status: ExitStatus = ExitStatus.ERROR


class UsageError(LoganalyzerError, ValueError):
    """An option, argument or setting that cannot be used as given."""

    exit_status = ExitStatus.USAGE


class ConfigError(UsageError):
    """A settings file that cannot be read or has a wrong key or value."""


class FormatsError(UsageError):
    """A format definition (built-in or the user's) that is incomplete or does not compile."""


class RulesError(UsageError):
    """A rules file with a wrong key, value or regex."""


class InputError(LoganalyzerError):
    """A log that cannot be read or recognised."""

    exit_status = ExitStatus.INPUT


class NothingToAnalyse(LoganalyzerError):
    """The logs hold no request attempt (or none inside the time window)."""

    exit_status = ExitStatus.NOTHING_TO_ANALYSE


class FailuresFound(LoganalyzerError):
    """Failed attempts were found where the caller asked to be told (a check, a threshold)."""

    exit_status = ExitStatus.FAILURES


class Locked(LoganalyzerError):
    """Another run holds the lock."""

    exit_status = ExitStatus.LOCKED


class TooLarge(LoganalyzerError):
    """Logs that would take more memory to analyse whole than the process may use."""

    exit_status = ExitStatus.TOO_LARGE

    def __init__(self, message: str, brief: str | None = None):
        super().__init__(message)
        #: Why, in a clause (for the note of an analysis that went on in batches instead).
        self.brief = brief or message


class ClusterError(LoganalyzerError):
    """The Dask cluster a scan runs on was lost, or its workers cannot run this release."""

    exit_status = ExitStatus.CLUSTER
