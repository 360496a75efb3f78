"""The exceptions of batchdelete, all under one base class.

    BatchDeleteError
     ├── ConfigurationError            bad argument, credentials, id, or transport
     │    │                            (also a ValueError); raised before any I/O,
     │    │                            or when the batches route proves missing
     │    └── InvalidBatchIdError      not a batch id where only one is accepted *
     ├── StoppedError                  a bulk run was stopped during a forced wait *
     ├── TransportError                raised by a transport's send(); the client
     │    ├── TransportConnectError    turns it into an APIConnectionError
     │    │    └── TransportCertificateError  TLS verification failed: not retried
     │    ├── TransportTimeoutError
     │    ├── TransportProtocolError
     │    └── TransportResponseTooLargeError  a body over the cap: not retried
     └── APIError                      the call did not give the expected result
          ├── APIConnectionError       the request did not complete
          │    └── APITimeoutError
          │         └── CancelTimeoutError   a forced wait for a batch to end ran out *
          ├── APIResponseValidationError  a 2xx whose body is not what the API
          │    │                          promises
          │    └── ResponseTooLargeError  a 2xx body over max_response_bytes
          └── APIStatusError           a non-2xx status (3xx included)
               ├── BadRequestError            400
               │    └── BatchRunningError     still running, and no force *
               ├── AuthenticationError        401
               ├── PermissionDeniedError      403
               ├── NotFoundError              404
               ├── RequestTimeoutError        408
               ├── ConflictError              409
               ├── RequestTooLargeError       413
               ├── UnprocessableEntityError   422
               ├── RateLimitError             429
               └── InternalServerError        500 and any other 5xx
                    ├── ServiceUnavailableError   503
                    ├── GatewayTimeoutError       504
                    └── OverloadedError           529

* defined with the workflows (_workflows.py) or the id rules (_ids.py).
The API names match the official SDK's. No message, repr or attribute of
an exception ever holds the API key or auth token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchDeleteError",
    "ConfigurationError",
    "ConflictError",
    "GatewayTimeoutError",
    "InternalServerError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "ServiceUnavailableError",
    "TransportCertificateError",
    "TransportConnectError",
    "TransportError",
    "TransportProtocolError",
    "TransportResponseTooLargeError",
    "TransportTimeoutError",
    "UnprocessableEntityError",
    "mask_userinfo",
    "snippet",
]

SNIPPET_BYTES = 200
_USERINFO = re.compile(r"(?<=//)[^/@\s'\"]+@")


def mask_userinfo(text: str) -> str:
    """`text` with the user name and password of any URL in it masked, as in
    `http://***@proxy:3128` (a library's message may quote a proxy URL)."""
    return _USERINFO.sub("***@", text)


def snippet(body: bytes, limit: int = SNIPPET_BYTES) -> str:
    """Show at most `limit` bytes of a body as one printable line."""
    if not body:
        return "(empty body)"
    text = body[:limit].decode("utf-8", "replace")
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return shown + ("..." if len(body) > limit else "")


def _rebuild(
    cls: type[BaseException], args: tuple[object, ...], state: dict[str, object]
) -> BaseException:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class BatchDeleteError(Exception):
    """Base class of every exception raised by batchdelete."""

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take keyword-only arguments: pickle the state, not a call
        # of __init__, so that errors cross process boundaries intact.
        return (_rebuild, (type(self), self.args, self.__dict__))


class ConfigurationError(BatchDeleteError, ValueError):
    """An argument, the environment or the chosen transport is unusable.

    Raised before any request is sent.
    """


class TransportError(BatchDeleteError):
    """A transport could not complete the request for a reason other than
    the three below (for example a URL its library refuses). Not retried."""


class TransportConnectError(TransportError):
    """The connection could not be opened, or broke before the response
    was read."""


class TransportCertificateError(TransportConnectError):
    """The server's TLS certificate failed verification. Not retried: the
    same certificate would fail again."""


class TransportResponseTooLargeError(TransportError):
    """A success body passed the cap (`RequestSpec.max_body`) once decoded.
    Not retried: the same answer would come again. `status` and `headers`
    are those of the response."""

    def __init__(
        self, message: str, *, status: int = 0, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


class TransportTimeoutError(TransportError):
    """Connecting or reading the response took longer than the timeout."""


class TransportProtocolError(TransportError):
    """The server's answer was not valid HTTP, or was cut short."""


class APIError(BatchDeleteError):
    """The call did not produce the expected result.

    `request_id` is the API's id for the request when one was seen;
    `attempts` counts the HTTP requests the call made.
    """

    def __init__(self, message: str, *, request_id: str | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.attempts = attempts


class APIConnectionError(APIError):
    """The request did not complete: no connection, or it broke."""


class APITimeoutError(APIConnectionError):
    """The request timed out, or the call's overall deadline passed."""


class APIResponseValidationError(APIError):
    """A successful status came with a body that is not the promised object."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: bytes,
        headers: Mapping[str, str],
        request_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, request_id=request_id, attempts=attempts)
        self.status_code = status_code
        self.body = body
        self.headers = headers


class ResponseTooLargeError(APIResponseValidationError):
    """A successful status came with a body larger than `max_response_bytes`
    (once decoded); it was read no further and the connection was dropped."""


class APIStatusError(APIError):
    """The API answered with a status that is not 2xx.

    Attributes: `status_code`, `request_id`, `error_type` (the API's
    `error.type`, or None), `api_message` (the API's `error.message`, or a
    readable excerpt of whatever body came back), `body` (raw bytes),
    `headers` (lower-case names), and `retry_after`: the wait in seconds the
    server asked for, when it asked for one.
    """

    #: What the user can do about this kind of error; ends the message.
    hint = ""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: bytes,
        headers: Mapping[str, str],
        error_type: str | None,
        api_message: str,
        request_id: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, request_id=request_id, attempts=attempts)
        self.status_code = status_code
        self.body = body
        self.headers = headers
        self.error_type = error_type
        self.api_message = api_message
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    hint = (
        "The API refused the request. A batch that is still in progress or "
        "canceling must be canceled and finish before it can be deleted."
    )


class AuthenticationError(APIStatusError):
    hint = "Check the API key (ANTHROPIC_API_KEY) or auth token (ANTHROPIC_AUTH_TOKEN)."


class PermissionDeniedError(APIStatusError):
    hint = "The credentials are valid but may not act on this batch."


class NotFoundError(APIStatusError):
    hint = "Check the batch id and the workspace; the batch may already be deleted."


class RequestTimeoutError(APIStatusError):
    hint = "The server gave up waiting for the request; try again."


class ConflictError(APIStatusError):
    hint = "The batch changed while the request ran; try again."


class RequestTooLargeError(APIStatusError):
    hint = "The request is larger than the API accepts."


class UnprocessableEntityError(APIStatusError):
    hint = "The API could not process the request as sent."


class RateLimitError(APIStatusError):
    hint = "The API is rate limiting these credentials; wait and try again."


class InternalServerError(APIStatusError):
    hint = "The API had a server-side failure; try again later."


class ServiceUnavailableError(InternalServerError):
    hint = "The API is unavailable for now; try again later."


class GatewayTimeoutError(InternalServerError):
    hint = "A gateway timed out waiting for the API; try again later."


class OverloadedError(InternalServerError):
    hint = "The API is overloaded; try again later."


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
    504: GatewayTimeoutError,
    529: OverloadedError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP status that is not 2xx."""
    cls = STATUS_ERRORS.get(status)
    if cls is not None:
        return cls
    if status >= 500:
        return InternalServerError
    return APIStatusError
