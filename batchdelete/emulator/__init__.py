"""A local emulator of the Message Batches API, for trying and testing offline.

    from batchdelete.emulator import Emulator

    with Emulator() as api:                       # listens on 127.0.0.1, a free port
        done = api.add_batch("ended")             # seed batches in any state
        running = api.add_batch("in_progress")
        client = batchdelete.Client(api_key=api.api_key, base_url=api.base_url)
        client.delete(done.id)
        api.clock.advance(3600)                   # move emulated time, no sleeping
        api.inject(status=429, headers=(("retry-after", "1"),), route="delete")

    with Emulator(requests_per_minute=50, frozen=True) as api:   # the API's rate limit
        ...                                       # the 51st request in a minute is a 429
        api.clock.advance(1.2)                    # one request's worth of refill
        api.set_rate_limit(None)                  # at run time; None: no limit

It serves create, list, retrieve, cancel and delete under
/v1/messages/batches on HTTP/1.1 with keep-alive, checks the API key and the
anthropic-version header, and answers with the API's bodies and error
shapes. With `requests_per_minute` it limits each API key as the API does
(a token bucket: 429 `rate_limit_error` with `retry-after` over the limit,
and the `anthropic-ratelimit-requests-*` headers on every authenticated
answer; `_limits.py` says what follows the API's documentation and what is
chosen).
The standard library's threading HTTP server runs it: no dependency,
a thread per connection, and plenty fast for tests and demos.
"""

from __future__ import annotations

import threading
from typing import Any

from ._limits import Limiter
from ._server import Fault, Logged, Server
from ._store import Batch, Clock, Store

__all__ = ["DEFAULT_API_KEY", "Batch", "Clock", "Emulator", "Fault", "Logged"]

DEFAULT_API_KEY = "sk-ant-emulator-0000"


class Emulator:
    """The emulator, in-process, on a thread of its own.

    host/port: where to listen (loopback and a free port by default).
    api_key: the only key accepted (`x-api-key`, or as a bearer token);
      `auth_tokens` adds bearer tokens.
    processing_time: emulated seconds a new batch stays `in_progress`.
    cancel_time: emulated seconds a canceled batch stays `canceling`.
    seed: makes ids and request ids repeatable.
    frozen: emulated time moves only by `clock.advance()`.
    requests_per_minute: the API's rate limit, a token bucket per API key
      (x-api-key or bearer token) across all endpoints, refilled on the
      emulator's clock; None (the default): no limit. Over it: 429 with
      `retry-after`; with a limit, every authenticated answer carries the
      `anthropic-ratelimit-requests-{limit,remaining,reset}` headers.
      `set_rate_limit()` changes it at run time.
    burst: the bucket's capacity (None: a minute's worth, the limit): the
      API may enforce its per-minute rate over shorter intervals, and a
      burst of `requests_per_minute // 60` emulates one enforced per second.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        auth_tokens: tuple[str, ...] = (),
        processing_time: float = 60.0,
        cancel_time: float = 2.0,
        seed: int | None = None,
        frozen: bool = False,
        requests_per_minute: int | None = None,
        burst: int | None = None,
    ) -> None:
        self.api_key = api_key
        self._tokens = frozenset((api_key, *auth_tokens))
        self.clock = Clock(frozen=frozen)
        self.store = Store(
            self.clock, processing_time=processing_time, cancel_time=cancel_time, seed=seed
        )
        self._limiter = Limiter(self.clock, requests_per_minute, burst)
        self._faults: list[Fault] = []
        self._log: list[Logged] = []
        self._lock = threading.Lock()
        self._server = Server((host, port), self)
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- life ------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="batchdelete-emulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until `stop()` or KeyboardInterrupt."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    def stop(self) -> None:
        """Stop listening and close every connection. Safe to call twice."""
        if self._thread is not None:
            self._server.stop()
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- seeding and inspection ------------------------------------------------------

    def add_batch(
        self,
        status: str = "ended",
        *,
        requests: int = 1,
        age: float = 0.0,
        batch_id: str | None = None,
    ) -> Batch:
        """Seed a batch "in_progress", "canceling" or "ended", `age` seconds old."""
        return self.store.add(status, requests=requests, age=age, batch_id=batch_id)

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        """A batch as the API would show it now, or None if it does not exist."""
        for b in self.store.snapshot():
            if b.id == batch_id:
                return b.to_json(self.base_url)
        return None

    def batches(self) -> list[dict[str, Any]]:
        """Every batch as the API would show it now, oldest first."""
        return [b.to_json(self.base_url) for b in self.store.snapshot()]

    @property
    def requests(self) -> list[Logged]:
        """Every request answered (or dropped) so far, in order; rate-limited
        ones too (`status` 429)."""
        with self._lock:
            return list(self._log)

    # -- rate limit ------------------------------------------------------------------

    @property
    def requests_per_minute(self) -> int | None:
        """The rate limit per API key now, or None."""
        return self._limiter.limit

    def set_rate_limit(self, requests_per_minute: int | None, *, burst: int | None = None) -> None:
        """Change the rate limit (None: none) and the burst (None: the
        limit); the next request sees it. Each key keeps the tokens it has,
        capped at the new capacity."""
        self._limiter.set_limit(requests_per_minute, burst)

    # -- faults ------------------------------------------------------------------------

    def inject(self, fault: Fault | None = None, **fields: Any) -> Fault:
        """Add a fault (a `Fault`, or its fields as keywords); faults apply in
        the order added, each to the next `times` requests of its route."""
        fault = fault if fault is not None else Fault(**fields)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, route: str | None) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.route is None or fault.route == route:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            del self._faults[i]
                    return fault
        return None

    def _record(self, entry: Logged) -> None:
        with self._lock:
            if len(self._log) < 100_000:
                self._log.append(entry)
