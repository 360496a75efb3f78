"""What list() returns, shaped as the SDK's pages, against the emulator and
next to the SDK itself: the first page at once, every batch by iterating,
has_next_page / get_next_page / iter_pages, both directions; the same for
AsyncClient (await for the first page, async for every batch)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import anthropic
import pytest

import batchdelete as bd
from batchdelete.emulator import Emulator


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(frozen=True) as emulator:
        for age in range(7):  # newest first: ages 0..6 hours
            emulator.add_batch("ended", age=3600.0 * age)
        yield emulator


def newest_first(api: Emulator) -> list[str]:
    return [b["id"] for b in sorted(api.batches(), key=lambda b: b["created_at"], reverse=True)]


def test_the_first_page_at_once_then_every_batch(api: Emulator) -> None:
    ids = newest_first(api)
    with bd.Client(api_key=api.api_key, base_url=api.base_url) as client:
        page = client.messages.batches.list(limit=3)
        assert len(api.requests) == 1  # fetched by list() itself, as the SDK does
        assert [b.id for b in page.data] == ids[:3]
        assert (page.has_more, page.first_id, page.last_id) == (True, ids[0], ids[2])
        assert page.has_next_page()
        second = page.get_next_page()
        assert [b.id for b in second.data] == ids[3:6]
        assert [len(p.data) for p in page.iter_pages()] == [3, 3, 1]
        assert [b.id for b in page] == ids  # every page, from this one on
        last = second.get_next_page()
        assert not last.has_next_page()
        with pytest.raises(RuntimeError, match="No next page"):
            last.get_next_page()
        assert "3 batches" in repr(page)


def test_the_same_ids_and_pages_as_the_sdk(api: Emulator) -> None:
    sdk = anthropic.Anthropic(api_key=api.api_key, base_url=api.base_url, max_retries=0)
    ours = bd.Client(api_key=api.api_key, base_url=api.base_url, max_retries=0)
    for kwargs in ({"limit": 2}, {"limit": 3, "after_id": newest_first(api)[1]}):
        theirs_page = sdk.messages.batches.list(**kwargs)
        our_page = ours.messages.batches.list(**kwargs)
        assert [b.id for b in our_page] == [b.id for b in theirs_page]
        assert [b.id for b in our_page.data] == [b.id for b in theirs_page.data]
        assert our_page.has_more == theirs_page.has_more
        assert our_page.has_next_page() == theirs_page.has_next_page()
    sdk.close()
    ours.close()


def test_before_id_pages_towards_newer_batches(api: Emulator) -> None:
    ids = newest_first(api)
    with bd.Client(api_key=api.api_key, base_url=api.base_url) as client:
        page = client.list(limit=2, before_id=ids[5])
        assert [b.id for b in page.data] == ids[3:5]
        assert [[b.id for b in p.data] for p in page.iter_pages()] == [
            ids[3:5],
            ids[1:3],
            ids[0:1],
        ]
        with pytest.raises(bd.ConfigurationError, match="not both"):
            client.list(after_id=ids[0], before_id=ids[5])


def test_async_await_for_the_first_page_async_for_every_batch(api: Emulator) -> None:
    ids = newest_first(api)

    async def main() -> None:
        async with bd.AsyncClient(api_key=api.api_key, base_url=api.base_url) as client:
            pager = client.messages.batches.list(limit=3)
            assert api.requests == []  # nothing until awaited or iterated, as the SDK's
            page = await pager
            assert [b.id for b in page.data] == ids[:3] and page.has_next_page()
            second = await page.get_next_page()
            assert [b.id for b in second.data] == ids[3:6]
            assert [len(p.data) async for p in page.iter_pages()] == [3, 3, 1]
            assert [b.id async for b in client.list(limit=3)] == ids
            assert [b.id async for b in page] == ids

    asyncio.run(main())
