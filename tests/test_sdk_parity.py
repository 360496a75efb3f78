"""The parity table: the same snippet run twice, once with the official SDK
(`anthropic.Anthropic`) and once with `batchdelete.Client`, each against an
emulator of its own seeded alike (same batch ids, same frozen clock), and
the outcomes compared field by field.

Every row is one test (`-v` prints the table). A row is one of:

- same: every field of the outcome is equal;
- documented difference: the fields the README's "Migrating from the SDK"
  table names differ exactly as written there (both sides asserted), every
  other field is equal;
- bug: batchdelete differs where it means to behave as the SDK; the row
  asserts the SDK's behaviour and fails until batchdelete is fixed.

`python -m tests.test_sdk_parity` prints the table as Markdown.
"""

from __future__ import annotations

import functools
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anthropic
import pytest
import requests

import batchdelete as bd
from batchdelete.emulator import Emulator

#: The emulators' frozen clock: both sides see the same timestamps.
START = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
BETA = "message-batches-2024-09-24"
OTHER_KEY = "sk-ant-parity-other-0001"

#: The public exception classes both libraries have: an error's "caught as"
#: is the set of these an `except` clause would catch it with.
CATCHABLE = sorted(
    name
    for name in anthropic.__all__
    if isinstance(getattr(anthropic, name), type)
    and issubclass(getattr(anthropic, name), anthropic.AnthropicError)
    and isinstance(getattr(bd, name, None), type)
)


def bid(name: str) -> str:
    """A batch id of the API's shape: msgbatch_ and 24 letters or digits."""
    return "msgbatch_" + name.rjust(24, "0")


ENDED, RUNNING, MISSING = bid("ended"), bid("running"), bid("missing")
#: A MessageBatch's fields in the API's order.
API_FIELDS = (
    *("id", "type", "processing_status", "request_counts", "created_at", "expires_at"),
    *("ended_at", "cancel_initiated_at", "archived_at", "results_url"),
)


# -- one side of a row ---------------------------------------------------------------------------


@dataclass
class Side:
    """One run of a snippet: the SDK's or batchdelete's, on its own emulator."""

    name: str  # "anthropic" or "batchdelete"
    api: Emulator
    monkeypatch: pytest.MonkeyPatch
    clients: list[Any] = field(default_factory=list)

    @property
    def sdk(self) -> bool:
        return self.name == "anthropic"

    @property
    def lib(self) -> Any:
        """The module the code imports its classes from."""
        return anthropic if self.sdk else bd

    def client(self, **kwargs: Any) -> Any:
        """A client for this side's emulator; retries off unless asked for."""
        kwargs.setdefault("api_key", self.api.api_key)
        kwargs.setdefault("base_url", self.api.base_url)
        kwargs.setdefault("max_retries", 0)
        if not self.sdk:
            return self.track(bd.Client(**kwargs))
        # The SDK's own client, on one TLS context (loading the CAs costs 0.1 s a client).
        kwargs.setdefault("http_client", anthropic.DefaultHttpxClient(verify=tls_context()))
        return self.track(anthropic.Anthropic(**kwargs))

    def track(self, client: Any) -> Any:
        self.clients.append(client)
        return client

    def seed(self) -> None:
        """An ended and a running batch, the same ids on both sides."""
        self.api.add_batch("ended", batch_id=ENDED)
        self.api.add_batch("in_progress", batch_id=RUNNING)

    def sent(self) -> list[Any]:
        """What reached the emulator (method, target, route, status, headers)."""
        return self.api.requests


Outcome = dict[str, Any]


@functools.cache
def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def attr(obj: object, name: str) -> Any:
    """An attribute, or the name of the exception reading it raised (Any: the
    two sides' objects are of different classes, read by duck typing)."""
    try:
        return getattr(obj, name)
    except Exception as exc:
        return type(exc).__name__


def kind(obj: object, name: str) -> str:
    """The class name of an attribute, or the name of the exception reading it raised."""
    try:
        return type(getattr(obj, name)).__name__
    except Exception as exc:
        return type(exc).__name__


def attempt(call: Callable[[], object]) -> object:
    """What a call returned, or the name of what it raised."""
    try:
        return call()
    except Exception as exc:
        return type(exc).__name__


def raised(s: Side, call: Callable[[], object]) -> Outcome:
    """What an error path raised, field by field."""
    try:
        call()
    except Exception as exc:
        return describe(s, exc)
    return {"raised": None}


def describe(s: Side, exc: BaseException) -> Outcome:
    lib = s.lib
    fields: Outcome = {
        "raised": type(exc).__name__,
        "caught as": [n for n in CATCHABLE if isinstance(exc, getattr(lib, n))],
        "str(e) == e.message": str(exc) == attr(exc, "message"),
    }
    if isinstance(exc, lib.APIStatusError):
        message = exc.message
        fields.update(
            {
                "status_code": exc.status_code,
                "request_id present": bool(exc.request_id),
                "request_id is the request-id header": (
                    exc.request_id == exc.response.headers["request-id"]
                ),
                "body": exc.body,
                "type": exc.type,
                "api_message": exc.api_message,
                "error_code": exc.error_code,
                "message has the status": str(exc.status_code) in message,
                "message has the API's message": bool(exc.api_message)
                and exc.api_message in message,
            }
        )
    elif isinstance(exc, lib.APIConnectionError):
        fields["message says timed out"] = "timed out" in exc.message
    return fields


# -- the rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    snippet: str
    run: Callable[[Side], Outcome]
    #: field -> (the SDK's value, batchdelete's): a value, or a predicate.
    differs: dict[str, tuple[object, object]] = field(default_factory=dict)
    note: str = ""
    bug: str = ""

    @property
    def verdict(self) -> str:
        if self.bug:
            return "bug (fails until fixed)"
        return "documented difference" if self.differs else "same"

    def check(self, sdk: Outcome, ours: Outcome) -> None:
        assert set(ours) == set(sdk), "both sides report the same fields"
        for name, (want_sdk, want_ours) in self.differs.items():
            assert _matches(sdk[name], want_sdk), f"anthropic {name}: {sdk[name]!r}"
            assert _matches(ours[name], want_ours), f"batchdelete {name}: {ours[name]!r}"
            assert sdk[name] != ours[name], f"{name}: no longer differs; update the README"
        rest = set(sdk) - set(self.differs)
        assert {k: ours[k] for k in rest} == {k: sdk[k] for k in rest}, self.bug or self.note


def _matches(value: object, expected: object) -> bool:
    return bool(expected(value)) if callable(expected) else value == expected


ROWS: list[Row] = []


def row(
    id: str,
    snippet: str,
    *,
    differs: dict[str, tuple[object, object]] | None = None,
    note: str = "",
    bug: str = "",
) -> Callable[[Callable[[Side], Outcome]], Callable[[Side], Outcome]]:
    def add(run: Callable[[Side], Outcome]) -> Callable[[Side], Outcome]:
        ROWS.append(Row(id, snippet, run, differs or {}, note, bug))
        return run

    return add


def startswith(prefix: str) -> Callable[[object], bool]:
    return lambda value: isinstance(value, str) and value.startswith(prefix)


def queries(s: Side) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.target).query) for r in s.sent()]


# Construction and copies


@row("construct-from-env", "Anthropic() with ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL set")
def _(s: Side) -> Outcome:
    s.seed()
    s.monkeypatch.setenv("ANTHROPIC_API_KEY", s.api.api_key)
    s.monkeypatch.setenv("ANTHROPIC_BASE_URL", s.api.base_url)
    client = s.track(anthropic.Anthropic() if s.sdk else bd.Client())
    got = client.messages.batches.retrieve(ENDED)
    return {"base_url": str(client.base_url).rstrip("/"), "retrieved": got.id}


@row(
    "with_options-max_retries-0",
    "client.with_options(max_retries=0, timeout=5.0): one attempt; the parent still retries",
)
def _(s: Side) -> Outcome:
    s.seed()
    parent = s.client(max_retries=2)
    fast = ("retry-after-ms", "5")
    s.api.inject(status=503, headers=(fast,), times=3)
    copy = parent.with_options(max_retries=0, timeout=5.0)
    error = raised(s, lambda: copy.messages.batches.retrieve(ENDED))["raised"]
    sent_by_copy = len(s.sent())
    raw = parent.messages.batches.with_raw_response.retrieve(ENDED)  # two 503s, then 200
    return {
        "copy raised": error,
        "copy's requests": sent_by_copy,
        "parent's retries_taken": raw.retries_taken,
        "statuses": [r.status for r in s.sent()],
    }


@row("with_options-timeout", "client.with_options(max_retries=0, timeout=0.2); server waits 1 s")
def _(s: Side) -> Outcome:
    s.seed()
    copy = s.client(max_retries=2).with_options(max_retries=0, timeout=0.2)
    s.api.inject(delay=1.0)
    started = time.monotonic()
    outcome = raised(s, lambda: copy.messages.batches.retrieve(ENDED))
    outcome["under 0.9 s"] = time.monotonic() - started < 0.9
    return outcome


@row("copy-is-with_options", "client.copy(max_retries=0).messages.batches.delete(id)")
def _(s: Side) -> Outcome:
    s.seed()
    deleted = s.client(max_retries=2).copy(max_retries=0).messages.batches.delete(ENDED)
    return {"deleted": deleted.id, "routes": [r.route for r in s.sent()]}


@row(
    "client-attributes",
    "client.with_options(max_retries=0, timeout=0.5).max_retries / .timeout / .api_key",
    differs={
        "max_retries": (0, "AttributeError"),
        "timeout": (0.5, "AttributeError"),
        "api_key": (lambda key: isinstance(key, str), "AttributeError"),
    },
    note="the SDK's client attributes are not public here: keep the values you pass",
)
def _(s: Side) -> Outcome:
    copy = s.client(max_retries=2).with_options(max_retries=0, timeout=0.5)
    return {name: attr(copy, name) for name in ("max_retries", "timeout", "api_key")}


def works(build: Callable[[], Any]) -> str:
    """ "works" when the client built can retrieve ENDED, else what was raised."""
    try:
        client = build()
    except Exception as exc:
        return type(exc).__name__
    with client:
        return "works" if client.messages.batches.retrieve(ENDED).id == ENDED else "wrong"


@row(
    "http_client",
    "Anthropic(http_client=anthropic.DefaultHttpxClient()), (http_client=requests.Session())",
    differs={
        "DefaultHttpxClient()": ("works", "ConfigurationError"),
        "requests.Session()": ("AttributeError", "works"),
    },
    note="http_client= takes an httpx.Client, requests.Session or urllib3.PoolManager; the "
    "SDK's own client (DefaultHttpxClient, on httpx2 since SDK 2) is refused",
)
def _(s: Side) -> Outcome:
    s.seed()
    outcome: Outcome = {}
    for label, native in (
        ("DefaultHttpxClient()", lambda: anthropic.DefaultHttpxClient(verify=tls_context())),
        ("requests.Session()", requests.Session),
    ):
        outcome[label] = works(lambda: s.client(http_client=native()))  # called at once
    return outcome


@row(
    "timeout-object",
    "Anthropic(timeout=anthropic.Timeout(3.0)), (timeout=3.0)",
)
def _(s: Side) -> Outcome:
    s.seed()
    return {
        "anthropic.Timeout(3.0)": works(lambda: s.client(timeout=anthropic.Timeout(3.0))),
        "3.0": works(lambda: s.client(timeout=3.0)),
    }


@row(
    "wire-headers",
    "what any call sends: credential header, anthropic-version, user-agent",
    differs={
        "credential header": (lambda h: h != "x-api-key", "x-api-key"),
        "anthropic-version": (lambda v: v != "2023-06-01", "2023-06-01"),
        "user-agent": (startswith("Anthropic/Python"), startswith("batchdelete/")),
        "x-stainless-* headers": (True, False),
    },
    note="batchdelete sends x-api-key, anthropic-version 2023-06-01 (api_version=) and no "
    "x-stainless-* headers",
)
def _(s: Side) -> Outcome:
    s.seed()
    s.client().messages.batches.retrieve(ENDED)
    headers = s.sent()[0].headers
    credential = "x-api-key" if headers.get("x-api-key") == s.api.api_key else "authorization"
    return {
        "credential header": credential,
        "anthropic-version": headers.get("anthropic-version"),
        "user-agent": headers.get("user-agent"),
        "x-stainless-* headers": any(name.startswith("x-stainless-") for name in headers),
    }


# The four operations


@row("delete", "client.messages.batches.delete(id)")
def _(s: Side) -> Outcome:
    s.seed()
    deleted = s.client().messages.batches.delete(ENDED)
    return {
        "class": type(deleted).__name__,
        "to_dict()": deleted.to_dict(),
        "gone": s.api.batch(ENDED) is None,
        "sent": [(r.method, r.target) for r in s.sent()],
    }


@row("retrieve", "client.messages.batches.retrieve(id)")
def _(s: Side) -> Outcome:
    s.seed()
    got = s.client().messages.batches.retrieve(RUNNING)
    return {
        "class": type(got).__name__,
        "to_dict(mode='json')": got.to_dict(mode="json"),
        "the API's view": got.to_dict(mode="json") == s.api.batch(RUNNING),
        "sent": [(r.method, r.target) for r in s.sent()],
    }


@row("cancel", "client.messages.batches.cancel(id)")
def _(s: Side) -> Outcome:
    s.seed()
    canceled = s.client().messages.batches.cancel(RUNNING)
    return {
        "class": type(canceled).__name__,
        "to_dict(mode='json')": canceled.to_dict(mode="json"),
        "sent": [(r.method, r.target) for r in s.sent()],
    }


def seed_five(s: Side) -> list[str]:
    """Five ended batches; the ids newest first, as the API lists them."""
    ids = [bid(f"page{i}") for i in range(5)]
    for batch_id in ids:
        s.api.add_batch("ended", batch_id=batch_id)
    return ids[::-1]


@row("list-every-page", "[b.id for b in client.messages.batches.list(limit=2)]")
def _(s: Side) -> Outcome:
    newest_first = seed_five(s)
    ids = [b.id for b in s.client().messages.batches.list(limit=2)]
    return {"ids": ids, "newest first": ids == newest_first, "queries": queries(s)}


@row("list-after_id", "client.messages.batches.list(limit=2, after_id=id) iterated")
def _(s: Side) -> Outcome:
    newest_first = seed_five(s)
    ids = [b.id for b in s.client().messages.batches.list(limit=2, after_id=newest_first[1])]
    return {"ids": ids, "queries": queries(s)}


@row("list-first-page", "page = client.messages.batches.list(limit=2); page.data, has_more")
def _(s: Side) -> Outcome:
    seed_five(s)
    page = s.client().messages.batches.list(limit=2)
    sent_before_iterating = len(s.sent())
    return {
        "requests before iterating": sent_before_iterating,
        "data": [b.id for b in page.data] if hasattr(page, "data") else "AttributeError",
        "has_more": attr(page, "has_more"),
        "first_id": attr(page, "first_id"),
        "last_id": attr(page, "last_id"),
    }


# The beta namespace


@row("beta-delete-betas", f"client.beta.messages.batches.delete(id, betas=[{BETA!r}])")
def _(s: Side) -> Outcome:
    s.seed()
    deleted = s.client().beta.messages.batches.delete(ENDED, betas=[BETA])
    sent = s.sent()[0]
    return {
        "class": type(deleted).__name__,
        "to_dict()": deleted.to_dict(),
        "sent": (sent.method, sent.target),
        "anthropic-beta": sent.headers.get("anthropic-beta"),
    }


@row(
    "beta-retrieve-cancel-list",
    f"client.beta.messages.batches.retrieve / cancel / list(betas=[{BETA!r}])",
    differs={
        "classes": (["BetaMessageBatch"] * 3, ["MessageBatch"] * 3),
    },
    note="the beta namespace returns MessageBatch here (BetaDeletedMessageBatch for delete, "
    "as the SDK); the fields are the same",
)
def _(s: Side) -> Outcome:
    s.seed()
    batches = s.client().beta.messages.batches
    got = batches.retrieve(RUNNING, betas=[BETA])
    canceled = batches.cancel(RUNNING, betas=[BETA])
    listed = list(batches.list(limit=1, betas=[BETA]))
    return {
        "classes": [type(got).__name__, type(canceled).__name__, type(listed[0]).__name__],
        "to_dict(mode='json')": [
            got.to_dict(mode="json"),
            canceled.to_dict(mode="json"),
            [b.to_dict(mode="json") for b in listed],
        ],
        "anthropic-beta": [r.headers.get("anthropic-beta") for r in s.sent()],
        "sent": [(r.method, r.target) for r in s.sent()],
    }


# with_raw_response


def raw_fields(raw: Any) -> Outcome:
    parsed = raw.parse()
    return {
        "parse().to_dict(mode='json')": parsed.to_dict(mode="json"),
        "status_code": raw.status_code,
        "request-id in headers": bool(raw.headers["request-id"]),
        "request_id is the header": raw.request_id == raw.headers["request-id"],
        "retries_taken": raw.retries_taken,
    }


@row("raw-delete", "client.messages.batches.with_raw_response.delete(id)")
def _(s: Side) -> Outcome:
    s.seed()
    return raw_fields(s.client().messages.batches.with_raw_response.delete(ENDED))


@row("raw-retrieve", "client.messages.batches.with_raw_response.retrieve(id)")
def _(s: Side) -> Outcome:
    s.seed()
    return raw_fields(s.client().messages.batches.with_raw_response.retrieve(RUNNING))


@row("raw-cancel", "client.beta.messages.batches.with_raw_response.cancel(id, betas=[...])")
def _(s: Side) -> Outcome:
    s.seed()
    batches = s.client().beta.messages.batches
    return raw_fields(batches.with_raw_response.cancel(RUNNING, betas=[BETA]))


@row("raw-list-one-page", "client.messages.batches.with_raw_response.list(limit=2).parse()")
def _(s: Side) -> Outcome:
    seed_five(s)
    raw = s.client().messages.batches.with_raw_response.list(limit=2)
    page = raw.parse()
    fields = raw_fields(raw)
    fields["page"] = [[b.id for b in page.data], page.has_more, page.first_id, page.last_id]
    fields["requests"] = len(s.sent())
    return fields


@row("raw-retries_taken", "with_raw_response.retrieve(id) through two 503s (max_retries=2)")
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(status=503, headers=(("retry-after-ms", "5"),), times=2)
    raw = s.client(max_retries=2).messages.batches.with_raw_response.retrieve(ENDED)
    return {"retries_taken": raw.retries_taken, "statuses": [r.status for r in s.sent()]}


@row(
    "raw-response-extras",
    "raw.http_response, raw.url, raw.elapsed, raw.attempts",
    differs={
        "http_response": ("Response", "AttributeError"),
        "url": ("URL", "AttributeError"),
        "elapsed": ("timedelta", "float"),
        "attempts": ("AttributeError", "int"),
    },
    note="a raw response has no http_response, url, method, text or json(); elapsed is "
    "seconds (a float), and attempts and transport are added",
)
def _(s: Side) -> Outcome:
    s.seed()
    raw = s.client().messages.batches.with_raw_response.retrieve(ENDED)
    return {name: kind(raw, name) for name in ("http_response", "url", "elapsed", "attempts")}


@row(
    "raw-headers-any-case",
    'raw.headers.get("Request-Id"), raw.headers["Content-Type"]',
)
def _(s: Side) -> Outcome:
    s.seed()
    raw = s.client().messages.batches.with_raw_response.retrieve(ENDED)
    return {
        'get("Request-Id")': raw.headers.get("Request-Id") == raw.request_id,
        '["Content-Type"]': attempt(lambda: raw.headers["Content-Type"]),
        '"REQUEST-ID" in': "REQUEST-ID" in raw.headers,
    }


# extra_headers, extra_query, default_headers, default_query


@row(
    "extra_headers-extra_query",
    'delete(id, extra_headers={"X-Trace": "t-1"}, extra_query={"trace": "1", "n": 2})',
)
def _(s: Side) -> Outcome:
    s.seed()
    s.client().messages.batches.delete(
        ENDED, extra_headers={"X-Trace": "t-1"}, extra_query={"trace": "1", "n": 2}
    )
    sent = s.sent()[0]
    return {
        "path": urlsplit(sent.target).path,
        "query": queries(s)[0],
        "x-trace": sent.headers.get("x-trace"),
    }


@row(
    "extra_query-the-lists-own-parameters",
    'list(limit=5, extra_query={"limit": 1}) iterated',
    differs={
        "outcome": ("listed", "ConfigurationError"),
        "limit sent": (["1"], None),
    },
    note="extra_query and default_query cannot replace limit, after_id or before_id "
    "(ConfigurationError); the SDK sends the extra value",
)
def _(s: Side) -> Outcome:
    s.seed()
    client = s.client()
    listed = attempt(lambda: list(client.messages.batches.list(limit=5, extra_query={"limit": 1})))
    sent = queries(s)
    return {
        "outcome": listed if isinstance(listed, str) else "listed",
        "limit sent": sent[0]["limit"] if sent else None,
    }


@row(
    "default_headers-default_query",
    'Anthropic(default_headers={"X-Team": "data"}, default_query={"team": "data"}); then '
    "list(limit=1, extra_query=...)",
)
def _(s: Side) -> Outcome:
    s.seed()
    client = s.client(default_headers={"X-Team": "data"}, default_query={"team": "data"})
    client.messages.batches.retrieve(ENDED)
    list(client.messages.batches.list(limit=1, extra_query={"dry": True}))
    return {
        "x-team": [r.headers.get("x-team") for r in s.sent()],
        "queries": queries(s),
    }


@row(
    "extra_headers-remove-a-default",
    'default_headers={"x-team": "a"}; extra_headers={"x-team": None} or {"x-team": Omit()}',
    differs={"None": ("AttributeError", "removed")},
    note="a header is removed with Omit() in both; None removes it here too (it crashes the SDK)",
)
def _(s: Side) -> Outcome:
    s.seed()
    client = s.client(default_headers={"x-team": "a"})
    outcome: Outcome = {}
    for label, value in (("None", None), ("Omit()", anthropic.Omit())):
        before = len(s.sent())
        error = attempt(  # calls at once
            lambda: client.messages.batches.retrieve(ENDED, extra_headers={"x-team": value})
        )
        if isinstance(error, str):
            outcome[label] = error
        else:
            outcome[label] = "removed" if "x-team" not in s.sent()[before].headers else "sent"
    return outcome


@row(
    "extra_headers-credentials",
    f'retrieve(id, extra_headers={{"x-api-key": "{OTHER_KEY}"}})',
    differs={
        "outcome": ("NotFoundError", "ConfigurationError"),
        "x-api-key sent": (OTHER_KEY, None),
    },
    note="credentials come from api_key= / auth_token= only: extra_headers and "
    "default_headers may not set or remove x-api-key or authorization (refused before "
    "sending); the SDK sends the header",
)
def _(s: Side) -> Outcome:
    s.seed()
    outcome = raised(
        s,
        lambda: s.client().messages.batches.retrieve(
            MISSING, extra_headers={"x-api-key": OTHER_KEY}
        ),
    )
    sent = s.sent()
    return {
        "outcome": outcome["raised"],
        "x-api-key sent": sent[0].headers.get("x-api-key") if sent else None,
    }


# Results


@row("to_dict-to_json", "batch.to_dict(), to_dict(mode='json'), to_json(), to_json(indent=None)")
def _(s: Side) -> Outcome:
    s.seed()
    client = s.client()
    got = client.messages.batches.retrieve(ENDED)
    deleted = client.messages.batches.delete(ENDED)
    return {
        "to_dict()": got.to_dict(),
        "to_dict(mode='json')": got.to_dict(mode="json"),
        "to_json() parsed": json.loads(got.to_json()),
        "to_json() indented by 2": got.to_json().startswith('{\n  "id": '),
        "to_json(indent=None) one line": "\n" not in got.to_json(indent=None),
        "deleted.to_json() parsed": json.loads(deleted.to_json()),
    }


@row(
    "to_json-key-order",
    "list(json.loads(batch.to_json()))",
    differs={
        "keys": (
            lambda keys: keys != sorted(keys) and keys[0] == "id",
            list(API_FIELDS),
        )
    },
    note="to_json() keeps the API's field order; the SDK's is its model's",
)
def _(s: Side) -> Outcome:
    s.seed()
    got = s.client().messages.batches.retrieve(ENDED)
    return {"keys": list(json.loads(got.to_json()))}


# Errors (max_retries=0)


@row("NotFoundError-retrieve", "client.messages.batches.retrieve(missing_id)")
def _(s: Side) -> Outcome:
    s.seed()
    outcome = raised(s, lambda: s.client().messages.batches.retrieve(MISSING))
    outcome["routes"] = [r.route for r in s.sent()]
    return outcome


@row("NotFoundError-delete", "client.messages.batches.delete(missing_id)")
def _(s: Side) -> Outcome:
    s.seed()
    outcome = raised(s, lambda: s.client().messages.batches.delete(MISSING))
    outcome["routes"] = [r.route for r in s.sent()]
    return outcome


@row("BadRequestError-delete-running", "client.messages.batches.delete(running_id)")
def _(s: Side) -> Outcome:
    s.seed()
    return raised(s, lambda: s.client().messages.batches.delete(RUNNING))


@row(
    "AuthenticationError-wrong-key",
    f"Anthropic(api_key={OTHER_KEY!r}).messages.batches.retrieve(id)",
)
def _(s: Side) -> Outcome:
    s.seed()
    outcome = raised(s, lambda: s.client(api_key=OTHER_KEY).messages.batches.retrieve(ENDED))
    # The server words its message by the header the key came in, and the two
    # send it in different ones (row wire-headers): compare the type only.
    outcome["body"] = outcome["body"]["error"]["type"]
    outcome["api_message"] = bool(outcome["api_message"])
    return outcome


@row("PermissionDeniedError", "retrieve(id) answered 403 (api.inject(status=403))")
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(status=403)
    return raised(s, lambda: s.client().messages.batches.retrieve(ENDED))


@row(
    "RateLimitError-injected",
    'retrieve(id) answered 429 retry-after: 1; e.response.headers["retry-after"]',
)
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(status=429, headers=(("retry-after", "1"),))
    client = s.client()
    try:
        client.messages.batches.retrieve(ENDED)
    except Exception as exc:
        outcome = describe(s, exc)
        outcome["response.headers['retry-after']"] = attr(exc, "response").headers["retry-after"]
        return outcome
    return {"raised": None}


@row(
    "RateLimitError-retry_after",
    "e.retry_after on a 429 with retry-after: 1",
    differs={"retry_after": ("AttributeError", 1.0)},
    note="batchdelete's APIStatusError adds retry_after (seconds, or None); the SDK has "
    'e.response.headers["retry-after"], which works here too',
)
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(status=429, headers=(("retry-after", "1"),))
    client = s.client()
    try:
        client.messages.batches.retrieve(ENDED)
    except Exception as exc:
        return {"retry_after": attr(exc, "retry_after")}
    return {"retry_after": None}


@row(
    "RateLimitError-emulator-limit",
    "two retrieves at requests_per_minute=1 (the emulator's own limit)",
)
def _(s: Side) -> Outcome:
    s.seed()
    s.api.set_rate_limit(1)
    client = s.client()
    client.messages.batches.retrieve(ENDED)
    try:
        client.messages.batches.retrieve(ENDED)
    except Exception as exc:
        outcome = describe(s, exc)
        headers = attr(exc, "response").headers
        outcome["retry-after"] = headers["retry-after"]
        outcome["limit header"] = headers["anthropic-ratelimit-requests-limit"]
        return outcome
    return {"raised": None}


RAMP = json.dumps(
    {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "Ramp up more slowly.",
            "details": {"error_code": "ramp_limit_exceeded"},
        },
        "request_id": None,
    }
).encode()


@row(
    "RateLimitError-error-code-subclass",
    "a 429 whose error.details.error_code is ramp_limit_exceeded",
    differs={"raised": ("RampLimitExceededError", "RateLimitError")},
    note="the SDK raises a subclass per error code; batchdelete raises the status class: "
    "branch on e.error_code",
)
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(status=429, body=RAMP)
    return raised(s, lambda: s.client().messages.batches.retrieve(ENDED))


@row("InternalServerError", "retrieve(id) answered 500")
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(status=500)
    return raised(s, lambda: s.client().messages.batches.retrieve(ENDED))


@row("ServiceUnavailableError", "retrieve(id) answered 503 (max_retries=0)")
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(status=503)
    return raised(s, lambda: s.client().messages.batches.retrieve(ENDED))


def not_json_error(s: Side, body: bytes) -> Any:
    s.seed()
    s.api.inject(status=500, body=body, headers=(("content-type", "text/plain"),))
    try:
        s.client().messages.batches.retrieve(ENDED)
    except Exception as exc:
        return exc
    raise AssertionError("no error")


@row(
    "error-body-not-json",
    "e.body for a 500 whose body is 'upstream failed' (not JSON), and an empty one",
)
def _(s: Side) -> Outcome:
    text = not_json_error(s, b"upstream failed\n")
    s.api.inject(status=500, body=b"")
    empty = raised(s, lambda: s.clients[0].messages.batches.retrieve(ENDED))
    return {"body (text)": text.body, "body (empty)": empty["body"]}


@row(
    "error-api_message-not-json",
    "e.api_message for a 500 whose body is 'upstream failed' (not JSON)",
    differs={"api_message": (None, "upstream failed")},
    note="api_message is the API's error.message, or else an excerpt of the body (the SDK: None)",
)
def _(s: Side) -> Outcome:
    return {"api_message": not_json_error(s, b"upstream failed").api_message}


@row(
    "APIStatusError-response",
    "e.response: status_code, headers, content, text, json(), request",
    differs={
        "class": ("Response", "ErrorResponse"),
        "request": ("Request", "AttributeError"),
    },
    note="e.response is an ErrorResponse (status_code, headers, content, text, json()), not "
    "an httpx.Response",
)
def _(s: Side) -> Outcome:
    s.seed()
    client = s.client()
    try:
        client.messages.batches.retrieve(MISSING)
    except Exception as exc:
        response = attr(exc, "response")
        return {
            "class": type(response).__name__,
            "status_code": response.status_code,
            "content is the body": json.loads(response.content) == attr(exc, "body"),
            "text is the body": json.loads(response.text) == attr(exc, "body"),
            "json() is the body": response.json() == attr(exc, "body"),
            "headers['content-type']": response.headers["content-type"],
            "request": kind(response, "request"),
        }
    return {}


@row(
    "error-response-headers-any-case",
    'e.response.headers.get("Retry-After") on a 429 with retry-after: 1',
)
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(status=429, headers=(("retry-after", "1"),))
    client = s.client()
    try:
        client.messages.batches.retrieve(ENDED)
    except Exception as exc:
        headers = attr(exc, "response").headers
        return {
            'get("Retry-After")': headers.get("Retry-After"),
            '["Request-Id"] present': bool(attempt(lambda: headers["Request-Id"]) != "KeyError"),
        }
    return {}


@row(
    "APIStatusError-details-workspace_id",
    "e.details, e.workspace_id on a 429 with error.details",
    differs={
        "details.error_code": ("ramp_limit_exceeded", "AttributeError"),
        "workspace_id": (lambda v: v != "AttributeError", "AttributeError"),
    },
    note='not here: read e.error_code, e.body["error"]["details"] and '
    'e.response.headers.get("anthropic-workspace-id")',
)
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(status=429, body=RAMP)
    client = s.client()
    try:
        client.messages.batches.retrieve(ENDED)
    except Exception as exc:
        details = attr(exc, "details")
        return {
            "details.error_code": attr(details, "error_code")
            if details != "AttributeError"
            else details,
            "workspace_id": attr(exc, "workspace_id"),
        }
    return {}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@row(
    "APIConnectionError-closed-port",
    "Anthropic(base_url='http://127.0.0.1:<closed>').…retrieve(id)",
)
def _(s: Side) -> Outcome:
    client = s.client(base_url=f"http://127.0.0.1:{closed_port()}")
    return raised(s, lambda: client.messages.batches.retrieve(ENDED))


@row("APITimeoutError-per-call-timeout", "retrieve(id, timeout=0.2); the server waits 1 s")
def _(s: Side) -> Outcome:
    s.seed()
    s.api.inject(delay=1.0)
    client = s.client()
    started = time.monotonic()
    outcome = raised(s, lambda: client.messages.batches.retrieve(ENDED, timeout=0.2))
    outcome["under 0.9 s"] = time.monotonic() - started < 0.9
    return outcome


@row(
    "connection-errors-have-body-None",
    "e.body on APIConnectionError (closed port) and APITimeoutError",
)
def _(s: Side) -> Outcome:
    s.seed()
    refused = s.client(base_url=f"http://127.0.0.1:{closed_port()}")
    s.api.inject(delay=1.0)
    outcome: Outcome = {}
    calls: list[tuple[str, Callable[[], object]]] = [
        ("APIConnectionError", lambda: refused.messages.batches.retrieve(ENDED)),
        ("APITimeoutError", lambda: s.client().messages.batches.retrieve(ENDED, timeout=0.2)),
    ]
    for label, call in calls:
        try:
            call()
        except Exception as exc:
            outcome[label] = (type(exc).__name__, attr(exc, "body"))
    return outcome


@row(
    "APIError-request",
    "e.request on APIConnectionError",
    differs={"request": ("Request", "AttributeError")},
    note="errors carry no httpx.Request: the method and URL are in the message",
)
def _(s: Side) -> Outcome:
    client = s.client(base_url=f"http://127.0.0.1:{closed_port()}")
    try:
        client.messages.batches.retrieve(ENDED)
    except Exception as exc:
        return {"request": kind(exc, "request")}
    return {}


@row(
    "error-message-wording",
    "e.message of a 404 and of a refused connection",
    differs={
        "404": (
            startswith("Error code: 404 - {"),
            startswith("Error code 404 (not_found_error): "),
        ),
        "connection": ("Connection error.", startswith("The request to {refused}/v1/")),
    },
    note="messages are worded differently (both name the status and the API's message); "
    "match on the class, status_code or error_code, not on the message",
)
def _(s: Side) -> Outcome:
    s.seed()
    refused_url = f"http://127.0.0.1:{closed_port()}"
    refused = s.client(base_url=refused_url)
    outcome: Outcome = {}
    calls: list[tuple[str, Callable[[], object]]] = [
        ("404", lambda: s.client().messages.batches.retrieve(MISSING)),
        ("connection", lambda: refused.messages.batches.retrieve(ENDED)),
    ]
    for label, call in calls:
        try:
            call()
        except Exception as exc:
            outcome[label] = str(exc).replace(refused_url, "{refused}")
    return outcome


# -- the test --------------------------------------------------------------------------------------


def run_side(row: Row, name: str, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    with Emulator(frozen=True, cancel_time=0.0) as api:
        api.clock._start = START  # the same timestamps on both sides
        side = Side(name, api, monkeypatch)
        try:
            outcome = row.run(side)
        finally:
            for client in side.clients:
                client.close()
        return {label: normalized(value, api.base_url) for label, value in outcome.items()}


def normalized(value: object, base_url: str) -> object:
    """The outcome with this side's emulator URL as "{base_url}"."""
    if isinstance(value, str):
        return value.replace(base_url, "{base_url}")
    if isinstance(value, dict):
        return {k: normalized(v, base_url) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(normalized(v, base_url) for v in value)
    return value


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_parity(row: Row, monkeypatch: pytest.MonkeyPatch) -> None:
    sdk = run_side(row, "anthropic", monkeypatch)
    ours = run_side(row, "batchdelete", monkeypatch)
    row.check(sdk, ours)


def test_the_ids_are_unique_and_every_difference_is_explained() -> None:
    assert len({r.id for r in ROWS}) == len(ROWS)
    for r in ROWS:
        assert not (r.differs and r.bug), r.id
        assert bool(r.differs) == bool(r.note), f"{r.id}: a difference needs its note"


def table() -> Iterator[str]:
    """The rows as a Markdown table: snippet, verdict, what differs."""
    yield "| row | snippet | result | difference |"
    yield "|---|---|---|---|"
    for r in ROWS:
        cell = (r.bug or r.note).replace("|", "\\|")
        yield f"| {r.id} | `{r.snippet}` | {r.verdict} | {cell} |"


if __name__ == "__main__":
    print("\n".join(table()))
