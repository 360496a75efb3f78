"""Choosing an async transport: names, BATCHDELETE_TRANSPORT, the automatic
order, objects of the wrong kind, and the listing."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import batchdelete as bd


def test_listing_puts_the_async_transports_after_the_sync_ones() -> None:
    infos = [i for i in bd.list_transports() if i.builtin]
    assert [(i.name, i.asynchronous) for i in infos] == [
        *(("urllib3", False), ("httpx", False), ("requests", False), ("stdlib", False)),
        ("pycurl", False),  # built in, chosen by name only
        *(("aiohttp", True), ("httpx", True)),
    ]
    assert all(i.available and i.takes_options for i in infos)


def test_the_automatic_order_starts_with_aiohttp() -> None:
    client = bd.AsyncClient(api_key="k")
    assert client.transport.name == "aiohttp"
    assert isinstance(client.transport, bd.AsyncTransport)
    asyncio.run(client.close())


@pytest.mark.parametrize(("env", "chosen"), [("httpx", "httpx"), ("aiohttp", "aiohttp")])
def test_the_environment_names_an_async_transport(
    monkeypatch: pytest.MonkeyPatch, env: str, chosen: str
) -> None:
    monkeypatch.setenv("BATCHDELETE_TRANSPORT", env)
    client = bd.AsyncClient(api_key="k")
    assert client.transport.name == chosen and isinstance(client.transport, bd.AsyncTransport)
    asyncio.run(client.close())


def test_a_sync_only_name_in_the_environment_leaves_the_automatic_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATCHDELETE_TRANSPORT", "urllib3")
    client = bd.AsyncClient(api_key="k")
    assert client.transport.name == "aiohttp"
    asyncio.run(client.close())
    with bd.Client(api_key="k") as sync:  # the sync client still follows it
        assert sync.transport.name == "urllib3"


def test_an_async_name_is_no_sync_transport() -> None:
    with pytest.raises(bd.ConfigurationError, match="Unknown transport 'aiohttp'"):
        bd.Client(api_key="k", transport="aiohttp")
    with pytest.raises(bd.ConfigurationError, match="Unknown async transport 'stdlib'"):
        bd.AsyncClient(api_key="k", transport="stdlib")


def test_objects_of_the_wrong_kind_are_refused() -> None:
    with (
        bd.Client(api_key="k", transport="urllib3") as sync,
        pytest.raises(bd.ConfigurationError, match="AsyncTransport"),
    ):
        bd.AsyncClient(api_key="k", transport=sync.transport)
    with pytest.raises(bd.ConfigurationError, match=r"httpx\.AsyncClient"):
        bd.AsyncClient(api_key="k", transport=httpx.Client())
    native = httpx.AsyncClient()
    with pytest.raises(bd.ConfigurationError, match=r"requests\.Session"):
        bd.Client(api_key="k", transport=native)


def test_a_native_async_client_is_wrapped_and_left_open() -> None:
    async def main() -> None:
        native = httpx.AsyncClient()
        client = bd.AsyncClient(api_key="k", transport=native)
        assert client.transport.name == "httpx"
        await client.close()
        assert not native.is_closed
        await native.aclose()

    asyncio.run(main())
