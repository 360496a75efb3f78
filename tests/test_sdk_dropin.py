"""What code written for the official SDK touches on a client: the
constructor's default_headers, default_query and http_client, copies by
with_options() / copy() sharing the connections, and per-call extra_headers,
extra_query and timeout; raw responses of every operation. Against the
script server (what goes on the wire) and the emulator, on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import batchdelete as bd
from batchdelete.emulator import Emulator
from tests.conftest import API_KEY
from tests.scriptserver import ScriptServer


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(cancel_time=0.0) as emulator:
        yield emulator


def query_of(target: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(target).query)


# -- default_headers, extra_headers ---------------------------------------------------------


def test_default_headers_go_on_every_request_and_none_removes_one(
    server: ScriptServer, transport_name: str
) -> None:
    with bd.Client(
        api_key=API_KEY,
        base_url=server.url,
        transport=transport_name,
        default_headers={
            "X-Team": "data",
            "accept-encoding": None,
            "anthropic-version": "2099-01-01",
        },
    ) as client:
        client.delete("msgbatch_1")
        client.delete("msgbatch_2", extra_headers={"x-team": None, "x-call": "2"})
    first, second = server.requests
    assert first.header("x-team") == "data"
    # Ours removed; http.client (under urllib3 and requests) says "identity" then.
    assert first.header("accept-encoding") in (None, "identity")
    assert first.header("anthropic-version") == "2099-01-01"
    assert second.header("x-team") is None and second.header("x-call") == "2"
    assert first.header("x-api-key") == API_KEY == second.header("x-api-key")


@pytest.mark.parametrize("name", ["x-api-key", "Authorization", "X-API-KEY"])
@pytest.mark.parametrize("value", ["sk-other", None])
def test_the_credential_headers_cannot_be_set_or_removed(
    server: ScriptServer, name: str, value: str | None
) -> None:
    with pytest.raises(bd.ConfigurationError, match="credentials come from api_key="):
        bd.Client(api_key=API_KEY, base_url=server.url, default_headers={name: value})
    with (
        bd.Client(api_key=API_KEY, base_url=server.url) as client,
        pytest.raises(bd.ConfigurationError, match="extra_headers may not"),
    ):
        client.delete("msgbatch_1", extra_headers={name: value})
    assert server.requests == []


def test_header_injection_through_default_headers_is_refused() -> None:
    with pytest.raises(bd.ConfigurationError):
        bd.Client(api_key=API_KEY, default_headers={"x-a": "1\r\nx-api-key: stolen"})
    with pytest.raises(bd.ConfigurationError):
        bd.Client(api_key=API_KEY, default_headers={"x-a\r\n": "1"})


# -- default_query, extra_query ---------------------------------------------------------------


def test_default_and_extra_query(server: ScriptServer) -> None:
    with bd.Client(
        api_key=API_KEY, base_url=server.url, default_query={"team": "data", "dry": False}
    ) as client:
        client.delete("msgbatch_1")
        client.delete("msgbatch_2", extra_query={"team": "ops", "n": 3, "a b": "c&d"})
    first, second = server.requests
    assert urlsplit(first.target).path == "/v1/messages/batches/msgbatch_1"
    assert query_of(first.target) == {"team": ["data"], "dry": ["false"]}
    assert query_of(second.target) == {
        "team": ["ops"],
        "dry": ["false"],
        "n": ["3"],
        "a b": ["c&d"],  # encoded: it cannot add a parameter
    }


def test_a_query_cannot_replace_the_lists_own_parameters(api: Emulator) -> None:
    with bd.Client(api_key=api.api_key, base_url=api.base_url) as client:
        with pytest.raises(bd.ConfigurationError, match="set by the call itself"):
            client.list_page(limit=5, extra_query={"limit": 1000})
        with pytest.raises(bd.ConfigurationError, match=r"must be a str, int, float or bool"):
            client.delete("msgbatch_1", extra_query={"x": [1, 2]})
    assert api.requests == []


def test_a_query_on_a_404_still_tells_the_list_route_from_a_batch(api: Emulator) -> None:
    client = bd.Client(api_key=api.api_key, base_url=api.base_url, default_query={"q": 1})
    with client, pytest.raises(bd.NotFoundError) as missing:
        client.delete("msgbatch_nothere")
    assert "batches route itself" not in str(missing.value)


# -- http_client -------------------------------------------------------------------------------


def test_http_client_is_a_users_session_used_as_is(server: ScriptServer) -> None:
    session = requests.Session()
    session.headers["x-from-session"] = "yes"
    client = bd.Client(api_key=API_KEY, base_url=server.url, http_client=session)
    assert client.transport.name == "requests"
    client.delete("msgbatch_1")
    client.close()
    assert server.requests[0].header("x-from-session") == "yes"
    session.get(server.url + "/still-open")  # not closed by the client
    session.close()


def test_http_client_and_transport_together_are_refused() -> None:
    with pytest.raises(bd.ConfigurationError, match="either http_client= or transport="):
        bd.Client(api_key=API_KEY, http_client=requests.Session(), transport="requests")
    with pytest.raises(bd.ConfigurationError, match="takes a client object"):
        bd.Client(api_key=API_KEY, http_client="requests")


# -- with_options / copy -----------------------------------------------------------------------


def test_a_copy_shares_the_connections_and_closing_it_keeps_them(
    server: ScriptServer, transport_name: str
) -> None:
    parent = bd.Client(api_key=API_KEY, base_url=server.url, transport=transport_name)
    child = parent.with_options(max_retries=0, timeout=7.0)
    assert child.transport is parent.transport
    for i in range(3):
        parent.delete(f"msgbatch_p{i}")
        child.delete(f"msgbatch_c{i}")
    assert server.connections == 1  # one socket for both
    child.close()
    parent.delete("msgbatch_after")  # the copy's close left the pool open
    assert server.connections == 1
    copied = parent.copy(max_connections=3)  # a connection option: its own transport
    assert copied.transport is not parent.transport
    copied.delete("msgbatch_own")
    assert server.connections == 2
    copied.close()
    parent.close()
    with pytest.raises(bd.ConfigurationError, match="closed"):
        child.delete("msgbatch_x")  # the copy is closed too


def test_a_copy_overrides_what_it_is_given(
    server: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    parent = bd.Client(base_url=server.url, default_headers={"x-a": "1"})
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-changed-later")
    same = parent.with_options(default_query={"q": "1"})
    token = parent.with_options(auth_token="tok-123")
    same.delete("msgbatch_1")
    token.delete("msgbatch_2")
    first, second = server.requests
    assert first.header("x-api-key") == API_KEY  # as the parent resolved it
    assert first.header("x-a") == "1" and query_of(first.target) == {"q": ["1"]}
    assert second.header("authorization") == "Bearer tok-123"
    assert second.header("x-api-key") is None
    assert (same._max_retries, same._timeout) == (parent._max_retries, parent._timeout)
    with pytest.raises(bd.ConfigurationError, match="unknown argument"):
        parent.with_options(retries=3)
    parent.close()


def test_an_async_copy_shares_the_transport(api: Emulator) -> None:
    batch = api.add_batch("ended")

    async def main() -> tuple[bool, str]:
        async with bd.AsyncClient(api_key=api.api_key, base_url=api.base_url) as parent:
            child = parent.copy(max_retries=0)
            shared = child.transport is parent.transport
            deleted = await child.messages.batches.delete(batch.id)
            await child.close()
            # The copy's close left the shared transport open for the parent.
            assert (await parent.list_page(limit=1)).data == []
            return shared, deleted.id

    assert asyncio.run(main()) == (True, batch.id)


# -- raw responses -----------------------------------------------------------------------------


def test_with_raw_response_on_every_operation(api: Emulator) -> None:
    running = api.add_batch("in_progress")
    done = api.add_batch("ended")
    with bd.Client(api_key=api.api_key, base_url=api.base_url) as client:
        raw = client.messages.batches.with_raw_response
        got = raw.retrieve(running.id, extra_query={"x": 1})
        assert got.parse().processing_status == "in_progress" and got.status_code == 200
        assert got.request_id and got.retries_taken == 0 and got.headers["request-id"]
        canceled = raw.cancel(running.id)
        assert canceled.parse().processing_status == "canceling"
        page = client.beta.messages.batches.with_raw_response.list(limit=1)
        assert len(page.parse().data) == 1 and page.parse().has_more
        deleted = raw.delete(done.id, timeout=5.0)
        assert deleted.parse().id == done.id
    assert [r.route for r in api.requests] == ["retrieve", "cancel", "list", "delete"]
    assert api.requests[0].target.endswith("?x=1")


# -- workspace_id, ANTHROPIC_CUSTOM_HEADERS (issue 16's first parts) ------------------------------


def test_workspace_id_on_the_client_per_call_and_extra_headers_win(server: ScriptServer) -> None:
    with bd.Client(api_key=API_KEY, base_url=server.url, workspace_id="wrkspc_A") as client:
        client.delete("msgbatch_1")
        client.messages.batches.delete("msgbatch_2", workspace_id="wrkspc_B")
        client.beta.messages.batches.with_raw_response.delete(
            "msgbatch_3",
            workspace_id="wrkspc_B",
            extra_headers={"anthropic-workspace-id": "wrkspc_C"},
        )
    assert [r.header("anthropic-workspace-id") for r in server.requests] == [
        "wrkspc_A",
        "wrkspc_B",
        "wrkspc_C",
    ]
    with bd.Client(api_key=API_KEY, base_url=server.url) as plain:
        plain.delete("msgbatch_4")
    assert server.requests[-1].header("anthropic-workspace-id") is None


def test_custom_headers_from_the_environment(
    server: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ANTHROPIC_CUSTOM_HEADERS",
        "X-Team: data\r\nno colon here\n\nX-Trace :  a: b \nX-Team: ops\nX-Both: env",
    )
    with bd.Client(
        api_key=API_KEY, base_url=server.url, default_headers={"x-both": "explicit"}
    ) as client:
        client.delete("msgbatch_1")
    sent = server.requests[0]
    assert sent.header("x-team") == "ops"  # a later line wins
    assert sent.header("x-trace") == "a: b"  # split at the first colon, stripped
    assert sent.header("x-both") == "explicit"  # default_headers win over the variable


@pytest.mark.parametrize(
    "text", ["X-A: one\rtwo", "x-api-key: sk-other", "Authorization: Bearer t"]
)
def test_custom_headers_that_are_refused(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", text)
    with pytest.raises(bd.ConfigurationError, match="ANTHROPIC_CUSTOM_HEADERS"):
        bd.Client(api_key=API_KEY)
