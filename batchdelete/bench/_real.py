"""Against a real endpoint (`--base-url URL --yes-real-api`): latency only,
every client deleting `NEVER_EXISTS`, a well-formed id that no batch has,
so that each request is answered 404 and nothing is deleted. Retries are
off (the count is exact), the count is planned and capped before the first
request (`REAL_API_CAP`), and the requests are paced under `Options.rate`.
The key is ANTHROPIC_API_KEY, read by each worker from its environment.
The sync clients run in one worker process and the async ones in another
(over a network, a process each buys no precision and costs seconds)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from .._errors import mask_userinfo
from . import _async, _clients
from ._options import NEVER_EXISTS, REAL_API_CAP, Options, Settings, Setup
from ._procs import child_environment
from ._progress import Progress
from ._sections import Run, latency

__all__ = ["Plan", "TooManyRequestsError", "make_plan", "run"]

#: Counted requests per client by default (fewer when many clients).
DEFAULT_REQUESTS = 10
QUICK_REQUESTS = 3
WARMUP = 1  # a request per client to connect, before the count


class TooManyRequestsError(ValueError):
    """The run would send more than `REAL_API_CAP` requests."""


@dataclass(frozen=True)
class Plan:
    names: list[str]  # worker names: rows, async ones as "async:<row>"
    skipped: dict[str, str]
    per_client: int
    total: int
    interval: float  # seconds before each request

    def announce(self, base_url: str, rate: int) -> str:
        seconds = self.total * self.interval + 0.5 * len(self.names)
        return (
            f"Sending {self.total} requests to {mask_userinfo(base_url)} ({len(self.names)} "
            f"clients x {self.per_client + WARMUP}, {WARMUP} to connect): DELETE of "
            f"{NEVER_EXISTS}, a batch that cannot exist, so each is answered 404 and "
            f"nothing is deleted. At most {rate} a minute: about {seconds / 60:.1f} min."
        )


def make_plan(options: Options, sync: list[str], asynchronous: list[str]) -> Plan:
    """Every client and how many requests each sends; TooManyRequestsError
    beyond the cap."""
    assert options.base_url is not None
    setup = Setup(url=options.base_url, api_key=None, batch=NEVER_EXISTS, expect=404)
    rows, skipped = _clients.rows(sync, setup, real=True)
    async_rows, async_skipped = _async.rows(asynchronous)
    skipped.update(async_skipped)
    names = rows + ["async:" + row for row in async_rows]
    clients = len(names)
    if options.requests is not None:
        per_client = options.requests
    else:
        wanted = QUICK_REQUESTS if options.quick else DEFAULT_REQUESTS
        per_client = max(1, min(wanted, REAL_API_CAP // clients - WARMUP))
    total = clients * (per_client + WARMUP)
    if total > REAL_API_CAP:
        raise TooManyRequestsError(
            f"this run would send {total} requests to {mask_userinfo(options.base_url)} "
            f"({clients} clients x {per_client + WARMUP}); at most {REAL_API_CAP} are sent to "
            "a real endpoint: lower --requests"
        )
    return Plan(names, skipped, per_client, total, 60.0 / options.rate)


def run(
    results: dict[str, Any],
    options: Options,
    plan: Plan,
    proxy: str | None,
    progress: Progress,
) -> Run:
    assert options.base_url is not None
    s = Settings(options.quick)
    s.rounds, s.requests, s.warmup = 1, plan.per_client, WARMUP
    setup = Setup(
        url=options.base_url,
        api_key=None,
        batch=NEVER_EXISTS,
        expect=404,
        proxy=proxy,
        max_retries=0,
    )
    results["parameters"] = {
        "requests_per_client": plan.per_client,
        "warmup": WARMUP,
        "clients": len(plan.names),
        "planned_requests": plan.total,
        "rate_per_minute": options.rate,
    }
    results["connection"] = {
        "endpoint": mask_userinfo(options.base_url),
        "tls": False,
        "proxy": mask_userinfo(proxy) if proxy else None,
    }
    results["endpoint"] = {
        "base_url": mask_userinfo(options.base_url),
        "batch_id": NEVER_EXISTS,
        "expect": 404,
        "requests_per_client": plan.per_client,
        "planned_requests": plan.total,
    }
    env = child_environment(options.through_proxy)
    with ExitStack() as stack:
        run_ = Run(setup, s, stack, env, progress)
        progress.plan(len(plan.names))
        results["latency"] = latency(run_, plan.names, interval=plan.interval, shared=True)
    return run_
