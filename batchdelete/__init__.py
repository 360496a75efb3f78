"""batchdelete: delete Anthropic Message Batches through a pluggable HTTP transport.

import batchdelete

with batchdelete.Client() as client:          # ANTHROPIC_API_KEY
    deleted = client.delete("msgbatch_...")
"""

from ._client import APIResponse, Client
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchDeleteError,
    ConfigurationError,
    ConflictError,
    GatewayTimeoutError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    RequestTooLargeError,
    ServiceUnavailableError,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
    UnprocessableEntityError,
)
from ._models import (
    AnthropicBeta,
    BetaDeletedMessageBatch,
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchPage,
    RequestCounts,
)
from ._registry import (
    TransportInfo,
    get_plugin_manager,
    list_transports,
    register_plugin,
    unregister_plugin,
)
from ._spec import RequestSpec, Timeout
from ._transport import RawResponse, Transport
from ._version import __version__
from ._workflows import (
    BatchRunningError,
    CancelTimeoutError,
    Outcome,
    StoppedError,
    delete_batch,
    delete_many,
    wait_until_ended,
)
from .hookspecs import hookimpl

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponse",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AnthropicBeta",
    "AuthenticationError",
    "BadRequestError",
    "BatchDeleteError",
    "BatchRunningError",
    "BetaDeletedMessageBatch",
    "CancelTimeoutError",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "DeletedMessageBatch",
    "GatewayTimeoutError",
    "InternalServerError",
    "MessageBatch",
    "MessageBatchPage",
    "NotFoundError",
    "Outcome",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "RawResponse",
    "RequestCounts",
    "RequestSpec",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "ServiceUnavailableError",
    "StoppedError",
    "Timeout",
    "Transport",
    "TransportConnectError",
    "TransportError",
    "TransportInfo",
    "TransportProtocolError",
    "TransportTimeoutError",
    "UnprocessableEntityError",
    "__version__",
    "delete_batch",
    "delete_many",
    "get_plugin_manager",
    "hookimpl",
    "list_transports",
    "register_plugin",
    "unregister_plugin",
    "wait_until_ended",
]
