"""Write python_json_logger.jsonl and structlog.jsonl with the real libraries (python-json-logger 4.2, structlog 26.1).

Run: python generate_python.py OUT_DIR (the traceback paths name where the script ran from)
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import structlog
from pythonjsonlogger.json import JsonFormatter

HERE = Path(__file__).parent


def fail() -> None:
    try:
        {}["customer"]
    except KeyError as exc:
        raise ValueError("customer 7 has no address") from exc


def python_json_logger() -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=True))
    log = logging.getLogger("crm.orders")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    log.info("order accepted", extra={"request_id": "aa11bb22", "status": 201})
    try:
        fail()
    except ValueError:
        log.exception("order failed", extra={"request_id": "cc33dd44"})
    return out.getvalue()


def structlog_lines(dict_tracebacks: bool) -> str:
    out = io.StringIO()
    processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
        if dict_tracebacks else structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ]
    structlog.configure(processors=processors, logger_factory=structlog.PrintLoggerFactory(out), cache_logger_on_first_use=False)
    log = structlog.get_logger()
    log.info("order accepted", request_id="aa11bb22", status=201)
    try:
        fail()
    except ValueError:
        log.exception("order failed", request_id="cc33dd44")
    return out.getvalue()


if __name__ == "__main__":
    import sys

    HERE = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    (HERE / "python_json_logger.jsonl").write_text(python_json_logger())
    (HERE / "structlog.jsonl").write_text(structlog_lines(False))
    (HERE / "structlog_dict_tracebacks.jsonl").write_text(structlog_lines(True))
