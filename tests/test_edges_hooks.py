"""`Hooks` with a pluggy whose hook callers do not expose `_hookimpls`
(issue 12, branch coverage): whether a hook is implemented is then asked of
`get_hookimpls()`, each time, so a plugin registered later is seen."""

from __future__ import annotations

import logging
from typing import Any

import pluggy
import pytest

from batchdelete._hooks import Hooks


class _Caller:
    """A hook caller as an older pluggy makes it: no `_hookimpls`."""

    def __init__(self) -> None:
        self.impls: list[object] = []
        self.calls: list[dict[str, Any]] = []

    def get_hookimpls(self) -> list[object]:
        return list(self.impls)

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class _Relay:
    def __init__(self) -> None:
        self.on_request = _Caller()
        self.on_response = _Caller()
        self.on_error = _Caller()
        self.on_retry = _Caller()


class _Manager:
    def __init__(self) -> None:
        self.hook = _Relay()


def test_without_hookimpls_the_hook_callers_are_asked_each_time() -> None:
    manager = _Manager()
    hooks = Hooks(manager)  # type: ignore[arg-type]  # the shape Hooks reads
    assert not hooks.active("on_request")
    hooks.on_request(
        method="DELETE", url="http://127.0.0.1/v1", headers={}, attempt=1, transport="stdlib"
    )
    assert manager.hook.on_request.calls == []  # not implemented: not called
    manager.hook.on_request.impls.append(object())  # a plugin registered afterwards
    assert hooks.active("on_request")
    hooks.on_request(
        method="DELETE",
        url="http://127.0.0.1/v1",
        headers={"x-api-key": "sk-ant-secret"},
        attempt=1,
        transport="stdlib",
    )
    [call] = manager.hook.on_request.calls
    assert "sk-ant-secret" not in repr(call)  # redacted on this path too
    assert call["attempt"] == 1


def test_with_this_pluggy_the_cached_list_follows_registrations() -> None:
    from batchdelete import hookspecs

    manager = pluggy.PluginManager("batchdelete")
    manager.add_hookspecs(hookspecs)
    hooks = Hooks(manager)
    assert not hooks.active("on_retry")

    class Plugin:
        @pluggy.HookimplMarker("batchdelete")
        def on_retry(self, **kwargs: Any) -> None:
            raise AssertionError("not called here")

    manager.register(Plugin())
    assert hooks.active("on_retry")


def test_other_hooks_pass_headers_as_they_are_and_a_raising_hook_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = _Manager()
    manager.hook.on_response.impls.append(object())
    hooks = Hooks(manager)  # type: ignore[arg-type]
    answer = {"request-id": "req_1"}
    hooks.on_response(
        method="DELETE",
        url="http://127.0.0.1/v1",
        attempt=1,
        transport="stdlib",
        status_code=200,
        headers=answer,
        request_id="req_1",
        elapsed=0.0,
    )
    [call] = manager.hook.on_response.calls
    assert call["headers"] is answer  # a response's headers are not redacted

    raising = _Manager()
    raising.hook.on_response = _Raising()
    hooks = Hooks(raising)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="batchdelete"):
        hooks.on_response(
            method="DELETE",
            url="http://127.0.0.1/v1",
            attempt=1,
            transport="stdlib",
            status_code=200,
            headers=answer,
            request_id=None,
            elapsed=0.0,
        )
    assert "on_response hook raised; ignored" in caplog.text


class _Raising(_Caller):
    def __init__(self) -> None:
        super().__init__()
        self.impls.append(object())

    def __call__(self, **kwargs: Any) -> None:
        raise RuntimeError("plugin bug")
