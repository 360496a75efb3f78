"""The after-fork hooks of the sync transports, run in this process (issue
12, branch coverage): coverage.py does not measure a forked child (it leaves
by `os._exit`), so `tests/test_fork.py` proves the behaviour and this file
the code path. Each plugin's hook is run over a registry holding only the
transport of the test; afterwards the transport opens a connection of its
own and never reuses the one it had (the parent's, in a real child), and
the old connection is not closed by the hook. Against a ScriptServer on
127.0.0.1."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator

import pytest

import batchdelete as bd
from tests.conftest import API_KEY
from tests.scriptserver import ScriptServer

HOOKS: dict[str, tuple[str, str, str]] = {
    "requests": ("batchdelete_requests", "_OWNED", "_forget_in_child"),
    "urllib3": ("batchdelete_urllib3", "_OWNED", "_forget_in_child"),
    "stdlib": ("batchdelete_stdlib", "_transports", "_after_fork_in_child"),
    "pycurl": ("batchdelete_pycurl", "_OWNED", "_forget_in_child"),
}
AVAILABLE = {t.name for t in bd.list_transports() if t.available}


@pytest.fixture
def client_of(server: ScriptServer) -> Iterator[Callable[[str], bd.Client]]:
    made: list[bd.Client] = []

    def make(name: str) -> bd.Client:
        client = bd.Client(api_key=API_KEY, base_url=server.url, transport=name, max_retries=0)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _connections(server: ScriptServer) -> dict[str, int]:
    return {r.target.rsplit("/", 1)[-1]: r.connection for r in server.requests}


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_after_the_fork_hook_a_transport_opens_its_own_connection(
    name: str,
    server: ScriptServer,
    client_of: Callable[[str], bd.Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if name not in AVAILABLE:
        pytest.skip(f"{name} is not installed")
    module_name, registry, hook = HOOKS[name]
    module = pytest.importorskip(module_name)
    if name == "pycurl":  # the abandoned pools of this test, not those of the process
        monkeypatch.setattr(module, "_ABANDONED", [])
    client = client_of(name)
    client.delete("msgbatch_before1")
    client.delete("msgbatch_before2")
    assert server.connections == 1  # kept alive
    monkeypatch.setattr(module, registry, weakref.WeakSet([client.transport]))
    getattr(module, hook)()
    client.delete("msgbatch_after1")
    client.delete("msgbatch_after2")
    seen = _connections(server)
    assert seen["msgbatch_before1"] == seen["msgbatch_before2"]
    assert seen["msgbatch_after1"] != seen["msgbatch_before1"]
    assert seen["msgbatch_after2"] == seen["msgbatch_after1"]  # the new pool keeps alive too
    assert server.connections == 2
    if name == "pycurl":
        for pool in module._ABANDONED:
            pool.close()


def test_an_empty_registry_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, (module_name, registry, hook) in HOOKS.items():
        if name not in AVAILABLE:
            continue
        module = pytest.importorskip(module_name)
        monkeypatch.setattr(module, registry, weakref.WeakSet())
        assert getattr(module, hook)() is None


@pytest.mark.skipif("httpx" not in AVAILABLE, reason="httpx is not installed")
def test_httpx_makes_new_clients_in_another_process(
    server: ScriptServer,
    client_of: Callable[[str], bd.Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The httpx transport notices a new pid (a forked child): new clients,
    the old ones kept (not closed); a new lock for the renewal."""
    import batchdelete_httpx

    client = client_of("httpx")
    client.delete("msgbatch_before")
    transport = client.transport
    assert isinstance(transport, batchdelete_httpx.HttpxTransport)
    lock = batchdelete_httpx._renew_lock
    batchdelete_httpx._new_lock_after_fork()
    assert batchdelete_httpx._renew_lock is not lock
    parent_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent_pid + 1)
    client.delete("msgbatch_after1")
    client.delete("msgbatch_after2")
    monkeypatch.undo()
    seen = _connections(server)
    assert seen["msgbatch_after1"] != seen["msgbatch_before"]
    assert seen["msgbatch_after2"] == seen["msgbatch_after1"]
    assert len(transport._abandoned) == 1
    # Back in "the parent", the clients made for "the child" are not closed by
    # close() (a parent's clients are the parent's): the test's own, closed by hand.
    renewed = transport._clients
    client.close()
    for clients in [*transport._abandoned, renewed]:
        assert not all(c.is_closed for c in clients.by_proxy.values())
        for httpx_client in clients.by_proxy.values():
            httpx_client.close()
