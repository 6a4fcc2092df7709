"""vac: the customer-facing client of the incident lab (standard library only).

vac creates support tickets (POST /api/tickets) and looks customers up
(GET /api/customers/{id}) through the Nginx gateway in front of the CRM. Every
logical request carries ``X-Request-ID: <uuid4 hex>``; the same id is reused for
its retries. Connection errors, timeouts and 5xx answers are retried with
exponential backoff, 4xx answers are not.

Each attempt is logged twice: to a text log (Python ``logging``, UTC timestamps)
and to a JSON-lines log with the same events. The lab also asks for a record of
every attempt (what was sent, what came back) from which it writes the truth.

The script is driven by a JSON config written by ``run.py``: the release to
report, base URLs, tokens, timeouts and the list of steps to play. A step is
either a request (with the fault the lab wants injected into it) or a barrier
at which vac waits for the lab to change the world (stop the CRM, slow it down).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
JSON_FIELDS = ("request_id", "method", "url", "status", "attempt", "error", "elapsed_ms")

SUBJECTS = [
    "Printer offline since this morning",
    "Invoice shows wrong VAT rate",
    "Cannot reset password",
    "Delivery arrived damaged",
    "Request for contract copy",
    "Duplicate charge on card",
    "Address change",
    "Upgrade to premium plan",
]


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per event, timestamp in ISO-8601 with its offset."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "@timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in JSON_FIELDS:
            event[field] = getattr(record, field, None)
        return json.dumps(event, ensure_ascii=False)


def setup_logging(text_path: str, jsonl_path: str) -> None:
    text = logging.FileHandler(text_path, encoding="utf-8")
    text_formatter = logging.Formatter(TEXT_FORMAT)
    text_formatter.converter = time.gmtime
    text.setFormatter(text_formatter)
    jsonl = logging.FileHandler(jsonl_path, encoding="utf-8")
    jsonl.setFormatter(JsonLinesFormatter())
    root = logging.getLogger("vac")
    root.setLevel(logging.INFO)
    root.addHandler(text)
    root.addHandler(jsonl)
    root.propagate = False


log = logging.getLogger("vac")
http_log = logging.getLogger("vac.http")


def token_hint(token: str) -> str:
    return "\u2026" + token[-4:]


def render_ticket(step: dict) -> str:
    ticket = {
        "customer_id": step["customer_id"],
        "subject": step.get("subject"),
        "priority": step["priority"],
    }
    fault = step["fault"]
    if fault == "missing_subject":
        ticket.pop("subject")
    if fault == "oversized_body":
        content = base64.b64encode(random.randbytes(step["attachment_bytes"])).decode("ascii")
        ticket["attachments"] = [{"name": "screenshot.png", "content_base64": content}]
    if fault == "trailing_comma":
        # The hand-rolled pretty printer of the 2.5 template engine leaves a comma after the last field.
        lines = ["{"] + [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in ticket.items()] + ["}"]
        return "\n".join(lines) + "\n"
    return json.dumps(ticket)


class Client:
    def __init__(self, config: dict, attempts_out) -> None:
        self.config = config
        self.release = config["release"]
        self.attempts_out = attempts_out
        self.timeouts = config["timeouts"]
        self.backoff = config["backoff"]
        self.max_attempts = config["max_attempts"]
        self.sent = 0
        self.failed = 0

    def play(self, step: dict) -> None:
        method, path = self.route(step)
        base = self.config["legacy_crm_base"] if step["fault"] == "wrong_port" else self.config["crm_base"]
        token = self.config["stale_token"] if step["fault"] == "expired_token" else self.config["token"]
        body = render_ticket(step).encode("utf-8") if method == "POST" else None
        request_id = uuid.uuid4().hex
        url = base + path
        self.sent += 1
        last_status = None
        last_error = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                pause = self.backoff[min(attempt - 2, len(self.backoff) - 1)]
                http_log.info(
                    "retry req=%s attempt=%d backoff_ms=%d",
                    request_id,
                    attempt,
                    round(pause * 1000),
                    extra={"request_id": request_id, "method": method, "url": url, "attempt": attempt},
                )
                time.sleep(pause)
            status, error = self.attempt(request_id, attempt, method, url, path, body, token, step)
            last_status, last_error = status, error
            if status is not None and status < 400:
                return
            if status is not None and status < 500:
                self.failed += 1
                http_log.error(
                    "giving up req=%s attempts=%d last_status=%d retryable=false",
                    request_id,
                    attempt,
                    status,
                    extra={
                        "request_id": request_id,
                        "method": method,
                        "url": url,
                        "status": status,
                        "attempt": attempt,
                    },
                )
                return
        self.failed += 1
        if last_status is not None:
            outcome = f"last_status={last_status}"
        else:
            outcome = f"last_error={last_error}"
        http_log.error(
            "giving up req=%s attempts=%d %s",
            request_id,
            self.max_attempts,
            outcome,
            extra={
                "request_id": request_id,
                "method": method,
                "url": url,
                "status": last_status,
                "attempt": self.max_attempts,
                "error": last_error,
            },
        )

    @staticmethod
    def route(step: dict) -> tuple[str, str]:
        if step["op"] == "create_ticket":
            return "POST", "/api/tikets" if step["fault"] == "wrong_path" else "/api/tickets"
        return "GET", f"/api/customers/{step['customer_id']}"

    def attempt(self, request_id, attempt, method, url, path, body, token, step):
        parts = urlsplit(url)
        timeout = self.timeouts[method]
        headers = {
            "User-Agent": f"vac/{self.release} Python/{sys.version_info.major}.{sys.version_info.minor}",
            "Accept": "application/json",
            "Authorization": f"Bearer {token}",
            "X-Request-ID": request_id,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        common = {"request_id": request_id, "method": method, "url": url, "attempt": attempt}
        http_log.info(
            "send req=%s attempt=%d method=%s path=%s token=%s",
            request_id,
            attempt,
            method,
            path,
            token_hint(token),
            extra=common,
        )
        sent_utc = datetime.now(UTC)
        started = time.perf_counter()
        status = None
        error = None
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except ConnectionRefusedError:
            error = "ConnectionRefusedError"
        except TimeoutError:
            error = "timeout"
        except (http.client.HTTPException, OSError) as exc:
            error = type(exc).__name__
        finally:
            conn.close()
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        if status is not None and status < 400:
            http_log.info(
                "recv req=%s attempt=%d status=%d elapsed_ms=%.1f",
                request_id,
                attempt,
                status,
                elapsed_ms,
                extra={**common, "status": status, "elapsed_ms": elapsed_ms},
            )
        elif status is not None:
            http_log.warning(
                "fail req=%s attempt=%d method=%s path=%s status=%d error=HTTPError elapsed_ms=%.1f",
                request_id,
                attempt,
                method,
                path,
                status,
                elapsed_ms,
                extra={**common, "status": status, "error": "HTTPError", "elapsed_ms": elapsed_ms},
            )
        else:
            http_log.warning(
                "fail req=%s attempt=%d method=%s path=%s error=%s elapsed_ms=%.1f",
                request_id,
                attempt,
                method,
                path,
                error,
                elapsed_ms,
                extra={**common, "error": error, "elapsed_ms": elapsed_ms},
            )
        record = {
            "client": "vac",
            "request_id": request_id,
            "attempt": attempt,
            "sent_utc": sent_utc.isoformat(timespec="microseconds"),
            "method": method,
            "path": path,
            "url": url,
            "fault": step["fault"],
            "status": status,
            "error": error,
            "elapsed_ms": elapsed_ms,
            "release": self.release,
        }
        self.attempts_out.write(json.dumps(record) + "\n")
        self.attempts_out.flush()
        return status, error


def wait_at_barrier(control_dir: Path, name: str, limit_s: float = 120.0) -> None:
    (control_dir / f"{name}.reached").write_text(str(time.time()))
    done = control_dir / f"{name}.done"
    deadline = time.monotonic() + limit_s
    while not done.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"vac: barrier {name} not released within {limit_s:.0f} s")
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="JSON config written by run.py")
    args = parser.parse_args(argv)
    config = json.loads(Path(args.config).read_text())
    setup_logging(config["log_file"], config["jsonl_file"])
    random.seed(config.get("seed"))
    control_dir = Path(config["control_dir"])
    log.info("vac %s starting (crm_base=%s)", config["release"], config["crm_base"])
    with open(config["attempts_file"], "a", encoding="utf-8") as attempts_out:
        client = Client(config, attempts_out)
        for step in config["steps"]:
            if "barrier" in step:
                wait_at_barrier(control_dir, step["barrier"])
                continue
            time.sleep(step.get("gap", 0.0))
            client.play(step)
    log.info("vac %s stopping (requests=%d failed=%d)", config["release"], client.sent, client.failed)
    logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
