"""The emulator's credentials: API keys, bearer tokens (the token
endpoint's protocol is in `_oauth.py`) and the workspace that each request
acts in.

What follows the API:

- A bearer token from the token endpoint needs `anthropic-beta:
  oauth-2025-04-20` on every request, else 401 "OAuth authentication is
  currently not supported."; an expired one is 401 "OAuth token has
  expired. Please obtain a new token or refresh your existing token." (the
  API's messages). The SDK answers a 401 by fetching a new token and
  retrying once (if its max_retries allows a retry).
- A credential bound to a workspace needs no `anthropic-workspace-id`
  header; an organization-level one must send it (400
  `invalid_request_error` naming the header); a header that is not a
  workspace id is 400 "anthropic-workspace-id header must be a valid
  workspace ID.". Answers carry the workspace acted in as
  `anthropic-workspace-id`, as the API's do.

What the emulator chooses where the documentation is silent:

- A header naming another workspace than the one the key or token is bound
  to is 403 `permission_error`: the credential is valid (not 401, which
  would also send the SDK to fetch a new token for nothing) and the header
  is well formed (not 400, kept for a malformed value); what is missing is
  the permission, which is what 403 means in the API's error table. Not
  404: a deletion tool reads 404 as "already gone", and a batch in a
  workspace the credential cannot act in is not gone.
- Tokens expire on the emulator's clock (a frozen clock keeps them valid
  until `advance()`); the SDK computes its own expiry on the wall clock
  from `expires_in`.
- An API key may also be sent as a bearer token (the API documents keys
  in `Authorization` too); it needs no beta flag. `auth_tokens` never
  expire and need none either.
- The rate limit's bucket for a token from the endpoint is its grant's (the
  federation rule, or the refresh token's chain), so a new token does not
  bring a full bucket; the token endpoint itself is not rate limited.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ._store import DEFAULT_WORKSPACE_ID, WORKSPACE_ID, ApiError, Clock, check_workspace_id

__all__ = ["DEFAULT_ORGANIZATION_ID", "OAUTH_BETA", "Authority", "FederationRule", "Grant"]

OAUTH_BETA = "oauth-2025-04-20"
#: Organizations have raw UUIDs, not tagged ids.
DEFAULT_ORGANIZATION_ID = "00000000-0000-4000-8000-00000000e0a1"
WORKSPACE_HEADER = "anthropic-workspace-id"
EXPIRED = "OAuth token has expired. Please obtain a new token or refresh your existing token."


@dataclass(frozen=True)
class Grant:
    """What a request's credential may do."""

    kind: str  # "API key" or "token"
    workspace_id: str | None  # None: organization-level, names one per request
    bucket: str  # its rate-limit bucket
    expires_at: datetime | None = None  # tokens from the token endpoint
    oauth: bool = False  # needs the OAuth beta flag


@dataclass(frozen=True)
class FederationRule:
    """A federation rule of the emulator's organization: which identity
    tokens it accepts, and for which workspaces (None: every workspace,
    and a token for the whole organization when the exchange names none)."""

    rule_id: str
    organization_id: str
    identity_tokens: tuple[str, ...] = field(repr=False)
    workspaces: tuple[str, ...] | None
    service_account_id: str | None = None
    lifetime: int | None = None  # seconds; None: the emulator's token_lifetime

    @property
    def identity_token(self) -> str:
        """The first identity token the rule accepts."""
        return self.identity_tokens[0]


@dataclass
class _Refresh:
    client_id: str
    workspace_id: str | None
    lifetime: int | None
    rotate: bool
    bucket: str


def check_lifetime(lifetime: int | None, name: str = "lifetime") -> int | None:
    if lifetime is None:
        return None
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 1:
        raise ValueError(f"{name} is whole seconds, 1 or more, got {lifetime!r}.")
    return lifetime


def betas(values: Iterable[str]) -> set[str]:
    return {flag.strip() for value in values for flag in value.split(",") if flag.strip()}


class Authority:
    """Every credential the emulator accepts, behind one lock."""

    def __init__(
        self,
        clock: Clock,
        *,
        workspace_id: str = DEFAULT_WORKSPACE_ID,
        organization_id: str = DEFAULT_ORGANIZATION_ID,
        token_lifetime: int = 3600,
    ) -> None:
        self.clock = clock
        self.default_workspace = check_workspace_id(workspace_id)
        if not isinstance(organization_id, str) or not organization_id:
            raise ValueError(
                f"organization_id must be a non-empty string, got {organization_id!r}."
            )
        self.organization_id = organization_id
        self.token_lifetime: int = check_lifetime(token_lifetime, "token_lifetime") or 3600
        self._lock = threading.Lock()
        self._keys: dict[str, Grant] = {}  # x-api-key, also accepted as a bearer token
        self._bearers: dict[str, Grant] = {}  # static and issued bearer tokens
        self._rules: dict[str, FederationRule] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._exchanges = 0

    @property
    def exchanges(self) -> int:
        with self._lock:
            return self._exchanges

    def count_exchange(self) -> None:
        with self._lock:
            self._exchanges += 1

    def rule(self, rule_id: str) -> FederationRule | None:
        with self._lock:
            return self._rules.get(rule_id)

    def redeem(self, refresh_token: str, client_id: str) -> tuple[_Refresh, str | None] | None:
        """A refresh token's grant and, if it rotates, its successor (it
        then stops working); None if unknown or for another client."""
        with self._lock:
            entry = self._refresh.get(refresh_token)
            if entry is None or entry.client_id != client_id:
                return None
            if not entry.rotate:
                return entry, None
            del self._refresh[refresh_token]
            new = "sk-ant-ort01-emulator-" + secrets.token_hex(16)
            self._refresh[new] = entry
            return entry, new

    def resolve(self, workspace_id: str | None) -> str | None:
        """A workspace id, `default` for the default workspace, or None."""
        if workspace_id is None:
            return None
        if workspace_id == "default":
            return self.default_workspace
        return check_workspace_id(workspace_id)

    # -- credentials -----------------------------------------------------------

    def add_api_key(self, key: str, workspace_id: str | None = None) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError("An API key is a non-empty string.")
        workspace = self.resolve(workspace_id) or self.default_workspace
        with self._lock:
            self._keys[key] = Grant("API key", workspace, key)

    def add_static_token(self, token: str, workspace_id: str | None = None) -> None:
        workspace = self.resolve(workspace_id) or self.default_workspace
        with self._lock:
            self._bearers[token] = Grant("token", workspace, token)

    def add_rule(
        self,
        rule_id: str,
        identity_tokens: tuple[str, ...],
        workspaces: tuple[str, ...] | None,
        *,
        organization_id: str | None = None,
        service_account_id: str | None = None,
        lifetime: int | None = None,
    ) -> FederationRule:
        if not identity_tokens or not all(isinstance(t, str) and t for t in identity_tokens):
            raise ValueError("A federation rule accepts one or more non-empty identity tokens.")
        if workspaces is not None:
            workspaces = tuple(dict.fromkeys(self.resolve(w) or "" for w in workspaces))
            if not workspaces:
                raise ValueError("workspace_id: name one or more workspaces, or None for all.")
        rule = FederationRule(
            rule_id=rule_id,
            organization_id=organization_id or self.organization_id,
            identity_tokens=identity_tokens,
            workspaces=workspaces,
            service_account_id=service_account_id,
            lifetime=check_lifetime(lifetime),
        )
        with self._lock:
            self._rules[rule_id] = rule
        return rule

    def issue_refresh_token(
        self, client_id: str, workspace_id: str | None, lifetime: int | None, rotate: bool
    ) -> str:
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be a non-empty string.")
        token = "sk-ant-ort01-emulator-" + secrets.token_hex(16)
        bucket = "refresh:" + secrets.token_hex(8)  # the chain's, across rotations
        entry = _Refresh(
            client_id, self.resolve(workspace_id), check_lifetime(lifetime), rotate, bucket
        )
        with self._lock:
            self._refresh[token] = entry
        return token

    def login(self, client_id: str, lifetime: int | None) -> tuple[str, int, str]:
        """An interactive login's organization-level bearer token, its
        lifetime and a refresh token (rotating) for it, in one bucket."""
        refresh = self.issue_refresh_token(client_id, None, lifetime, True)
        with self._lock:
            bucket = self._refresh[refresh].bucket
        access, seconds = self.issue_token(None, lifetime, bucket)
        return access, seconds, refresh

    def issue_token(
        self, workspace_id: str | None, lifetime: int | None, bucket: str | None = None
    ) -> tuple[str, int]:
        """A new bearer token and its lifetime in seconds (counted only by
        the token endpoint)."""
        seconds = check_lifetime(lifetime) or self.token_lifetime
        token = "sk-ant-oat01-emulator-" + secrets.token_hex(16)
        expires = self.clock.now() + timedelta(seconds=seconds)
        grant = Grant("token", self.resolve(workspace_id), bucket or token, expires, True)
        with self._lock:
            self._bearers[token] = grant
        return token, seconds

    # -- requests ----------------------------------------------------------------

    def authenticate(self, key: str | None, authorization: str, flags: Iterable[str]) -> Grant:
        """The grant of a request's credential, or a 401."""
        token = authorization[7:] if authorization[:7].lower() == "bearer " else None
        if key is None and token is None:
            raise ApiError(401, "authentication_error", "x-api-key header is required")
        with self._lock:
            grant = self._keys.get(key) if key else None
            if grant is None and token is not None:
                grant = self._keys.get(token) or self._bearers.get(token)
        if grant is None:
            message = "invalid x-api-key" if key or token is None else "Invalid bearer token."
            raise ApiError(401, "authentication_error", message)
        if grant.oauth and OAUTH_BETA not in betas(flags):
            raise ApiError(
                401, "authentication_error", "OAuth authentication is currently not supported."
            )
        if grant.expires_at is not None and self.clock.now() >= grant.expires_at:
            raise ApiError(401, "authentication_error", EXPIRED)
        return grant

    def workspace(self, grant: Grant, header: str | None) -> str:
        """The workspace a request acts in, or a 400 or 403."""
        if header is None:
            if grant.workspace_id is None:
                raise ApiError(
                    400,
                    "invalid_request_error",
                    f"{WORKSPACE_HEADER}: header is required when authenticating with an "
                    "organization-level token; send the id of the workspace this request "
                    "acts in.",
                )
            return grant.workspace_id
        if not WORKSPACE_ID.fullmatch(header):
            raise ApiError(
                400,
                "invalid_request_error",
                f"{WORKSPACE_HEADER} header must be a valid workspace ID.",
            )
        if grant.workspace_id not in (None, header):
            raise ApiError(
                403,
                "permission_error",
                f"This {grant.kind} belongs to workspace {grant.workspace_id}; it cannot act "
                f"in workspace {header} ({WORKSPACE_HEADER}).",
            )
        return header
