"""The API key never shows: not in a repr, an error, a log record or a hook,
whichever client (`client_kind`: every sync and async transport)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

import batchdelete as bd
from batchdelete._spec import RequestSpec, Timeout
from tests.conftest import API_KEY
from tests.scriptserver import Reply, ScriptServer, error_reply

pytestmark = pytest.mark.clients("all")

MakeClient = Callable[..., bd.Client]
#: Both clients refuse bad credentials at construction, before any transport.
CLIENTS = [(bd.Client, "urllib3"), (bd.AsyncClient, "aiohttp")]


class Recorder:
    def __init__(self) -> None:
        self.seen: list[object] = []

    @bd.hookimpl
    def on_request(self, headers: object, url: str) -> None:
        self.seen += [headers, url]

    @bd.hookimpl
    def on_response(self, headers: object) -> None:
        self.seen.append(headers)

    @bd.hookimpl
    def on_error(self, error: BaseException) -> None:
        self.seen += [error, str(error), repr(error), vars(error)]

    @bd.hookimpl
    def on_retry(self, error: BaseException, wait: float) -> None:
        self.seen += [error, wait]


def test_key_never_appears(
    make_client: MakeClient, server: ScriptServer, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    bd.register_plugin(recorder, name="recorder")
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    try:
        client = make_client(max_retries=1)
        shown += [repr(client), str(client), repr(client.transport)]
        server.script(
            error_reply(401, "authentication_error", "invalid x-api-key"),
            error_reply(529, "overloaded_error", "busy", ("retry-after-ms", "1")),
            error_reply(529, "overloaded_error", "busy"),
            Reply(200, body=b"not json"),
            Reply(drop="before"),
            Reply(drop="before"),
        )
        for _ in range(4):
            with pytest.raises(bd.APIError) as info:
                client.delete("msgbatch_1")
            err = info.value
            shown += [str(err), repr(err), repr(err.args), repr(vars(err))]
            cause = err.__cause__
            while cause is not None:
                shown += [str(cause), repr(cause)]
                cause = cause.__cause__
        ok = client.with_raw_response.delete("msgbatch_2")
        shown.append(repr(ok))
    finally:
        bd.unregister_plugin(recorder)
    shown.append(repr(recorder.seen))
    shown += [r.getMessage() for r in caplog.records]
    shown += [repr(r.__dict__) for r in caplog.records]
    assert len(recorder.seen) > 10 and len(caplog.records) > 5
    for text in shown:
        assert API_KEY not in text


def test_request_spec_repr_hides_credentials() -> None:
    spec = RequestSpec(
        "DELETE",
        "https://h/v1/messages/batches/x",
        {"x-api-key": API_KEY, "authorization": "Bearer " + API_KEY, "accept": "a/b"},
        Timeout(),
    )
    text = repr(spec)
    assert API_KEY not in text and "[redacted]" in text and "a/b" in text


@pytest.mark.parametrize(("cls", "transport"), CLIENTS, ids=["sync", "async"])
@pytest.mark.parametrize("bad", ["key\r\nx-evil: 1", "key\n", "key\x00", "k\tey"])
def test_bad_key_is_refused_without_showing_it(
    cls: type[bd.Client], transport: str, bad: str
) -> None:
    with pytest.raises(bd.ConfigurationError) as info:
        cls(api_key=bad, transport=transport)
    assert bad not in str(info.value) and "key" not in str(info.value).split("header")[-1]
    with pytest.raises(bd.ConfigurationError) as info:
        cls(auth_token=bad, transport=transport)
    assert bad not in str(info.value)


@pytest.mark.parametrize(("cls", "transport"), CLIENTS, ids=["sync", "async"])
def test_credentials_are_required(
    monkeypatch: pytest.MonkeyPatch, cls: type[bd.Client], transport: str
) -> None:
    with pytest.raises(bd.ConfigurationError, match="ANTHROPIC_API_KEY"):
        cls(transport=transport)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "")
    with pytest.raises(bd.ConfigurationError, match="from ANTHROPIC_API_KEY is empty"):
        cls(transport=transport)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(bd.ConfigurationError, match="No credentials"):
        cls(transport=transport)
    with pytest.raises(bd.ConfigurationError, match="not both"):
        cls(api_key="a", auth_token="b", transport=transport)
