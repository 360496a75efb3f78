"""pytest fixtures for code that deletes Message Batches (entry point `pytest11`).

    def test_cleanup(batch_emulator, batch_client):
        done = batch_emulator.add_batch("ended")
        batch_client.delete(done.id)
        assert batch_emulator.batch(done.id) is None

`batch_emulator` is a running `Emulator` on 127.0.0.1 with a frozen clock
(move it with `batch_emulator.clock.advance(seconds)`) and canceled batches
that end as soon as they are looked at again. Change its settings with a
marker: `@pytest.mark.batch_emulator(processing_time=5, cancel_time=30)`.
`batch_client` is a `batchdelete.Client` pointed at it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .._client import Client
from . import Emulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "batch_emulator(**settings): settings of the batch_emulator fixture's Emulator",
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
        api_key=batch_emulator.api_key, base_url=batch_emulator.base_url, max_retry_wait=5
    ) as client:
        yield client
