"""The token endpoint, `POST /v1/oauth/token`, as the official SDK's
credentials library (`anthropic.lib.credentials`) sends and reads it.

What follows the API and the SDK:

- A JSON body. The jwt-bearer grant (RFC 7523: `grant_type`
  `urn:ietf:params:oauth:grant-type:jwt-bearer`, `assertion`,
  `federation_rule_id`, `organization_id`, optional `service_account_id`
  and `workspace_id`, a `wrkspc_` id or the literal `default`) comes with
  `anthropic-beta: oauth-2025-04-20,oidc-federation-2026-04-01`; the
  refresh grant (`refresh_token`, `client_id`) with `oauth-2025-04-20`.
  Neither sends `anthropic-version` or a key, so the endpoint asks for
  neither.
- The answer is RFC 6749's: `access_token`, `token_type` "Bearer" (the SDK
  accepts any case), `expires_in` (whole seconds) and, for a refresh that
  rotates, the new `refresh_token`; `cache-control: no-store`. Errors are
  RFC 6749 section 5.2's `{"error", "error_description"}`, the only fields
  the SDK keeps (with the status and the `request-id` header).
- A jwt-bearer exchange must name a workspace when the rule is enabled for
  more than one; without one, the token is for the rule's only workspace,
  or (a rule for the whole organization) organization-level.

What the emulator chooses where the documentation is silent:

- jwt-bearer: an unknown rule, another organization, an identity token the
  rule does not accept, another service account, or a workspace the rule is
  not enabled for (or none named where the rule has several) is 401
  `invalid_grant`, which the SDK reads as "the rule does not match" (and
  tries once more). A malformed request is 400 `invalid_request` (a
  missing beta flag too) or `unsupported_grant_type`.
- The refresh grant: an unknown refresh token or another client_id is 400
  `invalid_grant` (RFC 6749). Refresh tokens rotate unless issued with
  `rotate=False`, and do not expire.
- Descriptions say what did not match, never echoing a secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ._auth import OAUTH_BETA, Authority, betas
from ._store import WORKSPACE_ID

__all__ = ["FEDERATION_BETA", "OAuthError", "exchange"]

GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type
FEDERATION_BETA = "oidc-federation-2026-04-01"


class OAuthError(Exception):
    """An error answer of the token endpoint (RFC 6749 section 5.2)."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description

    def body(self) -> bytes:
        return json.dumps({"error": self.code, "error_description": self.description}).encode()


def exchange(authority: Authority, body: bytes, headers: Iterable[str]) -> dict[str, Any]:
    """Answer a token request, or raise OAuthError."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise OAuthError(400, "invalid_request", "The body must be a JSON object.")
    flags = betas(headers)
    if OAUTH_BETA not in flags:
        raise OAuthError(
            400, "invalid_request", f"The token endpoint needs anthropic-beta: {OAUTH_BETA}."
        )
    grant_type = _field(data, "grant_type")
    if grant_type == GRANT_JWT_BEARER:
        if FEDERATION_BETA not in flags:
            raise OAuthError(
                400,
                "invalid_request",
                f"The jwt-bearer grant needs anthropic-beta: {OAUTH_BETA},{FEDERATION_BETA}.",
            )
        answer = _jwt_bearer(authority, data)
    elif grant_type == GRANT_REFRESH_TOKEN:
        answer = _refresh_grant(authority, data)
    else:
        raise OAuthError(
            400,
            "unsupported_grant_type",
            f"grant_type must be {GRANT_JWT_BEARER!r} or {GRANT_REFRESH_TOKEN!r}.",
        )
    authority.count_exchange()
    return answer


def _jwt_bearer(authority: Authority, data: dict[str, Any]) -> dict[str, Any]:
    assertion = _field(data, "assertion")
    rule_id = _field(data, "federation_rule_id")
    organization_id = _field(data, "organization_id")
    service_account = _field(data, "service_account_id", required=False)
    named = _field(data, "workspace_id", required=False)
    rule = authority.rule(rule_id)
    if rule is None or rule.organization_id != organization_id:
        raise OAuthError(
            401,
            "invalid_grant",
            f"No federation rule {rule_id!r} in organization {organization_id!r}.",
        )
    if assertion not in rule.identity_tokens:
        raise OAuthError(
            401,
            "invalid_grant",
            f"The identity token does not match federation rule {rule_id}.",
        )
    if rule.service_account_id not in (None, service_account or rule.service_account_id):
        raise OAuthError(
            401,
            "invalid_grant",
            f"Federation rule {rule_id} is for service account {rule.service_account_id}.",
        )
    workspace: str | None
    if named is None:
        if rule.workspaces is not None and len(rule.workspaces) > 1:
            raise OAuthError(
                401,
                "invalid_grant",
                f"Federation rule {rule_id} is enabled for more than one workspace: "
                "name one with workspace_id.",
            )
        workspace = rule.workspaces[0] if rule.workspaces else None
    else:
        if named != "default" and not WORKSPACE_ID.fullmatch(named):
            raise OAuthError(
                400, "invalid_request", "workspace_id must be a wrkspc_ id or 'default'."
            )
        workspace = authority.resolve(named)
        if rule.workspaces is not None and workspace not in rule.workspaces:
            raise OAuthError(
                401,
                "invalid_grant",
                f"Federation rule {rule_id} is not enabled for workspace {workspace}.",
            )
    token, seconds = authority.issue_token(workspace, rule.lifetime, f"federation:{rule_id}")
    return {"access_token": token, "token_type": "Bearer", "expires_in": seconds}


def _refresh_grant(authority: Authority, data: dict[str, Any]) -> dict[str, Any]:
    refresh_token = _field(data, "refresh_token")
    client_id = _field(data, "client_id")
    redeemed = authority.redeem(refresh_token, client_id)
    if redeemed is None:
        raise OAuthError(
            400,
            "invalid_grant",
            "The refresh token is invalid or revoked, or was issued to another client.",
        )
    entry, successor = redeemed
    token, seconds = authority.issue_token(entry.workspace_id, entry.lifetime, entry.bucket)
    answer = {"access_token": token, "token_type": "Bearer", "expires_in": seconds}
    if successor is not None:
        answer["refresh_token"] = successor
    return answer


def _field(data: dict[str, Any], name: str, *, required: bool = True) -> Any:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise OAuthError(400, "invalid_request", f"{name}: must be a non-empty string.")
    return value
