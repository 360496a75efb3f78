"""The emulator's token endpoint and workspaces, driven by the official SDK's
own credentials library (`anthropic.lib.credentials`) and by `anthropic.Anthropic()`
reading the same environment a CI job or a laptop would have. Only 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.lib.credentials import (
    CredentialsFile,
    TokenCache,
    WorkloadIdentityCredentials,
    WorkloadIdentityError,
)

from batchdelete.emulator import DEFAULT_WORKSPACE_ID, Emulator, FederationRule

OAUTH = "oauth-2025-04-20"
FEDERATION = "oidc-federation-2026-04-01"
JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
WS_A, WS_B = "wrkspc_A1", "wrkspc_B2"
IDENTITY = "eyJ.identity-token-from-the-ci.SECRET"


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing of the machine's: no ANTHROPIC_* variable, no ~/.config/anthropic."""
    for name in list(os.environ):
        if name.startswith("ANTHROPIC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(frozen=True, cancel_time=0.0, token_lifetime=600) as emulator:
        yield emulator


def raw(
    api: Emulator, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, str], Any]:
    """One request as written, its status, headers (lower-case) and JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        conn.request(
            method, path, body=data, headers={k.replace("_", "-"): v for k, v in headers.items()}
        )
        resp = conn.getresponse()
        text = resp.read()
        return (
            resp.status,
            {k.lower(): v for k, v in resp.getheaders()},
            json.loads(text or b"null"),
        )
    finally:
        conn.close()


def exchange(api: Emulator, rule: FederationRule, **fields: str) -> tuple[int, Any]:
    body = {
        "grant_type": JWT,
        "assertion": rule.identity_token,
        "federation_rule_id": rule.rule_id,
        "organization_id": rule.organization_id,
        **fields,
    }
    status, _, answer = raw(
        api, "POST", "/v1/oauth/token", body, anthropic_beta=f"{OAUTH},{FEDERATION}"
    )
    return status, answer


def bearer(token: str, *, beta: bool = True) -> dict[str, str]:
    headers = {"authorization": f"Bearer {token}", "anthropic_version": "2023-06-01"}
    if beta:
        headers["anthropic_beta"] = OAUTH
    return headers


def provider(api: Emulator, rule: FederationRule, **kwargs: Any) -> WorkloadIdentityCredentials:
    """The SDK's own jwt-bearer provider, exchanging at the emulator."""
    kwargs.setdefault("identity_token_provider", lambda: rule.identity_token)
    creds = WorkloadIdentityCredentials(
        federation_rule_id=kwargs.pop("federation_rule_id", rule.rule_id),
        organization_id=kwargs.pop("organization_id", rule.organization_id),
        **kwargs,
    )
    creds.bind_base_url(api.base_url)
    return creds


def sdk_from_env(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], **kwargs: Any
) -> anthropic.Anthropic:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    kwargs.setdefault("max_retries", 1)  # the SDK's retry after a 401 is one of its retries
    return anthropic.Anthropic(**kwargs)


# -- the token endpoint, through the SDK's providers ---------------------------------


def test_jwt_bearer_exchange_with_the_sdks_provider(api: Emulator) -> None:
    rule = api.add_federation_rule(IDENTITY, workspace_id=WS_A, lifetime=300)
    creds = provider(api, rule)
    before = int(time.time())
    token = creds()  # one exchange, as the SDK sends it
    assert before + 300 <= token.expires_at <= int(time.time()) + 300  # type: ignore[operator]
    with provider(api, rule) as cached:
        assert TokenCache(cached).get_token().startswith("sk-ant-oat01-")
    assert api.token_exchanges == 2
    sent = [r for r in api.requests if r.route == "token"]
    assert [r.status for r in sent] == [200, 200]
    assert sent[0].method == "POST" and sent[0].target == "/v1/oauth/token"
    assert sent[0].headers["anthropic-beta"] == f"{OAUTH},{FEDERATION}"
    assert "anthropic-version" not in sent[0].headers and "x-api-key" not in sent[0].headers
    batch = api.add_batch("ended", workspace_id=WS_A)
    status, headers, body = raw(
        api, "GET", f"/v1/messages/batches/{batch.id}", **bearer(token.token)
    )
    assert (status, body["id"], headers["anthropic-workspace-id"]) == (200, batch.id, WS_A)
    creds.close()


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"identity_token_provider": lambda: "eyJ.another.token"}, 401, "invalid_grant"),
        ({"federation_rule_id": "fdrl_unknown"}, 401, "invalid_grant"),
        ({"organization_id": "11111111-2222-4333-8444-555555555555"}, 401, "invalid_grant"),
        ({"workspace_id": WS_B}, 401, "invalid_grant"),  # the rule is not enabled for it
        ({"service_account_id": "svac_other"}, 401, "invalid_grant"),
        ({"workspace_id": "team-b"}, 400, "invalid_request"),
    ],
    ids=["identity-token", "rule", "organization", "workspace", "service-account", "malformed"],
)
def test_exchange_errors_are_what_the_sdk_reads(
    api: Emulator, change: dict[str, Any], status: int, error: str
) -> None:
    rule = api.add_federation_rule(IDENTITY, workspace_id=WS_A, service_account_id="svac_ci")
    creds = provider(api, rule, **change)
    with pytest.raises(WorkloadIdentityError) as info:
        creds()
    assert info.value.status_code == status
    assert info.value.body["error"] == error and info.value.body["error_description"]
    assert info.value.request_id is not None and info.value.request_id.startswith("req_")
    assert IDENTITY not in str(info.value) and "another.token" not in str(info.value)
    assert api.token_exchanges == 0
    creds.close()


def test_a_rule_for_several_workspaces_needs_one_named(api: Emulator) -> None:
    rule = api.add_federation_rule(("eyJ.old", "eyJ.rotated"), workspace_id=[WS_A, WS_B])
    assert exchange(api, rule)[0] == 401  # none named: which one?
    status, answer = exchange(api, rule, workspace_id=WS_B, assertion="eyJ.rotated")
    assert status == 200 and answer["token_type"] == "Bearer" and answer["expires_in"] == 600
    assert "refresh_token" not in answer
    mine = api.add_batch("ended", workspace_id=WS_B)
    theirs = api.add_batch("ended", workspace_id=WS_A)
    token = answer["access_token"]
    assert raw(api, "GET", f"/v1/messages/batches/{mine.id}", **bearer(token))[0] == 200
    assert raw(api, "GET", f"/v1/messages/batches/{theirs.id}", **bearer(token))[0] == 404


@pytest.mark.parametrize(
    ("body", "beta", "error"),
    [
        (b"grant_type=refresh_token", f"{OAUTH},{FEDERATION}", "invalid_request"),  # not JSON
        ({"grant_type": "client_credentials"}, OAUTH, "unsupported_grant_type"),
        ({"grant_type": JWT, "assertion": "x"}, f"{OAUTH},{FEDERATION}", "invalid_request"),
        ({"grant_type": JWT, "assertion": "x"}, OAUTH, "invalid_request"),  # no federation beta
        (
            {"grant_type": "refresh_token", "refresh_token": "x", "client_id": "c"},
            "",
            "invalid_request",
        ),
    ],
    ids=["not-json", "grant-type", "fields", "federation-beta", "oauth-beta"],
)
def test_malformed_token_requests_are_400(api: Emulator, body: Any, beta: str, error: str) -> None:
    status, headers, answer = raw(api, "POST", "/v1/oauth/token", body, anthropic_beta=beta)
    assert status == 400 and answer["error"] == error
    assert headers["cache-control"] == "no-store" and headers["request-id"].startswith("req_")
    assert [r.route for r in api.requests] == ["token"] and api.token_exchanges == 0


def test_faults_reach_the_token_endpoint(api: Emulator) -> None:
    rule = api.add_federation_rule(IDENTITY)
    api.inject(status=503, route="token")
    creds = provider(api, rule)
    with pytest.raises(WorkloadIdentityError) as info:
        creds()
    assert info.value.status_code == 503
    assert creds().token.startswith("sk-ant-oat01-")  # the fault was for one request
    creds.close()


# -- bearer tokens ---------------------------------------------------------------------


def test_tokens_need_the_oauth_beta_and_expire_on_the_emulators_clock(api: Emulator) -> None:
    batch = api.add_batch("ended")
    token = api.issue_token(workspace_id="default", lifetime=60)
    path = f"/v1/messages/batches/{batch.id}"
    status, _, body = raw(api, "GET", path, **bearer(token, beta=False))
    assert (status, body["error"]["message"]) == (
        401,
        "OAuth authentication is currently not supported.",
    )
    assert raw(api, "GET", path, **bearer(token))[0] == 200
    api.clock.advance(59)
    assert raw(api, "GET", path, **bearer(token))[0] == 200
    api.clock.advance(1)
    status, _, body = raw(api, "GET", path, **bearer(token))
    assert status == 401 and body["error"]["type"] == "authentication_error"
    assert body["error"]["message"].startswith("OAuth token has expired.")
    status, _, body = raw(api, "GET", path, **bearer("sk-ant-oat01-made-up"))
    assert (status, body["error"]["message"]) == (401, "Invalid bearer token.")
    assert raw(api, "GET", path, **bearer(api.api_key, beta=False))[0] == 200  # a key as bearer


def test_token_buckets_are_the_grants(api: Emulator) -> None:
    api.set_rate_limit(2)
    rule = api.add_federation_rule(IDENTITY, workspace_id="default")
    first, second = (exchange(api, rule)[1]["access_token"] for _ in range(2))
    assert raw(api, "GET", "/v1/messages/batches", **bearer(first))[0] == 200
    assert raw(api, "GET", "/v1/messages/batches", **bearer(second))[0] == 200
    assert raw(api, "GET", "/v1/messages/batches", **bearer(second))[0] == 429  # one bucket


# -- anthropic.Anthropic() with the environment of a federated CI job -------------------


def test_the_sdk_federates_from_the_environment(
    api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = api.add_federation_rule(IDENTITY, workspace_id=WS_A)
    mine = [api.add_batch("ended", workspace_id=WS_A) for _ in range(3)]
    api.add_batch("ended")  # the default workspace's
    sdk = sdk_from_env(monkeypatch, api.federation_env(rule))
    assert str(sdk.base_url).rstrip("/") == api.base_url
    assert sdk.messages.batches.retrieve(mine[0].id).id == mine[0].id
    beta = sdk.beta.messages.batches.retrieve(mine[1].id, betas=["message-batches-2024-09-24"])
    assert beta.id == mine[1].id
    assert {b.id for b in sdk.messages.batches.list()} == {b.id for b in mine}
    assert sdk.messages.batches.delete(mine[0].id).type == "message_batch_deleted"
    assert api.token_exchanges == 1  # one token for all of them
    sent = [r for r in api.requests if r.route != "token"]
    assert all(r.headers["authorization"].startswith("Bearer sk-ant-oat01-") for r in sent)
    assert all(OAUTH in r.headers["anthropic-beta"].split(",") for r in sent)
    assert sent[1].headers["anthropic-beta"] == f"message-batches-2024-09-24,{OAUTH}"

    api.clock.advance(600)  # the token expires; the SDK's clock does not know
    assert sdk.messages.batches.delete(mine[1].id).id == mine[1].id
    assert [(r.route, r.status) for r in api.requests[-3:]] == [
        ("delete", 401),
        ("token", 200),
        ("delete", 200),
    ]
    assert api.token_exchanges == 2
    sdk.close()


def test_without_a_retry_the_sdk_keeps_its_expired_token(
    api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK (2.14) empties its token cache only where it may retry the 401
    # (`_should_retry` runs only with a retry left): with max_retries=0 the
    # 401 surfaces, and so does the next one.
    rule = api.add_federation_rule(IDENTITY, workspace_id="default")
    batch = api.add_batch("ended")
    sdk = sdk_from_env(monkeypatch, api.federation_env(rule), max_retries=0)
    assert sdk.messages.batches.retrieve(batch.id).id == batch.id
    api.clock.advance(600)
    for _ in range(2):
        with pytest.raises(anthropic.AuthenticationError):
            sdk.messages.batches.retrieve(batch.id)
    assert api.token_exchanges == 1
    sdk.close()


def test_a_lifetime_inside_the_sdks_refresh_window_exchanges_every_time(
    api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TokenCache refreshes a token with under 30 s left before using it.
    rule = api.add_federation_rule(IDENTITY, workspace_id="default", lifetime=2)
    batch = api.add_batch("ended")
    sdk = sdk_from_env(monkeypatch, api.federation_env(rule), max_retries=0)
    for _ in range(3):
        assert sdk.messages.batches.retrieve(batch.id).id == batch.id
    assert api.token_exchanges == 3
    assert all(r.status == 200 for r in api.requests)
    sdk.close()


# -- workspaces --------------------------------------------------------------------------


def test_a_workspace_token_sees_only_its_workspace(
    api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = api.add_federation_rule(IDENTITY)  # the whole organization: the exchange names one
    in_a = api.add_batch("ended", workspace_id=WS_A)
    in_b = api.add_batch("ended", workspace_id=WS_B)
    env = api.federation_env(rule, workspace_id=WS_A)  # ANTHROPIC_WORKSPACE_ID
    sdk = sdk_from_env(monkeypatch, env, max_retries=0)
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.batches.retrieve(in_b.id)
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.batches.delete(in_b.id)
    assert api.batch(in_b.id) is not None  # not deleted through A
    assert [b.id for b in sdk.messages.batches.list()] == [in_a.id]
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        sdk.messages.batches.retrieve(in_b.id, workspace_id=WS_B)
    assert info.value.status_code == 403 and WS_A in info.value.message
    assert sdk.messages.batches.retrieve(in_a.id, workspace_id=WS_A).id == in_a.id
    created = sdk.messages.batches.create(
        requests=[{"custom_id": "a", "params": {"model": "m", "max_tokens": 1, "messages": []}}]
    )
    assert [b["id"] for b in api.batches(WS_A)] == [in_a.id, created.id]
    sdk.close()


def test_an_organization_token_must_name_a_workspace(
    api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = api.add_federation_rule(IDENTITY)
    in_a = api.add_batch("ended", workspace_id=WS_A)
    in_b = api.add_batch("ended", workspace_id=WS_B)
    sdk = sdk_from_env(monkeypatch, api.federation_env(rule), max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as info:
        sdk.messages.batches.list()
    assert "anthropic-workspace-id" in info.value.message
    assert info.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert [b.id for b in sdk.messages.batches.list(workspace_id=WS_B)] == [in_b.id]
    assert sdk.messages.batches.retrieve(in_a.id, workspace_id=WS_A).id == in_a.id
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.batches.retrieve(in_a.id, workspace_id=WS_B)
    with pytest.raises(anthropic.BadRequestError) as info:
        sdk.messages.batches.retrieve(in_a.id, workspace_id="workspace A")
    assert "must be a valid workspace ID" in info.value.message
    status, answer = exchange(api, rule, workspace_id="default")  # "default": the default one
    assert status == 200
    assert raw(api, "GET", "/v1/messages/batches", **bearer(answer["access_token"]))[0] == 200
    sdk.close()


def test_an_api_key_belongs_to_one_workspace(api: Emulator) -> None:
    home = api.add_batch("ended")
    other = api.add_batch("ended", workspace_id=WS_B)
    key_b = api.add_api_key("sk-ant-api03-workspace-b", workspace_id=WS_B)
    sdk = anthropic.Anthropic(api_key=api.api_key, base_url=api.base_url, max_retries=0)
    assert [b.id for b in sdk.messages.batches.list()] == [home.id]  # no header needed
    assert sdk.messages.batches.retrieve(home.id, workspace_id=DEFAULT_WORKSPACE_ID).id == home.id
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        sdk.messages.batches.retrieve(other.id, workspace_id=WS_B)
    assert info.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.batches.delete(other.id)
    with pytest.raises(anthropic.BadRequestError):
        sdk.messages.batches.list(workspace_id="")
    b = anthropic.Anthropic(api_key=key_b, base_url=api.base_url, max_retries=0)
    assert [x.id for x in b.messages.batches.list()] == [other.id]
    response = b.messages.batches.with_raw_response.retrieve(other.id)
    assert response.headers["anthropic-workspace-id"] == WS_B
    sdk.close()
    b.close()


# -- profiles: the refresh grant and the active profile -----------------------------------


def test_the_sdk_refreshes_a_login_profile(
    api: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    batch = api.add_batch("ended")
    config = api.write_profile(tmp_path, "dev")
    credentials = tmp_path / "credentials" / "dev.json"
    assert stat.S_IMODE(config.stat().st_mode) & 0o022 == 0
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    first = json.loads(credentials.read_text())
    env = {"ANTHROPIC_CONFIG_DIR": str(tmp_path), "ANTHROPIC_PROFILE": "dev"}
    sdk = sdk_from_env(monkeypatch, env)
    assert str(sdk.base_url).rstrip("/") == api.base_url  # the profile's base_url
    assert sdk.messages.batches.retrieve(batch.id).id == batch.id
    assert api.token_exchanges == 0  # the profile's own access token
    assert api.requests[-1].headers["anthropic-workspace-id"] == DEFAULT_WORKSPACE_ID

    api.clock.advance(600)  # expired: 401, then the SDK's refresh grant
    assert sdk.messages.batches.retrieve(batch.id).id == batch.id
    assert [r.route for r in api.requests[-3:]] == ["retrieve", "token", "retrieve"]
    assert api.token_exchanges == 1
    second = json.loads(credentials.read_text())  # written back, rotated
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    used = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": "batchdelete-emulator",
    }
    status, _, answer = raw(api, "POST", "/v1/oauth/token", used, anthropic_beta=OAUTH)
    assert (status, answer["error"]) == (400, "invalid_grant")
    sdk.close()


def test_refresh_grant_rules(
    api: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kept = api.issue_refresh_token("cli", workspace_id=WS_A, lifetime=30, rotate=False)
    grant = {"grant_type": "refresh_token", "refresh_token": kept, "client_id": "cli"}
    for _ in range(2):
        status, _, answer = raw(api, "POST", "/v1/oauth/token", grant, anthropic_beta=OAUTH)
        assert status == 200 and answer["expires_in"] == 30 and "refresh_token" not in answer
    status, _, answer = raw(
        api, "POST", "/v1/oauth/token", {**grant, "client_id": "other"}, anthropic_beta=OAUTH
    )
    assert (status, answer["error"]) == (400, "invalid_grant")
    # The SDK's CredentialsFile raises what the endpoint said.
    api.write_profile(tmp_path, "broken")
    creds_path = tmp_path / "credentials" / "broken.json"
    stale = {
        **json.loads(creds_path.read_text()),
        "expires_at": 0,
        "refresh_token": "sk-ant-ort01-unknown",
    }
    creds_path.write_text(json.dumps(stale))
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))
    creds = CredentialsFile("broken")
    with pytest.raises(WorkloadIdentityError) as info:
        creds()
    assert info.value.status_code == 400 and info.value.body["error"] == "invalid_grant"
    creds.close()


def test_the_sdk_uses_an_active_federation_profile(
    api: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rule = api.add_federation_rule(workspace_id=WS_B)
    batch = api.add_batch("ended", workspace_id=WS_B)
    api.write_profile(tmp_path, "ci", federation_rule=rule, workspace_id=None, active=True)
    sdk = sdk_from_env(monkeypatch, {"ANTHROPIC_CONFIG_DIR": str(tmp_path)})
    assert [b.id for b in sdk.messages.batches.list()] == [batch.id]
    assert api.token_exchanges == 1
    assert json.loads((tmp_path / "credentials" / "ci.json").read_text())["access_token"]
    sdk.close()


def test_emulator_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="wrkspc_"):
        Emulator(workspace_id="default-workspace")
    with pytest.raises(ValueError, match="token_lifetime"):
        Emulator(token_lifetime=0)
    with Emulator() as api:
        with pytest.raises(ValueError, match="wrkspc_"):
            api.add_batch(workspace_id="B")
        with pytest.raises(ValueError, match="lifetime"):
            api.add_federation_rule(lifetime=-1)
        with pytest.raises(ValueError, match="profile"):
            api.write_profile("/nonexistent-unused", "../escape")
        rule = api.add_federation_rule("eyJ.secret-identity")
        assert "secret-identity" not in repr(rule) and rule.rule_id.startswith("fdrl_")
        assert api.add_batch(workspace_id="default").workspace_id == DEFAULT_WORKSPACE_ID
