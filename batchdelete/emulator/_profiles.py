"""What the official SDK's credential chain reads, pointed at an emulator:
the federation environment variables, and profile directories
(`ANTHROPIC_CONFIG_DIR`: `configs/<profile>.json`, not writable by group or
others, and `credentials/<profile>.json`, mode 0600, in the shapes that
`anthropic.lib.credentials.CredentialsFile` reads)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ._auth import Authority, FederationRule

__all__ = ["federation_env", "write_profile"]


def federation_env(
    base_url: str, rule: FederationRule, workspace_id: str | None = None
) -> dict[str, str]:
    """The variables that make the SDK's chain exchange `rule`'s first
    identity token at `base_url`."""
    env = {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_FEDERATION_RULE_ID": rule.rule_id,
        "ANTHROPIC_ORGANIZATION_ID": rule.organization_id,
        "ANTHROPIC_IDENTITY_TOKEN": rule.identity_token,
    }
    if rule.service_account_id is not None:
        env["ANTHROPIC_SERVICE_ACCOUNT_ID"] = rule.service_account_id
    if workspace_id is not None:
        env["ANTHROPIC_WORKSPACE_ID"] = workspace_id
    return env


def _write(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        if os.name == "posix":
            os.fchmod(fd, mode)  # whatever the umask, or an older file's mode
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def write_profile(
    authority: Authority,
    base_url: str,
    config_dir: str | os.PathLike[str],
    profile: str,
    *,
    workspace_id: str | None,
    rule: FederationRule | None,
    client_id: str,
    lifetime: int | None,
    active: bool,
) -> Path:
    """Write a profile; the path of its config file."""
    if not profile or profile.startswith(".") or any(c in profile for c in "/\\\0"):
        raise ValueError(f"A profile is a file name without a leading dot, got {profile!r}.")
    base = Path(config_dir)
    for sub in ("configs", "credentials"):
        (base / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    workspace = authority.resolve(workspace_id)
    config: dict[str, Any] = {"version": "1.0", "base_url": base_url}
    if rule is None:
        # An interactive login: organization-level tokens, the config's
        # workspace_id sent by the SDK as anthropic-workspace-id.
        access, seconds, refresh = authority.login(client_id, lifetime)
        config["organization_id"] = authority.organization_id
        config["authentication"] = {"type": "user_oauth", "client_id": client_id}
        credentials = {
            "version": "1.0",
            "type": "oauth_token",
            "access_token": access,
            "expires_at": int(time.time()) + seconds,  # the SDK's clock: the wall clock
            "refresh_token": refresh,
        }
        _write(base / "credentials" / f"{profile}.json", json.dumps(credentials), 0o600)
    else:
        # Federation: the SDK exchanges the identity token in this file (and
        # sends the config's workspace_id in the exchange's body).
        token_file = base / f"{profile}.identity-token"
        _write(token_file, rule.identity_token, 0o600)
        auth: dict[str, Any] = {
            "type": "oidc_federation",
            "federation_rule_id": rule.rule_id,
            "identity_token": {"source": "file", "path": str(token_file)},
        }
        if rule.service_account_id is not None:
            auth["service_account_id"] = rule.service_account_id
        config["organization_id"] = rule.organization_id
        config["authentication"] = auth
    if workspace is not None:
        config["workspace_id"] = workspace
    path = base / "configs" / f"{profile}.json"
    _write(path, json.dumps(config, indent=2), 0o644)
    if active:
        _write(base / "active_config", profile + "\n", 0o644)
    return path
