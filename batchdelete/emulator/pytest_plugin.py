"""pytest fixtures for code that deletes Message Batches (entry point `pytest11`).

    def test_cleanup(batch_emulator, batch_client):
        done = batch_emulator.add_batch("ended")
        batch_client.delete(done.id)
        assert batch_emulator.batch(done.id) is None

    @pytest.fixture
    def anyio_backend():        # anyio's plugin: the client runs on asyncio only
        return "asyncio"

    @pytest.mark.anyio          # no mark under pytest-asyncio's auto mode
    async def test_async_cleanup(batch_emulator, async_batch_client):
        done = batch_emulator.add_batch("ended")
        await batchdelete.adelete_batch(async_batch_client, done.id)
        assert batch_emulator.batch(done.id) is None

`batch_emulator` is a running `Emulator` on 127.0.0.1 with a frozen clock
(move it with `batch_emulator.clock.advance(seconds)`) and canceled batches
that end as soon as they are looked at again. Change its settings with a
marker: `@pytest.mark.batch_emulator(processing_time=5, cancel_time=30)`.
`batch_client` is a `batchdelete.Client` pointed at it.

`async_batch_client` is a `batchdelete.AsyncClient` pointed at it, closed
after the test. It is an async generator fixture, so an async test runner
must run it, in the event loop that then runs the test (the client's
connections belong to that loop); asyncio only. It works with:

- anyio's pytest plugin (installed with anyio): tests marked
  `@pytest.mark.anyio` (or `anyio_mode = "auto"`) with an `anyio_backend`
  fixture that returns "asyncio";
- pytest-asyncio in auto mode (`asyncio_mode = "auto"`), with the default
  function-scoped event loop.

Not with pytest-asyncio's strict mode, which runs only the async fixtures
decorated with `pytest_asyncio.fixture`: there, write the fixture in a
conftest.py with that decorator, as this one is written. Use one async
plugin per test: a fixture set up by one runner's loop and a test run by
another's would share a client across two event loops.

Both clients take their transport from the automatic order (or
BATCHDELETE_TRANSPORT) and raise at once, instead of sleeping, when the
server asks for a wait over 5 s before a retry.

`--batchdelete-transport=NAME` sets BATCHDELETE_TRANSPORT for the whole run
(restored after it), so that every client built without `transport=` uses
that transport, with no change to the code under test: with
`--batchdelete-transport=requests`, tests that mock HTTP with `responses`
(`@responses.activate`) intercept batchdelete's requests too. The automatic
default is urllib3 even where requests is installed, and `responses` does
not see urllib3. Put it in `addopts` to make it the suite's default; an
unknown or uninstalled transport is a usage error at start-up.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from .._async_client import AsyncClient
from .._client import Client
from .._registry import ENV_TRANSPORT, list_transports
from . import Emulator

#: The longest retry-after wait the fixtures' clients sleep (seconds).
MAX_RETRY_WAIT = 5
#: BATCHDELETE_TRANSPORT as it was before `--batchdelete-transport` set it
#: (None: unset), to restore at the end of the run.
_SAVED_TRANSPORT = pytest.StashKey[tuple[str | None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("batchdelete").addoption(
        "--batchdelete-transport",
        metavar="NAME",
        default=None,
        help="set BATCHDELETE_TRANSPORT=NAME for the run: every batchdelete client built "
        "without transport= uses NAME (requests: mocks made with `responses` see them)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "batch_emulator(**settings): settings of the batch_emulator fixture's Emulator",
    )
    name = config.getoption("batchdelete_transport", None)
    if name is not None:
        _check_transport(name)
        config.stash[_SAVED_TRANSPORT] = (os.environ.get(ENV_TRANSPORT),)
        os.environ[ENV_TRANSPORT] = name


def pytest_unconfigure(config: pytest.Config) -> None:
    saved = config.stash.get(_SAVED_TRANSPORT, None)
    if saved is None:
        return
    del config.stash[_SAVED_TRANSPORT]
    (previous,) = saved
    if previous is None:
        os.environ.pop(ENV_TRANSPORT, None)
    else:
        os.environ[ENV_TRANSPORT] = previous


def _check_transport(name: str) -> None:
    """A usage error, before any test runs, for a transport that is not
    registered or whose library is not installed."""
    known = list_transports()
    found = [info for info in known if info.name == name]
    if not found:
        names = ", ".join(sorted({info.name for info in known}))
        raise pytest.UsageError(
            f"--batchdelete-transport: unknown transport {name!r}; known: {names}."
        )
    if not any(info.available for info in found):
        info = found[0]
        how = f" Install it with: {info.install}." if info.install else ""
        raise pytest.UsageError(
            f"--batchdelete-transport: the {name!r} transport is not available "
            f"({info.reason}).{how}"
        )


@pytest.fixture
def batch_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running Message Batches API emulator on 127.0.0.1."""
    settings: dict[str, object] = {"frozen": True, "cancel_time": 0.0}
    marker = request.node.get_closest_marker("batch_emulator")
    if marker is not None:
        settings.update(marker.kwargs)
    with Emulator(**settings) as api:  # type: ignore[arg-type]
        yield api


@pytest.fixture
def batch_client(batch_emulator: Emulator) -> Iterator[Client]:
    """A batchdelete Client for the `batch_emulator`; a server-requested wait
    over 5 s raises at once instead of being slept."""
    with Client(
        api_key=batch_emulator.api_key,
        base_url=batch_emulator.base_url,
        max_retry_wait=MAX_RETRY_WAIT,
    ) as client:
        yield client


@pytest.fixture
async def async_batch_client(batch_emulator: Emulator) -> AsyncIterator[AsyncClient]:
    """A batchdelete AsyncClient for the `batch_emulator`, closed after the
    test; a server-requested wait over 5 s raises at once instead of being
    slept. Needs an async runner: anyio's plugin or pytest-asyncio's auto
    mode (see the module's docstring)."""
    async with AsyncClient(
        api_key=batch_emulator.api_key,
        base_url=batch_emulator.base_url,
        max_retry_wait=MAX_RETRY_WAIT,
    ) as client:
        yield client
