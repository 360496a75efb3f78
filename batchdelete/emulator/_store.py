"""The emulator's state: batches, their lifecycle, and an adjustable clock.

Every batch belongs to one workspace. The operations take the workspace
that a request acts in and treat a batch of another workspace as absent
(404, and not in a list, nor usable as a cursor); None (the emulator's own
inspection) sees every workspace."""

from __future__ import annotations

import random
import re
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

__all__ = ["DEFAULT_WORKSPACE_ID", "WORKSPACE_ID", "ApiError", "Batch", "Clock", "Store"]

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
DAY = timedelta(hours=24)
CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
STATUSES = ("in_progress", "canceling", "ended")
#: The workspace of the emulator's API key, and of batches seeded without one.
DEFAULT_WORKSPACE_ID = "wrkspc_default"
#: What a workspace id looks like (the API's are `wrkspc_` and base62).
WORKSPACE_ID = re.compile(r"wrkspc_[A-Za-z0-9]+")


def check_workspace_id(workspace_id: str) -> str:
    """A workspace id, or ValueError (for the emulator's own API)."""
    if not isinstance(workspace_id, str) or not WORKSPACE_ID.fullmatch(workspace_id):
        raise ValueError(
            f"A workspace id is 'wrkspc_' followed by letters and digits, got {workspace_id!r}."
        )
    return workspace_id


class ApiError(Exception):
    """An error answer: HTTP status, the API's error type and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


class Clock:
    """Emulated UTC time: the real clock plus an offset that `advance()`
    moves forward, or, when `frozen`, a time that moves only by `advance()`."""

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._start = start or datetime.now(timezone.utc)
        self._real = time.monotonic()
        self._offset = 0.0
        self.frozen = frozen

    def now(self) -> datetime:
        with self._lock:
            flowing = 0.0 if self.frozen else time.monotonic() - self._real
            return self._start + timedelta(seconds=flowing + self._offset)

    def advance(self, seconds: float) -> None:
        """Move emulated time forward (never back)."""
        if seconds < 0:
            raise ValueError("The emulator's clock only moves forward.")
        with self._lock:
            self._offset += seconds


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Batch:
    id: str
    created_at: datetime
    requests: int
    ends_at: datetime  # when processing would finish on its own
    cancel_time: float
    workspace_id: str = DEFAULT_WORKSPACE_ID
    seq: int = 0  # creation order, to order batches created in the same instant
    processing_status: str = "in_progress"
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def expires_at(self) -> datetime:
        return self.created_at + DAY

    def refresh(self, now: datetime) -> None:
        """Apply whatever has happened to the batch by `now`."""
        if self.processing_status == "canceling" and self.cancel_initiated_at is not None:
            done = self.cancel_initiated_at + timedelta(seconds=self.cancel_time)
            if now >= done:
                self._end(done, "canceled")
        elif self.processing_status == "in_progress":
            if self.ends_at <= self.expires_at and now >= self.ends_at:
                self._end(self.ends_at, "succeeded")
            elif now >= self.expires_at:
                self._end(self.expires_at, "expired")

    def _end(self, when: datetime, outcome: str) -> None:
        self.processing_status = "ended"
        self.ended_at = when
        self.counts = {outcome: self.requests}

    def to_json(self, base_url: str) -> dict[str, Any]:
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if self.processing_status == "ended":
            counts.update(self.counts)
        else:
            counts["processing"] = self.requests
        ended = self.processing_status == "ended"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.processing_status,
            "request_counts": counts,
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "ended_at": rfc3339(self.ended_at),
            "cancel_initiated_at": rfc3339(self.cancel_initiated_at),
            "archived_at": None,
            "results_url": (
                f"{base_url}/v1/messages/batches/{quote(self.id, safe='')}/results"
                if ended
                else None
            ),
        }


class Store:
    """Every batch the emulator knows, behind one lock."""

    def __init__(
        self,
        clock: Clock,
        *,
        processing_time: float = 60.0,
        cancel_time: float = 2.0,
        seed: int | None = None,
    ) -> None:
        self.clock = clock
        self.processing_time = processing_time
        self.cancel_time = cancel_time
        self._rng = random.Random(seed)  # noqa: S311 - ids, not secrets
        self._lock = threading.RLock()
        self._batches: dict[str, Batch] = {}
        self._deleted = 0

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return prefix + "".join(self._rng.choice(BASE62) for _ in range(24))

    def _get(self, batch_id: str, workspace_id: str | None = None) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None or workspace_id not in (None, batch.workspace_id):
            raise ApiError(404, "not_found_error", f"No message batch with id '{batch_id}'.")
        batch.refresh(self.clock.now())
        return batch

    # -- operations ----------------------------------------------------------

    def create(self, body: object, workspace_id: str = DEFAULT_WORKSPACE_ID) -> Batch:
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request_error", "The body must be a JSON object.")
        items = body.get("requests")
        if not isinstance(items, list) or not items:
            raise ApiError(
                400, "invalid_request_error", "requests: must be a non-empty list of requests."
            )
        seen: set[str] = set()
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ApiError(400, "invalid_request_error", f"requests.{i}: must be an object.")
            custom_id = item.get("custom_id")
            if not isinstance(custom_id, str) or not CUSTOM_ID.fullmatch(custom_id):
                raise ApiError(
                    400,
                    "invalid_request_error",
                    f"requests.{i}.custom_id: must be 1 to 64 letters, digits, '_' or '-'.",
                )
            if custom_id in seen:
                raise ApiError(
                    400,
                    "invalid_request_error",
                    f"requests.{i}.custom_id: '{custom_id}' is used more than once; "
                    "custom_id values must be unique within a batch.",
                )
            seen.add(custom_id)
            if not isinstance(item.get("params"), dict):
                raise ApiError(
                    400, "invalid_request_error", f"requests.{i}.params: must be an object."
                )
        return self.add("in_progress", requests=len(items), workspace_id=workspace_id)

    def add(
        self,
        status: str = "ended",
        *,
        requests: int = 1,
        age: float = 0.0,
        batch_id: str | None = None,
        workspace_id: str = DEFAULT_WORKSPACE_ID,
    ) -> Batch:
        """Put a batch in any state, in a workspace; `age` seconds old."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}.")
        check_workspace_id(workspace_id)
        now = self.clock.now()
        created = now - timedelta(seconds=age)
        with self._lock:
            batch = Batch(
                id=batch_id or self.new_id("msgbatch_"),
                created_at=created,
                requests=requests,
                ends_at=max(created + timedelta(seconds=self.processing_time), now)
                if status == "ended"
                else now + timedelta(seconds=self.processing_time),
                cancel_time=self.cancel_time,
                workspace_id=workspace_id,
                seq=len(self._batches) + self._deleted,
            )
            if status == "ended":
                batch._end(min(created + timedelta(seconds=self.processing_time), now), "succeeded")
            elif status == "canceling":
                batch.processing_status = "canceling"
                batch.cancel_initiated_at = now
            self._batches[batch.id] = batch
            return batch

    def retrieve(self, batch_id: str, workspace_id: str | None = None) -> Batch:
        with self._lock:
            return self._get(batch_id, workspace_id)

    def cancel(self, batch_id: str, workspace_id: str | None = None) -> Batch:
        with self._lock:
            batch = self._get(batch_id, workspace_id)
            if batch.processing_status == "in_progress":
                batch.processing_status = "canceling"
                batch.cancel_initiated_at = self.clock.now()
            return batch

    def delete(self, batch_id: str, workspace_id: str | None = None) -> None:
        with self._lock:
            batch = self._get(batch_id, workspace_id)
            if batch.processing_status != "ended":
                raise ApiError(
                    400,
                    "invalid_request_error",
                    "Message Batches can only be deleted once they've finished processing. "
                    "If you'd like to delete an in-progress batch, you must first cancel it.",
                )
            del self._batches[batch_id]
            self._deleted += 1

    def page(
        self,
        limit: int = 20,
        after_id: str | None = None,
        before_id: str | None = None,
        workspace_id: str | None = None,
    ) -> tuple[list[Batch], bool]:
        """A page of a workspace's batches, newest first, and whether more
        follow in that direction."""
        with self._lock:
            now = self.clock.now()
            ordered = sorted(
                (b for b in self._batches.values() if workspace_id in (None, b.workspace_id)),
                key=lambda b: (b.created_at, b.seq),
                reverse=True,
            )
            for b in ordered:
                b.refresh(now)
            ids = [b.id for b in ordered]
            for cursor in (after_id, before_id):
                if cursor is not None and cursor not in ids:
                    raise ApiError(
                        400, "invalid_request_error", f"No message batch with id '{cursor}'."
                    )
            if after_id is not None:
                rest = ordered[ids.index(after_id) + 1 :]
                return rest[:limit], len(rest) > limit
            if before_id is not None:
                rest = ordered[: ids.index(before_id)]
                return rest[-limit:], len(rest) > limit
            return ordered[:limit], len(ordered) > limit

    def snapshot(self) -> list[Batch]:
        """Every batch, oldest first, brought up to date."""
        with self._lock:
            now = self.clock.now()
            for b in self._batches.values():
                b.refresh(now)
            return list(self._batches.values())
