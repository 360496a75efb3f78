"""Bounded bodies: `BodyReader` decodes gzip and deflate under a cap, for
every transport (public as `batchdelete.guards.BodyReader`)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from ._errors import TransportProtocolError, TransportResponseTooLargeError

__all__ = ["BodyReader"]


class BodyReader:
    """Collects a response body from raw pieces, decoding its
    content-encoding (identity, gzip, deflate) under a cap.

    `feed()` returns False once no more should be read: an error body
    reached `max_error_body` (kept, cut short). A success body that passes
    `max_body` raises `TransportResponseTooLargeError`. Call `finish()` at
    the end of the raw body. `complete` is False when reading stopped early:
    the connection then holds unread bytes and must not be reused.
    """

    def __init__(
        self, status: int, headers: Mapping[str, str], *, max_body: int, max_error_body: int
    ) -> None:
        self.status = status
        self.headers = headers
        self.success = 200 <= status < 300
        self.cap = max_body if self.success else max_error_body
        self.complete = True
        self._parts: list[bytes] = []
        self._size = 0
        self._fed = False
        self._members = 0
        self._trailing = False
        self._encoding = headers.get("content-encoding", "").strip().lower()
        self._decoder: Any = None
        if self._encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._encoding == "deflate":
            self._decoder = _Deflate()
        elif self._encoding not in ("", "identity"):
            raise TransportProtocolError(
                f"The server sent content-encoding {self._encoding!r}, which was not "
                "asked for (accept-encoding: gzip, deflate)."
            )

    def feed(self, raw: bytes) -> bool:
        """Take the next raw piece; False when reading should stop."""
        if not raw or self._trailing:
            return True
        self._fed = True
        if self._decoder is None:
            return self._add(raw)
        while raw:
            room = self.cap - self._size + 1  # one byte more tells "over the cap"
            try:
                out = self._decoder.decompress(raw, room)
            except zlib.error as exc:
                if self._members:  # junk after a complete gzip member: ignored, as urllib3 does
                    self._trailing = True
                    return True
                raise TransportProtocolError(
                    f"The response body is not valid {self._encoding} data: {exc}."
                ) from exc
            if not self._add(out):
                return False
            raw = self._decoder.unconsumed_tail
            if not raw and self._decoder.eof and self._decoder.unused_data:
                raw = bytes(self._decoder.unused_data)  # gzip allows several members
                self._members += 1
                self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return True

    def finish(self) -> bytes:
        """The body, once the raw body has ended."""
        ended = self._trailing or self._decoder is None or self._decoder.eof
        if self.complete and self._fed and not ended:
            raise TransportProtocolError(
                f"The response body ends in the middle of its {self._encoding} data."
            )
        return b"".join(self._parts)

    def _add(self, data: bytes) -> bool:
        if not data:
            return True
        self._size += len(data)
        if self._size > self.cap:
            self.complete = False
            if self.success:
                raise TransportResponseTooLargeError(
                    f"The response body is larger than max_response_bytes ({self.cap:,} "
                    "bytes once decoded); it was read no further.",
                    status=self.status,
                    headers=self.headers,
                )
            self._parts.append(data[: len(data) - (self._size - self.cap)])
            return False
        self._parts.append(data)
        return True


class _Deflate:
    """`deflate` as servers send it: zlib-wrapped, or (wrongly, but often)
    raw; decided on the first bytes, as browsers and urllib3 do."""

    def __init__(self) -> None:
        self._inner: Any = None
        self._first = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._inner is None:
            self._first += data
            if len(self._first) < 2:
                return b""
            data, self._first = self._first, b""
            zlib_header = (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        return bytes(self._inner.decompress(data, max_length))

    @property
    def unconsumed_tail(self) -> bytes:
        return bytes(self._inner.unconsumed_tail) if self._inner is not None else b""

    @property
    def eof(self) -> bool:
        return bool(self._inner is not None and self._inner.eof)

    @property
    def unused_data(self) -> bytes:
        return b""  # deflate has one stream; trailing bytes are ignored
