"""vac's traffic played by clients built on third-party HTTP libraries, logging as such clients do.

Three clients play the same steps as ``vac.py`` (same bodies, same faults, same
per-method timeouts) but send no ``X-Request-ID`` and log no request id:

- ``requests``: Python ``requests`` with ``urllib3.util.Retry`` mounted on the
  session (3 attempts, backoff, retries on connection errors, timeouts and 5xx
  for every method); urllib3's own DEBUG/WARNING lines (``Starting new HTTP
  connection``, ``"POST /api/tickets HTTP/1.1" 500 None``, ``Retrying (Retry(...))
  after connection broken by ...``, ``Incremented Retry ...``) go to the log with
  the application's lines, layout ``%(asctime)s [%(levelname)s] %(name)s: %(message)s``
  in the host's local time.
- ``jsonlog``: the same ``requests`` client logging through python-json-logger
  (one JSON object per record, ``timestamp`` in UTC with its offset).
- ``httpx``: an ``httpx.Client`` with the application's own retry loop (vac's
  backoff); httpx's own ``HTTP Request: ...`` INFO lines and the application's,
  Flask's layout ``[%(asctime)s] %(levelname)s in %(module)s: %(message)s``.

The lab's record of every attempt (when it was sent, what came back) is taken
at the HTTP connection itself, so urllib3's internal retries are recorded one
by one. Run by ``run.py`` with a JSON config, like ``vac.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))

import vac  # noqa: E402

RETRY_STATUSES = (500, 502, 503, 504)
REQUESTS_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"
HTTPX_FORMAT = "[%(asctime)s] %(levelname)s in %(module)s: %(message)s"  # Flask's documented default

log = logging.getLogger("vac")


def error_name(exc: BaseException) -> str:
    """What the lab's truth calls a failed attempt's error: the socket-level cause, not the wrapper."""
    seen = set()
    chain = exc
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        if isinstance(chain, ConnectionRefusedError):
            return "ConnectionRefusedError"
        if isinstance(chain, TimeoutError):
            return "timeout"
        chain = chain.__cause__ or chain.__context__
    name = type(exc).__name__
    return "timeout" if "Timeout" in name else name


class Recorder:
    """The lab's record of each attempt (never logged): what was sent and what came back."""

    def __init__(self, out, release: str) -> None:
        self.out = out
        self.release = release
        self.step: dict | None = None
        self.attempt = 0
        self.pending: dict | None = None

    def start_request(self, step: dict) -> None:
        self.step = step
        self.attempt = 0

    def sent(self, method: str, path: str, url: str) -> None:
        self.flush()
        self.attempt += 1
        self.started = time.perf_counter()
        self.pending = {
            "client": "vac",
            "request_id": "",  # these clients send no X-Request-ID
            "attempt": self.attempt,
            "sent_utc": datetime.now(UTC).isoformat(timespec="microseconds"),
            "method": method,
            "path": path,
            "url": url,
            "fault": self.step["fault"],
            "status": None,
            "error": None,
            "elapsed_ms": None,
            "release": self.release,
        }

    def done(self, status: int | None = None, exc: BaseException | None = None) -> None:
        if self.pending is None:
            return
        self.pending["status"] = status
        self.pending["error"] = error_name(exc) if exc is not None else None
        self.pending["elapsed_ms"] = round((time.perf_counter() - self.started) * 1000, 1)
        self.flush()

    def flush(self) -> None:
        if self.pending is not None:
            self.out.write(json.dumps(self.pending) + "\n")
            self.out.flush()
            self.pending = None


def describe(step: dict) -> str:
    if step["op"] == "create_ticket":
        return f"ticket for customer {step['customer_id']}"
    return f"customer {step['customer_id']}"


class RequestsClient:
    """vac on ``requests``: retries are urllib3's (``Retry`` on the session's adapter)."""

    def __init__(self, config: dict, recorder: Recorder) -> None:
        import requests
        import urllib3
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        self.requests = requests
        self.config = config
        self.recorder = recorder
        self.timeouts = config["timeouts"]
        retry = Retry(
            total=config["max_attempts"] - 1,
            backoff_factor=config["backoff"][0],
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # POST too: the service is meant to be idempotent (it is not)
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)

        # Each attempt urllib3 makes passes through this connection class, also those it retries by
        # itself. The classes keep urllib3's names: they appear in urllib3's own messages.
        class HTTPConnection(urllib3.connection.HTTPConnection):
            def request(conn, method, url, *args, **kwargs):  # noqa: N805
                recorder.sent(method, url.split("?")[0], f"http://{conn.host}:{conn.port}{url}")
                try:
                    return super().request(method, url, *args, **kwargs)
                except BaseException as exc:
                    recorder.done(exc=exc)
                    raise

            def getresponse(conn):  # noqa: N805
                try:
                    response = super().getresponse()
                except BaseException as exc:
                    recorder.done(exc=exc)
                    raise
                recorder.done(status=response.status)
                return response

        class HTTPConnectionPool(urllib3.HTTPConnectionPool):
            ConnectionCls = HTTPConnection

        adapter.poolmanager.pool_classes_by_scheme = {"http": HTTPConnectionPool,
                                                      "https": urllib3.HTTPSConnectionPool}
        self.session.headers.update(
            {"User-Agent": f"vac/{config['release']} python-requests/{requests.__version__}",
             "Accept": "application/json"}
        )

    def play(self, step: dict) -> None:
        method, path = vac.Client.route(step)
        base = self.config["legacy_crm_base"] if step["fault"] == "wrong_port" else self.config["crm_base"]
        token = self.config["stale_token"] if step["fault"] == "expired_token" else self.config["token"]
        what = describe(step)
        headers = {"Authorization": f"Bearer {token}"}
        body = None
        if method == "POST":
            body = vac.render_ticket(step).encode("utf-8")
            headers["Content-Type"] = "application/json"
            log.info("Creating %s (priority=%s, token=%s)", what, step["priority"], vac.token_hint(token))
        else:
            log.info("Looking up %s (token=%s)", what, vac.token_hint(token))
        self.recorder.start_request(step)
        try:
            response = self.session.request(method, base + path, data=body, headers=headers,
                                            timeout=self.timeouts[method])
            response.raise_for_status()
        except self.requests.RequestException as exc:
            log.error("Request for %s failed: %s", what, exc)
            return
        finally:
            self.recorder.flush()
        if method == "POST":
            log.info("Created ticket %s for customer %s", response.json().get("id"), step["customer_id"])
        else:
            log.info("Found customer %s (%s)", step["customer_id"], response.json().get("region"))


class HttpxClient:
    """vac on ``httpx``: one ``httpx.Client`` and the application's own retry loop, as vac retries."""

    def __init__(self, config: dict, recorder: Recorder) -> None:
        import httpx

        self.httpx = httpx
        self.config = config
        self.recorder = recorder
        self.timeouts = config["timeouts"]
        self.backoff = config["backoff"]
        self.max_attempts = config["max_attempts"]
        self.client = httpx.Client(
            headers={"User-Agent": f"vac/{config['release']} python-httpx/{httpx.__version__}",
                     "Accept": "application/json"}
        )

    def play(self, step: dict) -> None:
        httpx = self.httpx
        method, path = vac.Client.route(step)
        base = self.config["legacy_crm_base"] if step["fault"] == "wrong_port" else self.config["crm_base"]
        token = self.config["stale_token"] if step["fault"] == "expired_token" else self.config["token"]
        url = base + path
        what = describe(step)
        headers = {"Authorization": f"Bearer {token}"}
        body = None
        if method == "POST":
            body = vac.render_ticket(step).encode("utf-8")
            headers["Content-Type"] = "application/json"
            log.info("Creating %s (priority=%s, token=%s)", what, step["priority"], vac.token_hint(token))
        else:
            log.info("Looking up %s (token=%s)", what, vac.token_hint(token))
        self.recorder.start_request(step)
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                pause = self.backoff[min(attempt - 2, len(self.backoff) - 1)]
                log.warning("%s %s: %s; retrying in %.2f s (attempt %d of %d)", method, url, problem, pause,
                            attempt, self.max_attempts)
                time.sleep(pause)
            self.recorder.sent(method, path, url)
            try:
                response = self.client.request(method, url, content=body, headers=headers,
                                               timeout=self.timeouts[method])
            except httpx.TransportError as exc:
                self.recorder.done(exc=exc)
                problem = f"{type(exc).__name__}: {exc}"
                continue
            self.recorder.done(status=response.status_code)
            if response.status_code in RETRY_STATUSES:
                problem = f"{response.status_code} {response.reason_phrase}"
                continue
            try:
                response.raise_for_status()
            except httpx.HTTPStatusError as exc:
                log.error("Request for %s failed: %s", what, str(exc).splitlines()[0])
                return
            if method == "POST":
                log.info("Created ticket %s for customer %s", response.json().get("id"), step["customer_id"])
            else:
                log.info("Found customer %s (%s)", step["customer_id"], response.json().get("region"))
            return
        log.error("Giving up on %s %s after %d attempts: %s", method, url, self.max_attempts, problem)


def setup_logging(kind: str, path: str) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    root = logging.getLogger()
    if kind == "jsonlog":
        try:
            from pythonjsonlogger.json import JsonFormatter
        except ImportError:  # python-json-logger before 3.1
            from pythonjsonlogger.jsonlogger import JsonFormatter
        handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s", timestamp=True))
    elif kind == "httpx":
        handler.setFormatter(logging.Formatter(HTTPX_FORMAT))
    else:
        handler.setFormatter(logging.Formatter(REQUESTS_FORMAT))
    root.addHandler(handler)
    if kind == "httpx":
        root.setLevel(logging.INFO)  # httpx's request lines are INFO; httpcore's DEBUG trace stays out
    else:
        root.setLevel(logging.DEBUG)  # urllib3's connection and retry lines are DEBUG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="JSON config written by run.py")
    args = parser.parse_args(argv)
    config = json.loads(Path(args.config).read_text())
    kind = config["client"]
    setup_logging(kind, config["log_file"])
    random.seed(config.get("seed"))
    control_dir = Path(config["control_dir"])
    log.info("vac %s starting (crm_base=%s)", config["release"], config["crm_base"])
    sent = 0
    with open(config["attempts_file"], "a", encoding="utf-8") as attempts_out:
        recorder = Recorder(attempts_out, config["release"])
        client = HttpxClient(config, recorder) if kind == "httpx" else RequestsClient(config, recorder)
        for step in config["steps"]:
            if "barrier" in step:
                vac.wait_at_barrier(control_dir, step["barrier"])
                continue
            time.sleep(step.get("gap", 0.0))
            client.play(step)
            sent += 1
    log.info("vac %s stopping (requests=%d)", config["release"], sent)
    logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
