"""Edges of the journal (issue 12, branch coverage): a directory that cannot
be opened or fsynced when a new journal is created (some filesystems refuse
fsync on a directory: EINVAL), and closing twice. The failures are injected
into `os.open` and `os.fsync` for directories only; the journal's own file
is real."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

import batchdelete as bd


def _is_directory_path(path: Any) -> bool:
    return isinstance(path, (str, os.PathLike)) and os.path.isdir(path)


def test_a_directory_that_cannot_be_opened_is_not_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open
    refused: list[str] = []

    def open_refusing_directories(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if _is_directory_path(path):
            refused.append(os.fspath(path))
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_refusing_directories)
    path = tmp_path / "journal.jsonl"
    with bd.Journal(path) as journal:
        journal.record(bd.Outcome("msgbatch_a", "deleted"))
    assert refused == [str(tmp_path)]
    [line] = path.read_text().splitlines()
    assert json.loads(line)["id"] == "msgbatch_a"


def test_a_directory_whose_fsync_fails_is_closed_and_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync, real_close = os.fsync, os.close
    directory_fds: set[int] = set()
    closed: list[int] = []

    def fsync_refusing_directories(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            directory_fds.add(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(fd)

    def recording_close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    monkeypatch.setattr(os, "fsync", fsync_refusing_directories)
    monkeypatch.setattr(os, "close", recording_close)
    path = tmp_path / "journal.jsonl"
    journal = bd.Journal(path)
    assert len(directory_fds) == 1 and directory_fds <= set(closed)  # not leaked
    journal.record(bd.Outcome("msgbatch_b", "deleted"))  # the file's own fsync works
    journal.close()
    journal.close()  # twice: safe, nothing closed again
    assert len(closed) == 2  # the directory, then the journal, once each
    assert journal.done == frozenset({"msgbatch_b"})
