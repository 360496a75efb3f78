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

    with Emulator(token_lifetime=600, frozen=True) as api:       # tokens and workspaces
        rule = api.add_federation_rule("jwt-from-ci", workspace_id="wrkspc_A")
        os.environ.update(api.federation_env(rule))   # the SDK's chain exchanges it
        api.add_batch("ended", workspace_id="wrkspc_A")   # wrkspc_default's key can't see it
        api.write_profile(tmp, "dev")             # ANTHROPIC_CONFIG_DIR=tmp ANTHROPIC_PROFILE=dev
        api.clock.advance(600)                    # every token issued so far has expired

It serves create, list, retrieve, cancel and delete under
/v1/messages/batches on HTTP/1.1 with keep-alive, checks the API key and the
anthropic-version header, and answers with the API's bodies and error
shapes. With `requests_per_minute` it limits each API key as the API does
(a token bucket: 429 `rate_limit_error` with `retry-after` over the limit,
and the `anthropic-ratelimit-requests-*` headers on every authenticated
answer; `_limits.py` says what follows the API's documentation and what is
chosen).

Tokens and workspaces (`_auth.py` and `_oauth.py` say what follows the
API and the SDK and what is chosen): `POST /v1/oauth/token` answers the SDK's jwt-bearer
exchange for the federation rules added with `add_federation_rule()` and
its refresh grant for refresh tokens from `issue_refresh_token()` or
`write_profile()`, with bearer tokens that live `token_lifetime` seconds of
emulated time (then 401). Every batch belongs to a workspace. A key
belongs to one (`workspace_id`, "wrkspc_default" unless told); a token to
the workspace it was issued for, or to the whole organization, when each
request names one in `anthropic-workspace-id` (else 400). A request sees
only its workspace's batches (others are 404, and absent from lists); a
header naming another workspace than the credential's is 403.

The standard library's threading HTTP server runs it: no dependency,
a thread per connection, and plenty fast for tests and demos.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._auth import DEFAULT_ORGANIZATION_ID, Authority, FederationRule
from ._limits import Limiter
from ._profiles import federation_env, write_profile
from ._server import Fault, Logged, Server
from ._store import DEFAULT_WORKSPACE_ID, Batch, Clock, Store

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_ORGANIZATION_ID",
    "DEFAULT_WORKSPACE_ID",
    "Batch",
    "Clock",
    "Emulator",
    "Fault",
    "FederationRule",
    "Logged",
]

DEFAULT_API_KEY = "sk-ant-emulator-0000"


class Emulator:
    """The emulator, in-process, on a thread of its own.

    host/port: where to listen (loopback and a free port by default).
    api_key: the key accepted (`x-api-key`, or as a bearer token);
      `auth_tokens` adds bearer tokens that never expire, and
      `add_api_key()` more keys. All in the default workspace.
    workspace_id: the default workspace: `api_key`'s and `auth_tokens`',
      and that of batches seeded without one.
    organization_id: the organization's id (a UUID) that federation
      exchanges name.
    token_lifetime: seconds (emulated) that a token from the token endpoint
      is valid (a federation rule or refresh token may set its own).
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
        workspace_id: str = DEFAULT_WORKSPACE_ID,
        organization_id: str = DEFAULT_ORGANIZATION_ID,
        token_lifetime: int = 3600,
    ) -> None:
        self.api_key = api_key
        self.clock = Clock(frozen=frozen)
        self._auth = Authority(
            self.clock,
            workspace_id=workspace_id,
            organization_id=organization_id,
            token_lifetime=token_lifetime,
        )
        self.workspace_id = self._auth.default_workspace
        self.organization_id = self._auth.organization_id
        self._auth.add_api_key(api_key)
        for token in auth_tokens:
            self._auth.add_static_token(token)
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
        workspace_id: str | None = None,
    ) -> Batch:
        """Seed a batch "in_progress", "canceling" or "ended", `age` seconds
        old, in a workspace (None: the default one)."""
        workspace = self._auth.resolve(workspace_id) or self.workspace_id
        return self.store.add(
            status, requests=requests, age=age, batch_id=batch_id, workspace_id=workspace
        )

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        """A batch as the API would show it now, or None if it does not exist."""
        for b in self.store.snapshot():
            if b.id == batch_id:
                return b.to_json(self.base_url)
        return None

    def batches(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """Every batch (of one workspace, if given) as the API would show it
        now, oldest first."""
        workspace = self._auth.resolve(workspace_id)
        return [
            b.to_json(self.base_url)
            for b in self.store.snapshot()
            if workspace in (None, b.workspace_id)
        ]

    # -- credentials -------------------------------------------------------------------

    def add_api_key(self, key: str, *, workspace_id: str | None = None) -> str:
        """Accept another API key, bound to a workspace (None: the default one)."""
        self._auth.add_api_key(key, workspace_id)
        return key

    def add_federation_rule(
        self,
        identity_token: str | Iterable[str] | None = None,
        *,
        rule_id: str | None = None,
        workspace_id: str | Iterable[str] | None = None,
        organization_id: str | None = None,
        service_account_id: str | None = None,
        lifetime: int | None = None,
    ) -> FederationRule:
        """A federation rule for the jwt-bearer exchange: it accepts these
        identity tokens (one, several, or None: a new one, then in
        `rule.identity_token`), for these workspaces (one, several, or None:
        the whole organization, and the exchange may name any; "default" is
        the default workspace), in this organization (None: the emulator's;
        another one makes every exchange with it fail), for this service
        account if given, with tokens valid `lifetime` seconds (None: the
        emulator's token_lifetime). Adding a rule_id again replaces it."""
        if identity_token is None:
            tokens: tuple[str, ...] = ("emulator-identity-token-" + os.urandom(8).hex(),)
        elif isinstance(identity_token, str):
            tokens = (identity_token,)
        else:
            tokens = tuple(identity_token)
        workspaces: tuple[str, ...] | None
        if workspace_id is None:
            workspaces = None
        elif isinstance(workspace_id, str):
            workspaces = (workspace_id,)
        else:
            workspaces = tuple(workspace_id)
        return self._auth.add_rule(
            rule_id or self.store.new_id("fdrl_"),
            tokens,
            workspaces,
            organization_id=organization_id,
            service_account_id=service_account_id,
            lifetime=lifetime,
        )

    def issue_refresh_token(
        self,
        client_id: str,
        *,
        workspace_id: str | None = None,
        lifetime: int | None = None,
        rotate: bool = True,
    ) -> str:
        """A refresh token for the refresh grant from `client_id`, for
        tokens of a workspace (None: organization-level) valid `lifetime`
        seconds (None: token_lifetime). With `rotate`, each refresh answers
        a new refresh token and this one stops working."""
        return self._auth.issue_refresh_token(client_id, workspace_id, lifetime, rotate)

    def issue_token(self, *, workspace_id: str | None = None, lifetime: int | None = None) -> str:
        """A bearer token as the token endpoint issues them (it needs the
        OAuth beta flag and expires), for a workspace (None:
        organization-level), without an exchange."""
        return self._auth.issue_token(workspace_id, lifetime)[0]

    @property
    def token_exchanges(self) -> int:
        """Tokens issued by the token endpoint so far (both grants); every
        attempt is in `requests` with route "token"."""
        return self._auth.exchanges

    def federation_env(
        self, rule: FederationRule, *, workspace_id: str | None = None
    ) -> dict[str, str]:
        """The environment that makes the SDK's chain (and batchdelete's)
        exchange `rule`'s identity token here: ANTHROPIC_BASE_URL,
        ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID,
        ANTHROPIC_IDENTITY_TOKEN, and ANTHROPIC_WORKSPACE_ID if given."""
        return federation_env(self.base_url, rule, workspace_id)

    def write_profile(
        self,
        config_dir: str | os.PathLike[str],
        profile: str = "default",
        *,
        workspace_id: str | None = "default",
        federation_rule: FederationRule | None = None,
        client_id: str = "batchdelete-emulator",
        lifetime: int | None = None,
        active: bool = False,
    ) -> Path:
        """Write a profile for ANTHROPIC_CONFIG_DIR=config_dir (and
        ANTHROPIC_PROFILE=profile, or `active`: the active_config pointer)
        with this emulator's base_url; the path of its config file.

        Without `federation_rule`, an interactive login's ("user_oauth"):
        an organization-level access token valid `lifetime` seconds and a
        rotating refresh token for `client_id`; the config's workspace_id
        (None: none) is sent by the SDK as anthropic-workspace-id. With
        one, "oidc_federation": its identity token in a file beside, and
        the workspace_id sent in the exchange (None: the rule's choice)."""
        return write_profile(
            self._auth,
            self.base_url,
            config_dir,
            profile,
            workspace_id=workspace_id,
            rule=federation_rule,
            client_id=client_id,
            lifetime=lifetime,
            active=active,
        )

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
