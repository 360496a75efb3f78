"""AsyncClient: the asyncio driver of the call flow (`_flow.py`), the twin
of `Client`'s blocking one: the flow decides, this awaits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from ._async_resources import AsyncOperations, _AsyncBeta, _AsyncMessages
from ._base import BaseClient
from ._errors import (
    APITimeoutError,
    ConfigurationError,
    NotFoundError,
    TransportError,
    TransportTimeoutError,
)
from ._flow import Admit, Authorize, Call, Send, call_flow
from ._models import DeletedMessageBatch
from ._pace import PACE, AsyncLimiter, Ticket
from ._registry import resolve_async_transport
from ._resources import APIResponse
from ._spec import RequestSpec, Timeout
from ._transport import AsyncTransport, RawResponse
from .guards import async_deadline

__all__ = ["AsyncClient"]

R = TypeVar("R")


class AsyncClient(BaseClient, AsyncOperations[DeletedMessageBatch]):
    """Deletes Message Batches through one async transport, with `await`.

    The same arguments, errors, retries, deadline, hooks and wire contract
    as `Client`, except `transport`: "aiohttp", "httpx", an
    `AsyncTransport`, or a native `aiohttp.ClientSession` or
    `httpx.AsyncClient` (used as is, never closed here). Else
    BATCHDELETE_TRANSPORT when it names an async transport, else the first
    installed of aiohttp, httpx.

        async with batchdelete.AsyncClient() as client:
            deleted = await client.delete("msgbatch_...")

    Each attempt is cancelled at its deadline, and a call can be cancelled
    at any time (a task or task group torn down): the transports then drop
    the connection in use rather than put it back half-read. The client's
    connections belong to the event loop of its first call; use it from
    that loop only. The observation hooks run synchronously in the loop:
    keep them cheap.
    """

    _resolve: ClassVar[Any] = staticmethod(resolve_async_transport)
    _is_async: ClassVar[bool] = True
    _transport: AsyncTransport

    def _setup(self) -> None:
        self._route_lock = asyncio.Lock()
        self._sleep = asyncio.sleep
        self._client = self
        self._model = DeletedMessageBatch
        self.messages: _AsyncMessages[DeletedMessageBatch] = _AsyncMessages(
            self, DeletedMessageBatch
        )
        self.beta = _AsyncBeta(self)

    @property
    def transport(self) -> AsyncTransport:
        """The transport this client sends through."""
        return self._transport

    async def close(self) -> None:
        """Close the transport if the client created it, and the credential
        provider if the credential chain built it. Safe to call twice."""
        if not self._closed:
            self._closed = True
            if self._owns_transport:
                await self._transport.close()
            if self._owns_credential:
                await self._credential.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _confirm_batches_route(self, betas: Iterable[str] | None = None) -> None:
        """`Client._confirm_batches_route`, awaited."""
        if self._route_known:
            return
        async with self._route_lock:
            if self._route_missing is not None:
                raise ConfigurationError(self._route_missing)
            if self._route_known:
                return
            try:
                await self._run(self._route_call(betas))
            except NotFoundError as exc:
                raise self._route_is_missing() from exc
            self._route_known = True

    async def _fetch(
        self,
        method: str,
        url: str,
        model: type[R],
        betas: Iterable[str] | None,
        timeout: Timeout | float | None,
        extra_headers: Mapping[str, str | None] | None,
        extra_query: Mapping[str, object] | None = None,
    ) -> APIResponse[R]:
        call = self._call(method, url, model, betas, timeout, extra_headers, extra_query)
        response: APIResponse[R] = await self._run(call)
        return response

    async def _token(self, until: float | None) -> str:
        """The provider's access token, by the call's deadline."""
        tokens = self._credential.tokens
        assert tokens is not None
        if until is None:
            return await tokens.aget()
        try:
            async with async_deadline(until):
                return await tokens.aget()
        except TransportTimeoutError:
            raise APITimeoutError(
                "The call's deadline passed while waiting for an access token from "
                f"{tokens.source}."
            ) from None

    async def _send(self, spec: RequestSpec) -> RawResponse:
        """The transport's answer, by the attempt's deadline (the
        transport's own, or here: one timer per attempt, not two)."""
        try:
            if self._transport.keeps_deadline:
                return await self._transport.send(spec)
            async with async_deadline(spec.deadline):
                return await self._transport.send(spec)
        except TransportError:
            raise
        except Exception as exc:
            raise self._unexpected(exc) from exc

    async def _run(self, call: Call) -> APIResponse[Any]:
        """Drive the call's flow (`_flow.call_flow`) with `await`."""
        pace = PACE.get()
        if not isinstance(pace, AsyncLimiter):  # a bulk run's limiter, of this driver's kind
            pace = None
        flow = call_flow(call, self._settings, pace)
        try:
            step = next(flow)
            while True:
                result: RawResponse | TransportError | Ticket | str | None = None
                if isinstance(step, Authorize):
                    result = await self._token(step.until)
                elif isinstance(step, Admit):
                    assert pace is not None
                    result = await pace.acquire(step.until)
                elif isinstance(step, Send):
                    try:
                        result = await self._send(step.spec)
                    except TransportError as exc:
                        result = exc
                else:
                    await self._sleep(step.seconds)
                try:
                    step = flow.send(result)
                except StopIteration as done:
                    response: APIResponse[Any] = done.value
                    return response
        except BaseException:  # the call ends here: the flow settles its turn
            flow.close()
            raise
