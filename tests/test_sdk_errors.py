"""The exception classes code written for the official SDK catches exist
here under the same names, with the same bases and attributes."""

from __future__ import annotations

import inspect
import json

import anthropic
import anthropic._exceptions as sdk_exceptions
import pytest

import batchdelete as bd

#: The SDK's exceptions by status (and connection, timeout, validation):
#: those a delete, retrieve, cancel or list raises. Its subclasses per
#: `error.details.error_code` (RampLimitExceededError, ...) are not made
#: here: their status class is raised, with `error_code` to branch on.
SDK_NAMES = [
    name
    for name, obj in vars(sdk_exceptions).items()
    if inspect.isclass(obj)
    and issubclass(obj, anthropic.APIError)
    and obj is not anthropic.APIWebhookValidationError  # webhooks: not these calls
]


def test_the_sdk_names_are_found() -> None:
    assert {"APIStatusError", "NotFoundError", "OverloadedError"} <= set(SDK_NAMES)
    assert len(SDK_NAMES) >= 20


@pytest.mark.parametrize("name", sorted(SDK_NAMES))
def test_same_name_same_bases(name: str) -> None:
    ours = getattr(bd, name)
    theirs = getattr(anthropic, name)
    # Every SDK base (by name, up to AnthropicError) is a base here too.
    for base in theirs.__mro__:
        if base in (Exception, BaseException, object):
            continue
        assert issubclass(ours, getattr(bd, base.__name__)), (name, base.__name__)
    if issubclass(theirs, anthropic.APIStatusError) and theirs is not anthropic.APIStatusError:
        status = theirs.__dict__.get("status_code")
        if isinstance(status, int):  # the class is chosen for that status here too
            from batchdelete._errors import status_error_class

            assert status_error_class(status) is ours


def test_the_old_names_are_aliases_as_in_the_sdk() -> None:
    assert bd.RequestTooLargeError is bd.ContentTooLargeError
    assert bd.DeadlineExceededError is bd.GatewayTimeoutError
    assert bd.AnthropicError is bd.BatchDeleteError


def test_status_error_attributes_as_the_sdk_names_them() -> None:
    raw = json.dumps(
        {"type": "error", "error": {"type": "not_found_error", "message": "gone"}}
    ).encode()
    error = bd.NotFoundError(
        "Error code 404",
        status_code=404,
        body=raw,
        headers={"request-id": "req_1"},
        error_type="not_found_error",
        api_message="gone",
        request_id="req_1",
    )
    assert (error.status_code, error.request_id, error.message) == (404, "req_1", "Error code 404")
    assert error.body == {"type": "error", "error": {"type": "not_found_error", "message": "gone"}}
    assert error.raw_body == raw and error.type == "not_found_error"
    assert error.response.status_code == 404 and error.response.json() == error.body
    assert error.response.text == raw.decode()
    assert error.error_code is None


def test_error_code_from_the_details() -> None:
    raw = json.dumps(
        {
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "ramp",
                "details": {"error_code": "ramp_limit_exceeded"},
            },
        }
    ).encode()
    error = bd.RateLimitError(
        "Error code 429",
        status_code=429,
        body=raw,
        headers={},
        error_type="rate_limit_error",
        api_message="ramp",
    )
    assert error.error_code == "ramp_limit_exceeded"
    # The SDK raises its subclass for that code; both catch as RateLimitError.
    assert issubclass(anthropic.RampLimitExceededError, anthropic.RateLimitError)


# 100,000 deep: too deep on every CPython (3.13 decodes 5,000).
@pytest.mark.parametrize("raw", [b"", b" <html>\n", b"[" * 100_000 + b"]" * 100_000, b'{"a": '])
def test_a_body_that_is_not_json_is_its_text(raw: bytes) -> None:
    error = bd.InternalServerError(
        "Error code 500",
        status_code=500,
        body=raw,
        headers={},
        error_type=None,
        api_message="",
    )
    # As the SDK: the text, stripped ("" when empty); JSON nested too deep too.
    assert error.body == raw.decode().strip() and error.raw_body == raw


def test_connection_errors_have_a_body_of_none() -> None:
    assert bd.APIConnectionError("down").body is None
    assert bd.APITimeoutError("slow").body is None


def test_results_to_dict_and_to_json_as_the_sdks() -> None:
    from anthropic.types.messages import MessageBatch as SDKBatch

    wire = {
        "id": "msgbatch_1",
        "type": "message_batch",
        "processing_status": "ended",
        "request_counts": {
            "processing": 0,
            "succeeded": 2,
            "errored": 1,
            "canceled": 0,
            "expired": 0,
        },
        "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-02T00:00:00Z",
        "ended_at": "2026-01-01T01:00:00Z",
        "cancel_initiated_at": None,
        "archived_at": None,
        "results_url": "https://example.invalid/results",
    }
    import msgspec

    ours = msgspec.json.decode(json.dumps(wire), type=bd.MessageBatch)
    theirs = SDKBatch.model_validate(wire)
    assert ours.to_dict() == theirs.to_dict()
    assert ours.to_dict(mode="json") == theirs.to_dict(mode="json") == wire
    assert json.loads(ours.to_json()) == json.loads(theirs.to_json())
    assert ours.to_json().startswith('{\n  "id": "msgbatch_1"')  # indented by 2
    deleted = bd.DeletedMessageBatch(id="msgbatch_1", type="message_batch_deleted")
    assert deleted.to_dict() == {"id": "msgbatch_1", "type": "message_batch_deleted"}
    assert json.loads(deleted.to_json(indent=0)) == deleted.to_dict()
