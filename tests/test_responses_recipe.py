"""The README's recipe for a requests codebase whose tests mock HTTP with
`responses`: a test written as a requests user writes it intercepts
batchdelete's requests (a) with the user's `requests.Session` passed as
`http_client`, (b) with BATCHDELETE_TRANSPORT=requests, and (c) with the
pytest option `--batchdelete-transport=requests`, which needs no change to
the code under test. And the danger it avoids: a default `Client()` goes out
through urllib3, which `responses` does not see.

Every base URL is a closed port on 127.0.0.1: a request that escaped the
mock could reach nothing, and never the real API.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Iterator

import pytest
import requests
import responses

import batchdelete

pytest_plugins = ["pytester"]

BATCH_ID = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
DELETED = {"id": BATCH_ID, "type": "message_batch_deleted"}
NOT_FOUND = {
    "type": "error",
    "error": {"type": "not_found_error", "message": f"No message batch with id '{BATCH_ID}'."},
}
EMPTY_PAGE = {"data": [], "has_more": False, "first_id": None, "last_id": None}


# -- the code under test, as a requests codebase has it: nothing test-specific --------------------


def purge(batch_id: str) -> str:
    """Delete one batch with a client built from the environment."""
    with batchdelete.Client() as client:
        return client.messages.batches.delete(batch_id).id


def purge_if_there(client: batchdelete.Client, batch_id: str) -> str:
    """Delete one batch; one already gone counts as done."""
    return batchdelete.delete_batch(client, batch_id, missing_ok=True).status


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def base_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """A closed port on 127.0.0.1 as the API's base URL, and a test key, in
    the environment that `Client()` reads."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-recipe")
    return url


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


# -- (a) the user's Session as http_client ----------------------------------------------------


@responses.activate
def test_a_users_session_as_http_client_is_intercepted(base_url: str) -> None:
    responses.delete(f"{base_url}/v1/messages/batches/{BATCH_ID}", json=DELETED)
    client = batchdelete.Client(http_client=requests.Session())
    assert client.messages.batches.delete(BATCH_ID).id == BATCH_ID
    assert len(responses.calls) == 1
    sent = responses.calls[0].request
    assert sent.method == "DELETE" and sent.headers["x-api-key"] == "sk-ant-test-recipe"


def test_delete_batch_with_missing_ok_proves_the_route_through_the_mock(
    base_url: str, mocked: responses.RequestsMock
) -> None:
    mocked.delete(f"{base_url}/v1/messages/batches/{BATCH_ID}", status=404, json=NOT_FOUND)
    # missing_ok proves the batches route exists before taking a 404 as "gone".
    mocked.get(f"{base_url}/v1/messages/batches", json=EMPTY_PAGE)
    with batchdelete.Client(http_client=requests.Session()) as client:
        assert purge_if_there(client, BATCH_ID) == "missing"
    assert [(c.request.method, c.request.url) for c in mocked.calls] == [
        ("DELETE", f"{base_url}/v1/messages/batches/{BATCH_ID}"),
        ("GET", f"{base_url}/v1/messages/batches?limit=1"),
    ]


# -- (b) BATCHDELETE_TRANSPORT=requests ---------------------------------------------------------


@responses.activate
def test_the_requests_transport_by_environment_is_intercepted(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHDELETE_TRANSPORT", "requests")
    responses.add(responses.DELETE, f"{base_url}/v1/messages/batches/{BATCH_ID}", json=DELETED)
    assert purge(BATCH_ID) == BATCH_ID  # the code under test, unchanged
    assert len(responses.calls) == 1


def test_delete_batch_through_the_requests_transport(
    base_url: str, monkeypatch: pytest.MonkeyPatch, mocked: responses.RequestsMock
) -> None:
    monkeypatch.setenv("BATCHDELETE_TRANSPORT", "requests")
    mocked.delete(f"{base_url}/v1/messages/batches/{BATCH_ID}", json=DELETED)
    with batchdelete.Client() as client:
        assert client.transport.name == "requests"
        assert purge_if_there(client, BATCH_ID) == "deleted"
    assert len(mocked.calls) == 1  # deleted at once: no route proof needed


# -- the danger: the automatic default is urllib3 -------------------------------------------------


@responses.activate
def test_a_default_client_is_not_intercepted(base_url: str) -> None:
    assert importlib.util.find_spec("requests") is not None  # even with requests installed
    responses.delete(f"{base_url}/v1/messages/batches/{BATCH_ID}", json=DELETED)
    with batchdelete.Client(max_retries=0) as client:
        assert client.transport.name == "urllib3"
        with pytest.raises(batchdelete.APIConnectionError, match="did not complete"):
            client.messages.batches.delete(BATCH_ID)
    assert len(responses.calls) == 0  # the mock never saw it: it went to the network


# -- (c) the pytest option: no change to the code under test ------------------------------------

#: The user's test module: it mocks as a requests user does and calls code
#: that builds a default Client. Nothing in it names a transport.
INNER_TEST = """
import os

import batchdelete
import responses

URL = "BASE_URL/v1/messages/batches/BATCH_ID"


def purge(batch_id):
    with batchdelete.Client() as client:
        return client.messages.batches.delete(batch_id).id


@responses.activate
def test_purge():
    responses.delete(URL, json={"id": "BATCH_ID", "type": "message_batch_deleted"})
    assert purge("BATCH_ID") == "BATCH_ID"
    assert len(responses.calls) == 1


def test_the_variable_during_the_run():
    assert os.environ.get("BATCHDELETE_TRANSPORT") == "EXPECTED"
"""

#: As the project's other inner runs: no cache, no hypothesis plugin (and no
#: pytest-asyncio, which warns without the project's configuration).
INNER_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:asyncio")


def write_inner(pytester: pytest.Pytester, base_url: str, expected: str) -> None:
    source = INNER_TEST.replace("BASE_URL", base_url).replace("BATCH_ID", BATCH_ID)
    pytester.makepyfile(test_users_suite=source.replace("EXPECTED", expected))


def test_the_pytest_option_needs_no_change_to_the_code(
    pytester: pytest.Pytester, base_url: str
) -> None:
    write_inner(pytester, base_url, "requests")
    result = pytester.runpytest(*INNER_OPTIONS, "--batchdelete-transport=requests")
    result.assert_outcomes(passed=2)
    assert "BATCHDELETE_TRANSPORT" not in os.environ  # restored after the run


def test_the_option_with_the_plugin_loaded_by_p(
    pytester: pytest.Pytester, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With plugin autoloading off, the plugin loaded by name (`-p`)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    write_inner(pytester, base_url, "requests")
    result = pytester.runpytest(
        *INNER_OPTIONS,
        "-p",
        "batchdelete.emulator.pytest_plugin",
        "--batchdelete-transport=requests",
    )
    result.assert_outcomes(passed=2)


@pytest.mark.slow  # a pytest run of its own: 2.5 s
def test_without_the_option_the_users_test_fails(
    pytester: pytest.Pytester, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHDELETE_TRANSPORT", "urllib3")  # restored after the inner run
    write_inner(pytester, base_url, "urllib3")
    result = pytester.runpytest(*INNER_OPTIONS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*APIConnectionError*"])
    # The option overrides a variable already set, and puts it back afterwards.
    write_inner(pytester, base_url, "requests")
    result = pytester.runpytest(*INNER_OPTIONS, "--batchdelete-transport=requests")
    result.assert_outcomes(passed=2)
    assert os.environ["BATCHDELETE_TRANSPORT"] == "urllib3"


def test_an_unknown_transport_is_a_usage_error(pytester: pytest.Pytester, base_url: str) -> None:
    write_inner(pytester, base_url, "nosuch")
    result = pytester.runpytest(*INNER_OPTIONS, "--batchdelete-transport=nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--batchdelete-transport: unknown transport 'nosuch'; known: *"])
    assert "BATCHDELETE_TRANSPORT" not in os.environ
