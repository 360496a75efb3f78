"""Edges of the credential chain (issue 12, branch coverage): a provider
that raises the library's own error, a credential of the wrong type, a copy
for another base URL whose provider does not exchange per deployment.
Against the emulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

import batchdelete as bd
from batchdelete.emulator import Emulator
from tests.credentialhelpers import RecordingProvider, clean_environment


@pytest.fixture(autouse=True)
def _no_credentials_around(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_environment(monkeypatch, tmp_path)  # no profile, no federation, no key


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(frozen=True, cancel_time=0.0, token_lifetime=600) as emulator:
        yield emulator


class _Refusing:
    """A provider whose exchange fails with one of the library's errors."""

    def __call__(self, *, force_refresh: bool = False) -> object:
        raise bd.CredentialsError("The identity token file is empty: write the token there.")


class _AsyncRefusing:
    async def __call__(self, *, force_refresh: bool = False) -> object:
        raise bd.CredentialsError("The identity token file is empty: write the token there.")


def test_a_providers_own_library_error_is_raised_as_it_is(api: Emulator) -> None:
    client = bd.Client(credentials=_Refusing(), base_url=api.base_url, max_retries=0)
    with client, pytest.raises(bd.CredentialsError) as caught:
        client.delete("msgbatch_x")
    assert str(caught.value) == "The identity token file is empty: write the token there."
    assert api.requests == []  # nothing sent without a token


def test_an_async_providers_own_library_error_is_raised_as_it_is(api: Emulator) -> None:
    async def main() -> None:
        async with bd.AsyncClient(
            credentials=_AsyncRefusing(), base_url=api.base_url, max_retries=0
        ) as client:
            await client.delete("msgbatch_x")

    with pytest.raises(bd.CredentialsError, match="identity token file is empty"):
        asyncio.run(main())
    assert api.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"credentials": 42}, "credentials= takes an access token provider"),
        ({"api_key": 1234}, "api_key= must be a str, got int"),
        ({"auth_token": b"tok"}, "auth_token= must be a str, got bytes"),
    ],
)
def test_a_credential_of_the_wrong_type_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(bd.ConfigurationError, match=message):
        bd.Client(base_url="http://127.0.0.1:9", **kwargs)  # type: ignore[arg-type]


def test_a_copy_for_another_base_url_shares_a_plain_providers_tokens(api: Emulator) -> None:
    """A provider without `for_base_url` is not bound per deployment: the
    copy (here the same emulator, named differently) uses the same token
    cache, so the provider is asked once."""
    provider = RecordingProvider(lambda force: api.issue_token(workspace_id="default"))
    with bd.Client(credentials=provider, base_url=api.base_url, max_retries=0) as client:
        first, second = api.add_batch("ended").id, api.add_batch("ended").id
        assert client.delete(first).id == first
        other = api.base_url.replace("127.0.0.1", "localhost")
        copy = client.with_options(base_url=other)
        assert copy.delete(second).id == second
        copy.close()
    assert provider.calls == [False]
    assert {r.headers["authorization"] for r in api.requests} == {f"Bearer {provider.tokens[0]}"}
    assert provider.closed == 0  # the user's provider: the user's to close
