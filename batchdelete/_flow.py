"""The call flow, without I/O: a generator that yields what to do (`Send` a
request, `Sleep` before a retry, and in a bulk run `Admit`: wait for the
run's limiter, `_pace.py`; with a provider's tokens, `Authorize`: get the
access token) and is sent what happened (the `RawResponse`,
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
from ._credentials import Tokens
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

__all__ = ["Admit", "Authorize", "Call", "FlowSettings", "Send", "Sleep", "call_flow"]

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


class Authorize(NamedTuple):
    """Get an access token from the client's provider (`_credentials.Tokens`),
    by `until` (monotonic; None: no deadline) where the driver can; answer
    with the token."""

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
    tokens: Tokens | None = None  # a provider's access tokens (else a static credential)


Flow = Generator[
    "Send | Sleep | Admit | Authorize",
    "RawResponse | TransportError | Ticket | str | None",
    APIResponse[Any],
]


def _path(url: str) -> str:
    """The path and query of a URL, for a log line."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def attempt_spec(
    call: Call, settings: FlowSettings, call_end: float | None, headers: dict[str, str]
) -> RequestSpec:
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
        headers,
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


class _State:
    """What the attempts of one call keep between them."""

    __slots__ = ("attempt", "call_end", "note", "paced", "reauthorized", "start")

    def __init__(self, call: Call) -> None:
        self.start = time.monotonic()
        deadline = call.limits.deadline
        self.call_end = None if deadline is None else self.start + deadline
        self.note = ""
        self.attempt = 0
        self.paced = 0  # 429s waited for by the run's limiter
        self.reauthorized = False  # a 401 on a provider's token was retried

    def left(self) -> float | None:
        return None if self.call_end is None else self.call_end - time.monotonic()


class _Failure(NamedTuple):
    """A failed attempt: its error, whether to retry it, the wait the server
    asked for, and the wait the run's limiter takes instead (then the retry
    does not count)."""

    error: APIError
    cause: TransportError | None
    retryable: bool
    requested: float | None = None
    paced_wait: float | None = None


def call_flow(
    call: Call, settings: FlowSettings, pace: Limiter | AsyncLimiter | None = None
) -> Flow:
    """The attempts of one call, as steps; returns the `APIResponse` or
    raises the call's `APIError`. With `pace` (a bulk run's limiter), each
    attempt waits for its turn and is settled with it, and a 429 it waits
    for (up to `MAX_PACED_429` a call) does not count against the retries.
    With a provider's tokens (`settings.tokens`), each attempt asks for the
    token (`Authorize`), and a 401 on it is retried once with a fresh one."""
    state = _State(call)
    hooks = settings.hooks
    while True:
        state.attempt += 1
        attempt = state.attempt
        if state.call_end is not None and state.call_end - time.monotonic() <= 0:
            raise APITimeoutError(
                f"The call's deadline of {call.limits.deadline:g} s passed before attempt "
                f"{attempt}.",
                attempts=attempt - 1,
            )
        ticket = None if pace is None else (yield from _admit(call, state, pace))
        try:
            headers = call.headers
            if settings.tokens is not None:
                token = yield Authorize(state.call_end)
                headers = {**headers, "authorization": f"Bearer {token}"}
            spec = attempt_spec(call, settings, state.call_end, headers)
            if hooks.active("on_request"):
                hooks.on_request(
                    method=call.method,
                    url=call.url,
                    headers=headers,
                    attempt=attempt,
                    transport=settings.transport,
                )
            sent_at = time.monotonic()
            result = yield Send(spec)
        except BaseException:  # a hook raised, or the driver gave up (an exception, a cancel)
            if pace is not None and ticket is not None:
                pace.settle(ticket, None)
            raise
        if isinstance(result, TransportError):
            failure = _transport_failure(call, settings, state, result, sent_at, pace, ticket)
        else:
            assert isinstance(result, RawResponse)
            request_id = _on_response(call, settings, result, attempt, time.monotonic() - sent_at)
            if 200 <= result.status < 300:
                return _success(call, settings, state, result, request_id, pace, ticket)
            failure = _status_failure(call, settings, state, result, pace, ticket)
        error = failure.error
        _failed(call, settings, state, error)
        wait = _again(call, settings, state, failure)
        if wait is None:
            raise error from failure.cause
        if wait:
            yield Sleep(wait)


def _admit(
    call: Call, state: _State, pace: Limiter | AsyncLimiter
) -> Generator[Admit, Any, Ticket]:
    """Wait for the run's limiter; a turn given past the deadline goes back."""
    turn = yield Admit(state.call_end)
    left = state.left()
    late = left is not None and left <= 0
    if isinstance(turn, Ticket) and late:
        pace.settle(turn, None)
    if not isinstance(turn, Ticket) or late:
        raise APITimeoutError(
            f"The call's deadline of {call.limits.deadline:g} s passed while waiting for "
            "the rate limit.",
            attempts=state.attempt - 1,
        )
    return turn


def _success(
    call: Call,
    settings: FlowSettings,
    state: _State,
    result: RawResponse,
    request_id: str | None,
    pace: Limiter | AsyncLimiter | None,
    ticket: Ticket | None,
) -> APIResponse[Any]:
    if pace is not None and ticket is not None:
        pace.settle(ticket, result.status, result.headers)
    try:
        data = decode(result, call.model, state.attempt)
    except APIResponseValidationError as invalid:
        _failed(call, settings, state, invalid)
        raise
    return APIResponse(
        data,
        result.status,
        Headers.of_response(result.headers),
        request_id,
        state.attempt,
        settings.transport,
        time.monotonic() - state.start,
    )


def _transport_failure(
    call: Call,
    settings: FlowSettings,
    state: _State,
    result: TransportError,
    sent_at: float,
    pace: Limiter | AsyncLimiter | None,
    ticket: Ticket | None,
) -> _Failure:
    if pace is not None and ticket is not None:
        pace.settle(ticket, None)
    error = connection_error(result, call.url, state.attempt)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s -> %s in %.1f ms (attempt %d, %s)",
            *(call.method, _path(call.url), type(error).__name__),
            *((time.monotonic() - sent_at) * 1000, state.attempt, settings.transport),
        )
    if isinstance(error, ResponseTooLargeError):
        _failed(call, settings, state, error)
        raise error from result
    retryable = isinstance(result, RETRYABLE_TRANSPORT_ERRORS) and not isinstance(
        result, TransportCertificateError
    )
    return _Failure(error, result, retryable)


def _status_failure(
    call: Call,
    settings: FlowSettings,
    state: _State,
    result: RawResponse,
    pace: Limiter | AsyncLimiter | None,
    ticket: Ticket | None,
) -> _Failure:
    # The list route's path ends in /batches (an id encodes "/" as %2F).
    listing = urlsplit(call.url).path.endswith("/batches")
    error = status_error(result, state.attempt, state.note, listing=listing)
    if result.status == 407:
        error = _proxy_refused(error, call.url, settings)
    elif result.status == 401 and settings.tokens is not None:
        settings.tokens.invalidate()  # the next attempt, or call, gets a fresh token
    retryable = should_retry(result.status, result.headers)
    requested = error.retry_after
    paced_wait = None
    if pace is not None and ticket is not None:
        # A wait longer than the client takes fails this call, and holds
        # the others back only as long as the client would have waited.
        capped = None if requested is None else min(requested, settings.max_retry_wait)
        pause = pace.settle(ticket, result.status, result.headers, capped)
        left = state.left()
        if (
            result.status == 429
            and retryable
            and state.paced < MAX_PACED_429
            and (requested is None or requested <= settings.max_retry_wait)
            and (left is None or pause < left)
        ):
            paced_wait = pause
    return _Failure(error, None, retryable, requested, paced_wait)


def _again(call: Call, settings: FlowSettings, state: _State, failure: _Failure) -> float | None:
    """How long to wait before the next attempt (0: at once), or None: the
    call fails with `failure.error` (its message then says why)."""
    error, attempt, method, path = failure.error, state.attempt, call.method, _path(call.url)
    retries_done = attempt - 1 - state.paced
    if failure.paced_wait is not None:  # the run's limiter waits for it, every worker alike
        state.paced += 1
        log.info(
            "%s %s was rate limited on attempt %d; the run waits %.3f s.",
            *(method, path, attempt, failure.paced_wait),
        )
        _retrying(call, settings, state, failure.paced_wait, error)
        return 0.0
    if (
        isinstance(error, APIStatusError)
        and error.status_code == 401
        and settings.tokens is not None
        and not state.reauthorized
        and retries_done < settings.max_retries
    ):
        state.reauthorized = True  # once, as the SDK does: a fresh token, at once
        log.info(
            "%s %s: the access token was refused (401); retrying with a new one.", method, path
        )
        _retrying(call, settings, state, 0.0, error)
        return 0.0
    plan = plan_retry(
        retryable=failure.retryable,
        retries_done=retries_done,
        max_retries=settings.max_retries,
        requested=failure.requested,
        rand=settings.random(),
        remaining=state.left(),
        max_wait=settings.max_retry_wait,
    )
    if plan.wait is None:
        if plan.reason:
            error.message = f"{error.message} {plan.reason}"
            error.args = (error.message,)
        return None
    if failure.cause is not None:
        state.note = (
            "An earlier attempt failed before its response was read; "
            "it may have reached the server."
        )
    log.info(
        "%s %s failed on attempt %d (%s); retrying in %.3f s.",
        *(method, path, attempt, type(error).__name__, plan.wait),
    )
    _retrying(call, settings, state, plan.wait, error)
    return plan.wait


def _failed(call: Call, settings: FlowSettings, state: _State, error: APIError) -> None:
    settings.hooks.on_error(
        method=call.method,
        url=call.url,
        attempt=state.attempt,
        transport=settings.transport,
        error=error,
    )


def _retrying(
    call: Call, settings: FlowSettings, state: _State, wait: float, error: APIError
) -> None:
    settings.hooks.on_retry(
        method=call.method,
        url=call.url,
        attempt=state.attempt,
        transport=settings.transport,
        wait=wait,
        error=error,
    )
