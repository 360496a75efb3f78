"""The SDK-shaped surface of `AsyncClient`: `_resources.py`'s operations,
each a coroutine (`list()` an async iterator). Only the signatures and the
`await`s are written twice; URLs, checks and the calls themselves are
`BaseClient`'s, and paging is `_resources.next_after`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from ._args import workspace
from ._models import BetaDeletedMessageBatch, DeletedMessageBatch, MessageBatch, MessageBatchPage
from ._pages import AsyncPager, Cursor, first_cursor
from ._resources import APIResponse
from ._spec import Timeout

if TYPE_CHECKING:
    from ._async_client import AsyncClient

__all__ = ["AsyncBatches", "AsyncOperations", "AsyncRawBatches", "_AsyncBeta", "_AsyncMessages"]

T = TypeVar("T", bound=DeletedMessageBatch)
Betas = Iterable[str] | None
Headers = Mapping[str, str | None] | None  # None: remove that default header
Query = Mapping[str, object] | None


class AsyncOperations(Generic[T]):
    """`Operations`, awaited: shared by `AsyncClient` and its
    `messages.batches` / `beta.messages.batches`."""

    _client: AsyncClient
    _model: type[T]

    @property
    def with_raw_response(self) -> AsyncRawBatches[T]:
        """`Operations.with_raw_response`, awaited."""
        return AsyncRawBatches(self._client, self._model)

    async def delete(
        self,
        message_batch_id: str,
        *,
        betas: Betas = None,
        timeout: Timeout | float | None = None,
        extra_headers: Headers = None,
        extra_query: Query = None,
        workspace_id: str | None = None,
    ) -> T:
        """Delete a Message Batch that has finished processing.

        Raises `NotFoundError` for an unknown or already deleted id, and
        `BadRequestError` for a batch still in progress (cancel it first).
        Like the official SDK, this sends any id the wire contract can
        encode; `delete_batch` and `delete_many` accept only batch ids
        (`BATCH_ID_PATTERN`) and prove "already gone" before saying so.
        """
        c = self._client
        url = c._batch_url(message_batch_id)
        return (
            await c._fetch(
                "DELETE",
                url,
                self._model,
                betas,
                timeout,
                workspace(extra_headers, workspace_id),
                extra_query,
            )
        ).data

    async def retrieve(
        self,
        message_batch_id: str,
        *,
        betas: Betas = None,
        timeout: Timeout | float | None = None,
        extra_headers: Headers = None,
        extra_query: Query = None,
        workspace_id: str | None = None,
    ) -> MessageBatch:
        """The batch's current state (`GET /v1/messages/batches/{id}`)."""
        c = self._client
        url = c._batch_url(message_batch_id)
        return (
            await c._fetch(
                "GET",
                url,
                MessageBatch,
                betas,
                timeout,
                workspace(extra_headers, workspace_id),
                extra_query,
            )
        ).data

    async def cancel(
        self,
        message_batch_id: str,
        *,
        betas: Betas = None,
        timeout: Timeout | float | None = None,
        extra_headers: Headers = None,
        extra_query: Query = None,
        workspace_id: str | None = None,
    ) -> MessageBatch:
        """Start canceling a running batch; it is `canceling` until it ends."""
        c = self._client
        url = c._batch_url(message_batch_id, "/cancel")
        return (
            await c._fetch(
                "POST",
                url,
                MessageBatch,
                betas,
                timeout,
                workspace(extra_headers, workspace_id),
                extra_query,
            )
        ).data

    async def list_page(
        self,
        *,
        limit: int = 20,
        after_id: str | None = None,
        before_id: str | None = None,
        betas: Betas = None,
        timeout: Timeout | float | None = None,
        extra_headers: Headers = None,
        extra_query: Query = None,
        workspace_id: str | None = None,
    ) -> MessageBatchPage:
        """One page of batches, newest first."""
        c = self._client
        url = c._list_url(limit, after_id, before_id)
        return (
            await c._fetch(
                "GET",
                url,
                MessageBatchPage,
                betas,
                timeout,
                workspace(extra_headers, workspace_id),
                extra_query,
            )
        ).data

    def list(
        self,
        *,
        limit: int = 20,
        after_id: str | None = None,
        before_id: str | None = None,
        betas: Betas = None,
        timeout: Timeout | float | None = None,
        extra_headers: Headers = None,
        extra_query: Query = None,
        workspace_id: str | None = None,
    ) -> AsyncPager:
        """`Operations.list`, awaited: `await` it for the first page (an
        `AsyncBatchPage`), or `async for` over every batch, page by page."""

        async def fetch(cursor: Cursor) -> MessageBatchPage:
            return await self.list_page(
                limit=limit,
                after_id=cursor.after_id,
                before_id=cursor.before_id,
                betas=betas,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                workspace_id=workspace_id,
            )

        return AsyncPager(fetch, first_cursor(after_id, before_id))


class AsyncBatches(AsyncOperations[T]):
    """`client.messages.batches` and `client.beta.messages.batches`."""

    def __init__(self, client: AsyncClient, model: type[T]) -> None:
        self._client = client
        self._model = model


class AsyncRawBatches(Generic[T]):
    """Calls that return `APIResponse` (request id, attempts, timing)."""

    def __init__(self, client: AsyncClient, model: type[T]) -> None:
        self._client = client
        self._model = model

    async def delete(
        self,
        message_batch_id: str,
        *,
        betas: Betas = None,
        timeout: Timeout | float | None = None,
        extra_headers: Headers = None,
        extra_query: Query = None,
        workspace_id: str | None = None,
    ) -> APIResponse[T]:
        """Delete a Message Batch; the result with the call's details."""
        c = self._client
        url = c._batch_url(message_batch_id)
        return await c._fetch(
            "DELETE",
            url,
            self._model,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        )

    async def retrieve(
        self,
        message_batch_id: str,
        *,
        betas: Betas = None,
        timeout: Timeout | float | None = None,
        extra_headers: Headers = None,
        extra_query: Query = None,
        workspace_id: str | None = None,
    ) -> APIResponse[MessageBatch]:
        """The batch's current state, with the call's details."""
        c = self._client
        url = c._batch_url(message_batch_id)
        return await c._fetch(
            "GET",
            url,
            MessageBatch,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        )

    async def cancel(
        self,
        message_batch_id: str,
        *,
        betas: Betas = None,
        timeout: Timeout | float | None = None,
        extra_headers: Headers = None,
        extra_query: Query = None,
        workspace_id: str | None = None,
    ) -> APIResponse[MessageBatch]:
        """Start canceling a running batch, with the call's details."""
        c = self._client
        url = c._batch_url(message_batch_id, "/cancel")
        return await c._fetch(
            "POST",
            url,
            MessageBatch,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        )

    async def list(
        self,
        *,
        limit: int = 20,
        after_id: str | None = None,
        before_id: str | None = None,
        betas: Betas = None,
        timeout: Timeout | float | None = None,
        extra_headers: Headers = None,
        extra_query: Query = None,
        workspace_id: str | None = None,
    ) -> APIResponse[MessageBatchPage]:
        """One page of batches (`parse()` gives the page), with the call's details."""
        c = self._client
        url = c._list_url(limit, after_id, before_id)
        return await c._fetch(
            "GET",
            url,
            MessageBatchPage,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        )


class _AsyncMessages(Generic[T]):
    def __init__(self, client: AsyncClient, model: type[T]) -> None:
        self.batches = AsyncBatches(client, model)


class _AsyncBeta:
    def __init__(self, client: AsyncClient) -> None:
        self.messages = _AsyncMessages(client, BetaDeletedMessageBatch)
