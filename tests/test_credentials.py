"""The credential chain (`batchdelete/_credentials.py`) against the emulator,
with the official SDK (`anthropic.Anthropic()`) in the same environment as
the reference: each step and their precedence, the extra missing, bearer
tokens and the OAuth beta flag, the single retry after a 401, bulk runs and
the token cache, workspaces, a profile's base URL, secrets, and the
provider's lifecycle. Every client kind (`client_kind`: every sync and async
transport) where the transport takes part. Only 127.0.0.1."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import anthropic
import pytest
from anthropic.lib.credentials import AccessToken, CredentialsFile, WorkloadIdentityCredentials

import batchdelete as bd
from batchdelete.emulator import DEFAULT_API_KEY, Emulator, Fault
from tests import asyncclients
from tests.credentialhelpers import (
    OAUTH,
    WS_A,
    WS_B,
    AsyncRecordingProvider,
    RecordingProvider,
    api_requests,
    bearer_tokens,
    beta_flags,
    clean_environment,
    credential_kind,
    refresh_tokens,
    run_python,
)

pytestmark = pytest.mark.clients("all")

OpenClient = Callable[..., bd.Client]
STATIC_TOKEN = "sk-ant-static-bearer-" + "5" * 40
UNKNOWN_TOKEN = "sk-ant-oat01-unknown-" + "0" * 40
UNKNOWN_KEY = "sk-ant-api03-unknown-" + "1" * 40
BATCHES_BETA = "message-batches-2024-09-24"
LONG_KEY = "sk-ant-api03-" + "k3Y" * 30
KEYS = {DEFAULT_API_KEY, LONG_KEY}


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ANTHROPIC_* variable and a HOME of the test's own."""
    return clean_environment(monkeypatch, tmp_path)


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(
        frozen=True, cancel_time=0.0, token_lifetime=600, auth_tokens=(STATIC_TOKEN,)
    ) as emulator:
        yield emulator


def with_sdk(client_kind: str) -> bool:
    """Whether a test runs the SDK alongside: once per test, with the first
    client kind (the SDK's behaviour does not depend on ours)."""
    return client_kind == asyncclients.ALL_KINDS[0]


def sdk_client(**kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(**kwargs)


def minting(api: Emulator, workspace_id: str | None = "default") -> Callable[[bool], str]:
    """Tokens from the emulator's token issuer (which need the OAuth flag)."""
    return lambda force: api.issue_token(workspace_id=workspace_id)


# -- the chain, step by step, with the SDK alongside -------------------------------


@dataclass
class Context:
    api: Emulator
    tmp_path: Path
    home: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def config(self) -> Path:
        return self.tmp_path / "config"

    def setenv(self, **env: str) -> None:
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)


class Setup(NamedTuple):
    """What a step needs: the client's arguments (made afresh for each
    client), the source it must report, the kind of credential the request
    carries, and the token exchanges one delete makes."""

    kwargs: Callable[[], dict[str, Any]]
    source: str
    kind: str
    exchanges: int
    sdk_exchanges: int | None = None  # None: as many as batchdelete's


def explicit_api_key(c: Context) -> Setup:
    c.setenv(ANTHROPIC_BASE_URL=c.api.base_url, ANTHROPIC_AUTH_TOKEN=STATIC_TOKEN)
    return Setup(lambda: {"api_key": c.api.api_key}, "api_key=", "key", 0)


def explicit_auth_token(c: Context) -> Setup:
    c.setenv(ANTHROPIC_BASE_URL=c.api.base_url, ANTHROPIC_API_KEY=c.api.api_key)
    return Setup(lambda: {"auth_token": STATIC_TOKEN}, "auth_token=", "bearer", 0)


def explicit_provider(c: Context) -> Setup:
    c.setenv(ANTHROPIC_BASE_URL=c.api.base_url, ANTHROPIC_API_KEY=c.api.api_key)
    return Setup(
        lambda: {"credentials": RecordingProvider(minting(c.api))}, "credentials=", "oauth", 0
    )


def env_api_key(c: Context) -> Setup:
    c.setenv(
        ANTHROPIC_BASE_URL=c.api.base_url,
        ANTHROPIC_API_KEY=c.api.api_key,
        ANTHROPIC_AUTH_TOKEN=STATIC_TOKEN,
    )
    return Setup(dict, "ANTHROPIC_API_KEY", "key", 0)


def env_auth_token(c: Context) -> Setup:
    c.setenv(ANTHROPIC_BASE_URL=c.api.base_url, ANTHROPIC_AUTH_TOKEN=STATIC_TOKEN)
    return Setup(dict, "ANTHROPIC_AUTH_TOKEN", "bearer", 0)


def env_profile(c: Context) -> Setup:
    c.api.write_profile(c.config, "dev")  # its base_url: no ANTHROPIC_BASE_URL needed
    c.setenv(ANTHROPIC_CONFIG_DIR=str(c.config), ANTHROPIC_PROFILE="dev")
    return Setup(dict, "the profile 'dev' (ANTHROPIC_PROFILE)", "oauth", 0)


def federation_variable(c: Context) -> Setup:
    rule = c.api.add_federation_rule(workspace_id="default")
    c.setenv(**c.api.federation_env(rule))
    return Setup(dict, "workload identity federation (ANTHROPIC_IDENTITY_TOKEN)", "oauth", 1)


def federation_file(c: Context) -> Setup:
    rule = c.api.add_federation_rule(workspace_id="default")
    token_file = c.tmp_path / "identity-token"
    token_file.write_text(rule.identity_token)
    c.setenv(**c.api.federation_env(rule))
    # The file wins: the variable's token would be refused by the rule.
    c.setenv(
        ANTHROPIC_IDENTITY_TOKEN="eyJ.not-the-rules-identity-token",
        ANTHROPIC_IDENTITY_TOKEN_FILE=str(token_file),
    )
    return Setup(dict, "workload identity federation (ANTHROPIC_IDENTITY_TOKEN_FILE)", "oauth", 1)


def active_profile(c: Context) -> Setup:
    c.api.write_profile(c.config, "ci", active=True)
    c.api.write_profile(c.config, "default", workspace_id=WS_B)  # not the active one
    c.setenv(ANTHROPIC_CONFIG_DIR=str(c.config))
    return Setup(dict, f"the active profile 'ci' in {c.config}", "oauth", 0)


def active_federation_profile(c: Context) -> Setup:
    rule = c.api.add_federation_rule(workspace_id="default")
    c.api.write_profile(c.config, "wif", federation_rule=rule, workspace_id=None, active=True)
    c.setenv(ANTHROPIC_CONFIG_DIR=str(c.config))
    # The SDK then finds the token batchdelete's exchange wrote to the profile.
    return Setup(dict, f"the active profile 'wif' in {c.config}", "oauth", 1, 0)


def default_profile_at_home(c: Context) -> Setup:
    directory = c.home / ".config" / "anthropic"
    c.api.write_profile(directory, "default")
    return Setup(dict, f"the active profile 'default' in {directory}", "oauth", 0)


def key_beats_profile_and_federation(c: Context) -> Setup:
    rule = c.api.add_federation_rule(workspace_id="default")
    c.api.write_profile(c.config, "dev", active=True)
    c.setenv(**c.api.federation_env(rule))
    c.setenv(
        ANTHROPIC_API_KEY=c.api.api_key,
        ANTHROPIC_CONFIG_DIR=str(c.config),
        ANTHROPIC_PROFILE="dev",
    )
    return Setup(dict, "ANTHROPIC_API_KEY", "key", 0)


def token_beats_profile_and_federation(c: Context) -> Setup:
    rule = c.api.add_federation_rule(workspace_id="default")
    c.api.write_profile(c.config, "dev")
    c.setenv(**c.api.federation_env(rule))
    c.setenv(
        ANTHROPIC_AUTH_TOKEN=STATIC_TOKEN,
        ANTHROPIC_CONFIG_DIR=str(c.config),
        ANTHROPIC_PROFILE="dev",
    )
    return Setup(dict, "ANTHROPIC_AUTH_TOKEN", "bearer", 0)


def profile_beats_federation(c: Context) -> Setup:
    rule = c.api.add_federation_rule(workspace_id="default")
    c.api.write_profile(c.config, "dev")
    c.setenv(**c.api.federation_env(rule))
    c.setenv(ANTHROPIC_CONFIG_DIR=str(c.config), ANTHROPIC_PROFILE="dev")
    return Setup(dict, "the profile 'dev' (ANTHROPIC_PROFILE)", "oauth", 0)


def federation_beats_active_profile(c: Context) -> Setup:
    rule = c.api.add_federation_rule(workspace_id="default")
    c.api.write_profile(c.config, "dev", active=True)
    c.api.write_profile(c.home / ".config" / "anthropic", "default")
    c.setenv(**c.api.federation_env(rule))
    c.setenv(ANTHROPIC_CONFIG_DIR=str(c.config))
    return Setup(dict, "workload identity federation (ANTHROPIC_IDENTITY_TOKEN)", "oauth", 1)


STEPS = [
    explicit_api_key,
    explicit_auth_token,
    explicit_provider,
    env_api_key,
    env_auth_token,
    env_profile,
    federation_variable,
    federation_file,
    active_profile,
    active_federation_profile,
    default_profile_at_home,
    key_beats_profile_and_federation,
    token_beats_profile_and_federation,
    profile_beats_federation,
    federation_beats_active_profile,
]


@pytest.mark.parametrize("step", STEPS, ids=[s.__name__ for s in STEPS])
def test_each_step_of_the_chain_as_the_sdk(
    step: Callable[[Context], Setup],
    api: Emulator,
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    open_client: OpenClient,
    client_kind: str,
) -> None:
    setup = step(Context(api, tmp_path, home, monkeypatch))
    mine, theirs = api.add_batch("ended"), api.add_batch("ended")

    client = open_client(**setup.kwargs())
    assert client.credential_source == setup.source
    assert client.base_url == api.base_url
    before = api.token_exchanges
    assert client.delete(mine.id).id == mine.id
    ours = api_requests(api)[-1]
    assert (ours.route, ours.status) == ("delete", 200)
    assert credential_kind(ours, KEYS) == setup.kind
    assert api.token_exchanges - before == setup.exchanges
    if not with_sdk(client_kind):
        return

    sdk = sdk_client(**setup.kwargs())
    try:
        before = api.token_exchanges
        assert sdk.messages.batches.delete(theirs.id).id == theirs.id
        expected = setup.exchanges if setup.sdk_exchanges is None else setup.sdk_exchanges
        assert api.token_exchanges - before == expected
    finally:
        sdk.close()
    reference = api_requests(api)[-1]
    assert (reference.route, reference.status) == ("delete", 200)
    assert credential_kind(reference, KEYS) == credential_kind(ours, KEYS)
    assert reference.headers.get("anthropic-workspace-id") == ours.headers.get(
        "anthropic-workspace-id"
    )
    assert api.batches() == []


def test_nothing_is_no_credentials_as_the_sdk(
    api: Emulator, open_client: OpenClient, client_kind: str
) -> None:
    with pytest.raises(bd.ConfigurationError, match="No credentials") as info:
        open_client(base_url=api.base_url)
    assert not isinstance(info.value, bd.CredentialsError)
    if not with_sdk(client_kind):
        return
    sdk = sdk_client(base_url=api.base_url)
    try:
        with pytest.raises(TypeError, match="Could not resolve authentication method"):
            sdk.messages.batches.delete("msgbatch_01")
    finally:
        sdk.close()
    assert api.requests == []


def test_a_broken_profile_named_explicitly_is_a_credentials_error(
    api: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    open_client: OpenClient,
    client_kind: str,
) -> None:
    config = tmp_path / "config"
    api.write_profile(config, "dev")
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(config))
    monkeypatch.setenv("ANTHROPIC_PROFILE", "absent")
    with pytest.raises(bd.CredentialsError, match="ANTHROPIC_PROFILE"):
        open_client()
    if with_sdk(client_kind):
        with pytest.raises(anthropic.AnthropicError):
            sdk_client()
    assert api.requests == []


# -- in a fresh interpreter: what is imported, and the extra missing -------------------

BLOCK_ANTHROPIC = """
import sys
class Block:
    tried = []
    def find_spec(self, name, path=None, target=None):
        if name == "anthropic" or name.startswith("anthropic."):
            Block.tried.append(name)
            raise ImportError("blocked: " + name)
        return None
sys.meta_path.insert(0, Block())
"""
TRY_CLIENT = """
import sys
import batchdelete as bd
try:
    client = bd.Client(transport="stdlib")
except bd.ConfigurationError as exc:
    print("ERROR", type(exc).__name__, exc)
else:
    print("SOURCE", client.credential_source)
    if len(sys.argv) > 1:
        print("DELETED", client.delete(sys.argv[1]).id)
    client.close()
print("TRIED", sorted(getattr(sys.modules[__name__], "Block", type("B", (), {"tried": []})).tried))
print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] == "anthropic"))
"""


def in_fresh_python(home: Path, env: dict[str, str], blocked: bool, batch: str = "") -> str:
    code = (BLOCK_ANTHROPIC if blocked else "") + TRY_CLIENT
    if batch:
        code = f"import sys; sys.argv[1:] = [{batch!r}]\n" + code
    status, output = run_python(code, {"HOME": str(home), **env})
    assert status == 0, output
    return output


@pytest.mark.slow
def test_without_the_extra_a_profile_or_federation_names_it(
    api: Emulator, tmp_path: Path, home: Path
) -> None:
    config = tmp_path / "config"
    api.write_profile(config, "dev")
    rule = api.add_federation_rule(workspace_id="default")
    cases = {
        "profile": {"ANTHROPIC_CONFIG_DIR": str(config), "ANTHROPIC_PROFILE": "dev"},
        "federation": api.federation_env(rule),
        "active": {"ANTHROPIC_CONFIG_DIR": str(config)},
    }
    for name, env in cases.items():
        output = in_fresh_python(home, env, blocked=True)
        assert "ERROR ConfigurationError" in output, (name, output)
        assert "batchdelete[credentials]" in output, (name, output)
        assert "TRIED ['anthropic']" in output, (name, output)
        assert rule.identity_token not in output
    assert api.requests == []

    # The default profile under $HOME, found without ANTHROPIC_CONFIG_DIR.
    api.write_profile(home / ".config" / "anthropic", "default")
    output = in_fresh_python(home, {}, blocked=True)
    assert "ERROR ConfigurationError" in output and "batchdelete[credentials]" in output


@pytest.mark.slow
def test_a_key_needs_no_extra_and_never_imports_the_sdk(
    api: Emulator, tmp_path: Path, home: Path
) -> None:
    batch = api.add_batch("ended")
    config = tmp_path / "config"
    api.write_profile(config, "dev")
    rule = api.add_federation_rule(workspace_id="default")
    env = {
        **api.federation_env(rule),  # ANTHROPIC_BASE_URL too
        "ANTHROPIC_CONFIG_DIR": str(config),
        "ANTHROPIC_PROFILE": "dev",
        "ANTHROPIC_API_KEY": api.api_key,
    }
    output = in_fresh_python(home, env, blocked=True, batch=batch.id)
    assert "SOURCE ANTHROPIC_API_KEY" in output and f"DELETED {batch.id}" in output
    assert "TRIED []" in output and "LOADED []" in output, output
    assert api.token_exchanges == 0


@pytest.mark.slow
def test_no_credentials_imports_nothing_of_the_sdk(home: Path) -> None:
    output = in_fresh_python(home, {}, blocked=False)  # the SDK is installed, and not needed
    assert "ERROR ConfigurationError No credentials" in output
    assert "LOADED []" in output, output


# -- bearer tokens and the OAuth beta flag -------------------------------------------

BETA_CASES: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = [
    ({}, {}, [OAUTH]),
    ({}, {"betas": [BATCHES_BETA]}, [BATCHES_BETA, OAUTH]),
    ({}, {"betas": [OAUTH, BATCHES_BETA]}, [OAUTH, BATCHES_BETA]),
    (
        {"default_headers": {"anthropic-beta": "files-api-2025-04-14"}},
        {},
        [
            "files-api-2025-04-14",
            OAUTH,
        ],
    ),
    (
        {"default_headers": {"anthropic-beta": f"{OAUTH}, files-api-2025-04-14"}},
        {},
        [
            OAUTH,
            "files-api-2025-04-14",
        ],
    ),
    (
        {"default_headers": {"anthropic-beta": f"files-api-2025-04-14,{OAUTH}"}},
        {"betas": [BATCHES_BETA]},
        [BATCHES_BETA, OAUTH],
    ),
    ({}, {"extra_headers": {"anthropic-beta": f"x-2025-01-01,{OAUTH}"}}, ["x-2025-01-01", OAUTH]),
]


def test_a_providers_token_goes_with_the_oauth_flag_once(
    api: Emulator, open_client: OpenClient
) -> None:
    for options, call, flags in BETA_CASES:
        provider = RecordingProvider(minting(api))
        client = open_client(credentials=provider, base_url=api.base_url, **options)
        batch = api.add_batch("ended")
        assert client.delete(batch.id, **call).id == batch.id
        sent = api_requests(api)[-1]
        assert sent.status == 200
        assert sent.headers["authorization"] == f"Bearer {provider.tokens[-1]}"
        assert "x-api-key" not in sent.headers
        assert beta_flags(sent) == flags, (options, call)
        assert beta_flags(sent).count(OAUTH) == 1


def beta_namespace_flags(api: Emulator, delete: Callable[..., Any]) -> list[list[str]]:
    seen: list[list[str]] = []
    for betas in (None, [BATCHES_BETA], [OAUTH]):
        batch = api.add_batch("ended")
        extra: dict[str, Any] = {} if betas is None else {"betas": betas}
        assert delete(batch.id, **extra).id == batch.id
        sent = api_requests(api)[-1]
        assert sent.status == 200 and beta_flags(sent).count(OAUTH) == 1
        seen.append(sorted(beta_flags(sent)))
    return seen


def test_the_beta_namespace_adds_the_flag_once_as_the_sdk(
    api: Emulator, open_client: OpenClient, client_kind: str
) -> None:
    client = open_client(credentials=RecordingProvider(minting(api)), base_url=api.base_url)
    ours = beta_namespace_flags(api, client.beta.messages.batches.delete)
    assert ours == [[OAUTH], sorted([BATCHES_BETA, OAUTH]), [OAUTH]]
    if with_sdk(client_kind):
        sdk = sdk_client(credentials=RecordingProvider(minting(api)), base_url=api.base_url)
        try:
            assert beta_namespace_flags(api, sdk.beta.messages.batches.delete) == ours
        finally:
            sdk.close()


def test_a_static_token_goes_without_the_oauth_flag_as_the_sdk(
    api: Emulator, monkeypatch: pytest.MonkeyPatch, open_client: OpenClient, client_kind: str
) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", STATIC_TOKEN)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
    beta = {"anthropic-beta": "files-api-2025-04-14"}
    clients: list[Any] = [open_client(default_headers=beta)]
    if with_sdk(client_kind):
        clients.append(sdk_client(default_headers=beta))
    for client in clients:
        delete = client.messages.batches.delete
        batch = api.add_batch("ended")
        assert delete(batch.id).id == batch.id
        sent = api_requests(api)[-1]
        assert sent.headers["authorization"] == f"Bearer {STATIC_TOKEN}"
        assert beta_flags(sent) == ["files-api-2025-04-14"]
        beta_delete = client.beta.messages.batches.delete
        assert beta_delete(api.add_batch("ended").id, betas=[BATCHES_BETA]).type
        assert beta_flags(api_requests(api)[-1]) == [BATCHES_BETA]
    if len(clients) > 1:
        clients[1].close()


# -- the single retry after a 401 ----------------------------------------------------


def first_unknown(api: Emulator) -> Callable[[bool], str]:
    """A token the emulator does not know first, then good ones."""
    minted = minting(api)
    calls: list[bool] = []

    def mint(force: bool) -> str:
        calls.append(force)
        return UNKNOWN_TOKEN if len(calls) == 1 else minted(force)

    return mint


def test_a_refused_token_is_replaced_once_as_the_sdk(
    api: Emulator, open_client: OpenClient, client_kind: str
) -> None:
    provider = RecordingProvider(first_unknown(api))
    client = open_client(credentials=provider, base_url=api.base_url)
    batch = api.add_batch("ended")
    raw = client.with_raw_response.delete(batch.id)
    assert raw.parse().id == batch.id
    assert (raw.attempts, raw.retries_taken) == (2, 1)
    assert provider.calls == [False, True]  # the cache emptied, the refresh forced
    assert [r.status for r in api_requests(api)] == [401, 200]
    assert api_requests(api)[0].headers["authorization"] == f"Bearer {UNKNOWN_TOKEN}"
    assert api_requests(api)[1].headers["authorization"] == f"Bearer {provider.tokens[1]}"
    # The new token is cached: the next call asks no one.
    other = api.add_batch("ended")
    assert client.with_raw_response.delete(other.id).retries_taken == 0
    assert provider.calls == [False, True]
    if not with_sdk(client_kind):
        return

    reference = RecordingProvider(first_unknown(api))
    sdk = sdk_client(credentials=reference, base_url=api.base_url, max_retries=2)
    try:
        third = api.add_batch("ended")
        response = sdk.messages.batches.with_raw_response.delete(third.id)
        assert response.retries_taken == 1 and response.parse().id == third.id
    finally:
        sdk.close()
    assert reference.calls == provider.calls


def test_a_token_expired_on_the_servers_clock_is_exchanged_again(
    api: Emulator, monkeypatch: pytest.MonkeyPatch, open_client: OpenClient
) -> None:
    rule = api.add_federation_rule(workspace_id="default")
    for name, value in api.federation_env(rule).items():
        monkeypatch.setenv(name, value)
    client = open_client()
    first, second = api.add_batch("ended"), api.add_batch("ended")
    assert client.with_raw_response.delete(first.id).retries_taken == 0
    api.clock.advance(600)  # expired here; the SDK's cache (wall clock) does not know
    raw = client.with_raw_response.delete(second.id)
    assert (raw.attempts, raw.retries_taken) == (2, 1)
    assert [(r.route, r.status) for r in api.requests] == [
        ("token", 200),
        ("delete", 200),
        ("delete", 401),
        ("token", 200),
        ("delete", 200),
    ]
    assert api.token_exchanges == 2


def test_a_token_refused_twice_is_an_authentication_error_as_the_sdk(
    api: Emulator, open_client: OpenClient, client_kind: str
) -> None:
    provider = RecordingProvider(lambda force: UNKNOWN_TOKEN)
    client = open_client(credentials=provider, base_url=api.base_url)  # max_retries=2
    with pytest.raises(bd.AuthenticationError) as info:
        client.delete("msgbatch_01")
    assert info.value.status_code == 401 and info.value.attempts == 2
    assert provider.calls == [False, True]
    assert len(api_requests(api)) == 2
    if not with_sdk(client_kind):
        return

    reference = RecordingProvider(lambda force: UNKNOWN_TOKEN)
    sdk = sdk_client(credentials=reference, base_url=api.base_url, max_retries=2)
    try:
        with pytest.raises(anthropic.AuthenticationError):
            sdk.messages.batches.delete("msgbatch_01")
    finally:
        sdk.close()
    assert len(api_requests(api)) == 4 and reference.calls == provider.calls


def test_without_retries_a_refused_token_is_one_request(
    api: Emulator, open_client: OpenClient
) -> None:
    provider = RecordingProvider(lambda force: UNKNOWN_TOKEN)
    client = open_client(credentials=provider, base_url=api.base_url, max_retries=0)
    with pytest.raises(bd.AuthenticationError) as info:
        client.delete("msgbatch_01")
    assert info.value.attempts == 1 and provider.calls == [False]
    assert len(api_requests(api)) == 1
    # The cache was emptied all the same: the next call forces a new token.
    with pytest.raises(bd.AuthenticationError):
        client.delete("msgbatch_01")
    assert provider.calls == [False, True] and len(api_requests(api)) == 2


@pytest.mark.parametrize("credential", ["api_key", "auth_token"])
def test_a_static_credential_refused_is_never_retried(
    api: Emulator, open_client: OpenClient, credential: str
) -> None:
    value = UNKNOWN_KEY if credential == "api_key" else UNKNOWN_TOKEN
    client = open_client(base_url=api.base_url, max_retries=2, **{credential: value})
    with pytest.raises(bd.AuthenticationError) as info:
        client.delete("msgbatch_01")
    assert info.value.attempts == 1 and len(api.requests) == 1


def test_the_reauthorization_counts_against_max_retries(
    api: Emulator, open_client: OpenClient
) -> None:
    provider = RecordingProvider(minting(api))
    client = open_client(credentials=provider, base_url=api.base_url, max_retries=1)
    slept = asyncclients.record_sleeps(client)
    # A 503 takes the one retry: the 401 after it is not retried.
    api.inject(Fault(status=503, route="delete"))
    api.inject(Fault(status=401, route="delete"))
    with pytest.raises(bd.AuthenticationError) as info:
        client.delete("msgbatch_01")
    assert info.value.attempts == 2 and len(slept) == 1
    # A 401 takes it: the 503 after it is not retried.
    api.inject(Fault(status=401, route="delete"))
    api.inject(Fault(status=503, route="delete"))
    with pytest.raises(bd.APIStatusError) as failed:
        client.delete("msgbatch_01")
    assert failed.value.status_code == 503 and failed.value.attempts == 2
    assert len(slept) == 1  # the retry after a 401 is at once
    assert [r.status for r in api_requests(api)] == [503, 401, 401, 503]


# -- delete_many: one token cache for the whole run ----------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("lifetime", [2, 600])
def test_delete_many_through_federation_shares_one_token_cache(
    monkeypatch: pytest.MonkeyPatch, lifetime: int
) -> None:
    with Emulator(token_lifetime=lifetime, cancel_time=0.0) as api:  # real time
        rule = api.add_federation_rule(workspace_id="default")
        for name, value in api.federation_env(rule).items():
            monkeypatch.setenv(name, value)
        ids = [api.add_batch("ended").id for _ in range(500)]
        with bd.Client(transport="urllib3") as client:
            outcomes = bd.delete_many(client, ids, concurrency=8)
        failed = [o for o in outcomes if not o.ok]
        assert failed == [] and len(outcomes) == 500
        assert api.batches() == []
        made = len(api_requests(api))
        exchanges = api.token_exchanges
        print(
            f"\nsync delete_many, token_lifetime={lifetime}: {made} requests, {exchanges} exchanges"
        )
        assert made >= 500
        if lifetime == 600:
            assert exchanges == 1 and made == 500
        else:
            # Inside the SDK's refresh window every token is used once; one
            # refresh at a time keeps the exchanges from exceeding the requests.
            assert 1 <= exchanges <= made


# -- workspaces -----------------------------------------------------------------------


def with_options(client: bd.Client, **overrides: Any) -> bd.Client:
    """`client.with_options(...)`, seen through the same facade for an async kind."""
    if isinstance(client, asyncclients.BlockingClient):
        copy = asyncclients.BlockingClient(client.aclient.with_options(**overrides), client.portal)
        return copy
    return client.with_options(**overrides)


def federate(api: Emulator, monkeypatch: pytest.MonkeyPatch, workspace_id: str) -> None:
    rule = api.add_federation_rule(workspace_id=workspace_id)
    for name, value in api.federation_env(rule).items():
        monkeypatch.setenv(name, value)


def test_a_workspace_token_cannot_touch_another_workspaces_batch(
    api: Emulator, monkeypatch: pytest.MonkeyPatch, open_client: OpenClient, client_kind: str
) -> None:
    federate(api, monkeypatch, WS_A)
    theirs = api.add_batch("ended", workspace_id=WS_B)
    mine = api.add_batch("ended", workspace_id=WS_A)
    clients: list[Any] = [open_client()]
    if with_sdk(client_kind):
        clients.append(sdk_client())
    for client in clients:
        error = bd.NotFoundError if client is clients[0] else anthropic.NotFoundError
        with pytest.raises(error):
            client.messages.batches.retrieve(theirs.id)
        with pytest.raises(error):
            client.messages.batches.delete(theirs.id)
        assert [r.status for r in api_requests(api)[-2:]] == [404, 404]
        assert api_requests(api)[-1].headers.get("anthropic-workspace-id") is None
    if len(clients) > 1:
        clients[1].close()
    assert [b["id"] for b in api.batches(WS_B)] == [theirs.id]
    # The token does act in A.
    assert clients[0].delete(mine.id).id == mine.id


def test_missing_ok_through_another_workspace_reports_missing(
    api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    federate(api, monkeypatch, WS_A)
    theirs = api.add_batch("ended", workspace_id=WS_B)
    with bd.Client(transport="urllib3") as client:
        outcome = bd.delete_batch(client, theirs.id, missing_ok=True)
    # What it does now: "missing", as any 404 under missing_ok, while the
    # batch lives on in workspace B.
    assert (outcome.status, outcome.ok, outcome.error) == ("missing", True, None)
    assert [b["id"] for b in api.batches(WS_B)] == [theirs.id]
    answer = next(r for r in api.requests if r.route == "delete")
    assert answer.status == 404


def test_missing_ok_names_the_workspace_it_looked_in(
    api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    federate(api, monkeypatch, WS_A)
    theirs = api.add_batch("ended", workspace_id=WS_B)
    with bd.Client(transport="urllib3") as client:
        outcome = bd.delete_batch(client, theirs.id, missing_ok=True)
    assert outcome.status == "missing"
    assert getattr(outcome, "workspace", None) == WS_A


def test_missing_ok_names_the_workspace_the_client_named(
    api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    federate(api, monkeypatch, WS_A)
    theirs = api.add_batch("ended", workspace_id=WS_B)
    with bd.Client(transport="urllib3", workspace_id=WS_A) as client:
        outcome = bd.delete_batch(client, theirs.id, missing_ok=True)
    assert (outcome.status, getattr(outcome, "workspace", None)) == ("missing", WS_A)
    assert [b["id"] for b in api.batches(WS_B)] == [theirs.id]


def test_a_calls_workspace_beats_the_clients(api: Emulator, open_client: OpenClient) -> None:
    # An organization-level token: each request names its workspace.
    provider = RecordingProvider(minting(api, workspace_id=None))
    client = open_client(credentials=provider, base_url=api.base_url, workspace_id=WS_A)
    in_a = api.add_batch("ended", workspace_id=WS_A)
    in_b = api.add_batch("ended", workspace_id=WS_B)
    with pytest.raises(bd.NotFoundError):
        client.retrieve(in_b.id)  # looked for in A
    assert client.retrieve(in_b.id, workspace_id=WS_B).id == in_b.id
    assert client.delete(in_b.id, workspace_id=WS_B).id == in_b.id
    assert client.delete(in_a.id).id == in_a.id
    assert [r.headers["anthropic-workspace-id"] for r in api_requests(api)] == [
        WS_A,
        WS_B,
        WS_B,
        WS_A,
    ]


def test_a_profiles_workspace_applies_only_where_the_user_set_none(
    api: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    open_client: OpenClient,
    client_kind: str,
) -> None:
    config = tmp_path / "config"
    api.write_profile(config, "dev", workspace_id=WS_A)  # an organization-level login
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(config))
    monkeypatch.setenv("ANTHROPIC_PROFILE", "dev")
    in_a = [api.add_batch("ended", workspace_id=WS_A) for _ in range(2)]
    in_b = [api.add_batch("ended", workspace_id=WS_B) for _ in range(4)]
    header = "anthropic-workspace-id"

    assert open_client().delete(in_a[0].id).id == in_a[0].id
    assert open_client(workspace_id=WS_B).delete(in_b[0].id).id == in_b[0].id
    assert open_client(default_headers={header: WS_B}).delete(in_b[1].id).id == in_b[1].id
    assert open_client().delete(in_b[2].id, workspace_id=WS_B).id == in_b[2].id
    ours = [r.headers[header] for r in api_requests(api)]
    assert ours == [WS_A, WS_B, WS_B, WS_B]
    if not with_sdk(client_kind):
        return

    sdk = sdk_client()
    custom = sdk_client(default_headers={header: WS_B})
    try:
        assert sdk.messages.batches.delete(in_a[1].id).id == in_a[1].id
        assert custom.messages.batches.delete(in_b[3].id).id == in_b[3].id
    finally:
        sdk.close()
        custom.close()
    assert [r.headers[header] for r in api_requests(api)[4:]] == [WS_A, WS_B]


# -- a profile's base URL ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["profile", "environment", "argument"])
def test_a_profiles_base_url_applies_only_where_the_user_set_none(
    api: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    open_client: OpenClient,
    client_kind: str,
    where: str,
) -> None:
    config = tmp_path / "config"
    api.write_profile(config, "dev")  # base_url: api's
    token = sorted(refresh_tokens(config, "dev") - {""})
    access = next(t for t in token if t.startswith("sk-ant-oat01-"))
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(config))
    monkeypatch.setenv("ANTHROPIC_PROFILE", "dev")
    with Emulator(frozen=True, auth_tokens=(access,)) as other:
        kwargs: dict[str, Any] = {}
        if where == "environment":
            monkeypatch.setenv("ANTHROPIC_BASE_URL", other.base_url)
        elif where == "argument":
            monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)  # the argument wins
            kwargs["base_url"] = other.base_url
        target = api if where == "profile" else other
        batches = [target.add_batch("ended") for _ in range(2)]
        client = open_client(**kwargs)
        assert client.base_url == target.base_url
        assert client.delete(batches[0].id).id == batches[0].id
        if with_sdk(client_kind):
            sdk = sdk_client(**kwargs)
            try:
                assert sdk.messages.batches.delete(batches[1].id).id == batches[1].id
            finally:
                sdk.close()
        assert [r.status for r in api_requests(target)] == [200] * (1 + with_sdk(client_kind))
        assert api_requests(api if target is other else other) == []
        assert all(credential_kind(r, KEYS) == "oauth" for r in api_requests(target))


# -- secrets ------------------------------------------------------------------------------


class Recorder:
    """Every argument of every observation hook."""

    def __init__(self) -> None:
        self.seen: list[object] = []
        self.request_headers: list[dict[str, str]] = []

    @bd.hookimpl
    def on_request(
        self, method: str, url: str, headers: dict[str, str], attempt: int, transport: str
    ) -> None:
        self.request_headers.append(dict(headers))
        self.seen += [method, url, dict(headers), attempt, transport]

    @bd.hookimpl
    def on_response(self, url: str, headers: object, request_id: object) -> None:
        self.seen += [url, headers, request_id]

    @bd.hookimpl
    def on_error(self, error: BaseException) -> None:
        self.seen += [str(error), repr(error), repr(vars(error))]

    @bd.hookimpl
    def on_retry(self, error: BaseException, wait: float) -> None:
        self.seen += [str(error), repr(error), wait]


class Secrets:
    """One credential kind, set up: the client's arguments, the secrets it
    involves (grown as tokens are issued), and how to make its provider's
    next exchange fail (None: it has none)."""

    def __init__(self, kwargs: dict[str, Any], secrets: Callable[[], set[str]]) -> None:
        self.kwargs = kwargs
        self.secrets = secrets
        self.break_exchange: Callable[[], None] | None = None


SECRET_KINDS = ["key", "static-token", "provider", "federation", "profile"]


def refuse_exchanges(api: Emulator) -> None:
    """The token endpoint answers the next two exchanges with a 400."""
    api.inject(Fault(status=400, route="token", times=2))


def secrets_for(kind: str, api: Emulator, tmp_path: Path, mp: pytest.MonkeyPatch) -> Secrets:
    seen: set[str] = set()
    if kind == "key":
        api.add_api_key(LONG_KEY)
        mp.setenv("ANTHROPIC_API_KEY", LONG_KEY)
        mp.setenv("ANTHROPIC_BASE_URL", api.base_url)
        return Secrets({}, lambda: {LONG_KEY})
    if kind == "static-token":
        return Secrets(
            {"auth_token": STATIC_TOKEN, "base_url": api.base_url}, lambda: {STATIC_TOKEN}
        )
    if kind == "provider":
        broken = threading.Event()
        minted = minting(api)

        def mint(force: bool) -> str:
            if broken.is_set():
                last = sorted(provider.tokens)[-1]
                raise RuntimeError(f"the token server refused {last}; retry with {last}")
            return minted(force)

        provider = RecordingProvider(mint)
        secrets = Secrets(
            {"credentials": provider, "base_url": api.base_url}, lambda: set(provider.tokens)
        )
        secrets.break_exchange = broken.set
        return secrets
    if kind == "federation":
        identity = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl-SECRET-identity"
        rule = api.add_federation_rule(identity, workspace_id="default")
        for name, value in api.federation_env(rule).items():
            mp.setenv(name, value)
        secrets = Secrets({}, lambda: {identity})
        secrets.break_exchange = lambda: refuse_exchanges(api)
        return secrets
    config = tmp_path / "config"
    api.write_profile(config, "dev")
    mp.setenv("ANTHROPIC_CONFIG_DIR", str(config))
    mp.setenv("ANTHROPIC_PROFILE", "dev")

    def profile_secrets() -> set[str]:
        seen.update(refresh_tokens(config, "dev"))
        return set(seen)

    profile_secrets()
    secrets = Secrets({}, profile_secrets)
    secrets.break_exchange = lambda: refuse_exchanges(api)
    return secrets


@pytest.mark.parametrize("kind", SECRET_KINDS)
def test_no_secret_ever_shows(
    api: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    open_client: OpenClient,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    setup = secrets_for(kind, api, tmp_path, monkeypatch)
    recorder = Recorder()
    bd.register_plugin(recorder, name="credential-recorder")
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    errors: list[BaseException] = []
    try:
        client = open_client(max_retries=1, **setup.kwargs)
        shown += [repr(client), str(client), repr(client._credential), client.credential_source]
        tokens = client._credential.tokens
        shown += [repr(tokens)]
        setup.secrets()
        # A delete.
        assert client.delete(api.add_batch("ended").id).type == "message_batch_deleted"
        # A 401: a provider's token is replaced once; a static one is not retried.
        api.inject(Fault(status=401, route="delete"))
        batch = api.add_batch("ended")
        if tokens is None:
            with pytest.raises(bd.AuthenticationError) as info:
                client.delete(batch.id)
            errors.append(info.value)
        else:
            assert client.delete(batch.id).id == batch.id
            # Refused twice: an AuthenticationError.
            api.inject(Fault(status=401, route="delete", times=2))
            with pytest.raises(bd.AuthenticationError) as info:
                client.delete(api.add_batch("ended").id)
            errors.append(info.value)
        setup.secrets()
        # A failing exchange (or provider).
        if setup.break_exchange is not None:
            assert tokens is not None
            setup.break_exchange()
            tokens.invalidate()
            with pytest.raises(bd.CredentialsError) as failing:
                client.delete(api.add_batch("ended").id)
            errors.append(failing.value)
            assert failing.value.__cause__ is None
    finally:
        bd.unregister_plugin(recorder)
    for error in errors:
        shown += [str(error), repr(error), repr(error.args), repr(vars(error))]
    shown.append(repr(recorder.seen))
    shown += [record.getMessage() for record in caplog.records]
    shown += [repr(record.__dict__) for record in caplog.records]
    secrets = setup.secrets() | bearer_tokens(api)
    assert len(secrets) >= 1 and len(recorder.request_headers) >= 2
    for text in shown:
        for secret in secrets:
            assert secret not in text, (kind, secret[:12])
    for headers in recorder.request_headers:
        credential = [k for k in headers if k in ("authorization", "x-api-key")]
        assert credential and all(headers[k] == "[redacted]" for k in credential)


# -- the provider's lifecycle --------------------------------------------------------------


async def async_mint(*, force_refresh: bool = False) -> AccessToken:
    return AccessToken("never-used", None)


@pytest.mark.parametrize("provider", ["function", "object"])
def test_client_refuses_an_async_provider(api: Emulator, provider: str) -> None:
    given: object = async_mint if provider == "function" else AsyncRecordingProvider(minting(api))
    with pytest.raises(bd.ConfigurationError, match="AsyncClient"):
        bd.Client(credentials=given, base_url=api.base_url, transport="urllib3")
    assert api.requests == []


def test_closing_a_chain_client_closes_its_profile_provider(
    api: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_client: OpenClient
) -> None:
    config = tmp_path / "config"
    api.write_profile(config, "dev")
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(config))
    monkeypatch.setenv("ANTHROPIC_PROFILE", "dev")
    client = open_client()
    api.clock.advance(600)  # the profile's token expires here: a refresh grant follows
    assert client.with_raw_response.delete(api.add_batch("ended").id).retries_taken == 1
    assert api.token_exchanges == 1
    tokens = client._credential.tokens
    assert tokens is not None
    provider = tokens.provider
    assert isinstance(provider, CredentialsFile)
    assert provider._owned_http_client is not None
    client.close()
    assert provider._owned_http_client is None


def test_closing_a_chain_client_closes_its_federation_provider(
    api: Emulator, monkeypatch: pytest.MonkeyPatch, open_client: OpenClient
) -> None:
    federate(api, monkeypatch, "default")
    parent = open_client()
    copy = with_options(parent, max_retries=0)  # shares the token cache
    assert copy._credential is parent._credential
    assert parent.delete(api.add_batch("ended").id).type == "message_batch_deleted"
    assert copy.delete(api.add_batch("ended").id).type == "message_batch_deleted"
    assert api.token_exchanges == 1  # one token for parent and copy
    tokens = parent._credential.tokens
    assert tokens is not None
    provider = tokens.provider
    assert isinstance(provider, WorkloadIdentityCredentials)
    copy.close()  # a copy's close leaves the provider to the parent
    assert not provider._http_client.is_closed
    parent.close()
    assert provider._http_client.is_closed


def test_a_users_own_provider_is_not_closed(api: Emulator, open_client: OpenClient) -> None:
    mine = RecordingProvider(minting(api))
    rule = api.add_federation_rule(workspace_id="default")
    sdk_provider = WorkloadIdentityCredentials(
        identity_token_provider=lambda: rule.identity_token,
        federation_rule_id=rule.rule_id,
        organization_id=rule.organization_id,
    )
    try:
        for provider in (mine, sdk_provider):
            client = open_client(credentials=provider, base_url=api.base_url)
            assert client.delete(api.add_batch("ended").id).type == "message_batch_deleted"
            client.close()
        assert mine.closed == 0
        assert not sdk_provider._http_client.is_closed
        assert api.token_exchanges == 1  # the SDK provider, bound to the client's base URL
    finally:
        sdk_provider.close()


def test_a_copy_with_another_base_url_exchanges_there(
    api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = api.add_federation_rule(
        "eyJ.one-identity", rule_id="fdrl_shared", workspace_id="default"
    )
    for name, value in api.federation_env(rule).items():
        monkeypatch.setenv(name, value)
    with Emulator(frozen=True) as other:
        other.add_federation_rule("eyJ.one-identity", rule_id="fdrl_shared", workspace_id="default")
        with bd.Client(transport="urllib3") as client:
            assert client.delete(api.add_batch("ended").id).type == "message_batch_deleted"
            copy = client.with_options(base_url=other.base_url)
            assert copy.base_url == other.base_url
            sent_before = {r.headers.get("authorization") for r in api_requests(api)}
            try:
                batch = other.add_batch("ended")
                assert copy.delete(batch.id).id == batch.id
            finally:
                # Never a token of one deployment sent to another.
                sent = {r.headers.get("authorization") for r in api_requests(other)}
                assert not sent & sent_before
            assert other.token_exchanges == 1 and api.token_exchanges == 1
