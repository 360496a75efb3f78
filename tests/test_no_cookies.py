"""A deletion API client keeps no cookies: whatever a server sets is never
sent back, and the transports' own clients store none (a hostile server
cannot grow a jar). A user's own requests Session or httpx Client keeps its
cookies as it always does. Against the script server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests

import batchdelete as bd
from tests.conftest import API_KEY
from tests.scriptserver import Reply, ScriptServer

pytestmark = pytest.mark.clients("all")

MakeClient = Callable[..., bd.Client]
COOKIES = (
    ("set-cookie", "sid=abc; Path=/"),
    ("set-cookie", "lasting=1; Path=/; Max-Age=3600"),
    ("set-cookie", "scoped=2; Path=/v1/messages"),
)


def many_cookies(n: int) -> Reply:
    return Reply(headers=tuple(("set-cookie", f"c{i}=v{i}; Path=/") for i in range(n)))


def test_cookies_a_server_sets_are_never_sent_back(
    make_client: MakeClient, server: ScriptServer
) -> None:
    server.script(Reply(headers=COOKIES), many_cookies(50))
    client = make_client()
    for batch in ("msgbatch_1", "msgbatch_2", "msgbatch_3"):
        client.delete(batch)
    assert [r.header("cookie") for r in server.requests] == [None, None, None]


@pytest.mark.parametrize(
    ("name", "jar"),
    [("httpx", lambda t: t._client.cookies.jar), ("requests", lambda t: t._session.cookies)],
    ids=["httpx", "requests"],
)
def test_the_transports_own_jar_stays_empty(
    server: ScriptServer, name: str, jar: Callable[[Any], Any]
) -> None:
    server.script(*[many_cookies(60)] * 5)
    with bd.Client(api_key=API_KEY, base_url=server.url, transport=name) as client:
        for _ in range(5):
            client.delete("msgbatch_1")
        assert len(jar(client.transport)) == 0


def test_a_users_own_session_or_client_keeps_its_cookies(server: ScriptServer) -> None:
    natives: list[Any] = [requests.Session(), httpx.Client()]
    for native in natives:
        server.script(Reply(headers=COOKIES[:1]))
        with bd.Client(api_key=API_KEY, base_url=server.url, transport=native) as client:
            client.delete("msgbatch_1")
            client.delete("msgbatch_2")
        assert server.requests[-1].header("cookie") == "sid=abc"
        native.close()
