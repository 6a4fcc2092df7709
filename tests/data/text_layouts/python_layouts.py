"""Write the sample lines of the Python ``logging`` layouts with the real ``logging`` module.

Run: ``python tests/data/text_layouts/python_layouts.py > tests/data/text_layouts/python_layouts.log``.
Each block is headed ``## <format name>``; its lines are what ``logging.Formatter`` wrote for a
real urllib3 retry against a closed local port and for the exception that followed. Record times
are pinned (a filter sets ``created``) so the lines can be checked against fixed UTC values.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time

import requests
from urllib3.util.retry import Retry

#: 2026-11-26T09:14:46.070Z, then one second per record.
START = 1795684486
MSECS = 70.0

# name -> (fmt, datefmt, zone the writer's clock is in)
LAYOUTS: dict[str, tuple[str, str | None, str]] = {
    "python_asctime": ("%(asctime)s %(levelname)s %(message)s", None, "UTC"),
    "python_bracket_logger": ("%(asctime)s %(levelname)s [%(name)s] %(message)s", None, "UTC"),
    "python_dashes": ("%(asctime)s - %(name)s - %(levelname)s - %(message)s", None, "UTC"),
    "python_level_bracket": ("%(asctime)s [%(levelname)s] %(name)s: %(message)s", None, "UTC"),
    "python_padded": ("%(asctime)s %(levelname)-8s %(name)s %(message)s", None, "UTC"),
    "python_name_level": ("%(asctime)s %(name)-12s %(levelname)-8s %(message)s", None, "UTC"),
    "python_seconds": ("%(asctime)s [%(levelname)s] %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S", "UTC"),
    "python_msecs": ("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S", "UTC"),
    "python_iso_offset": ("%(asctime)s %(levelname)s [%(name)s] %(message)s", "%Y-%m-%dT%H:%M:%S%z",
                          "Europe/Moscow"),
    "flask_default": ("[%(asctime)s] %(levelname)s in %(module)s: %(message)s", None, "UTC"),
    "python_colon": ("%(asctime)s:%(levelname)s:%(message)s", None, "UTC"),
    "python_colon_name": ("%(asctime)s:%(levelname)s:%(name)s:%(message)s", None, "UTC"),
    # Celery's worker_log_format default
    "celery_worker": ("[%(asctime)s: %(levelname)s/%(processName)s] %(message)s", None, "UTC"),
}


class _Pinned(logging.Filter):
    """Give records fixed creation times, one second apart."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def filter(self, record: logging.LogRecord) -> bool:
        record.created = START + self.n + MSECS / 1000
        record.msecs = MSECS
        self.n += 1
        return True


def run(name: str, fmt: str, datefmt: str | None, zone: str) -> None:
    os.environ["TZ"] = zone
    time.tzset()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(fmt, datefmt))
    handler.addFilter(_Pinned())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)
    print(f"## {name}", flush=True)
    session = requests.Session()
    retries = Retry(total=1, backoff_factor=0)
    session.mount("http://", requests.adapters.HTTPAdapter(max_retries=retries))
    log = logging.getLogger("app.client")
    log.info("POST http://127.0.0.1:9/api/tickets attempt=1")
    try:
        session.post("http://127.0.0.1:9/api/tickets", json={"subject": "printer"}, timeout=1)
    except requests.ConnectionError:
        log.error("POST /api/tickets failed after %d attempts", 2)
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    except OSError:
        log.exception("connect to 127.0.0.1:9 failed")
    handler.flush()


# Frames of this script are shown as the application file they stand for, not this checkout's path.
run.__code__ = run.__code__.replace(co_filename="/srv/app/client.py")

if __name__ == "__main__":
    for layout_name, (f, d, z) in LAYOUTS.items():
        run(layout_name, f, d, z)
