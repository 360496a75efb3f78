"""Plugins and choosing a transport: entry points, a third-party transport
with observing hooks end to end, broken plugins, selection order."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import batchdelete as bd
from batchdelete import _registry
from tests.conftest import API_KEY
from tests.scriptserver import ScriptServer, error_reply

THIRDPARTY = Path(__file__).parent / "thirdparty"


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    _registry._reset_for_tests()
    yield
    _registry._reset_for_tests()


@pytest.fixture
def thirdparty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> Iterator[ModuleType]:
    """Install the test plugins the way pip would: a dist-info with entry points."""
    dist = tmp_path / "batchdelete_testplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: batchdelete-testplugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[batchdelete]\nloopback-stdlib = batchdelete_testplugin\nbroken = batchdelete_broken\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(THIRDPARTY))
    import batchdelete_testplugin

    batchdelete_testplugin.CALLS.clear()
    yield batchdelete_testplugin
    for name in ("batchdelete_testplugin", "batchdelete_broken"):
        sys.modules.pop(name, None)


def _info(name: str) -> bd.TransportInfo:
    [info] = [t for t in bd.list_transports() if t.name == name and not t.asynchronous]
    return info


def test_builtins_are_listed_in_auto_order(fresh_registry: None) -> None:
    infos = bd.list_transports()
    assert [i.name for i in infos[:4]] == ["urllib3", "httpx", "requests", "stdlib"]
    for info in infos[:4]:
        assert info.available and info.builtin and info.version
        assert info.module == f"batchdelete_{info.name}"
    for info in infos[:3]:
        assert info.install == f"pip install 'batchdelete[{info.name}]'"
    assert infos[3].install is None and infos[3].version == platform.python_version()


def test_listing_imports_no_http_library() -> None:
    code = (
        "import sys, batchdelete\n"
        "names = [t.name for t in batchdelete.list_transports()]\n"
        "assert {'urllib3', 'httpx', 'requests'} <= set(names), names\n"
        "loaded = [m for m in ('urllib3', 'httpx', 'requests', 'httpcore') if m in sys.modules]\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_third_party_plugin_is_listed(thirdparty: ModuleType) -> None:
    info = _info("loopback-stdlib")
    assert info.available and not info.builtin
    assert info.module == "batchdelete_testplugin"
    missing = _info("needs-missing-lib")
    assert not missing.available
    assert "no_such_library_xyz" in (missing.reason or "")
    assert _info("urllib3").available  # the others are unaffected


def test_broken_plugin_is_reported_not_fatal(thirdparty: ModuleType) -> None:
    broken = _info("broken")
    assert not broken.available
    assert "ImportError" in (broken.reason or "")
    assert "broken on purpose" in (broken.reason or "")
    with pytest.raises(bd.ConfigurationError, match="broken on purpose"):
        bd.Client(api_key=API_KEY, transport="broken")
    with bd.Client(api_key=API_KEY, transport="httpx") as client:
        assert client.transport.name == "httpx"


def test_uninstalled_library_gives_install_hint(thirdparty: ModuleType) -> None:
    with pytest.raises(bd.ConfigurationError) as info:
        bd.Client(api_key=API_KEY, transport="needs-missing-lib")
    message = str(info.value)
    assert "pip install no-such-library-xyz" in message
    assert "urllib3" in message and "loopback-stdlib" in message  # what is available


def test_third_party_transport_end_to_end_with_hooks(
    thirdparty: ModuleType, server: ScriptServer
) -> None:
    server.script(error_reply(503, "api_error", "busy", ("retry-after-ms", "1")))
    with bd.Client(api_key=API_KEY, base_url=server.url, transport="loopback-stdlib") as client:
        result = client.with_raw_response.delete("msgbatch_1")
    assert result.transport == "loopback-stdlib" and result.attempts == 2
    agent = server.requests[0].header("user-agent") or ""
    assert agent.startswith(f"batchdelete/{bd.__version__} loopback-stdlib/1.0 python/")

    calls = thirdparty.CALLS
    assert [name for name, _ in calls] == [
        "on_request",
        "on_response",
        "on_error",
        "on_retry",
        "on_request",
        "on_response",
    ]
    first = calls[0][1]
    assert first["method"] == "DELETE" and first["attempt"] == 1
    assert first["url"] == server.url + "/v1/messages/batches/msgbatch_1"
    assert first["headers"]["x-api-key"] == "[redacted]"
    assert first["transport"] == "loopback-stdlib"
    assert calls[1][1]["status_code"] == 503 and calls[1][1]["request_id"] == "req_503"
    assert isinstance(calls[2][1]["error"], bd.ServiceUnavailableError)
    assert calls[3][1]["wait"] == pytest.approx(0.001)
    assert calls[4][1]["attempt"] == 2
    assert calls[5][1]["status_code"] == 200
    assert API_KEY not in repr(calls)


def test_failing_hook_does_not_break_the_call(
    fresh_registry: None, server: ScriptServer, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding:
        @bd.hookimpl
        def on_response(self, status_code: int) -> None:
            raise RuntimeError("observer bug")

    plugin = Exploding()
    bd.register_plugin(plugin, name="exploding")
    try:
        with bd.Client(api_key=API_KEY, base_url=server.url) as client:
            assert client.delete("msgbatch_1").id == "msgbatch_1"
    finally:
        bd.unregister_plugin(plugin)
    assert "on_response hook raised" in caplog.text


def test_auto_never_picks_a_third_party_transport(
    thirdparty: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _registry._library_status

    def no_builtin_libraries(library: str | None) -> tuple[bool, str | None, str | None]:
        if library in ("urllib3", "httpx", "requests"):
            return False, None, f"the {library} library is not installed"
        return real(library)

    monkeypatch.setattr(_registry, "_library_status", no_builtin_libraries)
    _registry._reset_for_tests()
    assert _info("loopback-stdlib").available
    with bd.Client(api_key=API_KEY) as client:  # the dependency-free built-in
        assert client.transport.name == "stdlib"
    monkeypatch.setattr(_registry, "AUTO_ORDER", ("urllib3", "httpx", "requests"))
    with pytest.raises(bd.ConfigurationError, match=r"pip install 'batchdelete\[urllib3\]'"):
        bd.Client(api_key=API_KEY)
    with bd.Client(api_key=API_KEY, transport="loopback-stdlib") as client:
        assert client.transport.name == "loopback-stdlib"


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ((), "urllib3"),
        (("urllib3",), "httpx"),
        (("urllib3", "httpx"), "requests"),
        (("urllib3", "httpx", "requests"), "stdlib"),
    ],
)
def test_auto_order(
    fresh_registry: None, monkeypatch: pytest.MonkeyPatch, missing: tuple[str, ...], expected: str
) -> None:
    real = _registry._library_status

    def status(library: str | None) -> tuple[bool, str | None, str | None]:
        return (False, None, "not installed") if library in missing else real(library)

    monkeypatch.setattr(_registry, "_library_status", status)
    with bd.Client(api_key=API_KEY) as client:
        assert client.transport.name == expected


def test_environment_then_explicit(fresh_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHDELETE_TRANSPORT", "requests")
    with bd.Client(api_key=API_KEY) as client:
        assert client.transport.name == "requests"
    with bd.Client(api_key=API_KEY, transport="httpx") as client:
        assert client.transport.name == "httpx"
    monkeypatch.setenv("BATCHDELETE_TRANSPORT", "")
    with bd.Client(api_key=API_KEY) as client:
        assert client.transport.name == "urllib3"
    monkeypatch.setenv("BATCHDELETE_TRANSPORT", "curl")
    with pytest.raises(bd.ConfigurationError, match="BATCHDELETE_TRANSPORT"):
        bd.Client(api_key=API_KEY)


def test_unknown_transport_lists_known_ones(fresh_registry: None) -> None:
    with pytest.raises(bd.ConfigurationError) as info:
        bd.Client(api_key=API_KEY, transport="no-such-transport")
    message = str(info.value)
    assert "'no-such-transport'" in message
    assert all(name in message for name in ("urllib3", "httpx", "requests"))
    assert "pip install 'batchdelete[" in message


@pytest.mark.parametrize("value", [42, object(), b"httpx", ["httpx"], bd.Transport])
def test_transport_of_wrong_kind(fresh_registry: None, value: object) -> None:
    with pytest.raises(bd.ConfigurationError, match="transport="):
        bd.Client(api_key=API_KEY, transport=value)


def test_duplicate_transport_name_is_reported(fresh_registry: None) -> None:
    class Impostor:
        @bd.hookimpl
        def register_transports(self, register: object) -> None:
            register("urllib3", lambda native: None)  # type: ignore[operator]

    plugin = Impostor()
    bd.register_plugin(plugin, name="impostor")
    try:
        infos = {i.name: i for i in bd.list_transports() if not i.asynchronous}
        assert infos["urllib3"].builtin and infos["urllib3"].available
        assert "impostor" in infos and "registered twice" in (infos["impostor"].reason or "")
    finally:
        bd.unregister_plugin(plugin)


def test_hooks_registered_after_the_client_are_called_and_removed_ones_are_not(
    server: ScriptServer,
) -> None:
    """The client looks at the hooks' implementations on every request (a
    plugin may come and go while it lives)."""
    seen: list[str] = []

    class Late:
        @bd.hookimpl
        def on_request(self, url: str) -> None:
            seen.append("request " + url.rsplit("/", 1)[1])

        @bd.hookimpl
        def on_response(self, status_code: int) -> None:
            seen.append(f"response {status_code}")

    with bd.Client(api_key=API_KEY, base_url=server.url, transport="urllib3") as client:
        client.delete("msgbatch_before")
        late = Late()
        bd.register_plugin(late, name="late")
        try:
            client.delete("msgbatch_during")
        finally:
            bd.unregister_plugin(late)
        client.delete("msgbatch_after")
    assert seen == ["request msgbatch_during", "response 200"]
