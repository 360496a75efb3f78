"""Every exception class of each HTTP library, sync and async, has a
deliberate mapping."""

from __future__ import annotations

import http.client
import inspect
from collections.abc import Callable, Sequence
from types import ModuleType

import aiohttp
import aiohttp.client_exceptions
import aiohttp.http_exceptions
import httpx
import pytest
import requests.exceptions
import urllib3.exceptions
from anyio.from_thread import BlockingPortal

import batchdelete as bd
import batchdelete_aiohttp_support
import batchdelete_httpx_async
import batchdelete_httpx_common
import batchdelete_requests
import batchdelete_urllib3
from tests.asyncclients import run_blocking


def _exception_classes(
    module: ModuleType, names: Sequence[str] | None = None
) -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for name in names if names is not None else dir(module):
        obj = getattr(module, name)
        if (
            inspect.isclass(obj)
            and issubclass(obj, BaseException)
            and not issubclass(obj, Warning)
            and obj.__module__.split(".")[0] == module.__name__.split(".")[0]
        ):
            found.append(obj)
    return found


AIOHTTP_CLASSES = list(
    dict.fromkeys(
        _exception_classes(aiohttp, aiohttp.__all__)
        + _exception_classes(aiohttp.client_exceptions)
        + _exception_classes(aiohttp.http_exceptions)
    )
)
Table = dict[type[BaseException], type[bd.TransportError]]  # library exception -> ours
ExceptionMap = Callable[[], Table]
CASES: list[tuple[ExceptionMap, list[type[BaseException]]]] = [
    (batchdelete_urllib3.exception_map, _exception_classes(urllib3.exceptions)),
    (batchdelete_requests.exception_map, _exception_classes(requests.exceptions)),
    (batchdelete_httpx_common.exception_map, _exception_classes(httpx, httpx.__all__)),
    (batchdelete_aiohttp_support.exception_map, AIOHTTP_CLASSES),
]


@pytest.mark.parametrize(
    ("mapping", "classes"), CASES, ids=["urllib3", "requests", "httpx", "aiohttp"]
)
def test_every_library_exception_is_mapped(
    mapping: ExceptionMap, classes: list[type[BaseException]]
) -> None:
    table = mapping()
    assert len(classes) > 15
    missing = [c.__name__ for c in classes if c not in table]
    assert missing == []
    assert all(issubclass(v, bd.TransportError) for v in table.values())


def test_timeouts_map_to_timeouts() -> None:
    u = batchdelete_urllib3.exception_map()
    r = batchdelete_requests.exception_map()
    h = batchdelete_httpx_common.exception_map()
    a = batchdelete_aiohttp_support.exception_map()
    timeouts: list[tuple[Table, list[type[BaseException]]]] = [
        (
            a,
            [
                aiohttp.ServerTimeoutError,
                aiohttp.ConnectionTimeoutError,
                aiohttp.SocketTimeoutError,
                TimeoutError,
            ],
        ),
        (u, [urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError]),
        (r, [requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout]),
        (h, [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.PoolTimeout]),
    ]
    for table, classes in timeouts:
        assert all(table[c] is bd.TransportTimeoutError for c in classes)
    assert u[urllib3.exceptions.NewConnectionError] is bd.TransportConnectError
    assert h[httpx.ConnectError] is bd.TransportConnectError
    assert a[aiohttp.ClientConnectorError] is bd.TransportConnectError


def test_async_httpx_shares_the_httpx_map() -> None:
    """One library, one table: the async httpx transport maps with the sync one's."""
    transport = batchdelete_httpx_async.HttpxAsyncTransport()
    assert transport.exceptions == batchdelete_httpx_common.exception_map()


def test_translate_uses_the_most_specific_class() -> None:
    t = batchdelete_urllib3.Urllib3Transport()
    pool = t._pm.connection_from_url("http://127.0.0.1:1")
    err = urllib3.exceptions.NewConnectionError(pool, "refused")  # type: ignore[arg-type]
    assert isinstance(err, urllib3.exceptions.ConnectTimeoutError)  # urllib3's own quirk
    assert type(t.translate(err)) is bd.TransportConnectError
    assert type(t.translate(TimeoutError("x"))) is bd.TransportTimeoutError
    assert type(t.translate(ConnectionResetError())) is bd.TransportConnectError
    assert type(t.translate(http.client.RemoteDisconnected("x"))) is bd.TransportConnectError
    assert type(t.translate(http.client.IncompleteRead(b""))) is bd.TransportProtocolError
    assert t.translate(KeyError("bug")) is None  # bugs are not disguised
    t.close()


def test_unmapped_exception_becomes_a_transport_error_that_is_not_retried() -> None:
    class Boom(Exception):
        pass

    class Exploding(bd.Transport):
        name = "exploding"

        def send(self, spec: bd.RequestSpec) -> bd.RawResponse:
            try:
                raise Boom("library bug")
            except Exception as exc:
                mapped = self.translate(exc)
                if mapped is None:
                    raise
                raise mapped from exc

    client = bd.Client(api_key="k", transport=Exploding())
    with pytest.raises(bd.APIConnectionError) as info:
        client.delete("msgbatch_1")
    assert info.value.attempts == 1  # a bug on our side is not retried blindly
    assert isinstance(info.value.__cause__, bd.TransportError)
    assert isinstance(info.value.__cause__.__cause__, Boom)
    assert "Boom: library bug" in str(info.value)


def test_unmapped_exception_of_an_async_transport_is_not_retried(portal: BlockingPortal) -> None:
    class Boom(Exception):
        pass

    class Exploding(bd.AsyncTransport):
        name = "exploding"

        async def send(self, spec: bd.RequestSpec) -> bd.RawResponse:
            with self.mapped_errors():  # leaves what it does not know alone
                raise Boom("library bug")

    async def delete() -> None:
        async with bd.AsyncClient(api_key="k", transport=Exploding()) as client:
            await client.delete("msgbatch_1")

    with pytest.raises(bd.APIConnectionError) as info:
        run_blocking(portal, delete)
    assert info.value.attempts == 1
    assert isinstance(info.value.__cause__, bd.TransportError)
    assert isinstance(info.value.__cause__.__cause__, Boom)
    assert "Boom: library bug" in str(info.value)
