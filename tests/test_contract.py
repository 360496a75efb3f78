"""The contract suite: WIRE.md, observed on a real loopback server, run
against every registered transport, sync and async (an AsyncClient through
the blocking facade of tests/asyncclients.py, `client_kind`)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import platform
import threading
import time
from collections.abc import Callable

import pytest

import batchdelete as bd
from tests.asyncclients import BlockingClient, transport_of
from tests.conftest import API_KEY
from tests.scriptserver import Reply, ScriptServer, error_reply

pytestmark = pytest.mark.clients("all")

MakeClient = Callable[..., bd.Client]
PATH = "/v1/messages/batches/"
DELETED = b'{"id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message_batch_deleted"}'


# -- the request ---------------------------------------------------------------


def test_exact_request(make_client: MakeClient, server: ScriptServer, client_kind: str) -> None:
    client = make_client()
    name = client.transport.name
    assert name == transport_of(client_kind)
    deleted = client.delete("msgbatch_013Zva2CMHLNnXjNJJKqJ2EF")
    assert deleted == bd.DeletedMessageBatch(
        id="msgbatch_013Zva2CMHLNnXjNJJKqJ2EF", type="message_batch_deleted"
    )
    [req] = server.requests
    assert req.method == "DELETE"
    assert req.target == PATH + "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
    assert req.version == "HTTP/1.1"
    assert req.header("x-api-key") == API_KEY
    assert req.header("anthropic-version") == "2023-06-01"
    assert req.header("accept") == "application/json"
    version = client.transport.library_version
    assert req.header("user-agent") == (
        f"batchdelete/{bd.__version__} {name}/{version} python/{platform.python_version()}"
    )
    assert "authorization" not in req.names
    assert "anthropic-beta" not in req.names
    assert not any(n.startswith("x-stainless") for n in req.names)
    assert "transfer-encoding" not in req.names
    assert req.header("content-length") in (None, "0")
    assert req.body == b""
    assert req.header("accept-encoding") == "gzip, deflate"
    # Exactly the client's headers, each once, plus Host (and Content-Length: 0):
    # nothing of the library's own (Connection, its User-Agent, a cookie...).
    ours = ["accept", "accept-encoding", "anthropic-version", "host", "user-agent", "x-api-key"]
    names = sorted(k.lower() for k, _ in req.headers)
    assert names in (ours, sorted([*ours, "content-length"])), req.headers


@pytest.mark.parametrize("suffix", ["/p", "/p/", "/p/q/"])
def test_base_path_is_kept(make_client: MakeClient, server: ScriptServer, suffix: str) -> None:
    make_client(base_url=server.url + suffix).delete("msgbatch_1")
    prefix = "/" + suffix.strip("/")
    assert server.requests[0].target == f"{prefix}{PATH}msgbatch_1"


@pytest.mark.parametrize(
    ("batch_id", "encoded"),
    [
        ("a/b", "a%2Fb"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("100%", "100%25"),
        ("%2F", "%252F"),
        ("a b", "a%20b"),
        ("é", "%C3%A9"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
        ("a:b@c!$&'()*+,;=", "a:b@c!$&'()*+,;="),
        ("a~b.c_d-e", "a~b.c_d-e"),
        ('a"b<c>d[e]f{g}h|i\\j^k`l', "a%22b%3Cc%3Ed%5Be%5Df%7Bg%7Dh%7Ci%5Cj%5Ek%60l"),
        ("...", "..."),
    ],
)
def test_id_is_one_encoded_segment(
    make_client: MakeClient, server: ScriptServer, batch_id: str, encoded: str
) -> None:
    deleted = make_client().delete(batch_id)
    assert server.requests[0].target == PATH + encoded
    assert deleted.id == batch_id  # the server decoded it back


@pytest.mark.parametrize(
    "batch_id", ["", ".", "..", ";x", ";", "a\nb", "a\rb", "a\x00", "a\x7f", "\tx", 123, None, b"x"]
)
def test_refused_ids_never_reach_the_network(
    make_client: MakeClient, server: ScriptServer, batch_id: object
) -> None:
    client = make_client()
    with pytest.raises(bd.ConfigurationError) as info:
        client.delete(batch_id)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert "batch id" in str(info.value)
    assert server.requests == []


def test_betas_header(make_client: MakeClient, server: ScriptServer) -> None:
    client = make_client()
    result = client.beta.messages.batches.delete(
        "msgbatch_1", betas=[bd.AnthropicBeta.MESSAGE_BATCHES_2024_09_24, "some-future-beta"]
    )
    assert type(result) is bd.BetaDeletedMessageBatch
    assert server.requests[0].header("anthropic-beta") == (
        "message-batches-2024-09-24,some-future-beta"
    )
    client.beta.messages.batches.delete("msgbatch_2")
    client.messages.batches.delete("msgbatch_3")
    client.delete("msgbatch_4", betas=[])
    assert [r.header("anthropic-beta") for r in server.requests[1:]] == [None, None, None]
    assert {r.target for r in server.requests} == {PATH + f"msgbatch_{i}" for i in range(1, 5)}


@pytest.mark.parametrize("beta", ["", "a,b", "a b", "é", "a\nb", " x", "x\t"])
def test_malformed_betas_are_refused(
    make_client: MakeClient, server: ScriptServer, beta: str
) -> None:
    with pytest.raises(bd.ConfigurationError, match="beta"):
        make_client().delete("msgbatch_1", betas=[beta])
    assert server.requests == []


def test_auth_token_sends_bearer_only(make_client: MakeClient, server: ScriptServer) -> None:
    make_client(api_key=None, auth_token="tok-123").delete("msgbatch_1")
    req = server.requests[0]
    assert req.header("authorization") == "Bearer tok-123"
    assert "x-api-key" not in req.names


def test_environment_supplies_defaults(
    server: ScriptServer,
    open_client: MakeClient,
    client_kind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url + "/env")
    monkeypatch.setenv("BATCHDELETE_TRANSPORT", transport_of(client_kind))
    with open_client(transport=None) as client:
        assert client.transport.name == transport_of(client_kind)
        client.delete("msgbatch_1")
    assert server.requests[0].target == "/env" + PATH + "msgbatch_1"
    assert server.requests[0].header("x-api-key") == "env-key"


def test_explicit_arguments_beat_environment(
    make_client: MakeClient, server: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "env-token")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/never")
    make_client(api_key="arg-key").delete("msgbatch_1")
    make_client(api_key=None, auth_token="arg-token").delete("msgbatch_2")
    first, second = server.requests
    assert first.header("x-api-key") == "arg-key" and "authorization" not in first.names
    assert second.header("authorization") == "Bearer arg-token"
    assert "x-api-key" not in second.names


def test_extra_headers_are_sent_and_checked(make_client: MakeClient, server: ScriptServer) -> None:
    client = make_client()
    client.delete("msgbatch_1", extra_headers={"X-Trace": "abc", "anthropic-version": "2026-10-21"})
    req = server.requests[0]
    assert req.header("x-trace") == "abc"
    assert req.header("anthropic-version") == "2026-10-21"
    for bad in ({"x-a": "v\r\nx-injected: 1"}, {"x-a": "v\n"}, {"bad name": "v"}, {"x:y": "v"}):
        with pytest.raises(bd.ConfigurationError):
            client.delete("msgbatch_1", extra_headers=bad)
    assert len(server.requests) == 1


# -- success and decoding --------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 299])
@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "text/html"])
def test_any_2xx_with_a_valid_body_succeeds(
    make_client: MakeClient, server: ScriptServer, status: int, content_type: str
) -> None:
    body = json.dumps(
        {"id": "msgbatch_9", "type": "message_batch_deleted", "new_field": [1, {"x": None}]}
    ).encode()
    server.script(Reply(status, body=body, json_type=content_type))
    result = make_client().with_raw_response.delete("msgbatch_9")
    assert result.data == bd.DeletedMessageBatch(id="msgbatch_9", type="message_batch_deleted")
    assert result.parse() is result.data
    assert result.status_code == status
    assert result.attempts == 1
    assert result.request_id == "req_test_1"
    assert result.elapsed > 0


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"type": "message_batch_deleted"}', "id"),
        (b'{"id": "msgbatch_1", "type": "message_batch"}', "type"),
        (b'{"id": "msgbatch_1"}', "type"),
        (b'{"id": 7, "type": "message_batch_deleted"}', "id"),
        (b'{"id": "", "type": "message_batch_deleted"}', "id"),
        (b"{}", "id"),
        (b"[]", "object"),
        (b'{"id": "msgbatch_1", "type": "message_batch_deleted"', "not valid json"),
        (b"", "not valid json"),
        (b"<html><body>Gateway says hi</body></html>", "not valid json"),
        (b"\xff\xfe\x00garbage", "not valid json"),
    ],
)
def test_invalid_success_body_is_a_validation_error(
    make_client: MakeClient, server: ScriptServer, body: bytes, why: str
) -> None:
    server.script(Reply(200, body=body))
    with pytest.raises(bd.APIResponseValidationError) as info:
        make_client().delete("msgbatch_1")
    err = info.value
    assert why.lower() in str(err).lower()
    assert err.status_code == 200 and err.raw_body == body
    assert err.request_id == "req_test_1"
    assert len(server.requests) == 1  # never retried


def test_validation_error_shows_at_most_200_bytes(
    make_client: MakeClient, server: ScriptServer
) -> None:
    body = b"<html>" + b"A" * 300 + b"TAIL-MARKER</html>"
    server.script(Reply(200, body=body))
    with pytest.raises(bd.APIResponseValidationError) as info:
        make_client().delete("msgbatch_1")
    message = str(info.value)
    assert "A" * 194 in message and "TAIL-MARKER" not in message


# -- errors ----------------------------------------------------------------------

STATUS_ROWS = [
    (400, bd.BadRequestError, "invalid_request_error"),
    (401, bd.AuthenticationError, "authentication_error"),
    (402, bd.PaymentRequiredError, "billing_error"),
    (403, bd.PermissionDeniedError, "permission_error"),
    (404, bd.NotFoundError, "not_found_error"),
    (408, bd.RequestTimeoutError, "timeout_error"),
    (409, bd.ConflictError, "conflict_error"),
    (412, bd.PreconditionFailedError, "invalid_request_error"),
    (413, bd.ContentTooLargeError, "request_too_large"),
    (422, bd.UnprocessableEntityError, "invalid_request_error"),
    (429, bd.RateLimitError, "rate_limit_error"),
    (431, bd.RequestHeaderFieldsTooLargeError, "invalid_request_error"),
    (499, bd.ClientClosedRequestError, "api_error"),
    (500, bd.InternalServerError, "api_error"),
    (501, bd.HTTPNotImplementedError, "api_error"),
    (502, bd.InternalServerError, "api_error"),
    (503, bd.ServiceUnavailableError, "api_error"),
    (504, bd.GatewayTimeoutError, "timeout_error"),
    (529, bd.OverloadedError, "overloaded_error"),
    (599, bd.InternalServerError, "api_error"),
    (418, bd.APIStatusError, "teapot_error"),
    (451, bd.APIStatusError, "legal_error"),
]


@pytest.mark.parametrize(("status", "cls", "error_type"), STATUS_ROWS)
def test_status_maps_to_class(
    make_client: MakeClient,
    server: ScriptServer,
    status: int,
    cls: type[bd.APIStatusError],
    error_type: str,
) -> None:
    reply = error_reply(status, error_type, "Something specific went wrong.")
    server.script(reply)
    with pytest.raises(bd.APIStatusError) as info:
        make_client(max_retries=0).delete("msgbatch_1")
    err = info.value
    assert type(err) is cls
    assert isinstance(err, bd.APIError) and isinstance(err, bd.BatchDeleteError)
    assert err.status_code == status
    assert err.request_id == f"req_{status}"
    assert err.error_type == error_type
    assert err.api_message == "Something specific went wrong."
    assert err.raw_body == reply.body
    assert err.body == json.loads(reply.body)  # decoded, as the SDK's `body`
    assert err.type == error_type  # the SDK's name for error_type
    assert err.response.status_code == status and err.response.content == reply.body
    assert err.response.json() == err.body and err.response.headers == err.headers
    assert err.headers["Request-Id"] == err.response.headers.get("REQUEST-ID") == f"req_{status}"
    assert err.headers["request-id"] == f"req_{status}"
    assert err.attempts == 1
    message = str(err)
    assert str(status) in message and "Something specific went wrong." in message
    assert f"req_{status}" in message
    assert message.endswith(".")


def test_server_errors_are_subclasses() -> None:
    for cls in (bd.ServiceUnavailableError, bd.GatewayTimeoutError, bd.OverloadedError):
        assert issubclass(cls, bd.InternalServerError)
    assert issubclass(bd.APITimeoutError, bd.APIConnectionError)
    assert issubclass(bd.ConfigurationError, ValueError)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "(empty body)"),
        (b"<html><h1>502 Bad Gateway</h1></html>", "<html><h1>502 Bad Gateway</h1></html>"),
        (b'{"detail": "proxy said no"}', '{"detail": "proxy said no"}'),
        (b'{"type": "error", "error": "flat string"}', '{"type": "error", "error": "flat string"}'),
        (b"line1\r\nline2\x1b[31m", "line1\\r\\nline2\\x1b[31m"),
        (b"\xff\xfeoops", "\ufffd\ufffdoops"),
    ],
)
def test_error_bodies_of_any_shape_stay_readable(
    make_client: MakeClient, server: ScriptServer, body: bytes, expected: str
) -> None:
    server.script(Reply(403, headers=(("request-id", "req_x"),), body=body))
    with pytest.raises(bd.PermissionDeniedError) as info:
        make_client().delete("msgbatch_1")
    err = info.value
    assert err.status_code == 403 and err.error_type is None
    assert err.api_message == expected
    assert expected in str(err) and "403" in str(err)
    assert "\n" not in str(err) and "\x1b" not in str(err)


def test_request_id_falls_back_to_body(make_client: MakeClient, server: ScriptServer) -> None:
    body = (
        b'{"type":"error","error":{"type":"not_found_error","message":"gone"},"request_id":"req_b"}'
    )
    server.script(Reply(404, headers=(("request-id", ""),), body=body))
    with pytest.raises(bd.NotFoundError) as info:
        make_client().delete("msgbatch_1")
    assert info.value.request_id == "req_b"


def test_running_batch_is_refused_as_bad_request(
    make_client: MakeClient, server: ScriptServer
) -> None:
    server.script(
        error_reply(
            400,
            "invalid_request_error",
            "Message Batches can only be deleted once they've finished processing. If you'd "
            "like to delete an in-progress batch, you must first cancel it.",
        )
    )
    with pytest.raises(bd.BadRequestError) as info:
        make_client().delete("msgbatch_1")
    assert "cancel" in str(info.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_is_never_followed(
    make_client: MakeClient, server: ScriptServer, status: int
) -> None:
    target = server.url + "/elsewhere/v1/messages/batches/msgbatch_1"
    server.script(Reply(status, headers=(("location", target),), body=b""))
    with pytest.raises(bd.APIStatusError) as info:
        make_client().delete("msgbatch_1")
    assert type(info.value) is bd.APIStatusError
    assert info.value.status_code == status
    assert "redirect" in str(info.value) and "/elsewhere/" in str(info.value)
    assert len(server.requests) == 1


# -- retries ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529, 599])
def test_retryable_statuses_are_retried(
    make_client: MakeClient, server: ScriptServer, status: int
) -> None:
    server.script(error_reply(status, "x", "try again"), error_reply(status, "x", "again"))
    client = make_client()
    result = client.with_raw_response.delete("msgbatch_1")
    assert result.attempts == 3 and len(server.requests) == 3
    assert result.data.id == "msgbatch_1"
    assert len(client.slept) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 418, 301])
def test_other_statuses_are_not_retried(
    make_client: MakeClient, server: ScriptServer, status: int
) -> None:
    server.script(error_reply(status, "x", "no"))
    with pytest.raises(bd.APIStatusError):
        make_client().delete("msgbatch_1")
    assert len(server.requests) == 1


def test_retries_exhausted_raise_the_last_error(
    make_client: MakeClient, server: ScriptServer
) -> None:
    server.script(*[error_reply(503, "api_error", f"down {i}") for i in range(3)])
    client = make_client(max_retries=2)
    with pytest.raises(bd.ServiceUnavailableError) as info:
        client.delete("msgbatch_1")
    assert info.value.attempts == 3 and info.value.api_message == "down 2"
    assert "3 attempts" in str(info.value)
    assert len(server.requests) == 3
    assert all(r.header("x-api-key") == API_KEY for r in server.requests)


def test_max_retries_zero_disables_retries(make_client: MakeClient, server: ScriptServer) -> None:
    server.script(error_reply(500, "api_error", "down"))
    with pytest.raises(bd.InternalServerError):
        make_client(max_retries=0).delete("msgbatch_1")
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "flag", "attempts"),
    [(500, "false", 1), (400, "true", 2), (404, "true", 2), (429, "false", 1), (500, "True", 2)],
)
def test_x_should_retry_decides_first(
    make_client: MakeClient, server: ScriptServer, status: int, flag: str, attempts: int
) -> None:
    server.script(error_reply(status, "x", "flagged", ("x-should-retry", flag)))
    client = make_client(max_retries=1)
    if attempts == 1:
        with pytest.raises(bd.APIStatusError):
            client.delete("msgbatch_1")
    else:
        assert client.with_raw_response.delete("msgbatch_1").attempts == attempts
    assert len(server.requests) == attempts


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        ((("retry-after-ms", "250"),), 0.25, 0.25),
        ((("retry-after-ms", "1500.5"),), 1.5005, 1.5005),
        ((("retry-after", "2"),), 2.0, 2.0),
        ((("retry-after", "0.75"),), 0.75, 0.75),
        ((("retry-after-ms", "abc"), ("retry-after", "3")), 3.0, 3.0),
        ((("retry-after-ms", "0"), ("retry-after", "4")), 4.0, 4.0),
        ((("retry-after-ms", "120"), ("retry-after", "9")), 0.12, 0.12),
        ((("retry-after", "soon"),), 0.375, 0.5),
        ((("retry-after", "0"),), 0.375, 0.5),
        ((("retry-after", "-3"),), 0.375, 0.5),
        ((), 0.375, 0.5),
    ],
)
def test_server_requested_wait_then_backoff(
    make_client: MakeClient,
    server: ScriptServer,
    headers: tuple[tuple[str, str], ...],
    low: float,
    high: float,
) -> None:
    server.script(error_reply(429, "rate_limit_error", "slow down", *headers))
    client = make_client()
    client.delete("msgbatch_1")
    [wait] = client.slept  # type: ignore[attr-defined]
    assert low <= wait <= high


def test_retry_after_http_date(make_client: MakeClient, server: ScriptServer) -> None:
    server.script(error_reply(503, "api_error", "later", ("retry-after", _http_date(30))))
    client = make_client()
    client.delete("msgbatch_1")
    [wait] = client.slept  # type: ignore[attr-defined]
    assert 27 <= wait <= 31


def test_backoff_grows_between_retries(make_client: MakeClient, server: ScriptServer) -> None:
    server.script(*[error_reply(500, "api_error", "x")] * 4)
    client = make_client(max_retries=4)
    client._random = lambda: 0.0
    client.delete("msgbatch_1")
    assert client.slept == [0.5, 1.0, 2.0, 4.0]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "header", [("retry-after", "3600"), ("retry-after-ms", "61000"), ("retry-after", "1e9")]
)
def test_wait_over_the_cap_raises_at_once(
    make_client: MakeClient, server: ScriptServer, header: tuple[str, str]
) -> None:
    server.script(error_reply(429, "rate_limit_error", "come back later", header))
    client = make_client()
    with pytest.raises(bd.RateLimitError) as info:
        client.delete("msgbatch_1")
    assert client.slept == []  # type: ignore[attr-defined]
    assert info.value.retry_after is not None and info.value.retry_after > 60
    assert "max_retry_wait" in str(info.value)
    assert len(server.requests) == 1


def test_cap_is_configurable(make_client: MakeClient, server: ScriptServer) -> None:
    server.script(error_reply(529, "overloaded_error", "busy", ("retry-after", "5")))
    client = make_client(max_retry_wait=2)
    with pytest.raises(bd.OverloadedError) as info:
        client.delete("msgbatch_1")
    assert info.value.retry_after == 5.0
    server.script(error_reply(529, "overloaded_error", "busy", ("retry-after", "1.5")))
    assert client.with_raw_response.delete("msgbatch_2").attempts == 2


def test_error_carries_requested_wait_after_last_retry(
    make_client: MakeClient, server: ScriptServer
) -> None:
    server.script(error_reply(429, "rate_limit_error", "slow", ("retry-after-ms", "10")))
    with pytest.raises(bd.RateLimitError) as info:
        make_client(max_retries=0).delete("msgbatch_1")
    assert info.value.retry_after == pytest.approx(0.01)


# -- connection failures, timeouts, deadline --------------------------------------


@pytest.mark.parametrize("drop", ["before", "during"])
def test_broken_connection_is_retried(
    make_client: MakeClient, server: ScriptServer, drop: str
) -> None:
    server.script(Reply(drop=drop))
    result = make_client().with_raw_response.delete("msgbatch_1")
    assert result.attempts == 2 and result.data.id == "msgbatch_1"


@pytest.mark.parametrize("drop", ["before", "during"])
def test_broken_connection_without_retries(
    make_client: MakeClient, server: ScriptServer, drop: str
) -> None:
    server.script(Reply(drop=drop))
    with pytest.raises(bd.APIConnectionError) as info:
        make_client(max_retries=0).delete("msgbatch_1")
    assert not isinstance(info.value, bd.APITimeoutError)
    assert isinstance(info.value.__cause__, bd.TransportError)
    assert info.value.__cause__.__cause__ is not None  # the library's own exception


def test_retry_after_lost_response_warns_on_404(
    make_client: MakeClient, server: ScriptServer
) -> None:
    server.script(Reply(drop="during"), error_reply(404, "not_found_error", "no such batch"))
    with pytest.raises(bd.NotFoundError) as info:
        make_client().delete("msgbatch_1")
    assert "may have reached the server" in str(info.value)


def test_connection_refused(make_client: MakeClient) -> None:
    with ScriptServer() as gone:
        url = gone.url
    client = make_client(base_url=url)
    with pytest.raises(bd.APIConnectionError) as info:
        client.delete("msgbatch_1")
    assert not isinstance(info.value, bd.APITimeoutError)
    assert info.value.attempts == 3
    assert len(client.slept) == 2  # type: ignore[attr-defined]


def test_read_timeout(make_client: MakeClient, server: ScriptServer) -> None:
    server.script(Reply(delay=3))
    with pytest.raises(bd.APITimeoutError) as info:
        make_client(timeout=0.2, max_retries=0).delete("msgbatch_1")
    assert isinstance(info.value.__cause__, bd.TransportTimeoutError)
    assert "timed out" in str(info.value)


def test_timeout_is_retried(make_client: MakeClient, server: ScriptServer) -> None:
    server.script(Reply(delay=3))
    client = make_client(timeout=bd.Timeout(connect=1, read=0.2))
    result = client.with_raw_response.delete("msgbatch_1")
    assert result.attempts == 2


def test_per_call_timeout_overrides_client(make_client: MakeClient, server: ScriptServer) -> None:
    server.script(Reply(delay=3))
    client = make_client(timeout=30, max_retries=0)
    with pytest.raises(bd.APITimeoutError):
        client.delete("msgbatch_1", timeout=0.2)


def test_deadline_bounds_the_whole_call(make_client: MakeClient, server: ScriptServer) -> None:
    server.script(*[Reply(delay=3)] * 3)
    client = make_client(timeout=bd.Timeout(connect=5, read=5, deadline=0.3), max_retries=2)
    started = time.monotonic()
    with pytest.raises(bd.APITimeoutError):
        client.delete("msgbatch_1")
    # Without the deadline the first attempt alone would wait 3 s for the reply.
    assert time.monotonic() - started < 2.5
    assert client.slept == []  # type: ignore[attr-defined]


def test_deadline_stops_retries_that_would_pass_it(
    make_client: MakeClient, server: ScriptServer
) -> None:
    server.script(*[error_reply(503, "api_error", "down", ("retry-after", "2"))] * 3)
    client = make_client(timeout=bd.Timeout(deadline=1.0))
    with pytest.raises(bd.ServiceUnavailableError) as info:
        client.delete("msgbatch_1")
    assert "deadline" in str(info.value)
    assert len(server.requests) == 1 and client.slept == []  # type: ignore[attr-defined]


# -- connections and threads -------------------------------------------------------


def test_connections_are_reused(make_client: MakeClient, server: ScriptServer) -> None:
    client = make_client()
    for i in range(5):
        client.delete(f"msgbatch_{i}")
    assert server.connections == 1
    assert {r.connection for r in server.requests} == {1}


@pytest.mark.clients("sync")  # threads: an AsyncClient belongs to one event loop (next test)
def test_one_client_many_threads(make_client: MakeClient, server: ScriptServer) -> None:
    client = make_client()
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(10):
                batch_id = f"msgbatch_{worker}_{i}"
                results[batch_id] = client.delete(batch_id).id
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(results) == 80 and all(k == v for k, v in results.items())
    assert len(server.requests) == 80
    assert server.connections <= 16


@pytest.mark.clients("async")
def test_one_client_many_tasks(make_client: MakeClient, server: ScriptServer) -> None:
    """The async twin of the threads above: 8 tasks at once on one client."""
    client = make_client()
    assert isinstance(client, BlockingClient)

    async def work(worker: int) -> list[tuple[str, str]]:
        done = []
        for i in range(10):
            batch_id = f"msgbatch_{worker}_{i}"
            done.append((batch_id, (await client.aclient.delete(batch_id)).id))
        return done

    async def all_workers() -> list[list[tuple[str, str]]]:
        return await asyncio.gather(*(work(w) for w in range(8)))

    results = dict(pair for done in client.run(all_workers) for pair in done)
    assert len(results) == 80 and all(k == v for k, v in results.items())
    assert len(server.requests) == 80
    assert server.connections <= 16


# -- the client's life ---------------------------------------------------------------


def test_closed_client_refuses_calls(make_client: MakeClient, server: ScriptServer) -> None:
    client = make_client()
    client.close()
    client.close()
    with pytest.raises(bd.ConfigurationError, match="closed"):
        client.delete("msgbatch_1")
    assert server.requests == []


def test_context_manager(server: ScriptServer, open_client: MakeClient) -> None:
    with open_client(api_key=API_KEY, base_url=server.url) as client:
        client.delete("msgbatch_1")
    with pytest.raises(bd.ConfigurationError):
        client.delete("msgbatch_2")


def test_post_without_body(make_client: MakeClient, server: ScriptServer, client_kind: str) -> None:
    client = make_client(max_retries=0)
    with pytest.raises(bd.APIResponseValidationError):  # the script server answers a delete
        client.cancel("msgbatch_1")
    [req] = server.requests
    assert (req.method, req.target, req.body) == ("POST", PATH + "msgbatch_1/cancel", b"")
    assert req.header("content-length") in ("0", None)
    assert "transfer-encoding" not in req.names
    if client_kind == "stdlib":
        assert req.header("content-length") == "0"


def test_transport_leaves_the_shared_headers_alone(
    make_client: MakeClient, server: ScriptServer
) -> None:
    """Transports get the client's own headers mapping (no copy per request)."""
    client = make_client()
    before = dict(client._headers)
    server.script(error_reply(503, "api_error", "again", ("retry-after-ms", "1")))
    client.delete("msgbatch_1")
    client.delete("msgbatch_2", betas=["x-1"], extra_headers={"x-more": "1"})
    client.delete("msgbatch_3")
    assert client._headers == before
    assert [r.header("x-more") for r in server.requests] == [None, None, "1", None]
