"""The credential chain and access token providers with `AsyncClient`, on
every async transport: async providers (`async def __call__`), the retry
after a 401, the call's deadline over a slow provider, closing, copies, and
`adelete_many` sharing one token cache. The blocking facade of
tests/asyncclients.py runs the rest of the suite (test_credentials.py) on
these transports too. Only 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from anthropic.lib.credentials import AccessToken, WorkloadIdentityCredentials

import batchdelete as bd
from batchdelete.emulator import Emulator
from tests.credentialhelpers import (
    OAUTH,
    AsyncRecordingProvider,
    api_requests,
    beta_flags,
    clean_environment,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

ASYNC_TRANSPORTS = [
    t.name for t in bd.list_transports() if t.builtin and t.asynchronous and t.available
]
UNKNOWN_TOKEN = "sk-ant-oat01-unknown-" + "0" * 40


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # AsyncClient is asyncio's


@pytest.fixture(params=ASYNC_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ANTHROPIC_* variable and a HOME of the test's own."""
    return clean_environment(monkeypatch, tmp_path)


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(frozen=True, cancel_time=0.0, token_lifetime=600) as emulator:
        yield emulator


def minting(api: Emulator) -> Callable[[bool], str]:
    return lambda force: api.issue_token(workspace_id="default")


def federate(api: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    rule = api.add_federation_rule(workspace_id="default")
    for name, value in api.federation_env(rule).items():
        monkeypatch.setenv(name, value)


async def test_an_async_provider_is_awaited(api: Emulator, transport: str) -> None:
    provider = AsyncRecordingProvider(minting(api))
    async with bd.AsyncClient(
        credentials=provider, base_url=api.base_url, transport=transport
    ) as client:
        assert client.credential_source == "credentials="
        batch = api.add_batch("ended")
        assert (await client.delete(batch.id)).id == batch.id
    sent = api_requests(api)[-1]
    assert sent.headers["authorization"] == f"Bearer {provider.tokens[0]}"
    assert beta_flags(sent) == [OAUTH]
    assert provider.calls == [False]
    assert provider.closed == 0  # the user's own: not closed


async def test_an_async_function_is_a_provider(api: Emulator, transport: str) -> None:
    calls: list[bool] = []

    async def provider(*, force_refresh: bool = False) -> AccessToken:
        calls.append(force_refresh)
        await anyio.sleep(0)
        return AccessToken(api.issue_token(workspace_id="default"), int(time.time()) + 3600)

    async with bd.AsyncClient(
        credentials=provider, base_url=api.base_url, transport=transport
    ) as client:
        for _ in range(3):
            batch = api.add_batch("ended")
            assert (await client.delete(batch.id)).id == batch.id
    assert calls == [False]  # cached


async def test_concurrent_calls_wait_for_one_async_refresh(api: Emulator, transport: str) -> None:
    provider = AsyncRecordingProvider(minting(api))
    ids = [api.add_batch("ended").id for _ in range(40)]
    async with bd.AsyncClient(
        credentials=provider, base_url=api.base_url, transport=transport
    ) as client:
        deleted = await asyncio.gather(*(client.delete(i) for i in ids))
    assert sorted(d.id for d in deleted) == sorted(ids)
    assert provider.calls == [False]  # one provider call for 40 calls in flight


async def test_an_async_providers_refused_token_is_replaced_once(
    api: Emulator, transport: str
) -> None:
    def mint(force: bool) -> str:
        return UNKNOWN_TOKEN if not provider.calls[1:] else api.issue_token(workspace_id="default")

    provider = AsyncRecordingProvider(mint)
    async with bd.AsyncClient(
        credentials=provider, base_url=api.base_url, transport=transport
    ) as client:
        batch = api.add_batch("ended")
        raw = await client.with_raw_response.delete(batch.id)
        assert (raw.attempts, raw.retries_taken) == (2, 1)
        assert provider.calls == [False, True]
        never = AsyncRecordingProvider(lambda force: UNKNOWN_TOKEN)
        with pytest.raises(bd.AuthenticationError) as info:
            await client.with_options(credentials=never).delete("msgbatch_01")
        assert info.value.attempts == 2 and never.calls == [False, True]
    assert [r.status for r in api_requests(api)] == [401, 200, 401, 401]


async def test_a_slow_provider_ends_at_the_calls_deadline(api: Emulator, transport: str) -> None:
    started = anyio.Event()

    async def slow(*, force_refresh: bool = False) -> AccessToken:
        started.set()
        await anyio.sleep(30)
        raise AssertionError("not cancelled")

    async with bd.AsyncClient(
        credentials=slow,
        base_url=api.base_url,
        transport=transport,
        timeout=bd.Timeout(deadline=0.3),
    ) as client:
        begun = time.monotonic()
        with pytest.raises(bd.APITimeoutError, match="access token"):
            await client.delete("msgbatch_01")
        assert time.monotonic() - begun < 5
    assert started.is_set() and api.requests == []


async def test_closing_closes_the_chains_provider_not_a_users(
    api: Emulator, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    federate(api, monkeypatch)
    client = bd.AsyncClient(transport=transport)
    copy = client.with_options(max_retries=0)
    assert (await client.delete(api.add_batch("ended").id)).type == "message_batch_deleted"
    assert (await copy.delete(api.add_batch("ended").id)).type == "message_batch_deleted"
    assert api.token_exchanges == 1  # parent and copy share the token cache
    tokens = client._credential.tokens
    assert tokens is not None and isinstance(tokens.provider, WorkloadIdentityCredentials)
    await copy.close()
    assert not tokens.provider._http_client.is_closed
    await client.close()
    assert tokens.provider._http_client.is_closed

    mine = AsyncRecordingProvider(minting(api))
    own = bd.AsyncClient(credentials=mine, base_url=api.base_url, transport=transport)
    assert (await own.delete(api.add_batch("ended").id)).type == "message_batch_deleted"
    await own.close()
    assert mine.closed == 0


@pytest.mark.slow
@pytest.mark.parametrize("lifetime", [2, 600])
async def test_adelete_many_through_federation_shares_one_token_cache(
    monkeypatch: pytest.MonkeyPatch, lifetime: int
) -> None:
    with Emulator(token_lifetime=lifetime, cancel_time=0.0) as api:  # real time
        federate(api, monkeypatch)
        ids = [api.add_batch("ended").id for _ in range(500)]
        async with bd.AsyncClient(transport=ASYNC_TRANSPORTS[0]) as client:
            outcomes = await bd.adelete_many(client, ids, concurrency=8)
        assert [o for o in outcomes if not o.ok] == [] and len(outcomes) == 500
        assert api.batches() == []
        made = len(api_requests(api))
        exchanges = api.token_exchanges
        print(
            f"\nasync adelete_many, lifetime {lifetime} s: {made} requests, {exchanges} exchanges"
        )
        assert made >= 500
        if lifetime == 600:
            assert exchanges == 1 and made == 500
        else:
            assert 1 <= exchanges <= made
