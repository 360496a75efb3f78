"""The call flow, without I/O: a generator that yields what to do (`Send` a
request, `Sleep` before a retry, and in a bulk run `Admit`: wait for the
run's limiter, `_pace.py`) and is sent what happened (the `RawResponse`,
or the `TransportError` the transport raised; the limiter's `Ticket`). It owns the
attempts, the deadline, hooks, logging, the retry decision, error building
and decoding; a driver (`Client`) only does the I/O. Like httpx's
`Auth.auth_flow`, it is driven the same way by a blocking or an async
driver, so the logic exists once.

    flow = call_flow(request, settings)
    step = next(flow)
    while True:  # the sync driver
        result = transport.send(step.spec) (or the TransportError) if Send, else sleep
        step = flow.send(result)          # StopIteration.value: the APIResponse
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

from ._answers import RETRYABLE_TRANSPORT_ERRORS, connection_error, decode, status_error
from ._errors import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ResponseTooLargeError,
    TransportCertificateError,
    TransportError,
    mask_userinfo,
)
from ._headers import Headers
from ._pace import AsyncLimiter, Limiter, Ticket
from ._resources import APIResponse
from ._retry import plan_retry, should_retry
from ._spec import DEFAULT_MAX_ERROR_BYTES, RequestSpec, Timeout
from ._transport import RawResponse

__all__ = ["Admit", "Call", "FlowSettings", "Send", "Sleep", "call_flow"]

log = logging.getLogger("batchdelete")
R = TypeVar("R")
MAX_PACED_429 = 10  # 429s per call waited for by the run's limiter, not counted as retries


class Send(NamedTuple):
    """Send this request; answer with its `RawResponse` or `TransportError`."""

    spec: RequestSpec


class Sleep(NamedTuple):
    """Wait this many seconds before the next attempt; answer with None."""

    seconds: float


class Admit(NamedTuple):
    """Wait for the run's limiter to let a request go, but not past `until`
    (monotonic; None: no deadline); answer with its `Ticket`, or None when
    `until` came first."""

    until: float | None


class Call(NamedTuple):
    """One API call: the request and the type its 2xx body decodes to."""

    method: str
    url: str
    headers: dict[str, str]
    limits: Timeout
    model: type[Any]


class FlowSettings(NamedTuple):
    """What a client sets for every call."""

    transport: str
    hooks: Any  # _hooks.Hooks
    max_retries: int
    max_retry_wait: float
    max_response_bytes: int
    random: Callable[[], float]
    proxy_for: Callable[[str], str | None]


Flow = Generator[
    "Send | Sleep | Admit", "RawResponse | TransportError | Ticket | None", APIResponse[Any]
]


def _path(url: str) -> str:
    """The path and query of a URL, for a log line."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def attempt_spec(call: Call, settings: FlowSettings, call_end: float | None) -> RequestSpec:
    """The request of one attempt: its timeouts clipped to what is left of
    the call, and the absolute end of the attempt (attempt limit or call
    deadline, whichever comes first)."""
    limits = call.limits
    now = time.monotonic()
    end = now + limits.attempt
    if call_end is not None:
        end = min(end, call_end)
    left = end - now
    timeout = limits
    if left < limits.connect or left < limits.read:
        timeout = Timeout(min(limits.connect, left), min(limits.read, left))
    return RequestSpec(
        call.method,
        call.url,
        call.headers,
        timeout,
        deadline=end,
        max_body=settings.max_response_bytes,
        max_error_body=min(settings.max_response_bytes, DEFAULT_MAX_ERROR_BYTES),
    )


def _proxy_refused(error: APIStatusError, url: str, settings: FlowSettings) -> APIStatusError:
    """A 407 comes from a proxy, not the API: say which one (masked)."""
    proxy = settings.proxy_for(url)
    where = f"the proxy {mask_userinfo(proxy)}" if proxy else "a proxy on the way"
    error.message = (
        f"{error.message} The 407 came from {where}, not from the API: check the "
        "proxy's user name and password (proxy= or HTTPS_PROXY)."
    )
    error.args = (error.message,)
    return error


def _on_response(
    call: Call, settings: FlowSettings, raw: RawResponse, attempt: int, elapsed: float
) -> str | None:
    request_id = raw.headers.get("request-id")
    if settings.hooks.active("on_response"):
        settings.hooks.on_response(
            method=call.method,
            url=call.url,
            attempt=attempt,
            transport=settings.transport,
            status_code=raw.status,
            headers=raw.headers,
            request_id=request_id,
            elapsed=elapsed,
        )
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s -> %d in %.1f ms (attempt %d, %s, request id %s)",
            *(call.method, _path(call.url), raw.status, elapsed * 1000, attempt),
            *(settings.transport, request_id),
        )
    return request_id


def call_flow(
    call: Call, settings: FlowSettings, pace: Limiter | AsyncLimiter | None = None
) -> Flow:
    """The attempts of one call, as steps; returns the `APIResponse` or
    raises the call's `APIError`. With `pace` (a bulk run's limiter), each
    attempt waits for its turn and is settled with it, and a 429 it waits
    for (up to `MAX_PACED_429` a call) does not count against the retries."""
    method, url, hooks, tname = call.method, call.url, settings.hooks, settings.transport
    start = time.monotonic()
    limits = call.limits
    call_end = None if limits.deadline is None else start + limits.deadline
    note = ""
    attempt = 0
    paced = 0  # 429s waited for by the limiter
    while True:
        attempt += 1
        if call_end is not None and call_end - time.monotonic() <= 0:
            raise APITimeoutError(
                f"The call's deadline of {limits.deadline:g} s passed before attempt {attempt}.",
                attempts=attempt - 1,
            )
        ticket: Ticket | None = None
        if pace is not None:
            turn = yield Admit(call_end)
            late = call_end is not None and call_end - time.monotonic() <= 0
            if isinstance(turn, Ticket) and late:  # a turn given too late goes back
                pace.settle(turn, None)
            if not isinstance(turn, Ticket) or late:
                raise APITimeoutError(
                    f"The call's deadline of {limits.deadline:g} s passed while waiting for "
                    "the rate limit.",
                    attempts=attempt - 1,
                )
            ticket = turn
        try:
            spec = attempt_spec(call, settings, call_end)
            if hooks.active("on_request"):
                hooks.on_request(
                    method=method, url=url, headers=call.headers, attempt=attempt, transport=tname
                )
            sent_at = time.monotonic()
            result = yield Send(spec)
        except BaseException:  # a hook raised, or the driver gave up (an exception, a cancel)
            if pace is not None and ticket is not None:
                pace.settle(ticket, None)
            raise
        cause: TransportError | None = None
        paced_wait: float | None = None
        error: APIError
        if isinstance(result, TransportError):
            if pace is not None and ticket is not None:
                pace.settle(ticket, None)
            cause = result
            error = connection_error(result, url, attempt)
            retryable = isinstance(result, RETRYABLE_TRANSPORT_ERRORS) and not isinstance(
                result, TransportCertificateError
            )
            requested = None
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s %s -> %s in %.1f ms (attempt %d, %s)",
                    *(method, _path(url), type(error).__name__),
                    *((time.monotonic() - sent_at) * 1000, attempt, tname),
                )
            if isinstance(error, ResponseTooLargeError):
                hooks.on_error(
                    method=method, url=url, attempt=attempt, transport=tname, error=error
                )
                raise error from result
        else:
            assert isinstance(result, RawResponse)
            request_id = _on_response(call, settings, result, attempt, time.monotonic() - sent_at)
            if 200 <= result.status < 300:
                if pace is not None and ticket is not None:
                    pace.settle(ticket, result.status, result.headers)
                try:
                    data = decode(result, call.model, attempt)
                except APIResponseValidationError as invalid:
                    hooks.on_error(
                        method=method, url=url, attempt=attempt, transport=tname, error=invalid
                    )
                    raise
                return APIResponse(
                    data,
                    result.status,
                    Headers(result.headers),
                    request_id,
                    attempt,
                    tname,
                    time.monotonic() - start,
                )
            # The list route's path ends in /batches (an id encodes "/" as %2F).
            listing = urlsplit(url).path.endswith("/batches")
            status = status_error(result, attempt, note, listing=listing)
            if result.status == 407:
                status = _proxy_refused(status, url, settings)
            error = status
            retryable = should_retry(result.status, result.headers)
            requested = status.retry_after
            if pace is not None and ticket is not None:
                # A wait longer than the client takes fails this call, and holds
                # the others back only as long as the client would have waited.
                capped = None if requested is None else min(requested, settings.max_retry_wait)
                pause = pace.settle(ticket, result.status, result.headers, capped)
                if (
                    result.status == 429
                    and retryable
                    and paced < MAX_PACED_429
                    and (requested is None or requested <= settings.max_retry_wait)
                    and (call_end is None or time.monotonic() + pause < call_end)
                ):
                    paced_wait = pause
        hooks.on_error(method=method, url=url, attempt=attempt, transport=tname, error=error)
        if paced_wait is not None:  # the run's limiter waits for it, every worker alike
            paced += 1
            log.info(
                "%s %s was rate limited on attempt %d; the run waits %.3f s.",
                *(method, _path(url), attempt, paced_wait),
            )
            hooks.on_retry(
                method=method,
                url=url,
                attempt=attempt,
                transport=tname,
                wait=paced_wait,
                error=error,
            )
            continue
        plan = plan_retry(
            retryable=retryable,
            retries_done=attempt - 1 - paced,
            max_retries=settings.max_retries,
            requested=requested,
            rand=settings.random(),
            remaining=None if call_end is None else call_end - time.monotonic(),
            max_wait=settings.max_retry_wait,
        )
        if plan.wait is None:
            if plan.reason:
                error.message = f"{error.message} {plan.reason}"
                error.args = (error.message,)
            raise error from cause
        if cause is not None:
            note = (
                "An earlier attempt failed before its response was read; "
                "it may have reached the server."
            )
        log.info(
            "%s %s failed on attempt %d (%s); retrying in %.3f s.",
            *(method, _path(url), attempt, type(error).__name__, plan.wait),
        )
        hooks.on_retry(
            method=method, url=url, attempt=attempt, transport=tname, wait=plan.wait, error=error
        )
        yield Sleep(plan.wait)
