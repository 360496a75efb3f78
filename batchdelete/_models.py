"""Response objects and their decoders (created once, here)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "AnthropicBeta",
    "BetaDeletedMessageBatch",
    "DeletedMessageBatch",
    "ErrorDetail",
    "ErrorEnvelope",
    "MessageBatch",
    "MessageBatchPage",
    "Model",
    "RequestCounts",
    "decode_error",
]

NonEmptyStr = Annotated[str, msgspec.Meta(min_length=1)]


class Model(msgspec.Struct, frozen=True):
    """A result object: a msgspec struct with the SDK's `to_dict()` and
    `to_json()` (thin, over msgspec; the field names are the API's)."""

    def to_dict(self, *, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """The object as a dict, nested objects as dicts; `mode="json"` gives
        only JSON types (datetimes as RFC 3339 strings), as the SDK's does."""
        if mode == "json":
            data: dict[str, Any] = msgspec.to_builtins(self)
            return data
        return {name: _python(getattr(self, name)) for name in self.__struct_fields__}

    def to_json(self, *, indent: int = 2) -> str:
        """The object as a JSON string, indented as the SDK's `to_json()`."""
        text = msgspec.json.encode(self).decode()
        if indent:
            text = msgspec.json.format(text, indent=indent)
        return text


def _python(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return {name: _python(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, list):
        return [_python(item) for item in value]
    return value


class DeletedMessageBatch(Model, frozen=True):
    """What the API returns when a Message Batch is deleted.

    `id` is the deleted batch's id; `type` is always "message_batch_deleted".
    Fields the API may add later are ignored.
    """

    id: NonEmptyStr
    type: Literal["message_batch_deleted"]


class BetaDeletedMessageBatch(DeletedMessageBatch, frozen=True):
    """The same object, returned by the beta path (`client.beta...`)."""


class RequestCounts(Model, frozen=True):
    """How many of a batch's requests are in each state."""

    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0


class MessageBatch(Model, frozen=True):
    """A Message Batch as retrieve, list and cancel return it.

    `processing_status` is "in_progress", "canceling" or "ended" (kept a
    plain `str` so that a status the API adds later still decodes).
    """

    id: NonEmptyStr
    type: Literal["message_batch"]
    processing_status: str
    request_counts: RequestCounts
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    archived_at: datetime | None = None
    results_url: str | None = None

    @property
    def running(self) -> bool:
        """True while the batch cannot be deleted (in progress or canceling)."""
        return self.processing_status != "ended"


class MessageBatchPage(Model, frozen=True):
    """One page of `GET /v1/messages/batches`; the next page starts after `last_id`."""

    data: list[MessageBatch]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


class AnthropicBeta(str, enum.Enum):
    """The beta names the API reference lists for this endpoint.

    Any other well-formed token is accepted too, as a plain `str`.
    """

    MESSAGE_BATCHES_2024_09_24 = "message-batches-2024-09-24"
    PROMPT_CACHING_2024_07_31 = "prompt-caching-2024-07-31"
    COMPUTER_USE_2024_10_22 = "computer-use-2024-10-22"
    COMPUTER_USE_2025_01_24 = "computer-use-2025-01-24"
    PDFS_2024_09_25 = "pdfs-2024-09-25"
    TOKEN_COUNTING_2024_11_01 = "token-counting-2024-11-01"
    TOKEN_EFFICIENT_TOOLS_2025_02_19 = "token-efficient-tools-2025-02-19"
    OUTPUT_128K_2025_02_19 = "output-128k-2025-02-19"
    FILES_API_2025_04_14 = "files-api-2025-04-14"
    MCP_CLIENT_2025_04_04 = "mcp-client-2025-04-04"
    MCP_CLIENT_2025_11_20 = "mcp-client-2025-11-20"
    DEV_FULL_THINKING_2025_05_14 = "dev-full-thinking-2025-05-14"
    INTERLEAVED_THINKING_2025_05_14 = "interleaved-thinking-2025-05-14"
    CODE_EXECUTION_2025_05_22 = "code-execution-2025-05-22"
    EXTENDED_CACHE_TTL_2025_04_11 = "extended-cache-ttl-2025-04-11"
    CONTEXT_1M_2025_08_07 = "context-1m-2025-08-07"
    CONTEXT_MANAGEMENT_2025_06_27 = "context-management-2025-06-27"
    MODEL_CONTEXT_WINDOW_EXCEEDED_2025_08_26 = "model-context-window-exceeded-2025-08-26"
    SKILLS_2025_10_02 = "skills-2025-10-02"
    FAST_MODE_2026_02_01 = "fast-mode-2026-02-01"

    def __str__(self) -> str:
        return self.value


class ErrorDetail(msgspec.Struct, frozen=True):
    type: str | None = None
    message: str | None = None


class ErrorEnvelope(msgspec.Struct, frozen=True):
    """The API's error body: {"type": "error", "error": {...}, "request_id": ...}."""

    error: ErrorDetail | None = None
    request_id: str | None = None


DECODERS: dict[type[object], msgspec.json.Decoder[object]] = {
    cls: msgspec.json.Decoder(cls)
    for cls in (DeletedMessageBatch, BetaDeletedMessageBatch, MessageBatch, MessageBatchPage)
}
_error_decoder = msgspec.json.Decoder(ErrorEnvelope)


def decode_error(body: bytes) -> ErrorEnvelope | None:
    """The error envelope of a body, or None when the body has another shape."""
    if not body:
        return None
    try:
        return _error_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
