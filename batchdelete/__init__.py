"""batchdelete: delete Anthropic Message Batches through a pluggable HTTP transport.

import batchdelete

with batchdelete.Client() as client:          # ANTHROPIC_API_KEY
    deleted = client.delete("msgbatch_...")

async with batchdelete.AsyncClient() as client:
    deleted = await client.delete("msgbatch_...")
"""

from ._async_client import AsyncClient
from ._async_workflows import adelete_batch, adelete_many, await_until_ended
from ._client import APIResponse, Client
from ._errors import (
    AnthropicError,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchDeleteError,
    ClientClosedRequestError,
    ConfigurationError,
    ConflictError,
    ContentTooLargeError,
    CredentialsError,
    DeadlineExceededError,
    ErrorResponse,
    GatewayTimeoutError,
    HTTPNotImplementedError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PaymentRequiredError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    RequestHeaderFieldsTooLargeError,
    RequestTimeoutError,
    RequestTooLargeError,
    ResponseTooLargeError,
    ServiceUnavailableError,
    TransportCertificateError,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportResponseTooLargeError,
    TransportTimeoutError,
    UnprocessableEntityError,
)
from ._ids import BATCH_ID_PATTERN, InvalidBatchIdError, check_batch_id, parse_batch_ids
from ._journal import Journal
from ._models import (
    AnthropicBeta,
    BetaDeletedMessageBatch,
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchPage,
    RequestCounts,
)
from ._options import ConnectionOptions
from ._registry import (
    TransportInfo,
    get_plugin_manager,
    list_transports,
    register_plugin,
    unregister_plugin,
)
from ._spec import RequestSpec, Timeout
from ._transport import AsyncTransport, RawResponse, Transport, is_loopback_host
from ._version import __version__
from ._workflows import (
    BatchRunningError,
    CancelTimeoutError,
    Outcome,
    Progress,
    StoppedError,
    delete_batch,
    delete_many,
    wait_until_ended,
)
from .hookspecs import hookimpl

__all__ = [
    "BATCH_ID_PATTERN",
    "APIConnectionError",
    "APIError",
    "APIResponse",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AnthropicBeta",
    "AnthropicError",
    "AsyncClient",
    "AsyncTransport",
    "AuthenticationError",
    "BadRequestError",
    "BatchDeleteError",
    "BatchRunningError",
    "BetaDeletedMessageBatch",
    "CancelTimeoutError",
    "Client",
    "ClientClosedRequestError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionOptions",
    "ContentTooLargeError",
    "CredentialsError",
    "DeadlineExceededError",
    "DeletedMessageBatch",
    "ErrorResponse",
    "GatewayTimeoutError",
    "HTTPNotImplementedError",
    "InternalServerError",
    "InvalidBatchIdError",
    "Journal",
    "MessageBatch",
    "MessageBatchPage",
    "NotFoundError",
    "Outcome",
    "OverloadedError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "Progress",
    "RateLimitError",
    "RawResponse",
    "RequestCounts",
    "RequestHeaderFieldsTooLargeError",
    "RequestSpec",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "ServiceUnavailableError",
    "StoppedError",
    "Timeout",
    "Transport",
    "TransportCertificateError",
    "TransportConnectError",
    "TransportError",
    "TransportInfo",
    "TransportProtocolError",
    "TransportResponseTooLargeError",
    "TransportTimeoutError",
    "UnprocessableEntityError",
    "__version__",
    "adelete_batch",
    "adelete_many",
    "await_until_ended",
    "check_batch_id",
    "delete_batch",
    "delete_many",
    "get_plugin_manager",
    "hookimpl",
    "is_loopback_host",
    "list_transports",
    "parse_batch_ids",
    "register_plugin",
    "unregister_plugin",
    "wait_until_ended",
]
