"""Scenario scripts of the incident lab and the rules that turn an injected fault into the truth.

A scenario is one or more vac runs (a run is one vac process, i.e. one release)
whose steps are requests, each carrying the fault the lab injects into it, and
barriers at which the lab changes the world (stops and restarts the CRM, slows
its database down, exhausts its connection pool) while vac waits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Timings the lab relies on; the truth for timeouts follows from them.
PROXY_READ_TIMEOUT_S = 2.0  # nginx proxy_read_timeout
CLIENT_TIMEOUT_S = {"GET": 1.0, "POST": 5.0}  # vac's socket timeout per method
SLOW_CUSTOMER_DELAY_S = 1.5  # large accounts (ids 9000-9099): contract query
SLOW_WINDOW_DELAY_S = 3.0  # extra time per statement while the database is slow
POOL_TIMEOUT_MS = 250  # CRM connection pool: borrow timeout
BACKOFF_S = [0.05, 0.1, 0.2]
MAX_ATTEMPTS = 3
BODY_LIMIT = 16 * 1024  # nginx client_max_body_size

ZONES = {"nginx": "Europe/Moscow", "crm": "Asia/Shanghai", "vac": "UTC"}

# fault -> (verdict, root_cause, root_cause_detail); timeouts are decided in `expected`.
FAULTS = {
    "none": ("ok", "none", ""),
    "wrong_port": ("client", "client_connect_failed", "legacy_base_url_closed_port"),
    "expired_token": ("upstream_rejected", "token_expired", "stale_cached_token"),
    "missing_subject": ("upstream_rejected", "validation_failed", "subject_null"),
    "wrong_path": ("upstream_rejected", "wrong_path", "post_api_tikets"),
    "oversized_body": ("proxy", "body_too_large", "attachment_over_16k"),
    "broken_customer": ("upstream_error", "unhandled_exception", "npe_null_region"),
    "trailing_comma": ("upstream_crash", "json_malformed", "trailing_comma"),
    "crm_down": ("proxy", "upstream_down", "crm_restart"),
    "pool_held": ("upstream_error", "db_pool_exhausted", "pool_held_by_stuck_job"),
    "slow_customer": (None, None, "large_account_query_1500ms"),
    "crm_slow": (None, None, "db_latency_3000ms"),
}

STATUS_OF = {
    "none": None,  # any 2xx
    "expired_token": 401,
    "missing_subject": 400,
    "wrong_path": 404,
    "oversized_body": 413,
    "broken_customer": 500,
    "trailing_comma": 502,
    "crm_down": 502,
    "pool_held": 500,
}

# Per-request faults that need a ticket (POST) or a customer lookup (GET).
POST_FAULTS = {"missing_subject", "wrong_path", "oversized_body", "trailing_comma"}
GET_FAULTS = {"broken_customer", "slow_customer"}

WINDOW_BARRIERS = {
    "crm_restart": ("crm-down", "crm-up"),
    "db_slow": ("db-slow-on", "db-slow-off"),
    "pool_exhausted": ("pool-hold", "pool-release"),
}


def who_gives_up(delay_s: float, client_timeout_s: float) -> str:
    """Who ends a request whose upstream answer takes delay_s: 'client', 'proxy' or 'nobody'."""
    if client_timeout_s < min(delay_s, PROXY_READ_TIMEOUT_S):
        return "client"
    if PROXY_READ_TIMEOUT_S < min(delay_s, client_timeout_s):
        return "proxy"
    return "nobody"


@dataclass(frozen=True)
class Expected:
    verdict: str
    root_cause: str
    detail: str
    status: int | None  # None with error=None: any 2xx
    error: str | None


def expected(fault: str, method: str) -> Expected:
    if fault in ("slow_customer", "crm_slow"):
        delay = SLOW_CUSTOMER_DELAY_S if fault == "slow_customer" else SLOW_WINDOW_DELAY_S
        detail = FAULTS[fault][2]
        loser = who_gives_up(delay, CLIENT_TIMEOUT_S[method])
        if loser == "client":
            return Expected("proxy", "client_timeout", detail, None, "timeout")
        if loser == "proxy":
            return Expected("proxy", "upstream_timeout", detail, 504, None)
        return Expected("ok", "none", "", None, None)
    verdict, cause, detail = FAULTS[fault]
    if fault == "wrong_port":
        return Expected(verdict, cause, detail, None, "ConnectionRefusedError")
    return Expected(verdict, cause, detail, STATUS_OF[fault], None)


def matches(exp: Expected, status: int | None, error: str | None) -> bool:
    if exp.error is not None:
        return status is None and error == exp.error
    if exp.status is None:
        return status is not None and 200 <= status < 400
    return status == exp.status and error is None


# --------------------------------------------------------------------------- plans


@dataclass
class VacRun:
    release: str
    steps: list[dict] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    description: str
    crm_style: int
    runs: list[VacRun]
    monitor_interval_s: float = 2.0
    restart_gap_s: float = 1.5


class Planner:
    def __init__(self, scenario: str, seed: int) -> None:
        self.rng = random.Random(f"{scenario}:{seed}")

    def customer_id(self) -> int:
        while True:
            cid = self.rng.randint(1, 480)
            if cid % 100 != 13:
                return cid

    def request(self, op: str, fault: str = "none", gap: float | None = None, mean_gap: float = 0.08) -> dict:
        if gap is None:
            gap = min(self.rng.expovariate(1 / mean_gap), mean_gap * 5)
        step = {"op": op, "fault": fault, "gap": round(gap, 3)}
        if fault == "broken_customer":
            step["customer_id"] = self.rng.choice([13, 113, 213, 313, 413])
        elif fault == "slow_customer":
            step["customer_id"] = self.rng.randint(9000, 9099)
        else:
            step["customer_id"] = self.customer_id()
        if op == "create_ticket":
            step["subject"] = self.rng.choice(_SUBJECTS)
            step["priority"] = self.rng.choice(["low", "normal", "normal", "high"])
            if fault == "oversized_body":
                step["attachment_bytes"] = self.rng.randint(BODY_LIMIT, 3 * BODY_LIMIT)
        return step

    def op_for(self, fault: str, post_share: float) -> str:
        if fault in POST_FAULTS:
            return "create_ticket"
        if fault in GET_FAULTS:
            return "get_customer"
        return "create_ticket" if self.rng.random() < post_share else "get_customer"

    def traffic(
        self,
        seconds: float,
        *,
        mean_gap: float = 0.08,
        post_share: float = 0.4,
        rates: dict[str, float] | None = None,
        post_fault: str | None = None,
    ) -> list[dict]:
        """Steps for about `seconds` of traffic; `rates` gives per-request fault probabilities."""
        steps, budget = [], 0.0
        while budget < seconds:
            fault = "none"
            roll = self.rng.random()
            for name, rate in (rates or {}).items():
                if roll < rate:
                    fault = name
                    break
                roll -= rate
            op = self.op_for(fault, post_share)
            if op == "create_ticket" and post_fault and fault == "none":
                fault = post_fault
            step = self.request(op, fault, mean_gap=mean_gap)
            steps.append(step)
            budget += step["gap"] + _estimated_cost(step)
        return steps

    def window(self, kind: str, steps: list[dict]) -> list[dict]:
        start, end = WINDOW_BARRIERS[kind]
        return [{"barrier": start}, *steps, {"barrier": end}]

    def windowed(self, fault: str, ops: list[str], gap: float) -> list[dict]:
        return [self.request(op, fault, gap=gap) for op in ops]


def _estimated_cost(step: dict) -> float:
    if step["fault"] in ("slow_customer", "crm_slow"):
        return 3.3
    if step["fault"] in ("broken_customer", "trailing_comma", "crm_down", "wrong_port"):
        return 0.2
    return 0.01


_SUBJECTS = [
    "Printer offline since this morning",
    "Invoice shows wrong VAT rate",
    "Cannot reset password",
    "Delivery arrived damaged",
    "Request for contract copy",
    "Duplicate charge on card",
    "Address change",
    "Upgrade to premium plan",
]

MIXED_RATES = {
    "wrong_port": 0.02,
    "expired_token": 0.03,
    "missing_subject": 0.03,
    "wrong_path": 0.02,
    "oversized_body": 0.02,
    "broken_customer": 0.02,
    "slow_customer": 0.012,
    "trailing_comma": 0.02,
}


def healthy(seed: int, quick: bool) -> Scenario:
    p = Planner("healthy", seed)
    steps = p.traffic(6 if quick else 40, mean_gap=0.08)
    return Scenario(
        "healthy",
        "Healthy traffic only: vac 2.4.1 creates tickets and looks customers up, the CRM (Spring Boot 2.7 "
        "style log) answers everything, the monitor probes /api/health. No fault is injected.",
        crm_style=2,
        runs=[VacRun("2.4.1", steps)],
    )


def trailing_comma(seed: int, quick: bool) -> Scenario:
    p = Planner("trailing-comma", seed)
    before = p.traffic(5 if quick else 25, mean_gap=0.1)
    after = p.traffic(6 if quick else 28, mean_gap=0.15, post_fault="trailing_comma")
    return Scenario(
        "trailing-comma",
        "vac 2.4.1 runs healthy traffic against the CRM (Spring Boot 2.7 style log). vac is then "
        "restarted as release 2.5.0, whose ticket payloads end with a trailing comma: from then on every "
        "POST /api/tickets makes the CRM's payload filter fail in Jackson (logged without a request id) "
        "and drop the connection without an answer; nginx answers 502, vac retries three times and gives "
        "up. GETs stay fine.",
        crm_style=2,
        runs=[VacRun("2.4.1", before), VacRun("2.5.0", after)],
    )


def mixed_faults(seed: int, quick: bool) -> Scenario:
    p = Planner("mixed-faults", seed)
    steps: list[dict] = []
    if quick:
        steps += p.traffic(1.0)
        singles = [
            "trailing_comma",
            "oversized_body",
            "expired_token",
            "missing_subject",
            "wrong_path",
            "broken_customer",
            "slow_customer",
            "wrong_port",
        ]
        p.rng.shuffle(singles)
        for fault in singles:
            steps.append(p.request(p.op_for(fault, 0.5), fault, gap=0.05))
            steps.append(p.request(p.op_for("none", 0.5), gap=0.05))
        steps += p.window("crm_restart", p.windowed("crm_down", ["get_customer", "create_ticket"], 0.3))
        steps += p.traffic(0.5)
        steps += p.window("db_slow", p.windowed("crm_slow", ["create_ticket"], 0.05))
        steps += p.traffic(0.5)
        steps += p.window("pool_exhausted", p.windowed("pool_held", ["get_customer"], 0.05))
        steps += p.traffic(1.0)
    else:
        steps += p.traffic(8)
        steps += p.traffic(18, rates=MIXED_RATES)
        restart_ops = [p.op_for("none", 0.4) for _ in range(8)]
        steps += p.window("crm_restart", p.windowed("crm_down", restart_ops, 0.22))
        steps += p.traffic(12, rates=MIXED_RATES)
        steps += p.window("db_slow", p.windowed("crm_slow", ["get_customer", "create_ticket", "get_customer"], 0.1))
        steps += p.traffic(6, rates=MIXED_RATES)
        steps += p.window("pool_exhausted", p.windowed("pool_held", [p.op_for("none", 0.4) for _ in range(5)], 0.1))
        steps += p.traffic(8, rates=MIXED_RATES)
    return Scenario(
        "mixed-faults",
        "Every failure mode at low rates against the CRM (Spring Boot 3.4 style log): client-side connection "
        "refusals (a legacy base URL pointing at a closed port), expired tokens (401), validation failures "
        "(400), a mistyped path (404), oversized attachments (413 from nginx), a customer record that makes "
        "the CRM throw (500), large accounts slower than vac's GET timeout (499), the occasional "
        "trailing-comma payload (upstream crash, 502); plus a CRM restart window (502 connection refused), "
        "a window where the database is slow (504 for POST, 499 for GET) and a window where the CRM's "
        "connection pool is exhausted (500).",
        crm_style=3,
        runs=[VacRun("2.4.1", steps)],
    )


SCENARIOS = {"healthy": healthy, "trailing-comma": trailing_comma, "mixed-faults": mixed_faults}
