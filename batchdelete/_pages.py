"""What `list()` returns, shaped as the SDK's pages: the first page is
fetched at once (`data`, `has_more`, `first_id`, `last_id`), and iterating
yields every batch of every page, fetching each page as it is reached.
`BatchPage` for `Client` (the SDK's SyncPage), `AsyncPager` and
`AsyncBatchPage` for `AsyncClient` (its AsyncPaginator and AsyncPage:
`await` gives the first page, `async for` every batch)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, NamedTuple

from ._errors import APIResponseValidationError, ConfigurationError
from ._models import MessageBatch, MessageBatchPage

__all__ = [
    "AsyncBatchPage",
    "AsyncPager",
    "BatchPage",
    "Cursor",
    "first_cursor",
    "next_after",
    "next_cursor",
]


class Cursor(NamedTuple):
    """Where a page starts: `after_id` (newer to older, the default) or
    `before_id` (paging back), and the id (None: the newest page)."""

    name: str
    value: str | None

    @property
    def after_id(self) -> str | None:
        return self.value if self.name == "after_id" else None

    @property
    def before_id(self) -> str | None:
        return self.value if self.name == "before_id" else None


def first_cursor(after_id: str | None, before_id: str | None) -> Cursor:
    """Where a listing starts; `after_id` and `before_id` go opposite ways."""
    if after_id is not None and before_id is not None:
        raise ConfigurationError("Give after_id or before_id, not both: they page opposite ways.")
    return Cursor("before_id", before_id) if before_id is not None else Cursor("after_id", after_id)


def _no_progress(field: str) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"The API said more batches follow but gave no new {field} to continue "
        "from; stopping instead of looping.",
        status_code=200,
        body=b"",
        headers={},
    )


def next_after(page: MessageBatchPage, after_id: str | None) -> str | None:
    """Where the next page of a listing starts, or None after the last."""
    if not page.has_more or not page.data:
        return None
    if not page.last_id or page.last_id == after_id:
        raise _no_progress("last_id")
    return page.last_id


def next_cursor(page: MessageBatchPage, cursor: Cursor) -> Cursor | None:
    """The cursor of the page after `page` in the same direction, or None."""
    if cursor.name == "after_id":
        after = next_after(page, cursor.value)
        return None if after is None else Cursor("after_id", after)
    if not page.has_more or not page.data:
        return None
    if not page.first_id or page.first_id == cursor.value:
        raise _no_progress("first_id")
    return Cursor("before_id", page.first_id)


class _PageFields:
    _page: MessageBatchPage
    _cursor: Cursor

    @property
    def data(self) -> list[MessageBatch]:
        return self._page.data

    @property
    def has_more(self) -> bool:
        return self._page.has_more

    @property
    def first_id(self) -> str | None:
        return self._page.first_id

    @property
    def last_id(self) -> str | None:
        return self._page.last_id

    def has_next_page(self) -> bool:
        return next_cursor(self._page, self._cursor) is not None

    def _next(self) -> Cursor:
        cursor = next_cursor(self._page, self._cursor)
        if cursor is None:
            raise RuntimeError("No next page: check has_next_page() first.")
        return cursor

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(data=[{len(self.data)} batches], has_more={self.has_more}, "
            f"first_id={self.first_id!r}, last_id={self.last_id!r})"
        )


class BatchPage(_PageFields):
    """A page of batches (the SDK's SyncPage): its fields, the next page,
    and iteration over every batch from here on, page by page."""

    def __init__(self, fetch: Callable[[Cursor], MessageBatchPage], cursor: Cursor) -> None:
        self._fetch = fetch
        self._cursor = cursor
        self._page = fetch(cursor)

    def get_next_page(self) -> BatchPage:
        return BatchPage(self._fetch, self._next())

    def iter_pages(self) -> Iterator[BatchPage]:
        page = self
        yield page
        while page.has_next_page():
            page = page.get_next_page()
            yield page

    def __iter__(self) -> Iterator[MessageBatch]:
        for page in self.iter_pages():
            yield from page.data


Fetch = Callable[[Cursor], Awaitable[MessageBatchPage]]


class AsyncBatchPage(_PageFields):
    """`BatchPage`, awaited (the SDK's AsyncPage): `await
    get_next_page()`, `async for` over `iter_pages()` or every batch."""

    def __init__(self, fetch: Fetch, cursor: Cursor, page: MessageBatchPage) -> None:
        self._fetch = fetch
        self._cursor = cursor
        self._page = page

    @classmethod
    async def first(cls, fetch: Fetch, cursor: Cursor) -> AsyncBatchPage:
        return cls(fetch, cursor, await fetch(cursor))

    async def get_next_page(self) -> AsyncBatchPage:
        return await AsyncBatchPage.first(self._fetch, self._next())

    async def iter_pages(self) -> AsyncIterator[AsyncBatchPage]:
        page = self
        yield page
        while page.has_next_page():
            page = await page.get_next_page()
            yield page

    async def __aiter__(self) -> AsyncIterator[MessageBatch]:
        async for page in self.iter_pages():
            for batch in page.data:
                yield batch


class AsyncPager:
    """What `AsyncClient.list()` returns (the SDK's AsyncPaginator): `await`
    it for the first page, or `async for` over every batch."""

    def __init__(self, fetch: Fetch, cursor: Cursor) -> None:
        self._fetch = fetch
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, AsyncBatchPage]:
        return AsyncBatchPage.first(self._fetch, self._cursor).__await__()

    async def __aiter__(self) -> AsyncIterator[MessageBatch]:
        page = await AsyncBatchPage.first(self._fetch, self._cursor)
        async for batch in page:
            yield batch
