"""Running the nightly scan's units of work on a Dask cluster (``pip install 'loganalyzer[dask]'``).

The client plans (which bytes of which file, formats, zones, clocks), sends the units of work of
:mod:`loganalyzer.scanwork` to the cluster, merges the windows' results and writes the history:
one writer, one transaction per run, as in one process. Workers read the byte ranges themselves,
so the logs' paths must be on a filesystem they share (or be URLs they can open). A worker that
dies has its tasks run again elsewhere (each is a pure function of its inputs); a scheduler lost
before the commit leaves the history as it was (:class:`loganalyzer.errors.ClusterError`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from loganalyzer import __version__, errors

#: Seconds without any task finishing after which a scan on a cluster gives up (see DaskExecutor).
STALL_S = 600.0
#: Seconds a local cluster, its client and its workers get to start and to stop.
START_S = 60.0


class Packed:
    """A unit of work's argument or result, pickled by the thread that made it.

    Dask's event-loop thread then moves bytes only. Left to itself it pickles polars frames there,
    holding the GIL while polars' thread pool does the work; if the task thread's polars query is
    meanwhile running a Python function on those pool threads (the secret masking does), each side
    waits for the other for ever (seen on a 2-core worker)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data

    @classmethod
    def of(cls, obj: Any) -> Packed:
        import pickle

        return cls(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def open(self) -> Any:
        import pickle

        return pickle.loads(self.data)

    def __sizeof__(self) -> int:  # what Dask's memory accounting reads
        return len(self.data) + 64


def _open(x: Any) -> Any:
    if isinstance(x, Packed):
        return x.open()
    if isinstance(x, list):
        return [_open(v) for v in x]
    return x


def _run_packed(fn, *args) -> Packed:
    """Runs on a worker: the unit of work on its opened arguments, its result packed."""
    return Packed.of(fn(*(_open(a) for a in args)))


class DaskExecutor:
    """Submits units of work to a ``distributed.Client``; futures stay on the workers until gathered."""

    def __init__(self, client: Any, progress: bool = False, stall_s: float = STALL_S):
        self.client = client
        self.progress = progress  # show tasks done of all on stderr while waiting (a terminal)
        self.stall_s = stall_s  # no task finished for this long: the cluster is stuck, the run stops
        self.tasks = 0
        self.done = 0
        self.bytes_sent = 0  # what the client put into tasks (plans, carried lines), estimated
        self.bytes_received = 0  # what came back (stats, windows' results, carried lines)

    def submit(self, fn, *args):
        from distributed import Future

        self.tasks += 1
        args = tuple(a if isinstance(a, (Future, list)) else Packed.of(a) for a in args)
        self.bytes_sent += sum(len(a.data) for a in args if isinstance(a, Packed))
        import uuid

        # Keyed by the unit's own name, not the wrapper's: the dashboard and task streams show it.
        return self.client.submit(_run_packed, fn, *args, key=f"{fn.__name__}-{uuid.uuid4().hex}")

    def gather(self, futures: list) -> list:
        from distributed.comm.core import CommClosedError

        try:
            self._wait(futures)
            got = self.client.gather(futures)
            self.done += len(futures)
            self.bytes_received += sum(len(g.data) for g in got)
            return [g.open() for g in got]
        except (CommClosedError, OSError, TimeoutError) as exc:
            raise errors.ClusterError(f"lost the Dask cluster during the scan ({type(exc).__name__}: {exc}); "
                                      "the history was left as it was") from exc
        except Exception as exc:
            if type(exc).__name__ in ("CancelledError", "FutureCancelledError"):
                raise errors.ClusterError("the Dask cluster cancelled the scan's tasks (its scheduler went away?); "
                                          "the history was left as it was") from exc
            raise


    def _wait(self, futures: list) -> None:
        """Until every future is done, showing the count on a terminal. A cluster on which no task
        finishes for ``stall_s`` is stuck (a worker that cannot start, a lost task): a nightly job
        must end with an error then, not hang until cron starts the next one."""
        import sys
        import time

        from distributed import wait

        finished, last, since = 0, -1, time.monotonic()
        while True:
            finished = sum(f.done() for f in futures)
            if self.progress:
                sys.stderr.write(f"\rDask: {self.done + finished:,} of {self.tasks:,} tasks done")
                sys.stderr.flush()
            if finished == len(futures):
                if self.progress:
                    sys.stderr.write("\r\x1b[K")
                return
            if finished != last:
                last, since = finished, time.monotonic()
            elif time.monotonic() - since > self.stall_s:
                raise errors.ClusterError(
                    f"no task of the scan finished on the Dask cluster in {self.stall_s:g} s ({finished:,} of "
                    f"{len(futures):,} done); the history was left as it was")
            try:
                wait(futures, timeout=0.5 if self.progress else min(5.0, self.stall_s))
            except TimeoutError:
                pass


def check_workers(client: Any) -> None:
    """Every worker must import this release of loganalyzer: the units of work are its functions."""

    def version() -> str | None:  # sent by value: it runs even where loganalyzer is missing
        try:
            import loganalyzer

            return loganalyzer.__version__
        except ImportError:
            return None

    got = client.run(version)
    if not got:
        raise errors.ClusterError("the Dask cluster has no workers")
    wrong = {w: v for w, v in got.items() if v != __version__}
    if wrong:
        w, v = next(iter(wrong.items()))
        have = f"loganalyzer {v}" if v else "no loganalyzer"
        raise errors.ClusterError(f"{len(wrong)} of {len(got)} Dask workers cannot run this scan: {w} has {have}; "
                                  f"install loganalyzer {__version__} on every worker")


@contextmanager
def executor(scheduler: str | None = None, workers: int | None = None) -> Iterator[DaskExecutor]:
    """A Dask executor on the cluster at ``scheduler`` (``tcp://host:8786``), or on a local
    cluster of ``workers`` processes started here and stopped afterwards."""
    try:
        import distributed
    except ImportError as exc:
        raise errors.UsageError("a scan on a Dask cluster needs dask and distributed: "
                                "pip install 'loganalyzer[dask]'") from exc
    cluster = None
    try:
        if workers:
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               dashboard_address=":0", silence_logs=logging.ERROR)
            client = distributed.Client(cluster, timeout=START_S)
        else:
            client = distributed.Client(scheduler, timeout="15s")
    except (OSError, TimeoutError) as exc:
        raise errors.ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    try:
        import sys

        check_workers(client)
        yield DaskExecutor(client, progress=sys.stderr.isatty())
    finally:
        # Bounded: a worker that will not stop must not keep a finished scan from returning.
        _quietly(client.close, timeout=START_S)
        if cluster is not None:
            _quietly(cluster.close, timeout=START_S)


def _quietly(close, **kw) -> None:
    try:
        close(**kw)
    except (OSError, TimeoutError, RuntimeError) as exc:
        logging.getLogger(__name__).warning("closing the Dask cluster: %s", exc)


def dashboard(ex: DaskExecutor) -> str | None:
    """The Dask dashboard's address, when the cluster serves one."""
    try:
        return ex.client.dashboard_link
    except Exception:  # noqa: BLE001 - a cluster without a dashboard
        return None
