"""Edges of `BodyReader` (issue 12, branch coverage): several gzip members,
junk after a complete gzip member, deflate whose first piece is one byte
(zlib-wrapped and raw), bodies that stop mid-stream, caps on decoded bytes.
Pure functions: the reader is fed bytes directly."""

from __future__ import annotations

import gzip
import zlib

import pytest

from batchdelete._errors import TransportProtocolError, TransportResponseTooLargeError
from batchdelete.guards import BodyReader

BIG = 1 << 20


def reader(encoding: str, *, status: int = 200, cap: int = BIG) -> BodyReader:
    headers = {"content-encoding": encoding} if encoding else {}
    return BodyReader(status, headers, max_body=cap, max_error_body=cap)


def raw_deflate(data: bytes) -> bytes:
    squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return squeeze.compress(data) + squeeze.flush()


def test_gzip_with_two_members_decodes_both() -> None:
    body = reader("gzip")
    assert body.feed(gzip.compress(b"hello, ") + gzip.compress(b"world"))
    assert body.finish() == b"hello, world"


def test_junk_after_a_complete_gzip_member_is_ignored() -> None:
    body = reader("x-gzip")
    assert body.feed(gzip.compress(b'{"ok": true}') + b"\x00garbage that is not gzip")
    assert body.feed(b"more junk, in a later piece")  # read on, but ignored
    assert body.finish() == b'{"ok": true}'
    assert body.complete


def test_a_body_that_is_not_gzip_at_all_is_refused() -> None:
    body = reader("gzip")
    with pytest.raises(TransportProtocolError, match="not valid gzip data"):
        body.feed(b"plain text, not gzip")


@pytest.mark.parametrize("wrap", [True, False], ids=["zlib", "raw"])
def test_deflate_whose_first_piece_is_a_single_byte(wrap: bool) -> None:
    payload = b'{"id": "msgbatch_01", "type": "message_batch_deleted"}'
    encoded = zlib.compress(payload) if wrap else raw_deflate(payload)
    body = reader("deflate")
    assert body.feed(encoded[:1])
    assert body.feed(encoded[1:])
    assert body.finish() == payload


def test_deflate_that_stops_after_one_byte_is_cut_short() -> None:
    body = reader("deflate")
    assert body.feed(zlib.compress(b"abc")[:1])
    with pytest.raises(TransportProtocolError, match="middle of its deflate data"):
        body.finish()


def test_gzip_that_stops_mid_stream_is_cut_short() -> None:
    encoded = gzip.compress(b"x" * 1000)
    body = reader("gzip")
    assert body.feed(encoded[: len(encoded) // 2])
    with pytest.raises(TransportProtocolError, match="middle of its gzip data"):
        body.finish()


def test_an_empty_body_with_an_encoding_is_empty() -> None:
    body = reader("gzip")
    assert body.feed(b"")
    assert body.finish() == b""


def test_an_encoding_not_asked_for_is_refused() -> None:
    with pytest.raises(TransportProtocolError, match="'br'"):
        reader(" BR ")


@pytest.mark.parametrize("encoding", ["", "identity", "gzip", "deflate"])
def test_an_error_body_is_kept_up_to_its_cap_then_cut(encoding: str) -> None:
    payload = b"e" * 5000
    encoded = {
        "": payload,
        "identity": payload,
        "gzip": gzip.compress(payload),
        "deflate": zlib.compress(payload),
    }[encoding]
    body = reader(encoding, status=500, cap=100)
    assert body.feed(encoded) is False
    assert not body.complete
    assert body.finish() == b"e" * 100  # no "ends in the middle" for a body cut on purpose


@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate"])
def test_a_success_body_over_its_cap_raises(encoding: str) -> None:
    payload = b"s" * 5000
    encoded = {
        "identity": payload,
        "gzip": gzip.compress(payload),
        "deflate": zlib.compress(payload),
    }
    body = reader(encoding, cap=100)
    with pytest.raises(TransportResponseTooLargeError) as caught:
        body.feed(encoded[encoding])
    assert caught.value.status == 200
    assert not body.complete


def test_a_decompression_bomb_costs_at_most_the_cap() -> None:
    bomb = gzip.compress(b"\x00" * (8 << 20))  # 8 MiB of zeros in a few KiB
    body = reader("gzip", status=429, cap=1000)
    assert body.feed(bomb) is False
    assert len(body.finish()) == 1000


def test_deflate_in_many_pieces() -> None:
    payload = b"batch " * 500
    encoded = zlib.compress(payload)
    body = reader("deflate")
    for start in range(0, len(encoded), 7):
        assert body.feed(encoded[start : start + 7])
    assert body.finish() == payload
