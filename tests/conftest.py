from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme
from anyio.from_thread import BlockingPortal

import batchdelete
from tests import asyncclients
from tests.asyncclients import ALL_KINDS, ASYNC_KINDS, ASYNC_UNAVAILABLE, SYNC_KINDS
from tests.scriptserver import ScriptServer

API_KEY = "sk-ant-test-SECRET-4f9a1c"
TRANSPORTS = SYNC_KINDS
#: What `client_kind` runs over, by the `clients` marker ("sync" without one).
KINDS = {"sync": SYNC_KINDS, "async": ASYNC_KINDS, "all": ALL_KINDS}
ENV_VARS = [
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "BATCHDELETE_TRANSPORT",
]
PROXY_VARS = [
    v
    for v in os.environ
    if v.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    or v in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "clients(which): the client kinds `client_kind` (and so `make_client`) runs "
        "over: 'sync' (the sync transports; the default), 'all' (sync and async "
        "transports) or 'async' (async only)",
    )
    config.addinivalue_line(
        "markers",
        "slow: takes a second or more (deadlines run out, child processes, the wheel "
        "build, the benchmark smoke runs); `make quick` leaves these out. Every test, "
        "slow or not, is network-free: it talks to 127.0.0.1 only",
    )


def pytest_report_header() -> list[str]:
    lines = [f"client kinds: {', '.join(ALL_KINDS)}"]
    lines += [f"async transport {n} unavailable: {r}" for n, r in ASYNC_UNAVAILABLE.items()]
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`client_kind` over the kinds its closest `clients` marker names.

    Sync only unless a module (or test) asks for more: a test that hands its
    client to a sync workflow (`bd.delete_batch`) cannot take an async one.
    """
    if "client_kind" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("clients")
        which = marker.args[0] if marker is not None else "sync"
        metafunc.parametrize("client_kind", KINDS[which], indirect=True)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's credentials, base URL or proxies."""
    for name in ENV_VARS + PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A private certificate authority, trusted by nothing on the machine."""
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[ScriptServer]:
    """An HTTPS script server on 127.0.0.1 with a certificate from `ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with ScriptServer(tls=context) as server:
        yield server


@pytest.fixture
def server() -> Iterator[ScriptServer]:
    with ScriptServer() as s:
        yield s


@pytest.fixture(params=TRANSPORTS)
def transport_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def portal() -> Iterator[BlockingPortal]:
    """The one event loop (in a thread) of every async client of the session."""
    with asyncclients.session_portal() as running:
        yield running


@pytest.fixture
def client_kind(request: pytest.FixtureRequest) -> str:
    """A sync transport name, or "async-<name>" for an AsyncClient behind a
    blocking facade (tests/asyncclients.py); see `pytest_generate_tests`."""
    return str(request.param)


@pytest.fixture
def open_client(
    request: pytest.FixtureRequest, client_kind: str
) -> Iterator[Callable[..., batchdelete.Client]]:
    """Clients of the kind under test (`asyncclients.open_client`), closed
    after the test."""
    made: list[Any] = []

    def session_loop() -> BlockingPortal:  # started by the first async client only
        running: BlockingPortal = request.getfixturevalue("portal")
        return running

    def open_(**kwargs: Any) -> batchdelete.Client:
        client = asyncclients.open_client(client_kind, session_loop, **kwargs)
        made.append(client)
        return client  # type: ignore[no-any-return]

    yield open_
    for client in made:
        client.close()


@pytest.fixture
def make_client(
    server: ScriptServer, open_client: Callable[..., batchdelete.Client]
) -> Callable[..., batchdelete.Client]:
    """Clients of the kind under test, pointed at the script server.

    Retry waits are recorded in `client.slept` instead of slept.
    """

    def make(**kwargs: Any) -> batchdelete.Client:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", server.url)
        client = open_client(**kwargs)
        client.slept = asyncclients.record_sleeps(client)  # type: ignore[attr-defined]
        return client

    return make
