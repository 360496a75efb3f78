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
               ├── PaymentRequiredError       402
               ├── NotFoundError              404
               ├── RequestTimeoutError        408
               ├── ConflictError              409
               ├── PreconditionFailedError    412
               ├── ContentTooLargeError       413 (also RequestTooLargeError)
               ├── UnprocessableEntityError   422
               ├── RateLimitError             429
               ├── RequestHeaderFieldsTooLargeError  431
               ├── ClientClosedRequestError   499
               └── InternalServerError        500 and any other 5xx
                    ├── HTTPNotImplementedError   501
                    ├── ServiceUnavailableError   503
                    ├── GatewayTimeoutError       504 (also DeadlineExceededError)
                    └── OverloadedError           529

* defined with the workflows (_workflows.py) or the id rules (_ids.py).
The names, bases and attributes match the official SDK's (`AnthropicError`
is `BatchDeleteError`; `body` is the decoded JSON, `raw_body` the bytes,
`response` a small `ErrorResponse`, not an httpx.Response). No message,
repr or attribute of an exception ever holds the API key or auth token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AnthropicError",
    "AuthenticationError",
    "BadRequestError",
    "BatchDeleteError",
    "ClientClosedRequestError",
    "ConfigurationError",
    "ConflictError",
    "ContentTooLargeError",
    "CredentialsError",
    "DeadlineExceededError",
    "ErrorResponse",
    "GatewayTimeoutError",
    "HTTPNotImplementedError",
    "InternalServerError",
    "NotFoundError",
    "OverloadedError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RateLimitError",
    "RequestHeaderFieldsTooLargeError",
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


class CredentialsError(ConfigurationError):
    """The credential chain found a profile or workload identity settings
    that could not be used, or a credentials provider failed to supply an
    access token. The message names the step of the chain, never a secret.
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
    """The request did not complete: no connection, or it broke. `body` is
    None (there was no answer), as in the SDK."""

    body: object | None = None


class APITimeoutError(APIConnectionError):
    """The request timed out, or the call's overall deadline passed."""


_NOT_DECODED: Any = object()


class ErrorResponse(NamedTuple):
    """The answer an error came with, where the SDK has an httpx.Response:
    `status_code`, `headers` (lower-case names), `content` (the bytes kept:
    an error body up to 64 KiB), `text` and `json()`."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return msgspec.json.decode(self.content)


class _WithBody(APIError):
    """An error with the answer's status, headers and body: `raw_body` is
    the bytes, `body` the decoded JSON (the stripped text when it is not
    JSON), as the SDK's `body`; `response` an `ErrorResponse`."""

    status_code: int
    headers: Mapping[str, str]
    raw_body: bytes

    @property
    def body(self) -> object | None:
        decoded = self.__dict__.get("_body", _NOT_DECODED)
        if decoded is _NOT_DECODED:
            text = self.raw_body.decode("utf-8", "replace").strip()
            try:
                decoded = msgspec.json.decode(text)
            except (msgspec.DecodeError, RecursionError):  # not JSON, or nested too deep
                decoded = text  # as the SDK: the text, stripped ("" when empty)
            self.__dict__["_body"] = decoded
        result: object | None = decoded
        return result

    @property
    def response(self) -> ErrorResponse:
        from ._headers import Headers

        return ErrorResponse(self.status_code, Headers(self.headers), self.raw_body)


class APIResponseValidationError(_WithBody):
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
        self.raw_body = body
        self.headers = headers


class ResponseTooLargeError(APIResponseValidationError):
    """A successful status came with a body larger than `max_response_bytes`
    (once decoded); it was read no further and the connection was dropped."""


class APIStatusError(_WithBody):
    """The API answered with a status that is not 2xx.

    Attributes: `status_code`, `request_id`, `error_type` (the API's
    `error.type`, or None; also `type`, the SDK's name), `api_message` (the
    API's `error.message`, or a readable excerpt of whatever body came
    back), `body` (the decoded JSON, or the stripped text), `raw_body` (the bytes),
    `headers` (lower-case names), `response` (an `ErrorResponse`), and
    `retry_after`: the wait in seconds the server asked for, when it asked
    for one.
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
        self.raw_body = body
        self.headers = headers
        self.error_type = error_type
        self.api_message = api_message
        self.retry_after = retry_after

    @property
    def type(self) -> str | None:
        """The API's `error.type` (`error_type`), under the SDK's name."""
        return self.error_type

    @property
    def error_code(self) -> str | None:
        """The API's `error.details.error_code` when the body has one (the
        SDK raises a subclass per code; here, branch on this)."""
        body = self.body
        error = body.get("error") if isinstance(body, dict) else None
        details = error.get("details") if isinstance(error, dict) else None
        code = details.get("error_code") if isinstance(details, dict) else None
        return code if isinstance(code, str) else None


class BadRequestError(APIStatusError):
    """400: the API refused the request (`BatchRunningError`, a subclass, for a batch still
    running)."""

    hint = (
        "The API refused the request as sent; its message says why (a batch still "
        "in progress or canceling must be canceled and finish before it is deleted)."
    )


class AuthenticationError(APIStatusError):
    """401: the credential (a key, a token) was refused."""

    hint = (
        "Check the credential (the client's credential_source says which step of the "
        "chain supplied it: api_key=, ANTHROPIC_API_KEY, a profile...)."
    )


class PaymentRequiredError(APIStatusError):
    """402: the organization's billing stops the request."""

    hint = "The organization's billing must be settled before the API accepts requests."


class PermissionDeniedError(APIStatusError):
    """403: the credentials may not act on this batch or workspace."""

    hint = "The credentials are valid but may not act on this batch."


class NotFoundError(APIStatusError):
    """404: no such batch (unknown, or already deleted), or no such route."""

    hint = "Check the batch id and the workspace; the batch may already be deleted."


class RequestTimeoutError(APIStatusError):
    """408: the server gave up waiting for the request."""

    hint = "The server gave up waiting for the request; try again."


class ConflictError(APIStatusError):
    """409: the request conflicts with the batch's state."""

    hint = "The batch changed while the request ran; try again."


class PreconditionFailedError(APIStatusError):
    """412: a precondition of the request did not hold."""

    hint = "A precondition of the request did not hold."


class ContentTooLargeError(APIStatusError):
    """413: the request is larger than the API accepts (`RequestTooLargeError`, the SDK's older
    name, is this class)."""

    hint = "The request is larger than the API accepts."


RequestTooLargeError = ContentTooLargeError  # the SDK's older name


class UnprocessableEntityError(APIStatusError):
    """422: the API could not process the request as sent."""

    hint = "The API could not process the request as sent."


class RateLimitError(APIStatusError):
    """429: the credentials are rate limited; `retry_after` is the wait the server asked for, if it
    asked."""

    hint = "The API is rate limiting these credentials; wait and try again."


class RequestHeaderFieldsTooLargeError(APIStatusError):
    """431: the request's headers are larger than the server accepts."""

    hint = "The request's headers are larger than the server accepts."


class ClientClosedRequestError(APIStatusError):
    """499: the request was closed before the API answered."""

    hint = "The request was closed before the API answered; try again."


class InternalServerError(APIStatusError):
    """500, or any 5xx without a class of its own: a failure on the server's side."""

    hint = "The API had a server-side failure; try again later."


class HTTPNotImplementedError(InternalServerError):
    """501: the server does not support the request."""

    hint = "The server does not support this request."


class ServiceUnavailableError(InternalServerError):
    """503: the API is unavailable for now."""

    hint = "The API is unavailable for now; try again later."


class GatewayTimeoutError(InternalServerError):
    """504: a gateway timed out waiting for the API (`DeadlineExceededError`, the SDK's older name,
    is this class)."""

    hint = "A gateway timed out waiting for the API; try again later."


class OverloadedError(InternalServerError):
    """529: the API is overloaded."""

    hint = "The API is overloaded; try again later."


DeadlineExceededError = GatewayTimeoutError  # the SDK's older name
AnthropicError = BatchDeleteError  # the SDK's base class name


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    412: PreconditionFailedError,
    413: ContentTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    431: RequestHeaderFieldsTooLargeError,
    499: ClientClosedRequestError,
    501: HTTPNotImplementedError,
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
