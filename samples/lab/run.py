#!/usr/bin/env python3
"""Incident lab: reproduce an integration incident end to end and keep its logs and truth.

    python samples/lab/run.py SCENARIO [--out DIR] [--seed N] [--quick]

Starts a real Nginx (Europe/Moscow) in front of the Java CRM stand-in (embedded
Tomcat 9, Asia/Shanghai), plays vac's scripted traffic (UTC) and a health
monitor through it while injecting the scenario's faults, then stops every
process it started and writes, under DIR (default samples/SCENARIO):

    logs/vac.log  logs/access.log  logs/error.log  logs/crm.log
    variants/vac.jsonl  variants/access_combined.log
    truth.csv  scenario.json

The truth is what the lab did to each attempt and what the client saw, never
what the logs say. A run whose outcomes do not match the injected faults is
reported and exits non-zero.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import http.client
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.dont_write_bytecode = True  # keep samples/lab free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios  # noqa: E402
import services  # noqa: E402
from scenarios import ZONES  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TRUTH_COLUMNS = [
    "client",
    "request_id",
    "attempt",
    "sent_utc",
    "method",
    "path",
    "fault",
    "verdict",
    "root_cause",
    "root_cause_detail",
    "client_status",
    "client_error",
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="microseconds")


def make_token(expires_in_s: int) -> str:
    """A JWT-shaped bearer token (header.claims.signature) with an exp claim."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    now = int(time.time())
    claims = {
        "iss": "https://auth.lab.internal",
        "sub": "vac-service",
        "scope": "crm.read crm.write",
        "iat": now + expires_in_s - 3600,
        "exp": now + expires_in_s,
    }
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}.{b64(uuid.uuid4().bytes + uuid.uuid4().bytes)}"


#: The CRM's behaviour generation (messages, MDC keys) for each logback layout.
CRM_GENERATION = {"boot2": 2, "boot3": 3, "classic": 2, "ecs": 3, "ecs-nested": 3}


@dataclass(frozen=True)
class Style:
    """How the lab's hosts write their logs; the defaults are the bundled scenarios' set-up.

    ``client``: ``vac`` (vac.py: text log and JSON lines, request ids) or ``requests``, ``jsonlog``,
    ``httpx`` (clients.py: no request ids). ``vac_log``: which of vac's two logs goes to ``logs/``.
    ``access``: nginx ``log_format`` of ``logs/access.log`` (``main``, ``combined``, ``json``);
    ``error_level``: of ``error_log``. ``crm``: the CRM's logback layout (``boot2``, ``boot3``,
    ``classic``, ``ecs``, ``ecs-nested``; None: the scenario's). ``zones``: tz per host (``vac``,
    ``nginx``, ``crm``). ``variants``: also write ``variants/`` (the combined access log and the
    log vac did not put in ``logs/``).
    """

    client: str = "vac"
    vac_log: str = "text"
    access: str = "main"
    error_level: str = "info"
    crm: str | None = None
    zones: dict = field(default_factory=lambda: dict(ZONES))
    variants: bool = True

    def crm_layout(self, scenario: scenarios.Scenario) -> str:
        return self.crm or f"boot{scenario.crm_style}"

    def client_files(self) -> dict[str, str]:
        """Where the client's logs go, relative to the output directory."""
        if self.client == "vac":
            if self.vac_log == "jsonl":
                return {"log_file": "variants/vac.log", "jsonl_file": "logs/vac.jsonl"}
            return {"log_file": "logs/vac.log", "jsonl_file": "variants/vac.jsonl"}
        return {"log_file": "logs/vac.jsonl" if self.client == "jsonlog" else "logs/vac.log"}


class Monitor(threading.Thread):
    """Health probe through the gateway with its own request ids; writes no log of its own."""

    def __init__(self, port: int, interval_s: float, lock: threading.Lock, state: dict) -> None:
        super().__init__(name="monitor", daemon=True)
        self.port = port
        self.interval_s = interval_s
        self.lock = lock
        self.state = state
        self.records: list[dict] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            with self.lock:
                self.probe()

    def probe(self) -> None:
        request_id = "mon-" + uuid.uuid4().hex[:16]
        fault = "crm_down" if self.state["crm_down"] else "none"
        sent = utc_now()
        started = time.perf_counter()
        status, error = None, None
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2.5)
        try:
            conn.request("GET", "/api/health", headers={"User-Agent": "crm-monitor/1.0", "X-Request-ID": request_id})
            response = conn.getresponse()
            response.read()
            status = response.status
        except TimeoutError:
            error = "timeout"
        except (http.client.HTTPException, OSError) as exc:
            error = type(exc).__name__
        finally:
            conn.close()
        self.records.append(
            {
                "client": "monitor",
                "request_id": request_id,
                "attempt": 1,
                "sent_utc": iso(sent),
                "method": "GET",
                "path": "/api/health",
                "fault": fault,
                "status": status,
                "error": error,
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )


class Lab:
    def __init__(
        self,
        scenario: scenarios.Scenario,
        out: Path,
        seed: int,
        quick: bool,
        workdir: Path,
        build_dir: Path | None,
        style: Style | None = None,
    ) -> None:
        self.scenario = scenario
        self.style = style or Style()
        self.out = out
        self.seed = seed
        self.quick = quick
        self.workdir = workdir
        self.build_dir = build_dir or workdir / "build"
        self.book = services.ProcessBook()
        self.lock = threading.Lock()
        self.state = {"crm_down": False}
        self.windows: list[dict] = []
        self.vac_runs: list[dict] = []
        self.monitor: Monitor | None = None
        self.crm: services.Crm | None = None
        self.nginx: services.Nginx | None = None
        self.control = workdir / "control"
        self.attempts_file = workdir / "attempts.jsonl"
        taken: set[int] = set()
        self.ports = {name: services.free_port(taken) for name in ("nginx", "crm", "crm_control", "closed")}

    # ------------------------------------------------------------------ setup

    def start(self) -> None:
        logs = self.out / "logs"
        jar = services.build_crm(self.build_dir)
        crm_dir = self.workdir / "crm"
        crm_dir.mkdir()
        self.crm = services.Crm(
            self.book,
            jar,
            crm_dir,
            logs / "crm.log",
            CRM_GENERATION[self.style.crm_layout(self.scenario)],
            self.ports["crm"],
            self.ports["crm_control"],
            self.style.zones["crm"],
            self.style.crm_layout(self.scenario),
        )
        self.crm.start()
        prefix = self.workdir / "nginx"
        prefix.mkdir()
        os.chmod(self.workdir, 0o755)
        os.chmod(prefix, 0o755)
        self.nginx = services.Nginx(
            self.book,
            prefix,
            self.ports["nginx"],
            self.ports["crm"],
            self.access_logs(),
            logs / "error.log",
            self.style.zones["nginx"],
            self.style.error_level,
        )
        self.nginx.start()
        if services.port_open(self.ports["closed"]):
            raise services.LabError("the port meant to be closed is in use")
        self.monitor = Monitor(self.ports["nginx"], self.scenario.monitor_interval_s, self.lock, self.state)
        self.monitor.start()

    def access_logs(self) -> list[tuple[Path, str]]:
        logs = [(self.out / "logs" / "access.log", self.style.access)]
        if self.style.variants:
            logs.append((self.out / "variants" / "access_combined.log", "combined"))
        return logs

    def stop(self) -> None:
        """Stop clients first, then nginx, then the CRM; whatever fails, every started process is stopped."""
        errors = []
        if self.monitor is not None:
            self.monitor.stopping.set()
            self.monitor.join(10)
        for entry in self.book.started:
            if entry.name == "vac":
                services.ProcessBook.stop(entry, signal.SIGTERM, 3.0)
        for service in (self.nginx, self.crm):
            if service is not None:
                try:
                    service.stop()
                except Exception as exc:  # keep stopping the rest
                    errors.append(exc)
        self.book.stop_all()
        if errors:
            raise errors[0]

    # ------------------------------------------------------------------ vac

    def run_vac(self, run: scenarios.VacRun, index: int, tokens: dict) -> None:
        self.control.mkdir(exist_ok=True)
        config = {
            "release": run.release,
            "crm_base": f"http://127.0.0.1:{self.ports['nginx']}",
            "legacy_crm_base": f"http://127.0.0.1:{self.ports['closed']}",
            "token": tokens["current"],
            "stale_token": tokens["stale"],
            "timeouts": scenarios.CLIENT_TIMEOUT_S,
            "backoff": scenarios.BACKOFF_S,
            "max_attempts": scenarios.MAX_ATTEMPTS,
            **{key: str(self.out / name) for key, name in self.style.client_files().items()},
            "client": self.style.client,
            "attempts_file": str(self.attempts_file),
            "control_dir": str(self.control),
            "seed": self.seed * 100 + index,
            "steps": run.steps,
        }
        config_path = self.workdir / f"vac-{index}.json"
        config_path.write_text(json.dumps(config))
        started = utc_now()
        script = "vac.py" if self.style.client == "vac" else "clients.py"
        entry = services.start_vac(self.book, config_path, self.workdir, script, self.style.zones["vac"])
        handled: set[str] = set()
        deadline = time.monotonic() + 240
        while entry.proc.poll() is None:
            for reached in sorted(self.control.glob("*.reached")):
                name = reached.name[: -len(".reached")]
                if name not in handled:
                    handled.add(name)
                    self.barrier(name)
                    (self.control / f"{name}.done").write_text("")
            if time.monotonic() > deadline:
                raise services.LabError("vac run took too long")
            time.sleep(0.01)
        for path in self.control.iterdir():
            path.unlink()
        if entry.proc.returncode != 0:
            raise services.LabError(f"vac {run.release} exited with {entry.proc.returncode}; see vac-console.log")
        self.vac_runs.append(
            {
                "release": run.release,
                "start_utc": iso(started),
                "end_utc": iso(utc_now()),
                "pid": entry.proc.pid,
            }
        )

    def barrier(self, name: str) -> None:
        now = utc_now
        if name == "crm-down":
            with self.lock:
                self.crm.stop()
                self.state["crm_down"] = True
                self.windows.append(
                    {
                        "kind": "crm_restart",
                        "start_utc": iso(now()),
                        "what": "CRM stopped with SIGTERM (graceful), then started again",
                    }
                )
        elif name == "crm-up":
            with self.lock:
                self.crm.start()
                self.state["crm_down"] = False
                self.windows[-1]["end_utc"] = iso(now())
        elif name == "db-slow-on":
            ms = int(scenarios.SLOW_WINDOW_DELAY_S * 1000)
            self.crm.control(f"latency?ms={ms}")
            self.windows.append(
                {
                    "kind": "db_slow",
                    "start_utc": iso(now()),
                    "what": f"every CRM database statement takes {ms} ms longer",
                }
            )
        elif name == "db-slow-off":
            self.crm.control("latency?ms=0")
            self.windows[-1]["end_utc"] = iso(now())
        elif name == "pool-hold":
            answer = self.crm.control("pool/hold")
            if answer != "held=10":
                raise services.LabError(f"could not exhaust the CRM pool: {answer}")
            self.windows.append(
                {
                    "kind": "pool_exhausted",
                    "start_utc": iso(now()),
                    "what": "all 10 connections of HikariPool-1 held by a stuck job",
                }
            )
        elif name == "pool-release":
            self.crm.control("pool/release")
            self.windows[-1]["end_utc"] = iso(now())
        else:
            raise services.LabError(f"unknown barrier {name}")

    def attempts(self) -> list[dict]:
        rows = []
        if self.attempts_file.exists():
            rows = [json.loads(line) for line in self.attempts_file.read_text().splitlines() if line.strip()]
        if self.monitor is not None:
            rows += self.monitor.records
        return sorted(rows, key=lambda r: r["sent_utc"])


def truth_rows(attempts: list[dict]) -> tuple[list[dict], list[str]]:
    rows, anomalies = [], []
    for a in attempts:
        exp = scenarios.expected(a["fault"], a["method"])
        if not scenarios.matches(exp, a["status"], a["error"]):
            anomalies.append(
                f"{a['client']} {a['request_id']} attempt {a['attempt']} {a['method']} {a['path']} "
                f"fault={a['fault']}: expected status={exp.status} error={exp.error}, "
                f"got status={a['status']} error={a['error']}"
            )
        rows.append(
            {
                "client": a["client"],
                "request_id": a["request_id"],
                "attempt": a["attempt"],
                "sent_utc": a["sent_utc"],
                "method": a["method"],
                "path": a["path"],
                "fault": a["fault"],
                "verdict": exp.verdict,
                "root_cause": exp.root_cause,
                "root_cause_detail": exp.detail,
                "client_status": "" if a["status"] is None else a["status"],
                "client_error": a["error"] or "",
            }
        )
    return rows, anomalies


def logical_requests(rows: list[dict]) -> set[tuple]:
    """One key per logical request: its client's id, or (for clients that send none, one at a time)
    the position of its first attempt."""
    keys = set()
    for index, r in enumerate(rows):
        if r["request_id"]:
            keys.add((r["client"], r["request_id"]))
        elif int(r["attempt"]) == 1:
            keys.add((r["client"], f"#{index}"))
    return keys


def java_version() -> str:
    result = subprocess.run([shutil.which("java") or "java", "-version"], capture_output=True, text=True)
    first = (result.stderr or result.stdout).splitlines()[0] if (result.stderr or result.stdout) else ""
    return first.split('"')[1] if '"' in first else first


def rel(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(REPO))
    return path.name


def scenario_json(lab: Lab, args, started: datetime, ended: datetime, rows: list[dict]) -> dict:
    classpath = services.crm_classpath()
    style = lab.scenario.crm_style
    counts = Counter((r["verdict"], r["root_cause"]) for r in rows)
    logical = logical_requests(rows)
    command = f"python samples/lab/run.py {lab.scenario.name} --seed {args.seed}" + (" --quick" if args.quick else "")
    return {
        "scenario": lab.scenario.name,
        "description": lab.scenario.description,
        "command": command,
        "seed": args.seed,
        "quick": args.quick,
        "start_utc": iso(started),
        "end_utc": iso(ended),
        "duration_s": round((ended - started).total_seconds(), 1),
        "crm_style": "spring-boot-3.4" if style == 3 else "spring-boot-2.7",
        "software": {
            "nginx": services.nginx_version(),
            "java": java_version(),
            "tomcat": services.jar_version(classpath, "tomcat9-catalina"),
            "jackson_databind": services.jar_version(classpath, "jackson-databind"),
            "jackson_core": services.jar_version(classpath, "jackson-core"),
            "logback": services.jar_version(classpath, "logback-classic"),
            "slf4j": services.jar_version(classpath, "slf4j-api"),
            "python": platform.python_version(),
            "crm": services.CRM_VERSION,
        },
        "vac_versions": [run["release"] for run in lab.vac_runs],
        "vac_runs": lab.vac_runs,
        "zones": {
            "vac": {"tz": ZONES["vac"], "offset_in_line": False, "file": "logs/vac.log"},
            "vac_jsonl": {"tz": ZONES["vac"], "offset_in_line": True, "file": "variants/vac.jsonl"},
            "nginx_access": {"tz": ZONES["nginx"], "offset_in_line": True, "file": "logs/access.log"},
            "nginx_access_combined": {
                "tz": ZONES["nginx"],
                "offset_in_line": True,
                "file": "variants/access_combined.log",
            },
            "nginx_error": {"tz": ZONES["nginx"], "offset_in_line": False, "file": "logs/error.log"},
            "crm": {"tz": ZONES["crm"], "offset_in_line": style == 3, "file": "logs/crm.log"},
        },
        "formats": {
            "logs/vac.log": "Python logging '%(asctime)s %(levelname)s [%(name)s] %(message)s', UTC",
            "variants/vac.jsonl": "JSON lines: @timestamp level logger message request_id method url status "
            "attempt error elapsed_ms",
            "logs/access.log": "nginx log_format main (loganalyzer built-in)",
            "variants/access_combined.log": "nginx predefined combined",
            "logs/error.log": "nginx error log, level info",
            "logs/crm.log": (
                "Spring Boot 3.4 default FILE pattern, application name crm-api, correlation [traceId-spanId]"
                if style == 3
                else "Spring Boot 2.7 default FILE pattern, Sleuth-style level [crm,requestId]"
            ),
        },
        "fault_windows": lab.windows,
        "timings": {
            "nginx_proxy_read_timeout_s": scenarios.PROXY_READ_TIMEOUT_S,
            "nginx_proxy_connect_timeout_s": 1.0,
            "nginx_client_max_body_size": "16k",
            "vac_timeout_s": scenarios.CLIENT_TIMEOUT_S,
            "vac_backoff_s": scenarios.BACKOFF_S,
            "vac_max_attempts": scenarios.MAX_ATTEMPTS,
            "crm_slow_customer_delay_s": scenarios.SLOW_CUSTOMER_DELAY_S,
            "crm_db_slow_window_delay_s": scenarios.SLOW_WINDOW_DELAY_S,
            "crm_pool_timeout_ms": scenarios.POOL_TIMEOUT_MS,
            "monitor_interval_s": lab.scenario.monitor_interval_s,
        },
        "ports": lab.ports,
        "clients": {
            "vac": "logs/vac.log and variants/vac.jsonl; X-Request-ID uuid4 hex, reused across retries",
            "monitor": "GET /api/health every ~2 s with X-Request-ID mon-<16 hex>; writes no log",
        },
        "counts": {
            "attempts": len(rows),
            "logical_requests": len(logical),
            "by_client": dict(Counter(r["client"] for r in rows)),
            "by_verdict": dict(Counter(r["verdict"] for r in rows)),
            "by_root_cause": dict(Counter(r["root_cause"] for r in rows)),
            "by_verdict_and_cause": {f"{v}/{c}": n for (v, c), n in sorted(counts.items())},
        },
    }


def prepare_out(out: Path) -> None:
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / "variants").mkdir(parents=True, exist_ok=True)
    for name in (
        "logs/vac.log",
        "logs/access.log",
        "logs/error.log",
        "logs/crm.log",
        "variants/vac.jsonl",
        "variants/access_combined.log",
        "truth.csv",
        "scenario.json",
    ):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()


def install_signal_handlers() -> None:
    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    # Ctrl-C stops the run even when started from a shell that ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def play(lab: Lab, pids_file: Path | None = None) -> tuple[datetime, datetime, BaseException | None]:
    """Start the lab, play every vac run of its scenario, stop every process; (start, end, failure)."""
    tokens = {"current": make_token(3600), "stale": make_token(-2 * 3600)}
    started = utc_now()
    failed = None
    try:
        lab.start()
        for index, run in enumerate(lab.scenario.runs):
            if index:
                time.sleep(lab.scenario.restart_gap_s)
            lab.run_vac(run, index, tokens)
        time.sleep(0.5)
    except BaseException as exc:  # stop everything whatever happened, then report
        failed = exc
    finally:
        try:
            lab.stop()
        except Exception as exc:
            failed = failed or exc
        if pids_file:
            pids_file.write_text(json.dumps(lab.book.pids(), indent=1))
    return started, utc_now(), failed


def write_truth(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=TRUTH_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an incident-lab scenario.")
    parser.add_argument("scenario", choices=sorted(scenarios.SCENARIOS))
    parser.add_argument("--out", type=Path, help="output directory (default samples/SCENARIO)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the traffic script (default 7)")
    parser.add_argument("--quick", action="store_true", help="a short run that still hits every fault kind")
    parser.add_argument("--pids-file", type=Path, help="write the PIDs of every started process here (JSON)")
    parser.add_argument("--build-dir", type=Path, help="where to compile the CRM (default: a temp dir)")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (nginx prefix, consoles)")
    args = parser.parse_args(argv)

    out = (args.out or REPO / "samples" / args.scenario).resolve()
    scenario = scenarios.SCENARIOS[args.scenario](args.seed, args.quick)
    prepare_out(out)
    workdir = Path(tempfile.mkdtemp(prefix="crm-lab-"))

    install_signal_handlers()
    lab = Lab(scenario, out, args.seed, args.quick, workdir, args.build_dir)
    t0 = time.monotonic()
    started, ended, failed = play(lab, args.pids_file)
    if failed is not None:
        print(f"lab run failed: {failed!r}; temp dir kept at {workdir}", file=sys.stderr)
        if isinstance(failed, SystemExit):
            return int(failed.code or 1)
        return 130 if isinstance(failed, KeyboardInterrupt) else 2

    rows, anomalies = truth_rows(lab.attempts())
    write_truth(out / "truth.csv", rows)
    meta = scenario_json(lab, args, started, ended, rows)
    (out / "scenario.json").write_text(json.dumps(meta, indent=2) + "\n")

    print(
        f"{scenario.name}: {meta['counts']['attempts']} attempts "
        f"({meta['counts']['logical_requests']} requests) in {time.monotonic() - t0:.1f} s -> {rel(out)}"
    )
    for key, count in meta["counts"]["by_verdict_and_cause"].items():
        print(f"  {key:45s} {count}")
    if anomalies:
        print(f"{len(anomalies)} attempts did not behave as injected:", file=sys.stderr)
        for line in anomalies[:30]:
            print("  " + line, file=sys.stderr)
        print(f"temp dir kept at {workdir}", file=sys.stderr)
        return 1
    if not args.keep_tmp:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
