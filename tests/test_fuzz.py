"""Property-based tests (issue 7, point 7), on every transport.

- Responses: random bytes, and valid responses (content-length, chunked,
  close-delimited; identity, gzip, deflate) mutated by flipping, inserting
  and deleting bytes, truncating and duplicating header lines, are served
  by the raw server in `tests.hostile`. Each outcome is a deleted batch or
  a `BatchDeleteError`, within a time bound.
- Requests: random ids, betas and header values are either refused before
  any I/O (`ConfigurationError`, the server saw nothing) or sent exactly as
  specified (checked on the raw request recorded by `tests.scriptserver`).
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import batchdelete as bd
from tests.conftest import API_KEY
from tests.hostile import (
    DELETED,
    DELETED_ID,
    HostileServer,
    Request,
    Send,
    deflate,
    error_body,
    gzipped,
    response,
)
from tests.scriptserver import Recorded, ScriptServer

pytestmark = pytest.mark.timeout(300)

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Every example is bounded by these limits; it must end within BOUND seconds.
LIMITS = bd.Timeout(read=2, attempt=3, deadline=3)
BOUND = 4.0
PATH = "/v1/messages/batches/"


# -- responses ------------------------------------------------------------------------

Mutation = tuple[str, int, int, bytes]
INTERESTING = [
    b"\r\n",
    b"\n",
    b"\r",
    b":",
    b" ",
    b"\x00",
    b"-",
    b"0",
    b"f",
    b";",
    b"\xff",
    b"1\r\n",
]


def mutate(data: bytes, mutation: Mutation) -> bytes:
    """One mutation at a position taken modulo the length."""
    kind, position, amount, payload = mutation
    at = position % (len(data) + 1)
    if kind == "flip" and data:
        at %= len(data)
        return data[:at] + bytes([data[at] ^ (1 << (amount % 8))]) + data[at + 1 :]
    if kind == "insert":
        return data[:at] + payload + data[at:]
    if kind == "delete":
        return data[:at] + data[at + 1 + amount % 8 :]
    if kind == "truncate":
        return data[:at]
    if kind == "duplicate-header":
        head, sep, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        if len(lines) < 2:
            return data
        index = 1 + position % (len(lines) - 1)
        copy = lines[index] if not payload else lines[index].split(b":")[0] + b": " + payload
        lines.insert(index + 1, copy)
        return b"\r\n".join(lines) + sep + body
    return data


mutations = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate-header"]),
    st.integers(min_value=0, max_value=4096),
    st.integers(min_value=0, max_value=255),
    st.one_of(st.sampled_from(INTERESTING), st.binary(max_size=6)),
)


@st.composite
def valid_answers(draw: st.DrawFn) -> bytes:
    status = draw(st.sampled_from([200, 201, 400, 404, 429, 500, 503]))
    body = DELETED if status < 300 else error_body(status)
    encoding = draw(st.sampled_from(["identity", "gzip", "deflate"]))
    headers = ["request-id: req_fuzz"]
    if encoding == "gzip":
        body = gzipped(body)
        headers.append("content-encoding: gzip")
    elif encoding == "deflate":
        body = deflate(body, raw=draw(st.booleans()))
        headers.append("content-encoding: deflate")
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    return response(status, body, *headers, framing=framing)


@st.composite
def mutated_answers(draw: st.DrawFn) -> bytes:
    data = draw(valid_answers())
    for mutation in draw(st.lists(mutations, min_size=1, max_size=4)):
        data = mutate(data, mutation)
    return data


answers = st.one_of(
    mutated_answers(),
    valid_answers(),
    st.binary(max_size=300),
    st.binary(max_size=200).map(lambda tail: b"HTTP/1.1 200 OK\r\n" + tail),
)


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@FUZZ
@given(answer=answers)
def test_any_answer_is_a_result_or_a_batchdelete_error(
    hostile: HostileServer, transport_name: str, answer: bytes
) -> None:
    hostile.play([Request(), Send(answer)])  # then the server closes
    client = bd.Client(
        api_key=API_KEY,
        base_url=hostile.url,
        transport=transport_name,
        max_retries=0,
        timeout=LIMITS,
    )
    started = time.monotonic()
    try:
        outcome: object = client.delete(DELETED_ID)
    except bd.BatchDeleteError as exc:
        outcome = exc
    finally:
        client.close()
    elapsed = time.monotonic() - started
    if not isinstance(outcome, bd.BatchDeleteError):
        # A mutation may change the id in the body and still decode.
        assert type(outcome) is bd.DeletedMessageBatch, repr(outcome)
    assert elapsed < BOUND, f"{elapsed:.2f} s, {outcome!r}"


# -- requests ---------------------------------------------------------------------------

# The oracles, from WIRE.md rather than from batchdelete's code.
PCHAR = frozenset(string.ascii_letters + string.digits + "-._~" + "!$&'()*+,;=:@")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
BETA = re.compile(r"[\x21-\x2b\x2d-\x7e]+")  # visible ASCII but ","
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 tchar


def id_refused(batch_id: str) -> bool:
    return batch_id in ("", ".", "..") or batch_id.startswith(";") or bool(CONTROL.search(batch_id))


def encoded_segment(batch_id: str) -> str:
    """The id as one path segment: every UTF-8 byte outside pchar encoded."""
    return "".join(
        chr(byte) if chr(byte) in PCHAR else f"%{byte:02X}" for byte in batch_id.encode()
    )


def value_refused(value: str) -> bool:
    return bool(CONTROL.search(value)) or not value.isascii()


ascii_text = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=16)
visible_ascii = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16)
ids = st.one_of(
    st.text(max_size=24),
    ascii_text,
    visible_ascii,
    st.sampled_from(["", ".", "..", "...", ";x", "%", "%2F", "a/b", "msgbatch_1", "\u00e9\u65e5"]),
)
betas = st.lists(
    st.one_of(
        st.sampled_from([beta.value for beta in bd.AnthropicBeta]),
        visible_ascii,
        st.text(max_size=8),
    ),
    max_size=4,
)
header_names = st.one_of(
    st.from_regex(r"x-fuzz-[!#$%&'*+.^_`|~0-9A-Za-z-]{0,8}", fullmatch=True),
    ascii_text.map(lambda s: "x-fuzz-" + s),
)
spaces = st.sampled_from(["", " ", "  "])
header_values = st.one_of(
    visible_ascii,
    ascii_text,
    st.text(max_size=12),
    st.tuples(spaces, visible_ascii, spaces).map("".join),  # spaces around a value
)


class Wire:
    """A client of the transport under test and the server that records
    what it sends (a short repr for hypothesis' reports)."""

    def __init__(self, client: bd.Client, server: ScriptServer) -> None:
        self.client = client
        self.server = server
        self.before = 0

    def start(self) -> None:
        self.before = len(self.server.requests)

    def sent(self) -> list[Recorded]:
        return self.server.requests[self.before :]

    def __repr__(self) -> str:
        return f"<a {self.client.transport.name} client and its recording server>"


@pytest.fixture
def wire(make_client: Callable[..., bd.Client], server: ScriptServer) -> Wire:
    return Wire(make_client(max_retries=0), server)


@FUZZ
@given(batch_id=ids)
def test_id_is_refused_or_sent_exactly(wire: Wire, batch_id: str) -> None:
    wire.start()
    try:
        deleted = wire.client.delete(batch_id)
    except bd.ConfigurationError:
        assert id_refused(batch_id), f"{batch_id!r} was refused"
        assert wire.sent() == []
        return
    assert not id_refused(batch_id), f"{batch_id!r} was sent"
    [request] = wire.sent()
    assert request.target == PATH + encoded_segment(batch_id)
    assert deleted.id == batch_id  # the server decoded the same id back


@FUZZ
@given(tokens=betas)
def test_betas_are_refused_or_sent_exactly(wire: Wire, tokens: list[str]) -> None:
    wire.start()
    refused = not all(BETA.fullmatch(token) for token in tokens)
    try:
        wire.client.delete("msgbatch_fuzz", betas=tokens)
    except bd.ConfigurationError:
        assert refused, f"{tokens!r} were refused"
        assert wire.sent() == []
        return
    assert not refused, f"{tokens!r} were sent"
    [request] = wire.sent()
    assert request.header("anthropic-beta") == (",".join(tokens) if tokens else None)
    assert request.target == PATH + "msgbatch_fuzz"


@FUZZ
@given(name=header_names, value=header_values)
def test_header_values_are_refused_or_sent_exactly(wire: Wire, name: str, value: str) -> None:
    wire.start()
    refused = not TOKEN.fullmatch(name) or value_refused(value)
    # Spaces around a value are no part of it (RFC 9110, 5.5), and an empty
    # value says nothing: sending such a value (trimmed) and refusing it
    # are both right. Any other visible ASCII value must be sent.
    either = value != value.strip(" ") or not value
    try:
        wire.client.delete("msgbatch_fuzz", extra_headers={name: value})
    except bd.ConfigurationError:
        assert refused or either, f"{name!r}: {value!r} was refused"
        assert wire.sent() == []
        return
    assert not refused, f"{name!r}: {value!r} was sent"
    [request] = wire.sent()
    assert request.header(name.lower()) == value.strip(" ")
    assert request.header("x-api-key") == API_KEY
