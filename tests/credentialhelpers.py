"""What the credential tests (test_credentials.py, test_credentials_async.py)
share: a clean environment, providers that record how they are called, and
ways to read what the emulator received. Only 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path

import pytest
from anthropic.lib.credentials import AccessToken

from batchdelete.emulator import Emulator, Logged

__all__ = [
    "OAUTH",
    "WS_A",
    "WS_B",
    "AsyncRecordingProvider",
    "RecordingProvider",
    "api_requests",
    "bearer_tokens",
    "beta_flags",
    "clean_environment",
    "credential_kind",
    "refresh_tokens",
    "run_python",
]

OAUTH = "oauth-2025-04-20"
WS_A, WS_B = "wrkspc_A1", "wrkspc_B2"
ROOT = Path(__file__).resolve().parent.parent


def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ANTHROPIC_* variable, and a HOME of the test's own (no
    ~/.config/anthropic of the machine's); that HOME, created."""
    for name in list(os.environ):
        if name.startswith("ANTHROPIC_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def api_requests(api: Emulator) -> list[Logged]:
    """The API requests the emulator answered, token exchanges left out."""
    return [r for r in api.requests if r.route != "token"]


def beta_flags(request: Logged) -> list[str]:
    """The flags of a request's anthropic-beta header, in order."""
    value = request.headers.get("anthropic-beta", "")
    return [flag.strip() for flag in value.split(",") if flag.strip()]


def credential_kind(request: Logged, keys: Collection[str]) -> str:
    """What kind of credential a request carried: "key" (one of `keys`, as
    `x-api-key` or as a bearer token: the SDK sends it so), "bearer" (a
    static bearer token, no OAuth flag), "oauth" (a bearer token with the
    OAuth beta flag, as providers' tokens go out) or "none"."""
    authorization = request.headers.get("authorization", "")
    bearer = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else None
    if request.headers.get("x-api-key") in keys or bearer in keys:
        return "key"
    if bearer is not None:
        return "oauth" if OAUTH in beta_flags(request) else "bearer"
    return "none"


def bearer_tokens(api: Emulator) -> set[str]:
    """Every bearer token and API key the emulator was sent."""
    found: set[str] = set()
    for request in api.requests:
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            found.add(authorization[len("Bearer ") :])
        if "x-api-key" in request.headers:
            found.add(request.headers["x-api-key"])
    return found


def refresh_tokens(config_dir: Path, profile: str) -> set[str]:
    """The refresh and access tokens in a profile's credentials file now."""
    path = config_dir / "credentials" / f"{profile}.json"
    data = json.loads(path.read_text())
    return {str(data[k]) for k in ("refresh_token", "access_token") if data.get(k)}


class RecordingProvider:
    """An access token provider (sync): `mint(force_refresh)` makes each
    token; every call's `force_refresh` is in `calls`, every token in
    `tokens`. `closed` counts `close()` calls."""

    def __init__(self, mint: Callable[[bool], str], lifetime: int = 3600) -> None:
        self._mint = mint
        self._lifetime = lifetime
        self.calls: list[bool] = []
        self.tokens: list[str] = []
        self.closed = 0

    def __call__(self, *, force_refresh: bool = False) -> AccessToken:
        self.calls.append(force_refresh)
        token = self._mint(force_refresh)
        self.tokens.append(token)
        return AccessToken(token, int(time.time()) + self._lifetime)

    def close(self) -> None:
        self.closed += 1


class AsyncRecordingProvider:
    """`RecordingProvider`'s async twin (`async def __call__`), with an
    async `aclose()` and a sync `close()`, each counted."""

    def __init__(self, mint: Callable[[bool], str], lifetime: int = 3600) -> None:
        self._mint = mint
        self._lifetime = lifetime
        self.calls: list[bool] = []
        self.tokens: list[str] = []
        self.closed = 0

    async def __call__(self, *, force_refresh: bool = False) -> AccessToken:
        self.calls.append(force_refresh)
        token = self._mint(force_refresh)
        self.tokens.append(token)
        return AccessToken(token, int(time.time()) + self._lifetime)

    async def aclose(self) -> None:
        self.closed += 1

    def close(self) -> None:
        self.closed += 1


def run_python(code: str, env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run `code` in a fresh interpreter (this venv's) with only `env` (and
    PATH) as its environment, from the project's root; its exit status and
    its output (stdout then stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout + done.stderr
