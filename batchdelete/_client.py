"""Client: the blocking driver of the call flow (`_flow.py`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from ._base import DEFAULT_API_VERSION, BaseClient
from ._errors import ConfigurationError, NotFoundError, TransportError
from ._flow import Admit, Authorize, Call, Send, call_flow
from ._models import DeletedMessageBatch
from ._pace import PACE, Limiter, Ticket
from ._registry import resolve_transport
from ._resources import APIResponse, Operations, _Beta, _Messages
from ._spec import RequestSpec, Timeout
from ._transport import RawResponse, Transport

__all__ = ["DEFAULT_API_VERSION", "APIResponse", "Client"]

R = TypeVar("R")


class Client(BaseClient, Operations[DeletedMessageBatch]):
    """Deletes Message Batches through one transport.

    Arguments (explicit ones beat the environment):
      api_key: sent as `x-api-key`. auth_token: sent as `authorization:
        Bearer`. credentials: an access token provider (any callable with
        the SDK's `AccessTokenProvider` signature, such as those of
        `anthropic.lib.credentials`), its tokens cached by the SDK's
        `TokenCache`. At most one of the three; with none, the SDK's chain:
        ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, then (with the
        `credentials` extra) ANTHROPIC_PROFILE, workload identity
        federation and the active profile (`_credentials.py`). An empty or
        blank key or token is refused, naming where it came from;
        `credential_source` says which step supplied the credential.
      base_url: else ANTHROPIC_BASE_URL (empty counts as unset), else a
        profile's base URL, else
        https://api.anthropic.com. A path in it is kept; one ending in /v1
        (the paths add it again) is warned about through `warnings` and the
        "batchdelete" logger.
      api_version: the `anthropic-version` header.
      transport: a name, a `Transport`, or a native requests.Session,
        httpx.Client or urllib3.PoolManager (used as is, never closed here).
        Else BATCHDELETE_TRANSPORT, else the first installed of urllib3,
        httpx, requests, stdlib.
      http_client: the SDK's name for a native client: the same as
        transport= given one (refused together with transport=).
      default_headers: headers sent on every request (a value of None
        removes one of ours); default_query: query parameters on every
        request (str, int, float or bool). Neither may touch the
        credentials (x-api-key, authorization), nor the list's own
        parameters. Per call, extra_headers= and extra_query= do the same.
        ANTHROPIC_CUSTOM_HEADERS (one `Name: value` a line, as the SDK
        reads it) adds headers that default_headers override.
      workspace_id: sent as `anthropic-workspace-id` on every request (for
        credentials that act on several workspaces); each operation's
        workspace_id= wins over it, and its extra_headers over both.
      timeout: seconds for both connect and read of each attempt, or a
        `Timeout` (connect 5 s, read 60 s, no overall deadline by default).
      max_retries: retries after the first attempt (2 by default; 0: none).
      max_retry_wait: the longest wait a server may ask for (retry-after)
        that is slept; a longer one raises at once (60 s by default).
      proxy, trust_env, verify, cert, max_connections: connection options
        for the transport the client builds (see `ConnectionOptions`): a
        proxy URL ("http://[user:pass@]host:port"; else HTTPS_PROXY and the
        like when trust_env), a CA bundle, an ssl.SSLContext or False, a
        client certificate, connections per origin (10). Refused together
        with a client or transport of your own, which is used as it is.
      max_response_bytes: the largest success body read, once decoded (1 MiB
        by default; a deleted batch is about 60 bytes, a full list page
        under 1 MiB); a larger one raises `ResponseTooLargeError`. Error
        bodies are kept up to 64 KiB.

    `with_options(**overrides)` (or `copy(...)`) gives a client with any of
    these changed, sharing this one's connections unless a connection
    argument changes. Thread-safe: one client can serve many threads.
    """

    _resolve: ClassVar[Any] = staticmethod(resolve_transport)
    _transport: Transport

    def _setup(self) -> None:
        self._route_lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep
        self._client = self
        self._model = DeletedMessageBatch
        self.messages: _Messages[DeletedMessageBatch] = _Messages(self, DeletedMessageBatch)
        self.beta = _Beta(self)

    @property
    def transport(self) -> Transport:
        """The transport this client sends through."""
        return self._transport

    def close(self) -> None:
        """Close the transport if the client created it, and the credential
        provider if the credential chain built it. Safe to call twice."""
        if not self._closed:
            self._closed = True
            if self._owns_transport:
                self._transport.close()
            if self._owns_credential:
                self._credential.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _confirm_batches_route(self, betas: Iterable[str] | None = None) -> None:
        """Prove, once per client, that the batches route exists at this base
        URL (`GET .../messages/batches?limit=1` answers 2xx with a page), so
        that a 404 from it means "no such batch". A 404 here means the route
        itself is missing: a `ConfigurationError` naming the URL."""
        if self._route_known:
            return
        with self._route_lock:
            if self._route_missing is not None:  # proved once: no request per id
                raise ConfigurationError(self._route_missing)
            if self._route_known:
                return
            try:
                self._run(self._route_call(betas))
            except NotFoundError as exc:
                raise self._route_is_missing() from exc
            self._route_known = True

    def _fetch(
        self,
        method: str,
        url: str,
        model: type[R],
        betas: Iterable[str] | None,
        timeout: Timeout | float | None,
        extra_headers: Mapping[str, str | None] | None,
        extra_query: Mapping[str, object] | None = None,
    ) -> APIResponse[R]:
        response: APIResponse[R] = self._run(
            self._call(method, url, model, betas, timeout, extra_headers, extra_query)
        )
        return response

    def _token(self, until: float | None) -> str:
        """The provider's access token. The exchange behind it runs on the
        credentials library's own HTTP client and timeout (30 s), which a
        blocking call cannot cut short at the call's deadline."""
        tokens = self._credential.tokens
        assert tokens is not None
        return tokens.get()

    def _send(self, spec: RequestSpec) -> RawResponse:
        try:
            return self._transport.send(spec)
        except TransportError:
            raise
        except Exception as exc:
            raise self._unexpected(exc) from exc

    def _run(self, call: Call) -> APIResponse[Any]:
        """Drive the call's flow (`_flow.call_flow`) with blocking I/O."""
        pace = PACE.get()
        if not isinstance(pace, Limiter):  # a bulk run's limiter, of this driver's kind
            pace = None
        flow = call_flow(call, self._settings, pace)
        try:
            step = next(flow)
            while True:
                result: RawResponse | TransportError | Ticket | str | None = None
                if isinstance(step, Authorize):
                    result = self._token(step.until)
                elif isinstance(step, Admit):
                    assert pace is not None
                    result = pace.acquire(step.until)
                elif isinstance(step, Send):
                    try:
                        result = self._send(step.spec)
                    except TransportError as exc:
                        result = exc
                else:
                    self._sleep(step.seconds)
                try:
                    step = flow.send(result)
                except StopIteration as done:
                    response: APIResponse[Any] = done.value
                    return response
        except BaseException:  # the call ends here: the flow settles its turn
            flow.close()
            raise
