"""Edges of the core the suite left untested (issue 12): the async
`with_raw_response` operations, response headers as a mapping, a listing
that promises more but gives nowhere to continue from, a retry-after date
past any clock, a header value that is not a str, and the CLI's exit code
for a stopped run. Against the emulator on 127.0.0.1, and pure functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import batchdelete as bd
from batchdelete._headers import Headers
from batchdelete._jobs import StoppedError
from batchdelete._retry import requested_wait
from batchdelete.cli._exits import EXIT_INTERRUPTED, StepError, exit_code_for
from batchdelete.emulator import Emulator

ASYNC_TRANSPORTS = [
    t.name for t in bd.list_transports() if t.builtin and t.asynchronous and t.available
]


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(frozen=True, cancel_time=0.0) as emulator:
        yield emulator


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # AsyncClient is asyncio's


# -- AsyncClient: with_raw_response on every operation -------------------------------------


@pytest.mark.anyio
@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
async def test_async_with_raw_response_on_every_operation(api: Emulator, transport: str) -> None:
    running = api.add_batch("in_progress")
    done = api.add_batch("ended")
    async with bd.AsyncClient(
        api_key=api.api_key, base_url=api.base_url, transport=transport, max_retries=0
    ) as client:
        raw = client.messages.batches.with_raw_response
        got = await raw.retrieve(running.id, extra_query={"x": 1})
        assert got.status_code == 200 and got.retries_taken == 0
        assert got.parse().processing_status == "in_progress"
        assert got.request_id == got.headers["Request-Id"]
        canceled = await raw.cancel(running.id)
        assert canceled.parse().processing_status == "canceling"
        page = await client.beta.messages.batches.with_raw_response.list(limit=1)
        parsed = page.parse()
        assert len(parsed.data) == 1 and parsed.has_more
        as_dict = parsed.to_dict()
        assert isinstance(as_dict["data"], list) and isinstance(as_dict["data"][0], dict)
        assert as_dict["data"][0]["id"] == parsed.data[0].id
        deleted = await raw.delete(done.id)
        assert deleted.parse().id == done.id
    assert [r.route for r in api.requests] == ["retrieve", "cancel", "list", "delete"]
    assert api.requests[0].target.endswith("?x=1")
    assert api.requests[2].target.endswith("?limit=1")


# -- response headers, a read-only mapping in any case ---------------------------------------


def test_response_headers_are_a_mapping_in_any_case(api: Emulator) -> None:
    done = api.add_batch("ended")
    with bd.Client(api_key=api.api_key, base_url=api.base_url, max_retries=0) as client:
        headers = client.messages.batches.with_raw_response.retrieve(done.id).headers
    assert len(headers) == len(dict(headers)) > 0
    assert headers == {name.upper(): value for name, value in headers.items()}
    assert headers != {"request-id": "something else"}
    other: object = 5  # not a mapping: never equal
    assert headers != other and headers != "request-id"  # type: ignore[comparison-overlap]
    assert "REQUEST-ID" in headers and other not in headers


def test_headers_from_a_mixed_case_mapping_are_kept_lower_case() -> None:
    headers = Headers({"Request-Id": "req_1", "Retry-After": "2"})
    assert list(headers) == ["request-id", "retry-after"]
    assert headers["REQUEST-ID"] == "req_1" and headers.get("retry-after") == "2"
    assert len(headers) == 2
    assert repr(headers) == "Headers({'request-id': 'req_1', 'retry-after': '2'})"


# -- a listing that says more follows but gives nowhere to continue from --------------------


def page_body(api: Emulator, *, first_id: str | None, last_id: str | None) -> bytes:
    batch = api.add_batch("ended")
    listed = api.batch(batch.id)
    assert listed is not None
    body = {"data": [listed], "has_more": True, "first_id": first_id, "last_id": last_id}
    return json.dumps(body).encode()


@pytest.mark.parametrize("last_id", [None, "", "msgbatch_Start"])
def test_a_page_with_no_new_last_id_stops_instead_of_looping(
    api: Emulator, last_id: str | None
) -> None:
    body = page_body(api, first_id="msgbatch_A", last_id=last_id)
    api.inject(status=200, body=body, route="list", times=None)
    with bd.Client(api_key=api.api_key, base_url=api.base_url, max_retries=0) as client:
        page = client.messages.batches.list(after_id="msgbatch_Start")
        assert page.has_more and len(page.data) == 1
        with pytest.raises(bd.APIResponseValidationError, match="no new last_id"):
            page.has_next_page()
        with pytest.raises(bd.APIResponseValidationError, match="stopping instead of looping"):
            list(page)
    assert [r.route for r in api.requests] == ["list"]  # one page, asked once


@pytest.mark.parametrize("first_id", [None, "msgbatch_Start"])
def test_paging_back_with_no_new_first_id_stops_instead_of_looping(
    api: Emulator, first_id: str | None
) -> None:
    body = page_body(api, first_id=first_id, last_id="msgbatch_Z")
    api.inject(status=200, body=body, route="list", times=None)
    with bd.Client(api_key=api.api_key, base_url=api.base_url, max_retries=0) as client:
        page = client.messages.batches.list(before_id="msgbatch_Start")
        with pytest.raises(bd.APIResponseValidationError, match="no new first_id"):
            page.has_next_page()
        with pytest.raises(bd.APIResponseValidationError, match="no new first_id"):
            list(page)
    assert [r.route for r in api.requests] == ["list"]


# -- retry-after, a header value, the CLI's code for a stopped run ------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 01 Jan 99999999999 00:00:00 GMT",  # past what the C clock holds
        "Mon, 01 Jan 10000000000000000000000 00:00:00 GMT",  # past a C long
    ],
)
def test_a_retry_after_date_past_any_clock_is_passed_over(value: str) -> None:
    assert requested_wait({"retry-after": value}, 1_700_000_000.0) is None
    both = {"retry-after": value, "retry-after-ms": "250"}
    assert requested_wait(both, 1_700_000_000.0) == 0.25


@pytest.mark.parametrize(
    ("kwargs", "name", "kind"),
    [
        ({"api_version": 20230601}, "anthropic-version", "int"),
        ({"default_headers": {"x-team": b"ops"}}, "x-team", "bytes"),
    ],
)
def test_a_header_value_that_is_not_a_str_is_refused_before_any_io(
    kwargs: dict[str, Any], name: str, kind: str
) -> None:
    # port 9 (discard) on 127.0.0.1: nothing listens, and nothing is sent
    with pytest.raises(bd.ConfigurationError) as caught:
        bd.Client(api_key="sk-ant-test", base_url="http://127.0.0.1:9", **kwargs)
    assert str(caught.value) == f"The {name} header value must be a str, got {kind}."


def test_an_extra_header_that_is_not_a_str_is_refused_before_any_io(api: Emulator) -> None:
    done = api.add_batch("ended")
    bad: dict[str, Any] = {"x-team": 7}
    with (
        bd.Client(api_key=api.api_key, base_url=api.base_url, max_retries=0) as client,
        pytest.raises(bd.ConfigurationError, match="The x-team header value must be a str"),
    ):
        client.delete(done.id, extra_headers=bad)
    assert api.requests == []
    assert api.batch(done.id) is not None


def test_a_stopped_run_exits_as_interrupted() -> None:
    stopped = StoppedError("Stopped before this request was sent.")
    assert exit_code_for(stopped) == EXIT_INTERRUPTED
    assert exit_code_for(StepError("deleting", stopped)) == EXIT_INTERRUPTED
