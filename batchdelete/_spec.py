"""The transport-neutral request: what to send, built and checked before I/O."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec

from ._errors import ConfigurationError

__all__ = [
    "DEFAULT_BASE_URL",
    "RequestSpec",
    "Timeout",
    "batches_url",
    "beta_header",
    "check_header",
    "encode_batch_id",
    "redact_headers",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_ATTEMPT_TIMEOUT = 120.0
DEFAULT_MAX_RESPONSE_BYTES = 1 << 20
DEFAULT_MAX_ERROR_BYTES = 64 << 10
SECRET_HEADERS = frozenset({"x-api-key", "authorization"})
REDACTED = "[redacted]"

# C0 controls and DEL: never allowed in an id or a header value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 9110 token, for header names.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A beta: a non-empty run of visible ASCII without a comma.
_BETA = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
# Ids that need no percent-encoding at all (every real one).
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")
# RFC 3986 pchar less unreserved (which quote() always keeps): sub-delims, ":", "@".
_PCHAR_EXTRA = "!$&'()*+,;=:@"


def _check_seconds(name: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            f"Timeout {name} must be a number of seconds, got {type(value).__name__}."
        )
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(
            f"Timeout {name} must be a finite number of seconds greater than 0, got {value!r}."
        )
    return seconds


class Timeout(msgspec.Struct, frozen=True):
    """Time limits of a call, in seconds.

    `connect` bounds opening a connection and `read` each wait for bytes
    from the server; `attempt` bounds one HTTP request as a whole, from
    connecting to the last byte of the body, however slowly the server
    drips; `deadline`, when set, bounds the whole call: every attempt and
    every wait between attempts. A retry that would pass the deadline is
    not made. These are wall-clock limits that every transport keeps.

    >>> Timeout(connect=2, read=10)
    Timeout(connect=2.0, read=10.0, deadline=None, attempt=120.0)
    """

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT
    deadline: float | None = None
    attempt: float = DEFAULT_ATTEMPT_TIMEOUT

    def __post_init__(self) -> None:
        # Validated once here; normalised to floats.
        for name in ("connect", "read", "deadline", "attempt"):
            value = _check_seconds(name, getattr(self, name), optional=name == "deadline")
            msgspec.structs.force_setattr(self, name, value)

    @classmethod
    def coerce(cls, value: Timeout | float | int | Any) -> Timeout:
        """A Timeout from a Timeout, from seconds for both connect and read,
        or from the SDK's (httpx's) Timeout: its connect and read, each
        None meaning ours (a call here is always bounded)."""
        if isinstance(value, Timeout):
            return value
        if all(hasattr(value, name) for name in ("connect", "read", "write", "pool")):
            connect, read = getattr(value, "connect"), getattr(value, "read")  # noqa: B009
            return cls(
                connect=DEFAULT_CONNECT_TIMEOUT if connect is None else connect,
                read=DEFAULT_READ_TIMEOUT if read is None else read,
            )
        seconds = _check_seconds("timeout", value)
        return cls(connect=seconds, read=seconds) if seconds is not None else cls()

    def replace(self, **changes: float | None) -> Timeout:
        """A copy with some limits changed (validated like a new one)."""
        return msgspec.structs.replace(self, **changes)


class RequestSpec(msgspec.Struct, frozen=True):
    """One HTTP request, as a transport receives it.

    `headers` has lower-case names and values already checked; `timeout`
    gives the connect and read limits of this attempt; `body` is None for a
    request without one. `deadline` is when this attempt must be over, on
    `time.monotonic()`'s clock (None: no bound but the timeouts); the body
    of a 2xx answer may be at most `max_body` bytes once decoded, and the
    body of any other answer is kept up to `max_error_body` bytes. The repr
    hides credentials.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    timeout: Timeout
    body: bytes | None = None
    deadline: float | None = None
    max_body: int = DEFAULT_MAX_RESPONSE_BYTES
    max_error_body: int = DEFAULT_MAX_ERROR_BYTES

    def __repr__(self) -> str:
        return (
            f"RequestSpec(method={self.method!r}, url={self.url!r}, "
            f"headers={redact_headers(self.headers)!r}, timeout={self.timeout!r}, "
            f"body={self.body!r}, deadline={self.deadline!r}, max_body={self.max_body}, "
            f"max_error_body={self.max_error_body})"
        )


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of `headers` safe to show: credentials replaced."""
    return {k: (REDACTED if k in SECRET_HEADERS else v) for k, v in headers.items()}


def encode_batch_id(batch_id: object) -> str:
    """The id as one percent-encoded path segment; refuses what no id can be."""
    if not isinstance(batch_id, str):
        raise ConfigurationError(f"A batch id must be a str, got {type(batch_id).__name__}.")
    if _PLAIN_ID.fullmatch(batch_id):
        return batch_id
    if not batch_id:
        raise ConfigurationError("A batch id must not be empty.")
    if _CONTROL.search(batch_id):
        raise ConfigurationError(
            f"A batch id must not contain control characters, got {batch_id!r}."
        )
    if batch_id in (".", ".."):
        raise ConfigurationError(
            f"A batch id cannot be {batch_id!r}: it would change the URL path."
        )
    if batch_id.startswith(";"):
        raise ConfigurationError(f"A batch id must not start with ';', got {batch_id!r}.")
    return quote(batch_id, safe=_PCHAR_EXTRA)


def check_header(name: str, value: object, *, secret: bool = False) -> str:
    """`value` if it is a str fit for the header `name`; else a clear error.

    A secret value is never shown in the message.
    """
    if not isinstance(value, str):
        raise ConfigurationError(
            f"The {name} header value must be a str, got {type(value).__name__}."
        )
    if _CONTROL.search(value):
        shown = "" if secret else f": {value!r}"
        raise ConfigurationError(
            f"The {name} header value must not contain control characters "
            f"(CR, LF, tab, NUL...){shown}."
        )
    if not value.isascii():
        shown = "" if secret else f": {value!r}"
        raise ConfigurationError(f"The {name} header value must be ASCII{shown}.")
    if value != value.strip(" ") or not value:
        # HTTP drops surrounding spaces (and h11 refuses to send them): what
        # was asked could not be sent exactly, and a key with spaces is a slip.
        shown = "" if secret else f": {value!r}"
        raise ConfigurationError(
            f"The {name} header value must not be empty or start or end with a space{shown}."
        )
    return value


def check_header_name(name: object) -> str:
    """The header name in lower case, if it is an HTTP token."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ConfigurationError(
            f"{name!r} is not a valid HTTP header name (letters, digits and !#$%&'*+.^_`|~- only)."
        )
    return name.lower()


def beta_header(betas: Iterable[str] | str | None) -> str | None:
    """The anthropic-beta value for `betas`, or None when there are none."""
    if betas is None:
        return None
    if isinstance(betas, str):
        betas = [betas]
    tokens: list[str] = []
    for beta in betas:
        token = beta.value if isinstance(beta, enum.Enum) else beta
        if not isinstance(token, str) or not _BETA.fullmatch(token):
            raise ConfigurationError(
                f"Invalid beta {beta!r}: a beta is a non-empty run of visible "
                "ASCII characters without commas or spaces, such as "
                "'message-batches-2024-09-24'."
            )
        tokens.append(token)
    return ",".join(tokens) if tokens else None


def batches_url(base_url: str) -> str:
    """`{base_url}/v1/messages/batches/`, keeping any base path."""
    if _CONTROL.search(base_url) or " " in base_url:
        raise ConfigurationError(
            f"The base URL must not contain spaces or control characters: {base_url!r}."
        )
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ConfigurationError(f"The base URL {base_url!r} is not valid: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"The base URL must look like https://host[:port][/path], got {base_url!r}."
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            "The base URL must not contain a user name or password; pass "
            "credentials with api_key= or auth_token=."
        )
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise ConfigurationError(
            f"The base URL must not have a query or fragment, got {base_url!r}."
        )
    return base_url.rstrip("/") + "/v1/messages/batches/"
