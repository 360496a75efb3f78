"""Helpers of the pycurl transport (`batchdelete_pycurl`), not a plugin: what
each libcurl error code means, the callbacks of one exchange, the check of
the chunked framing libcurl lets by, routes and names, the TLS options.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import time
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple, cast
from urllib.parse import unquote, urlsplit

from batchdelete import (
    ConfigurationError,
    ConnectionOptions,
    RawResponse,
    RequestSpec,
    TransportCertificateError,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportResponseTooLargeError,
    TransportTimeoutError,
)
from batchdelete.guards import BodyReader, head_problem, mask_userinfo

ABORT = -1  # what a callback returns to stop the transfer (never the length it was given)

# -- libcurl's error codes --------------------------------------------------------------

#: Every CURLcode of libcurl 8 (curl.h: 1 to 101), by the core error it
#: becomes. Those of other protocols (FTP, LDAP, SSH...), of options never
#: set here and of misuse are `TransportError` on purpose: not retried.
_GROUPS: dict[type[TransportError], str] = {
    # resolve, connect, send, receive, TLS handshake, empty reply, proxy handshake
    TransportConnectError: "5 6 7 35 45 52 55 56 80 81 89 96 97 101",
    TransportTimeoutError: "12 28",  # connect, total (deadline), low speed (read)
    TransportCertificateError: "60 83 90 91",  # the peer's certificate, issuer, pin, status
    # not HTTP/1.x as it must be (1: bad version, HTTP/0.9), cut short (18), ...
    TransportProtocolError: "1 8 16 18 61 92 95 100",
    TransportResponseTooLargeError: "63",
    TransportError: (
        "2 3 4 9 10 11 13 14 15 17 19 20 21 22 23 24 25 26 27 29 30 31 32 33 34 36 37 38 "
        "39 40 41 42 43 44 46 47 48 49 50 51 53 54 57 58 59 62 64 65 66 67 68 69 70 71 72 "
        "73 74 75 76 77 78 79 82 84 85 86 87 88 93 94 98 99"
    ),
}
CODES: dict[int, type[TransportError]] = {
    int(code): cls for cls, codes in _GROUPS.items() for code in codes.split()
}
LAST_CODE = 101
#: pycurl constants named E_* that are no result of an easy transfer: success,
#: the multi interface's codes, and pycurl's own "already complete".
NOT_TRANSFER_RESULTS = ("E_OK", "E_CALL_MULTI_PERFORM", "E_ALREADY_COMPLETE", "E_MULTI_")


def curl_failure(exc: BaseException) -> TransportError:
    """The core error for a `pycurl.error` (its code and libcurl's message)."""
    code, message = [*exc.args, 0, ""][:2]
    code = code if isinstance(code, int) else -1
    text = mask_userinfo(str(message).rstrip(". ") or "no message")
    return CODES.get(code, TransportError)(f"{text} (libcurl error {code})")


def via_proxy(exc: BaseException, shown: str, connect_code: int) -> TransportError:
    """The error for `exc` (a `pycurl.error`) through the proxy `shown`,
    named: it refused CONNECT, could not be reached, or carried a failure."""
    error = curl_failure(exc)
    if connect_code >= 300:
        hint = " (proxy authentication: check the user name and password in its URL)"
        return TransportConnectError(
            f"The proxy {shown} answered CONNECT with {connect_code}"
            f"{hint if connect_code == 407 else ''}."
        )
    if exc.args and exc.args[0] in _PROXY_UNREACHABLE:
        return TransportConnectError(
            f"The proxy {shown} refused the connection or could not be reached: {error}"
        )
    return type(error)(f"{error}, through the proxy {shown}")


_PROXY_UNREACHABLE = (5, 7, 97)  # COULDNT_RESOLVE_PROXY, COULDNT_CONNECT, PROXY


# -- chunked framing --------------------------------------------------------------------

_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")
_MAX_SIZE_LINE = 4096


class ChunkCheck:
    """libcurl frames chunks itself, but skips what follows a size's hex
    digits (`0x5` is 0, `5_0` is 5), then waits for bytes that never come.
    This walks the raw body (transfer decoding off), refuses such a size line
    and returns the data; `done`: the last chunk was seen."""

    __slots__ = ("_left", "_line", "done")

    def __init__(self) -> None:
        self._line = b""
        self._left = -1  # bytes of chunk data to come; -1: a size line; 0: its CRLF
        self.done = False

    def feed(self, raw: bytes) -> list[bytes]:
        data: list[bytes] = []
        pos, end = 0, len(raw)
        while pos < end and not self.done:
            if self._left > 0:
                take = min(self._left, end - pos)
                data.append(raw[pos : pos + take])
                pos, self._left = pos + take, self._left - take
            elif self._left == 0:  # after the data, as libcurl: CRs then LF
                pos += 1
                if raw[pos - 1] == 0x0A:
                    self._left = -1
                elif raw[pos - 1] != 0x0D:
                    raise _malformed("chunk data not followed by CRLF")
            else:
                newline = raw.find(b"\n", pos)
                line = self._line + raw[pos : end if newline < 0 else newline + 1]
                pos, self._line = (end, line) if newline < 0 else (newline + 1, b"")
                if newline < 0 and len(line) > _MAX_SIZE_LINE:
                    raise _malformed("a chunk size line without end")
                match = None if newline < 0 else _SIZE_LINE.fullmatch(line)
                if match is None and newline >= 0:
                    raise _malformed(f"invalid chunk size line {line[:40]!r}")
                if match is not None:
                    self._left = int(match.group(1), 16)
                    self.done = not self._left  # the trailer fields are libcurl's
        return data


def _malformed(what: str) -> TransportProtocolError:
    return TransportProtocolError(f"The response is malformed: {what}.")


# -- one exchange -----------------------------------------------------------------------

_STATUS = re.compile(rb"HTTP/[0-9](?:\.[0-9])? ([0-9]{3})(?:[ \t\r\n]|\Z)")
_VISIBLE = bytes([9, *range(0x20, 0x7F), *range(0x80, 0x100)])  # all bytes but controls


def _plain_head(lines: list[bytes]) -> tuple[int, dict[str, str]] | None:
    """A head as most are, in few operations (CRLF ends only, `HTTP/1.x NNN`,
    names once, no transfer-encoding, a content-length of digits), else None."""
    count, head, first = len(lines), b"".join(lines), lines[0]
    rows = head.decode("latin-1").split("\r\n")
    if (
        count < 2
        or head.translate(None, _VISIBLE) != b"\r\n" * count
        or len(rows) != count + 1  # so each CR ends a line
        or first[:9] not in (b"HTTP/1.1 ", b"HTTP/1.0 ")
        or not first[9:12].isdigit()
        or first[12:13] not in (b" ", b"\r")
    ):
        return None
    headers: dict[str, str] = {}
    for row in rows[1:-2]:
        name, colon, value = row.partition(":")
        if not colon or name[:1] in " \t":  # "" is in too
            return None
        headers[name.lower()] = value.strip(" \t")
    length = headers.get("content-length", "0")
    if len(headers) != count - 2 or "transfer-encoding" in headers or len(length) > 18:
        return None
    return (int(first[9:12]), headers) if length.isdecimal() else None  # Latin-1's: 0-9


def _head(lines: list[bytes]) -> tuple[int, dict[str, str]]:
    """Any head (its blank line last), checked line by line."""
    match = _STATUS.match(lines[0]) if len(lines) > 1 else None
    if match is None:
        raise _malformed(f"invalid status line {(lines[:-1] or [b''])[0][:80]!r}")
    if int(match.group(1)) < 200:
        return int(match.group(1)), {}  # an interim answer, dropped unread
    items: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if line[:1] in (b" ", b"\t"):  # obs-fold (libcurl 8 unfolds it already)
            if not items:
                raise _malformed("a folded first line")
            key, text = items[-1]
            items[-1] = (key, f"{text} {line.strip().decode('latin-1')}")
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            raise _malformed(f"header line {line[:40]!r} without a name")
        text = value.rstrip(b"\r\n").strip(b" \t").decode("latin-1")
        items.append((name.decode("latin-1").lower(), text))
    problem = head_problem(items)
    if problem is not None:
        raise _malformed(problem)
    fields: dict[str, str] = {}
    for key, text in items:
        fields[key] = f"{fields[key]}, {text}" if key in fields else text
    return int(match.group(1)), fields


class Exchange:
    """The callbacks of a handle and its request's state: each head read at its
    blank line (1xx, a proxy's answer to CONNECT, the final one), the raw body
    into a `BodyReader` capped by the final status. A callback never raises
    (pycurl would print it): it keeps the failure and returns `ABORT`."""

    __slots__ = ("began", "capped", "chunks", "failure", "head", "lines", "reader", "sends", "spec")
    head: tuple[int, dict[str, str]]  # the final one's status and fields, once read

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.start(None)

    def start(self, spec: RequestSpec | None) -> None:
        self.spec = spec
        self.lines.clear()
        self.reader: BodyReader | None = None
        self.chunks: ChunkCheck | None = None
        self.failure: BaseException | None = None
        self.began = self.capped = False  # began: the body
        self.sends = 0

    def header(self, line: bytes) -> int | None:
        self.lines.append(line)
        if line not in (b"\r\n", b"\n") or self.began:  # after the body: trailer fields
            return None
        try:
            head = _plain_head(self.lines) or _head(self.lines)
            self.lines.clear()
            if head[0] >= 200:  # not an interim answer: the next head follows those
                spec, self.head = cast(RequestSpec, self.spec), head
                self.reader = BodyReader(
                    *head, max_body=spec.max_body, max_error_body=spec.max_error_body
                )  # head_problem let transfer-encoding by only as chunked, alone:
                self.chunks = ChunkCheck() if "transfer-encoding" in head[1] else None
            return None
        except Exception as exc:
            self.failure = exc
            return ABORT

    def body(self, raw: bytes) -> int | None:
        try:
            self.began = True
            if (reader := self.reader) is None:
                raise _malformed("a body before its head")
            if all(map(reader.feed, (raw,) if self.chunks is None else self.chunks.feed(raw))):
                return None
            self.capped = True  # an error body at its cap: kept, cut short
            return ABORT
        except Exception as exc:
            self.failure = exc
            return ABORT

    def prereq(self, remote_ip: str, local_ip: str, remote_port: int, local_port: int) -> int:
        """Before a request goes out; a second one is libcurl's resend: refused."""
        self.sends += 1
        if self.sends == 1:
            return 0  # CURL_PREREQFUNC_OK
        self.failure = TransportConnectError(
            "The server closed a kept-alive connection without answering the request."
        )
        return 1  # CURL_PREREQFUNC_ABORT

    def response(self) -> RawResponse:
        """The response, once the transfer ended (or an error body was cut)."""
        reader, chunks = self.reader, self.chunks
        if reader is None:
            raise TransportProtocolError("The response ended before its head.")
        if not self.capped and chunks is not None and self.began and not chunks.done:
            raise TransportProtocolError("The response ended before its last chunk.")
        return RawResponse(*self.head, reader.finish())


# -- TLS ----------------------------------------------------------------------------------


def tls_settings(pycurl: Any, options: ConnectionOptions) -> list[tuple[int, object]]:
    """Handle options for the TLS of `options`, to the API and an https://
    proxy alike; CA or certificate files that cannot be loaded fail now."""
    verify = options.verify
    if isinstance(verify, str) or options.cert is not None:
        options.ssl_context()  # loads the files: a bad one is refused now
    peer, host, minimum = 1, 2, pycurl.SSLVERSION_TLSv1_2
    ca: dict[str, object] = {}  # CAINFO, CAPATH or CAINFO_BLOB (and PROXY_ ones)
    if verify is False:
        peer = host = 0
    elif isinstance(verify, ssl.SSLContext):
        blob, peer, host, minimum = _from_context(pycurl, verify)
        ca = {"CAINFO_BLOB": blob} if blob is not None else {}
    elif isinstance(verify, str):
        ca = {"CAPATH" if os.path.isdir(verify) else "CAINFO": verify}
    else:  # the system's, as the other transports load them
        paths = ssl.get_default_verify_paths()
        if os.path.isfile(paths.openssl_cafile or ""):
            ca["CAINFO"] = paths.openssl_cafile
        if os.path.isdir(paths.openssl_capath or ""):
            ca["CAPATH"] = paths.openssl_capath
    values = {"SSL_VERIFYPEER": peer, "SSL_VERIFYHOST": host, "SSLVERSION": minimum, **ca}
    settings = [(getattr(pycurl, p + k), v) for p in ("", "PROXY_") for k, v in values.items()]
    if options.cert is not None:
        certfile, keyfile = options.cert if isinstance(options.cert, tuple) else (options.cert,) * 2
        settings += [(pycurl.SSLCERT, certfile), (pycurl.SSLKEY, keyfile)]
    return settings


def _from_context(pycurl: Any, context: ssl.SSLContext) -> tuple[bytes | None, int, int, int]:
    """What libcurl can take of an `ssl.SSLContext`: CAs, peer and host
    name checks, minimum version."""
    peer = int(context.verify_mode != ssl.CERT_NONE)
    host = 2 if peer and context.check_hostname else 0
    tls13 = context.minimum_version == ssl.TLSVersion.TLSv1_3
    minimum = pycurl.SSLVERSION_TLSv1_3 if tls13 else pycurl.SSLVERSION_TLSv1_2
    if not peer:
        return None, 0, 0, minimum
    certificates = context.get_ca_certs(binary_form=True)
    if not certificates:
        raise ConfigurationError(
            "verify= is an ssl.SSLContext whose CA certificates the pycurl transport cannot "
            "read (OpenSSL loads a CA directory or the system store lazily, and libcurl takes "
            "no Python context): pass verify= the CA bundle's path instead, or choose "
            "another transport."
        )
    pem = "".join(ssl.DER_cert_to_PEM_cert(der) for der in certificates)
    return pem.encode("ascii"), peer, host, minimum


def exception_map(pycurl: Any) -> Mapping[type[BaseException], type[TransportError]]:
    """pycurl's one class (by its code: `CODES`), and Python's around it:
    the name lookup (socket.gaierror), reading a hostile response."""
    hostile = (zlib.error, UnicodeError, MemoryError, RecursionError, OverflowError)
    mapping: dict[type[BaseException], type[TransportError]] = {pycurl.error: TransportError}
    mapping.update({TimeoutError: TransportTimeoutError, OSError: TransportConnectError})
    return {**mapping, **dict.fromkeys(hostile, TransportProtocolError)}


# -- routes and names ---------------------------------------------------------------------


class Route(NamedTuple):
    """How requests to one origin go: decided once per origin."""

    proxy: str  # CURLOPT_PROXY: "" (direct) or scheme://host:port, no credentials
    user: str | None
    password: str | None
    shown: str | None  # the proxy as host:port, for messages
    absolute: bool  # plain HTTP through the proxy: absolute-form requests
    host: str | None  # the name libcurl connects to, resolved here (None: an address)
    port: int


def new_route(options: ConnectionOptions, origin: str) -> Route:
    proxy = options.proxy_for(origin)
    parts = urlsplit(proxy or origin)
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise TransportError(f"The pycurl transport cannot send to {origin!r}.") from None
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        ipaddress.ip_address(host)
        named: str | None = None
    except ValueError:
        named = host
    if proxy is None:
        return Route("", None, None, None, False, named, port)
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password or "") if user is not None else None
    absolute = origin.startswith("http:")
    return Route(f"{parts.scheme}://{shown}", user, password, shown, absolute, named, port)


class Names:
    """Names resolved by Python's resolver, as `host:port:address,...` for
    libcurl's RESOLVE, looked up again after `seconds`."""

    def __init__(self, seconds: float, most: int) -> None:
        self.seconds, self.most = seconds, most
        self.found: dict[tuple[str, int], tuple[float, str]] = {}

    def entry(self, host: str, port: int, route: Route) -> str:
        found = self.found.get((host, port))
        now = time.monotonic()
        if found is None or now - found[0] > self.seconds:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                what = f"the proxy {route.shown}" if route.shown else f"host {host}"
                raise TransportConnectError(f"Could not resolve {what}: {exc}.") from exc
            hosts = [str(info[4][0]) for info in infos]
            addresses = dict.fromkeys(f"[{a}]" if ":" in a else a for a in hosts)
            found = (now, f"{host}:{port}:{','.join(addresses)}")
            if len(self.found) >= self.most:
                self.found.clear()
            self.found[(host, port)] = found
        return found[1]
