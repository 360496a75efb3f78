"""The emulator's refusals of bad settings and bad requests, and the service
account of a federation rule (issue 12: the branches the suite left untested).
Only 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from batchdelete.emulator import Emulator, Fault

IDENTITY = "eyJ.identity-token-for-a-service-account.SECRET"


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(frozen=True, cancel_time=0.0) as emulator:
        yield emulator


def raw(api: Emulator, method: str, path: str, body: bytes | None = None, **headers: Any) -> Any:
    """One request as written; its status and JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def auth(api: Emulator) -> dict[str, str]:
    return {"x_api_key": api.api_key, "anthropic_version": "2023-06-01"}


# -- settings refused before anything listens -------------------------------------------


def test_a_fault_for_no_request_is_refused() -> None:
    with pytest.raises(ValueError, match="times must be 1 or more"):
        Fault(status=500, times=0)


@pytest.mark.parametrize("organization_id", ["", None])
def test_an_empty_organization_is_refused(organization_id: Any) -> None:
    with pytest.raises(ValueError, match="organization_id must be a non-empty string"):
        Emulator(organization_id=organization_id)


@pytest.mark.parametrize("burst", [0, True, 1.5])
def test_a_burst_that_is_not_a_whole_number_is_refused(burst: Any) -> None:
    with pytest.raises(ValueError, match="burst must be a whole number of 1 or more"):
        Emulator(requests_per_minute=60, burst=burst)


def test_the_clock_never_moves_back(api: Emulator) -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        api.clock.advance(-1)


def test_a_batch_in_an_unknown_state_is_refused(api: Emulator) -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        api.add_batch("deleted")
    assert api.batches() == []


def test_an_empty_api_key_is_refused(api: Emulator) -> None:
    with pytest.raises(ValueError, match="An API key is a non-empty string"):
        api.add_api_key("")


def test_a_federation_rule_needs_an_identity_token_and_a_workspace(api: Emulator) -> None:
    with pytest.raises(ValueError, match="one or more non-empty identity tokens"):
        api.add_federation_rule([])
    with pytest.raises(ValueError, match="one or more non-empty identity tokens"):
        api.add_federation_rule(["ok", ""])
    with pytest.raises(ValueError, match="name one or more workspaces"):
        api.add_federation_rule(IDENTITY, workspace_id=[])


def test_a_refresh_token_needs_a_client_id(api: Emulator) -> None:
    with pytest.raises(ValueError, match="client_id must be a non-empty string"):
        api.issue_refresh_token("")


# -- requests the emulator answers with an error ---------------------------------------------


def test_an_id_that_is_not_utf8_is_not_found(api: Emulator) -> None:
    status, body = raw(api, "GET", "/v1/messages/batches/msgbatch_%FF", None, **auth(api))
    assert status == 404
    assert body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("length", ["twelve", "-1", str(256 * 1024 * 1024 + 1)])
def test_a_bad_content_length_is_a_400_and_the_connection_is_closed(
    api: Emulator, length: str
) -> None:
    head = (
        "POST /v1/messages/batches HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        f"x-api-key: {api.api_key}\r\nanthropic-version: 2023-06-01\r\n"
        f"content-length: {length}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        sock.sendall(head.encode())
        received = b""
        for _ in range(1000):  # until the server closes the connection
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        else:
            pytest.fail("the connection stayed open")
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 400 Bad Request"
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"] == {"type": "invalid_request_error", "message": "Invalid Content-Length."}
    assert api.batches() == []  # nothing was created


def test_a_create_body_that_is_not_json_is_a_400(api: Emulator) -> None:
    before = len(api.requests)
    status, body = raw(
        api,
        "POST",
        "/v1/messages/batches",
        b"{not json",
        content_type="application/json",
        content_length="9",
        **auth(api),
    )
    assert status == 400
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "The body is not valid JSON.",
    }
    assert [r.status for r in api.requests[before:]] == [400]


# -- a federation rule for a service account ------------------------------------------------


def test_the_service_account_goes_into_the_environment_and_the_profile(
    api: Emulator, tmp_path: Path
) -> None:
    rule = api.add_federation_rule(IDENTITY, service_account_id="svac_ci")
    env = api.federation_env(rule)
    assert env["ANTHROPIC_SERVICE_ACCOUNT_ID"] == "svac_ci"
    config = json.loads(api.write_profile(tmp_path, "ci", federation_rule=rule).read_text())
    assert config["authentication"]["service_account_id"] == "svac_ci"
    assert config["authentication"]["federation_rule_id"] == rule.rule_id
    plain = api.add_federation_rule(IDENTITY + "-2")
    assert "ANTHROPIC_SERVICE_ACCOUNT_ID" not in api.federation_env(plain)


def test_the_sdk_federates_as_the_service_account(
    api: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("ANTHROPIC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    rule = api.add_federation_rule(IDENTITY, workspace_id="default", service_account_id="svac_ci")
    batch = api.add_batch("ended")
    for name, value in api.federation_env(rule).items():
        monkeypatch.setenv(name, value)
    sdk = anthropic.Anthropic(max_retries=0)
    try:
        assert sdk.messages.batches.delete(batch.id).id == batch.id
    finally:
        sdk.close()
    assert [(r.route, r.status) for r in api.requests] == [("token", 200), ("delete", 200)]
    assert api.batch(batch.id) is None
