"""How an answer (or a failure) becomes the call's result or error: the
status error with its message and hints, the connection error, the decoded
body. Pure functions over a `RawResponse` or a `TransportError`."""

from __future__ import annotations

import time
from typing import TypeVar, cast
from urllib.parse import urlsplit

import msgspec

from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ResponseTooLargeError,
    TransportCertificateError,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportResponseTooLargeError,
    TransportTimeoutError,
    mask_userinfo,
    snippet,
    status_error_class,
)
from ._headers import Headers
from ._models import DECODERS, decode_error
from ._retry import requested_wait
from ._transport import RawResponse

__all__ = [
    "RETRYABLE_TRANSPORT_ERRORS",
    "ROUTE_MISSING_HINT",
    "connection_error",
    "decode",
    "status_error",
]

R = TypeVar("R")


ROUTE_MISSING_HINT = (
    "The batches route itself was not found at this base URL: check it (the API's "
    "root, such as https://api.anthropic.com, without /v1)."
)


def status_error(
    raw: RawResponse, attempts: int, note: str, *, listing: bool = False
) -> APIStatusError:
    envelope = decode_error(raw.body)
    detail = envelope.error if envelope is not None else None
    error_type = detail.type if detail is not None else None
    if detail is not None and detail.message:
        api_message = snippet(detail.message.encode(), limit=1000)
    else:
        api_message = snippet(raw.body)
    request_id = raw.headers.get("request-id") or (envelope.request_id if envelope else None)
    cls = status_error_class(raw.status)
    if 300 <= raw.status < 400:
        location = snippet(raw.headers.get("location", "").encode())
        hint = (
            f"The server redirected to {location}; batchdelete never follows "
            "redirects (one could carry the API key to another host). Check base_url."
        )
    elif listing and raw.status == 404:
        hint = ROUTE_MISSING_HINT
    else:
        hint = cls.hint
    kind = f" ({error_type})" if error_type else ""
    parts = [f"Error code {raw.status}{kind}: {api_message.rstrip('.')}."]
    if request_id:
        parts.append(f"Request id: {request_id}.")
    parts += [p for p in (hint, note) if p]
    return cls(
        " ".join(parts),
        status_code=raw.status,
        body=raw.body,
        headers=Headers(raw.headers),
        error_type=error_type,
        api_message=api_message,
        request_id=request_id,
        retry_after=requested_wait(raw.headers, time.time()),
        attempts=attempts,
    )


def connection_error(exc: TransportError, url: str, attempts: int) -> APIError:
    if isinstance(exc, TransportResponseTooLargeError):
        return ResponseTooLargeError(
            f"The API answered {exc.status or 'with a success'} but {exc} Raise "
            "max_response_bytes if such a body is expected.",
            status_code=exc.status,
            body=b"",
            headers=exc.headers,
            request_id=exc.headers.get("request-id"),
            attempts=attempts,
        )
    if isinstance(exc, TransportCertificateError):
        host = urlsplit(url).hostname
        return APIConnectionError(
            f"Certificate verify failed for {host}: {exc}; pass a CA bundle that "
            "trusts the server with SSL_CERT_FILE (REQUESTS_CA_BUNDLE for the "
            "requests transport), or your own HTTP client configured for it. "
            "Not retried: the same certificate would fail again.",
            attempts=attempts,
        )
    if isinstance(exc, TransportTimeoutError):
        return APITimeoutError(
            f"The request to {url} timed out ({mask_userinfo(str(exc))}). "
            "Raise the timeout or try again.",
            attempts=attempts,
        )
    return APIConnectionError(
        f"The request to {url} did not complete ({type(exc).__name__}: "
        f"{mask_userinfo(str(exc))}). "
        "Check the network and base_url, then try again.",
        attempts=attempts,
    )


RETRYABLE_TRANSPORT_ERRORS = (TransportConnectError, TransportTimeoutError, TransportProtocolError)


def decode(raw: RawResponse, model: type[R], attempts: int) -> R:
    """The 2xx body as `model`; anything else is an `APIResponseValidationError`
    (deep nesting included) showing at most the first 200 bytes."""
    try:
        return cast(R, DECODERS[model].decode(raw.body))
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        what = f"a {model.__name__}" if isinstance(exc, msgspec.ValidationError) else "valid JSON"
        raise APIResponseValidationError(
            f"The API answered {raw.status} but the body is not {what} "
            f"({exc}). Body: {snippet(raw.body)}",
            status_code=raw.status,
            body=raw.body,
            headers=Headers(raw.headers),
            request_id=raw.headers.get("request-id"),
            attempts=attempts,
        ) from None
