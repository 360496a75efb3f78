"""The SDK-shaped surface: `APIResponse`, the operations shared by `Client`
and `client.messages.batches` / `client.beta.messages.batches`, and the
`with_raw_response` view. A faithful map of the API: any id the wire
contract can encode is sent; the workflows are where ids are checked."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import urlencode

import msgspec

from ._errors import APIResponseValidationError, ConfigurationError
from ._models import BetaDeletedMessageBatch, DeletedMessageBatch, MessageBatch, MessageBatchPage
from ._spec import Timeout, encode_batch_id

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["APIResponse", "Batches", "RawBatches", "_Beta", "_Messages", "_Operations"]

T = TypeVar("T", bound=DeletedMessageBatch)
R = TypeVar("R")


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


class _Operations(Generic[T]):
    """The operations, shared by `Client` and the SDK-shaped resources
    (`client.messages.batches`, `client.beta.messages.batches`), which differ
    only in the type a delete returns."""

    _client: Client
    _model: type[T]

    @property
    def with_raw_response(self) -> RawBatches[T]:
        """The same delete, returning an `APIResponse` with the call's details."""
        return RawBatches(self._client, self._model)

    def delete(
        self,
        message_batch_id: str,
        *,
        betas: Iterable[str] | None = None,
        timeout: Timeout | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> T:
        """Delete a Message Batch that has finished processing.

        Raises `NotFoundError` for an unknown or already deleted id, and
        `BadRequestError` for a batch still in progress (cancel it first).
        Like the official SDK, this sends any id the wire contract can
        encode; `delete_batch` and `delete_many` accept only batch ids
        (`BATCH_ID_PATTERN`) and prove "already gone" before saying so.
        """
        return self._client._delete(
            message_batch_id, self._model, betas, timeout, extra_headers
        ).data

    def retrieve(
        self,
        message_batch_id: str,
        *,
        betas: Iterable[str] | None = None,
        timeout: Timeout | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> MessageBatch:
        """The batch's current state (`GET /v1/messages/batches/{id}`)."""
        client = self._client
        url = client._prefix + encode_batch_id(message_batch_id)
        return client._call("GET", url, MessageBatch, betas, timeout, extra_headers).data

    def cancel(
        self,
        message_batch_id: str,
        *,
        betas: Iterable[str] | None = None,
        timeout: Timeout | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> MessageBatch:
        """Start canceling a running batch; it is `canceling` until it ends."""
        client = self._client
        url = client._prefix + encode_batch_id(message_batch_id) + "/cancel"
        return client._call("POST", url, MessageBatch, betas, timeout, extra_headers).data

    def list_page(
        self,
        *,
        limit: int = 20,
        after_id: str | None = None,
        before_id: str | None = None,
        betas: Iterable[str] | None = None,
        timeout: Timeout | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> MessageBatchPage:
        """One page of batches, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ConfigurationError(f"limit must be an int from 1 to 1000, got {limit!r}.")
        query: dict[str, str | int] = {"limit": limit}
        for name, value in (("after_id", after_id), ("before_id", before_id)):
            if value is not None:
                encode_batch_id(value)  # the same checks as an id
                query[name] = value
        client = self._client
        url = client._prefix[:-1] + "?" + urlencode(query)
        return client._call("GET", url, MessageBatchPage, betas, timeout, extra_headers).data

    def list(
        self,
        *,
        limit: int = 20,
        betas: Iterable[str] | None = None,
        timeout: Timeout | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Iterator[MessageBatch]:
        """Every batch, newest first, fetching `limit` per page as it goes."""
        after_id: str | None = None
        while True:
            page = self.list_page(
                limit=limit,
                after_id=after_id,
                betas=betas,
                timeout=timeout,
                extra_headers=extra_headers,
            )
            yield from page.data
            if not page.has_more or not page.data:
                return
            if not page.last_id or page.last_id == after_id:
                raise APIResponseValidationError(
                    "The API said more batches follow but gave no new last_id to "
                    "continue from; stopping instead of looping.",
                    status_code=200,
                    body=b"",
                    headers={},
                )
            after_id = page.last_id


class Batches(_Operations[T]):
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
        betas: Iterable[str] | None = None,
        timeout: Timeout | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> APIResponse[T]:
        """Delete a Message Batch; the result with the call's details."""
        return self._client._delete(message_batch_id, self._model, betas, timeout, extra_headers)


class _Messages(Generic[T]):
    def __init__(self, client: Client, model: type[T]) -> None:
        self.batches = Batches(client, model)


class _Beta:
    def __init__(self, client: Client) -> None:
        self.messages = _Messages(client, BetaDeletedMessageBatch)
