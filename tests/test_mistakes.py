"""A user's slips are refused, never obeyed (the library side; the command
line's are in test_cli_exits.py): "already gone" is proved on a route known
to exist, only batch ids reach the workflows, a string is not a list, blank
credentials and a /v1 base URL are caught, local traffic skips the
environment's proxies, and a certificate that fails is said so, once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

import batchdelete as bd
from batchdelete.emulator import Emulator
from tests.conftest import API_KEY, TRANSPORTS
from tests.scriptserver import Reply, ScriptServer, error_reply

REAL_ID = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(frozen=True, cancel_time=0.0) as emulator:
        yield emulator


def client_for(api: Emulator, transport: str, base_url: str | None = None) -> bd.Client:
    return bd.Client(
        api_key=api.api_key,
        base_url=base_url or api.base_url,
        transport=transport,
        max_retries=0,
    )


# -- "gone" is proved, not assumed ---------------------------------------------


@pytest.mark.parametrize("suffix", ["/v1", "/v1/"])
def test_missing_ok_on_a_v1_base_url_is_a_configuration_error(
    api: Emulator, transport_name: str, suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="batchdelete"),
        pytest.warns(UserWarning, match="ends in /v1") as warned,
    ):
        client = client_for(api, transport_name, api.base_url + suffix)
    assert f"Use base_url={api.base_url!r}" in str(warned[0].message)
    assert any("ends in /v1" in r.getMessage() for r in caplog.records)
    batch = api.add_batch("ended").id
    with client, pytest.raises(bd.ConfigurationError) as info:
        bd.delete_batch(client, batch, missing_ok=True)
    message = str(info.value)
    assert f"{api.base_url}/v1/v1/messages/batches answered 404" in message
    assert "nothing was deleted" in message and "/v1" in message
    assert api.batch(batch) is not None  # still there: nothing was called gone
    routes = [(r.method, r.target) for r in api.requests]
    assert routes == [
        ("DELETE", f"/v1/v1/messages/batches/{batch}"),
        ("GET", "/v1/v1/messages/batches?limit=1"),
    ]


def test_delete_many_with_missing_ok_on_a_wrong_route_reports_no_success(
    api: Emulator, transport_name: str
) -> None:
    ids = [api.add_batch("ended").id for _ in range(3)]
    with pytest.warns(UserWarning):
        client = client_for(api, transport_name, api.base_url + "/v1")
    with client:
        outcomes = bd.delete_many(client, ids, missing_ok=True, concurrency=3)
    assert [o.status for o in outcomes] == ["failed"] * 3
    assert all(isinstance(o.error, bd.ConfigurationError) for o in outcomes)
    assert len(api.batches()) == 3
    probes = [r for r in api.requests if r.method == "GET"]
    assert len(probes) == 1  # the missing route is remembered, not probed per id


def test_missing_ok_proves_the_route_once_per_client(api: Emulator, transport_name: str) -> None:
    present = api.add_batch("ended").id
    missing = [f"msgbatch_gone{i}" for i in range(6)]
    with client_for(api, transport_name) as client:
        outcomes = bd.delete_many(client, [present, *missing], missing_ok=True, concurrency=4)
        again = bd.delete_batch(client, "msgbatch_gone9", missing_ok=True)
    statuses = {o.id: o.status for o in outcomes}
    assert statuses == {present: "deleted", **dict.fromkeys(missing, "missing")}
    assert again.status == "missing"
    probes = [r for r in api.requests if r.method == "GET"]
    assert [p.target for p in probes] == ["/v1/messages/batches?limit=1"]  # once, 8 deletes


def test_without_missing_ok_a_404_is_not_found_and_nothing_is_probed(api: Emulator) -> None:
    with client_for(api, "urllib3") as client, pytest.raises(bd.NotFoundError) as info:
        bd.delete_batch(client, "msgbatch_nothere")
    assert [r.method for r in api.requests] == ["DELETE"]
    assert "Check the batch id" in str(info.value)


def test_a_404_from_the_list_route_says_the_route_is_missing(api: Emulator) -> None:
    with pytest.warns(UserWarning):
        client = client_for(api, "urllib3", api.base_url + "/v1")
    with client, pytest.raises(bd.NotFoundError) as info:
        list(client.list())
    assert "batches route itself was not found" in str(info.value)
    assert "Check the batch id" not in str(info.value)


@pytest.mark.parametrize(
    ("probe", "error"),
    [
        (error_reply(404, "not_found_error", "Not Found"), bd.ConfigurationError),
        (Reply(200, body=b"<html>a proxy's page</html>"), bd.APIResponseValidationError),
        (Reply(200, body=b'{"type": "message_batch_deleted"}'), bd.APIResponseValidationError),
        (error_reply(401, "authentication_error", "bad key"), bd.AuthenticationError),
    ],
)
def test_only_a_real_page_from_the_batches_route_proves_it(
    make_client: object, server: ScriptServer, probe: Reply, error: type[Exception]
) -> None:
    client = make_client()  # type: ignore[operator]
    server.script(error_reply(404, "not_found_error", "no such batch"), probe)
    with pytest.raises(error):
        bd.delete_batch(client, REAL_ID, missing_ok=True)
    assert [r.target for r in server.requests] == [
        f"/v1/messages/batches/{REAL_ID}",
        "/v1/messages/batches?limit=1",
    ]


def test_a_base_url_without_v1_gives_no_warning(
    api: Emulator, recwarn: pytest.WarningsRecorder
) -> None:
    for base in (api.base_url, api.base_url + "/proxy/anthropic", api.base_url + "/v1beta"):
        bd.Client(api_key="k", base_url=base, transport="urllib3").close()
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


# -- only batch ids reach the workflows ------------------------------------------------

BAD_IDS: list[object] = [
    "",
    "not an id",
    " msgbatch_abc",
    "msgbatch_abc ",
    "msgbatch_abc\n",
    "\ufeffmsgbatch_abc",
    "msgbatch_abc msgbatch_def",
    "msgbatch_abc,msgbatch_def",
    "msgbatch_",
    "MSGBATCH_abc",
    "msgbatch_ab-c",
    "msgbatch_ab_c",
    "msgbatch_abc/../x",
    "msgbatch_abc%2F",
    "msgbatch_ab\u00e7",
    "msgbatch_\uff41bc",  # a fullwidth letter: not ASCII
    "..",
    None,
    123,
    b"msgbatch_abc",
]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_workflows_refuse_what_is_not_a_batch_id_before_any_request(
    api: Emulator, bad: object
) -> None:
    with client_for(api, "urllib3") as client:
        with pytest.raises(ValueError) as info:  # InvalidBatchIdError is a ValueError
            bd.delete_batch(client, bad, missing_ok=True, force=True)  # type: ignore[arg-type]
        assert isinstance(info.value, bd.InvalidBatchIdError)
        assert info.value.batch_id == bad
        with pytest.raises(bd.InvalidBatchIdError):
            bd.delete_many(client, [REAL_ID, bad], missing_ok=True)  # type: ignore[list-item]
    assert api.requests == []  # the good id in the list was not deleted either


def test_the_sdk_shaped_call_stays_a_faithful_map(server: ScriptServer) -> None:
    with bd.Client(api_key=API_KEY, base_url=server.url, transport="urllib3") as client:
        client.delete("not an id")  # the wire contract encodes any id, as the SDK does
    assert server.requests[0].target == "/v1/messages/batches/not%20an%20id"


@pytest.mark.parametrize("text", ["msgbatch_abc", b"msgbatch_abc", bytearray(b"msgbatch_abc")])
def test_a_string_is_not_a_list_of_ids(api: Emulator, text: object) -> None:
    with client_for(api, "urllib3") as client, pytest.raises(TypeError) as info:
        bd.delete_many(client, text)  # type: ignore[arg-type]
    assert "[batch_id]" in str(info.value)
    assert api.requests == []


def test_duplicates_are_deleted_once(api: Emulator) -> None:
    batch = api.add_batch("ended").id
    with client_for(api, "urllib3") as client:
        outcomes = bd.delete_many(client, [batch, batch, batch])
    assert [o.status for o in outcomes] == ["deleted"]
    assert len(api.requests) == 1


# -- blank credentials ---------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", " ", "\t \t"])
def test_blank_credentials_are_refused_naming_their_source(
    blank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(bd.ConfigurationError, match="from api_key= is empty"):
        bd.Client(transport="urllib3", api_key=blank)
    with pytest.raises(bd.ConfigurationError, match="from auth_token= is empty"):
        bd.Client(transport="urllib3", auth_token=blank)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.setenv(name, blank)
        with pytest.raises(bd.ConfigurationError, match=f"from {name} is empty"):
            bd.Client(transport="urllib3")
        monkeypatch.delenv(name)


def test_an_explicit_key_beats_a_blank_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "")
    bd.Client(api_key="sk-ant-real", transport="urllib3").close()


# -- local traffic never goes through the environment's proxy ---------------------------


@pytest.fixture
def env_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptServer]:
    """A loopback server standing in for a corporate proxy, in every proxy variable."""
    with ScriptServer() as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy.url)
        yield proxy


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("api.anthropic.com", False),
        ("", False),
    ],
)
def test_what_counts_as_this_machine(host: str, loopback: bool) -> None:
    assert bd.is_loopback_host(host) is loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_skips_the_environment_proxy(
    api: Emulator, env_proxy: ScriptServer, transport_name: str, host: str
) -> None:
    batch = api.add_batch("ended").id
    with client_for(api, transport_name, f"http://{host}:{api.port}") as client:
        assert bd.delete_batch(client, batch).status == "deleted"
    assert env_proxy.requests == []
    assert [r.target for r in api.requests] == [f"/v1/messages/batches/{batch}"]


@pytest.mark.parametrize("transport", ["requests", "httpx"])
def test_other_hosts_still_use_the_environment_proxy(
    env_proxy: ScriptServer, transport: str
) -> None:
    # The proxy (on loopback) gets the absolute-form request; nothing leaves the machine.
    base = "http://batches.example.invalid"
    with bd.Client(api_key=API_KEY, base_url=base, transport=transport, max_retries=0) as c:
        c.delete(REAL_ID)
    assert [r.target for r in env_proxy.requests] == [f"{base}/v1/messages/batches/{REAL_ID}"]


def test_clients_for_the_emulator_ignore_proxies_on_every_transport(
    env_proxy: ScriptServer, batch_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in TRANSPORTS:
        monkeypatch.setenv("BATCHDELETE_TRANSPORT", name)
        batch = batch_emulator.add_batch("ended").id
        with bd.Client(api_key=batch_emulator.api_key, base_url=batch_emulator.base_url) as c:
            c.delete(batch)
    assert env_proxy.requests == [] and batch_emulator.batches() == []


# -- TLS and CA settings -----------------------------------------------------------------


def test_a_failed_certificate_is_named_and_not_retried(
    tls_server: ScriptServer, transport_name: str
) -> None:
    client = bd.Client(api_key=API_KEY, base_url=tls_server.url, transport=transport_name)
    client._sleep = lambda seconds: None
    with client, pytest.raises(bd.APIConnectionError) as info:
        client.delete(REAL_ID)
    assert str(info.value).startswith("Certificate verify failed for 127.0.0.1: ")
    assert "SSL_CERT_FILE" in str(info.value)
    assert info.value.attempts == 1  # max_retries is 2: a certificate is not retried
    assert isinstance(info.value.__cause__, bd.TransportCertificateError)
    assert tls_server.requests == []


@pytest.mark.parametrize(
    ("transport", "variable"),
    [
        ("httpx", "SSL_CERT_FILE"),
        ("urllib3", "SSL_CERT_FILE"),
        ("urllib3", "SSL_CERT_DIR"),
        ("stdlib", "SSL_CERT_FILE"),
        ("requests", "REQUESTS_CA_BUNDLE"),
        ("requests", "CURL_CA_BUNDLE"),
    ],
)
def test_a_ca_variable_naming_nothing_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str, variable: str
) -> None:
    missing = str(tmp_path / "no-such-ca.pem")
    monkeypatch.setenv(variable, missing)
    with pytest.raises(bd.ConfigurationError) as info:
        bd.Client(api_key=API_KEY, base_url="https://127.0.0.1:9", transport=transport)
    assert "no-such-ca.pem" in str(info.value)


def test_a_ca_file_that_exists_is_used(
    tls_server: ScriptServer, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with bd.Client(api_key=API_KEY, base_url=tls_server.url, transport="httpx") as client:
        assert client.delete(REAL_ID).id == REAL_ID
