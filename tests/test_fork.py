"""A client used in a parent and then in a child made by `os.fork()` (as
gunicorn and multiprocessing do) works in the child on a connection of its
own, and the parent's keep-alive connection still works afterwards, on
every transport."""

from __future__ import annotations

import os
import time
import warnings

import pytest

import batchdelete as bd
from tests.conftest import API_KEY
from tests.scriptserver import ScriptServer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _child(client: bd.Client) -> int:
    """In the child: one delete; 0 when it worked. Never returns to pytest."""
    try:
        deleted = client.delete("msgbatch_child", timeout=bd.Timeout(deadline=10))
        return 0 if deleted.id == "msgbatch_child" else 2
    except BaseException:
        return 3


def _exit_code(pid: int, within: float) -> int | None:
    """The child's exit code; None (and the child killed) if it is not done in time."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def test_a_client_survives_fork(server: ScriptServer, transport_name: str) -> None:
    with bd.Client(
        api_key=API_KEY, base_url=server.url, transport=transport_name, max_retries=0
    ) as client:
        client.delete("msgbatch_parent1")
        assert server.connections == 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:
            os._exit(_child(client))
        assert _exit_code(pid, within=15) == 0
        client.delete("msgbatch_parent2")
    targets = [r.target.rsplit("/", 1)[-1] for r in server.requests]
    assert sorted(targets) == ["msgbatch_child", "msgbatch_parent1", "msgbatch_parent2"]
    by_id = {r.target.rsplit("/", 1)[-1]: r.connection for r in server.requests}
    # The child opened its own connection; the parent kept using its first one.
    assert by_id["msgbatch_child"] != by_id["msgbatch_parent1"]
    assert by_id["msgbatch_parent2"] == by_id["msgbatch_parent1"]
    assert server.connections == 2
