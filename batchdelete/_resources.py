"""The SDK-shaped surface of `Client`: `APIResponse`, the operations shared
by `Client` and `client.messages.batches` / `client.beta.messages.batches`,
and the `with_raw_response` view. A faithful map of the API: any id the
wire contract can encode is sent; the workflows are where ids are checked.
`_async_resources.py` is the same for `AsyncClient`, with `await`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

import msgspec

from ._args import workspace
from ._models import BetaDeletedMessageBatch, DeletedMessageBatch, MessageBatch, MessageBatchPage
from ._pages import BatchPage, Cursor, first_cursor, next_after
from ._spec import Timeout

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["APIResponse", "Batches", "Operations", "RawBatches", "_Beta", "_Messages", "next_after"]

T = TypeVar("T", bound=DeletedMessageBatch)
R = TypeVar("R")
Betas = Iterable[str] | None
Headers = Mapping[str, str | None] | None  # None: remove that default header
Query = Mapping[str, object] | None


class APIResponse(msgspec.Struct, Generic[R], frozen=True):
    """A successful call, with what is known about it.

    `data`: the decoded object (also returned by `parse()`); `request_id`:
    the API's `request-id` header; `attempts`: HTTP requests made (1 when no
    retry was needed); `transport`: the transport's name; `elapsed`: seconds
    for the whole call, retries and waits included; `status_code` and
    `headers` (lower-case names) of the final response.
    """

    data: R
    status_code: int
    headers: Mapping[str, str]
    request_id: str | None
    attempts: int
    transport: str
    elapsed: float

    def parse(self) -> R:
        return self.data

    @property
    def retries_taken(self) -> int:
        """Retries the call made (the SDK's name): `attempts` less one."""
        return self.attempts - 1


class Operations(Generic[T]):
    """The operations, shared by `Client` and the SDK-shaped resources
    (`client.messages.batches`, `client.beta.messages.batches`), which differ
    only in the type a delete returns."""

    _client: Client
    _model: type[T]

    @property
    def with_raw_response(self) -> RawBatches[T]:
        """The same operations, each returning an `APIResponse` with the
        call's details (`parse()`, `headers`, `status_code`, `request_id`,
        `retries_taken`); `list` returns one page."""
        return RawBatches(self._client, self._model)

    def delete(
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
        return c._fetch(
            "DELETE",
            url,
            self._model,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        ).data

    def retrieve(
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
        return c._fetch(
            "GET",
            url,
            MessageBatch,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        ).data

    def cancel(
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
        return c._fetch(
            "POST",
            url,
            MessageBatch,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        ).data

    def list_page(
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
        return c._fetch(
            "GET",
            url,
            MessageBatchPage,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
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
    ) -> BatchPage:
        """Batches, newest first, as the SDK's page: the first page is
        fetched now (`data`, `has_more`, `first_id`, `last_id`); iterating
        gives every batch, fetching `limit` per page as it goes (with
        `before_id`, pages go back towards newer batches)."""

        def fetch(cursor: Cursor) -> MessageBatchPage:
            return self.list_page(
                limit=limit,
                after_id=cursor.after_id,
                before_id=cursor.before_id,
                betas=betas,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                workspace_id=workspace_id,
            )

        return BatchPage(fetch, first_cursor(after_id, before_id))


class Batches(Operations[T]):
    """`client.messages.batches` and `client.beta.messages.batches`."""

    def __init__(self, client: Client, model: type[T]) -> None:
        self._client = client
        self._model = model


class RawBatches(Generic[T]):
    """Calls that return `APIResponse` (request id, attempts, timing)."""

    def __init__(self, client: Client, model: type[T]) -> None:
        self._client = client
        self._model = model

    def delete(
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
        return c._fetch(
            "DELETE",
            url,
            self._model,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        )

    def retrieve(
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
        return c._fetch(
            "GET",
            url,
            MessageBatch,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        )

    def cancel(
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
        return c._fetch(
            "POST",
            url,
            MessageBatch,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        )

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
    ) -> APIResponse[MessageBatchPage]:
        """One page of batches (`parse()` gives the page), with the call's details."""
        c = self._client
        url = c._list_url(limit, after_id, before_id)
        return c._fetch(
            "GET",
            url,
            MessageBatchPage,
            betas,
            timeout,
            workspace(extra_headers, workspace_id),
            extra_query,
        )


class _Messages(Generic[T]):
    def __init__(self, client: Client, model: type[T]) -> None:
        self.batches = Batches(client, model)


class _Beta:
    def __init__(self, client: Client) -> None:
        self.messages = _Messages(client, BetaDeletedMessageBatch)
