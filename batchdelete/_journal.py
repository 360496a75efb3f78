"""A journal of finished batches, so that a bulk run can be resumed.

One JSON object a line, appended as each batch finishes:

    {"id": "msgbatch_...", "workspace": "wrkspc_...", "status": "deleted",
     "canceled": false, "attempts": 1, "request_id": "req_...", "elapsed": 0.118,
     "error": null, "message": null, "time": "2026-05-04T09:12:33.041Z"}

`workspace` is the workspace the batch was deleted or looked for in: the
one the requests named (`anthropic-workspace-id`), else the one the API's
answer named for the credential, else null; `status` is the
outcome's ("deleted", "missing", "failed"); `elapsed` is in seconds;
`error` is the error's class name and `message` its message (both null on
success); `time` is when it was recorded (RFC 3339, UTC). Nothing else is
written: never a credential, a header or a response body.

A batch id is unique across workspaces, so a batch with a "deleted" line is
done for every run; one whose last line for a workspace says "missing" is
done only for a run naming that workspace (null: naming none), since not
found there proves nothing elsewhere. A run with the same journal skips
what is done and tries the rest again (failed ones too). A line without
`workspace` (a journal written before the field existed) counts as null.

Each line is written with one `os.write` on a file opened for appending and
then `os.fsync`ed (`fsync=False` leaves that to the operating system). A
process killed mid-write leaves at most a torn last line, without its
newline: opening the journal drops it (the file is cut back to the end of
the last whole line), so the next line starts on a line of its own. Any
other line that is not a record is a `ConfigurationError` naming it: a
journal is never half read.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from ._errors import ConfigurationError
from ._ids import BATCH_ID_PATTERN, InvalidBatchIdError, check_batch_id
from ._jobs import Outcome

__all__ = ["DONE", "Journal", "open_journal"]

#: The statuses that make a batch done: a later run skips it.
DONE = frozenset({"deleted", "missing"})
_STATUSES = frozenset({*DONE, "failed"})


class Journal:
    """The journal file at `path` (created if absent), read at once.

    `done_in(workspace)` is the set of ids whose last line in that
    workspace (None: lines naming none) says "deleted" or "missing";
    `pending(ids, workspace=...)` the ids that are not; `record(outcome)`
    appends a line, with the outcome's workspace.
    Safe to share between threads (one lock). Close it (or use it as a
    context manager) when done; the file stays, to resume from."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = os.fspath(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        # (workspace, id) -> its last recorded status there
        self._last: dict[tuple[str | None, str], str] = {}
        created = not os.path.exists(self.path)
        try:
            self._fd: int | None = os.open(
                self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666
            )
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot open the journal {self.path!r}: {exc.strerror or exc}; "
                "check the path and its permissions."
            ) from None
        try:
            self._load()
            if created and fsync:
                _sync_directory(self.path)
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        assert self._fd is not None
        with open(self._fd, "rb", closefd=False) as file:
            data = file.read()
        whole, _, torn = data.rpartition(b"\n")
        lines = whole.split(b"\n") if whole or data.startswith(b"\n") else []
        for number, line in enumerate(lines, start=1):
            self._parse(line, number, last=False)
        if torn:
            if self._parse(torn, len(lines) + 1, last=True) is None:  # a crash mid-write
                os.ftruncate(self._fd, len(data) - len(torn))
            else:  # whole but for its newline
                os.write(self._fd, b"\n")

    def _parse(self, line: bytes, number: int, *, last: bool) -> dict[str, Any] | None:
        """Take in one line; None for a torn last line."""
        if not line.strip():
            return None if last else {}
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
            check_batch_id(record.get("id"))
            if record.get("status") not in _STATUSES:
                raise ValueError("no status")
            workspace = record.get("workspace")  # absent in older journals: None
            if workspace is not None and not isinstance(workspace, str):
                raise ValueError("not a workspace")
        except (ValueError, InvalidBatchIdError):
            if last:
                return None
            raise ConfigurationError(
                f"Line {number} of the journal {self.path!r} is not a journal record "
                f'(a JSON object with an "id" matching {BATCH_ID_PATTERN}, a "status" '
                'of "deleted", "missing" or "failed", and a "workspace" that is a string '
                "or null if present); correct or remove that line, or use another journal."
            ) from None
        self._last[(record.get("workspace"), record["id"])] = record["status"]
        return record

    @property
    def done(self) -> frozenset[str]:
        """`done_in(None)`: the ids done in runs whose requests named no
        workspace (every line of a journal written before workspaces)."""
        return self.done_in(None)

    def done_in(self, workspace: str | None) -> frozenset[str]:
        """The ids done for a run naming `workspace` (None: naming none):
        deleted in any workspace, or last found "missing" in this one."""
        with self._lock:
            return frozenset(
                i
                for (w, i), status in self._last.items()
                if status == "deleted" or (w == workspace and status in DONE)
            )

    def pending(self, batch_ids: Iterable[str], *, workspace: str | None = None) -> list[str]:
        """`batch_ids` without the ones done in `workspace`, in their order."""
        done = self.done_in(workspace)
        return [i for i in batch_ids if i not in done]

    def record(self, outcome: Outcome) -> None:
        """Append the outcome's line and flush it to the file (and, with
        `fsync`, to the disk). An `OSError` (a full disk) is raised."""
        error = outcome.error
        line = {
            "id": outcome.id,
            "workspace": outcome.workspace,
            "status": outcome.status,
            "canceled": outcome.canceled,
            "attempts": outcome.attempts,
            "request_id": outcome.request_id,
            "elapsed": round(outcome.elapsed, 6),
            "error": None if error is None else type(error).__name__,
            "message": None if error is None else str(error),
            "time": _now(),
        }
        data = (json.dumps(line, separators=(", ", ": ")) + "\n").encode()
        with self._lock:
            if self._fd is None:
                raise ValueError(f"The journal {self.path!r} is closed.")
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            if self.fsync:
                os.fsync(self._fd)
            self._last[(outcome.workspace, outcome.id)] = outcome.status

    def close(self) -> None:
        """Close the file; safe to call twice."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._fd is None else f"{len(self._last)} batches"
        return f"Journal({self.path!r}, fsync={self.fsync}, {state})"


def open_journal(journal: str | os.PathLike[str] | Journal | None) -> tuple[Journal | None, bool]:
    """(the journal, whether the caller opened it and so closes it)."""
    if journal is None or isinstance(journal, Journal):
        return journal, False
    if isinstance(journal, (str, os.PathLike)):
        return Journal(journal), True
    raise TypeError(
        f"journal must be a path (str or os.PathLike) or a Journal, not {type(journal).__name__}."
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sync_directory(path: str) -> None:
    """Make a new file's name durable too (POSIX; elsewhere a no-op)."""
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
