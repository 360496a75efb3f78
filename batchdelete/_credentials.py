"""Where a client's credential comes from: the chain the official SDK (2.14)
follows, first match winning.

1. `api_key=`, `auth_token=` or `credentials=` (one of them): a key, a
   bearer token, or any access token provider.
2. ANTHROPIC_API_KEY, then ANTHROPIC_AUTH_TOKEN.
3. ANTHROPIC_PROFILE: that profile under the config directory
   (ANTHROPIC_CONFIG_DIR, else ~/.config/anthropic).
4. Workload identity federation: ANTHROPIC_FEDERATION_RULE_ID and
   ANTHROPIC_ORGANIZATION_ID with an identity token
   (ANTHROPIC_IDENTITY_TOKEN_FILE, else ANTHROPIC_IDENTITY_TOKEN),
   exchanged for access tokens.
5. The active profile: the one `active_config` in the config directory
   names, else `default`.

Steps 3 to 5 and every token exchange, refresh and profile file are the
SDK's own credentials library (`anthropic.lib.credentials`, installed by
the `credentials` extra): its `default_credentials()` resolves them and
its `TokenCache` refreshes ahead of expiry, one refresh at a time across
threads and tasks. Nothing of OAuth is written here. The library imports
all of the SDK (seconds of cold start), so it is imported only when steps
1 and 2 found nothing and the environment names a profile or federation;
`_step()` decides that with a few `os.environ` reads and stat calls.

A provider's token goes out as `authorization: Bearer` with the OAuth beta
flag (`oauth-2025-04-20`) in `anthropic-beta`, as the SDK sends it; a 401
on such a token empties the cache (the flow retries once, `_flow.py`).
The token exchange itself goes through the library's own HTTP client
(httpx2, its own 30 s timeout), not through this client's transport.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._errors import BatchDeleteError, ConfigurationError, CredentialsError
from ._spec import check_header

__all__ = ["OAUTH_BETA", "Credential", "Tokens", "resolve", "with_oauth_beta"]

ENV_CREDENTIALS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
OAUTH_BETA = "oauth-2025-04-20"
EXTRA = "pip install 'batchdelete[credentials]'"
_FEDERATION = ("ANTHROPIC_FEDERATION_RULE_ID", "ANTHROPIC_ORGANIZATION_ID")
# What could be a secret in a message from elsewhere: a long run of token
# characters (a JWT, an access or refresh token). Paths keep their slashes.
_SECRETISH = re.compile(r"[A-Za-z0-9_\-.~+=]{32,}")


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def scrub(text: str) -> str:
    """`text` (another library's message) with anything token-like hidden:
    the secrets the environment holds, and any long run of token characters."""
    for name in (*ENV_CREDENTIALS, "ANTHROPIC_IDENTITY_TOKEN"):
        secret = os.environ.get(name, "").strip()
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    text = _SECRETISH.sub("[redacted]", text)
    return text if len(text) <= 300 else text[:297] + "..."


class Tokens:
    """A provider's access tokens through the SDK's `TokenCache`; a failure
    is a `CredentialsError` naming where the credential came from."""

    def __init__(self, cache: Any, provider: object, source: str, base_url: str) -> None:
        self._cache = cache
        self.provider = provider
        self.source = source
        self.base_url = base_url  # the deployment the provider exchanges for

    def __repr__(self) -> str:
        return f"Tokens(source={self.source!r})"

    def get(self) -> str:
        try:
            token = self._cache.get_token()
        except BatchDeleteError:
            raise
        except Exception as exc:
            raise self._failed(exc) from None
        return check_header("authorization", token, secret=True)

    async def aget(self) -> str:
        try:
            token = await self._cache.async_get_token()
        except BatchDeleteError:
            raise
        except Exception as exc:
            raise self._failed(exc) from None
        return check_header("authorization", token, secret=True)

    def invalidate(self) -> None:
        """Forget the token (the server refused it): the next `get()` asks
        the provider again, forcing a refresh."""
        self._cache.invalidate()

    def _failed(self, exc: Exception) -> CredentialsError:
        status = getattr(exc, "status_code", None)
        code = f", status {status}" if isinstance(status, int) else ""
        return CredentialsError(
            f"The credential from {self.source} could not supply an access token "
            f"({type(exc).__name__}{code}: {scrub(str(exc))})."
        )


class Credential:
    """A client's resolved credential: a static header (`headers`) or a
    provider's `tokens`, where it came from (`source`, a step of the chain,
    never a value), and what a profile adds (`base_url`, `extra_headers`:
    used where the user set none). Shared by a client's copies; closed by
    the client that resolved it (`owned`)."""

    def __init__(
        self,
        kind: str,
        source: str,
        headers: dict[str, str] | None = None,
        tokens: Tokens | None = None,
        base_url: str | None = None,
        extra_headers: dict[str, str] | None = None,
        owned: bool = False,
    ) -> None:
        self.kind = kind
        self.source = source
        self.headers = headers or {}
        self.tokens = tokens
        self.base_url = base_url
        self.extra_headers = extra_headers or {}
        self.owned = owned

    def __repr__(self) -> str:
        return f"Credential(kind={self.kind!r}, source={self.source!r})"

    def for_copy(self, base_url: str, is_async: bool) -> Credential:
        """This credential for a client's copy: the same one (its token cache
        shared), unless the copy talks to another deployment and the
        provider exchanges per deployment: then one bound there, as the
        SDK's `copy(base_url=...)` does (never a token of one deployment
        sent to another)."""
        tokens = self.tokens
        if tokens is None or tokens.base_url == base_url:
            return self
        if not callable(getattr(tokens.provider, "for_base_url", None)):
            return self
        bound = _tokens(tokens.provider, tokens.source, base_url, is_async)
        return Credential(
            self.kind, self.source, None, bound, self.base_url, self.extra_headers, owned=True
        )

    def close(self) -> None:
        """Close the provider if it has `close()` (an SDK provider owns an
        HTTP client for its exchanges)."""
        close = getattr(self.tokens and self.tokens.provider, "close", None)
        if callable(close) and not inspect.iscoroutinefunction(close):
            close()

    async def aclose(self) -> None:
        provider = self.tokens and self.tokens.provider
        close = getattr(provider, "aclose", None) or getattr(provider, "close", None)
        if callable(close):
            done = close()
            if inspect.isawaitable(done):
                await done


def with_oauth_beta(value: str | None) -> str:
    """`anthropic-beta` with the OAuth flag added once to the caller's betas."""
    flags = [flag.strip() for flag in (value or "").split(",") if flag.strip()]
    return ",".join(flags if OAUTH_BETA in flags else [*flags, OAUTH_BETA])


def _static(api_key: object, auth_token: object) -> Credential | None:
    """Steps 1 and 2 for a key or a token: explicit arguments, then
    ANTHROPIC_API_KEY, then ANTHROPIC_AUTH_TOKEN. A blank value is refused,
    naming where it came from, rather than sent and answered with a 401."""
    sources = [("api_key=", api_key), ("auth_token=", auth_token)]
    if api_key is None and auth_token is None:
        sources = [(name, os.environ.get(name)) for name in ENV_CREDENTIALS]
    for i, (source, value) in enumerate(sources):
        if value is None:
            continue
        if not isinstance(value, str):
            raise ConfigurationError(f"{source} must be a str, got {type(value).__name__}.")
        if not value.strip():
            raise ConfigurationError(
                f"The API credential from {source} is empty: set it to the key (or token) "
                "itself, or leave it unset."
            )
        if i == 0:
            key = check_header("x-api-key", value, secret=True)
            return Credential("api_key", source, {"x-api-key": key})
        token = check_header("authorization", value, secret=True)
        return Credential("auth_token", source, {"authorization": f"Bearer {token}"})
    return None


def _config_dir() -> Path:
    """Where profiles live: ANTHROPIC_CONFIG_DIR, else the SDK's default."""
    configured = _env("ANTHROPIC_CONFIG_DIR")
    if configured:
        return Path(configured)
    if sys.platform == "win32":  # pragma: no cover - the SDK's Windows default, not tested here
        appdata = _env("APPDATA")
        return (Path(appdata) if appdata else Path.home() / "AppData" / "Roaming") / "Anthropic"
    return Path.home() / ".config" / "anthropic"


def _step() -> str | None:
    """Which of steps 3 to 5 the environment names, said for a person (the
    names of variables and files, never a value), or None: then there is
    nothing the credentials library could find, and it is not imported."""
    profile = _env("ANTHROPIC_PROFILE")
    if profile:
        return f"the profile {profile!r} (ANTHROPIC_PROFILE)"
    if all(_env(name) for name in _FEDERATION):
        for variable in ("ANTHROPIC_IDENTITY_TOKEN_FILE", "ANTHROPIC_IDENTITY_TOKEN"):
            if _env(variable):
                return f"workload identity federation ({variable})"
    directory = _config_dir()
    try:
        pointer = (directory / "active_config").read_text(encoding="utf-8").strip() or None
    except (OSError, ValueError):
        pointer = None
    name = pointer or "default"
    active = f"the active profile {name!r} in {directory}"
    if pointer or _env("ANTHROPIC_CONFIG_DIR"):
        return active
    plain = not name.startswith(".") and "/" not in name and os.sep not in name
    try:
        found = plain and (directory / "configs" / f"{name}.json").is_file()
    except OSError:  # pragma: no cover - an unreadable home directory
        found = False
    return active if found else None


def _library(step: str) -> Any:
    """`anthropic.lib.credentials`, or the error naming the extra."""
    try:
        import anthropic.lib.credentials as library
    except ImportError:
        raise ConfigurationError(
            f"No API key or token is set, and {step} needs the official SDK's "
            f"credentials library to be read: {EXTRA} (or set ANTHROPIC_API_KEY)."
        ) from None
    return library


def _no_credentials() -> ConfigurationError:
    return ConfigurationError(
        "No credentials: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the "
        "environment, pass api_key= (or auth_token=, credentials=) to the client, or "
        "configure a profile or workload identity federation (with the credentials extra)."
    )


def _tokens(provider: object, source: str, base_url: str, is_async: bool) -> Tokens:
    """A provider (any `AccessTokenProvider`) behind the SDK's `TokenCache`,
    bound to `base_url` if it exchanges per deployment."""
    if not callable(provider):
        raise ConfigurationError(
            f"credentials= takes an access token provider (a callable returning an "
            f"anthropic.lib.credentials.AccessToken), got {type(provider).__name__}."
        )
    call = getattr(provider, "__call__", provider)  # noqa: B004 - an async __call__
    if not is_async and (
        inspect.iscoroutinefunction(provider) or inspect.iscoroutinefunction(call)
    ):
        raise ConfigurationError(
            "An async credentials provider needs AsyncClient; Client cannot await it."
        )
    bind: Callable[[str], object] | None = getattr(provider, "for_base_url", None)
    if callable(bind):
        provider = bind(base_url)
    cache = _library(source).TokenCache(provider)
    return Tokens(cache, provider, source, base_url)


def resolve(
    api_key: object, auth_token: object, provider: object, base_url: str, *, is_async: bool
) -> Credential:
    """The chain (this module's docstring); `base_url` is the user's (or the
    default), for the providers that exchange tokens there."""
    given = [
        name
        for name, value in (
            ("api_key=", api_key),
            ("auth_token=", auth_token),
            ("credentials=", provider),
        )
        if value is not None
    ]
    if len(given) > 1:
        what = (
            f"either {' or '.join(given)}, not both"
            if len(given) == 2
            else f"only one of {', '.join(given)}"
        )
        raise ConfigurationError(f"Pass {what}: a client has one credential.")
    if isinstance(provider, Credential):  # a client's copy
        return provider.for_copy(base_url, is_async)
    if provider is not None:  # a profile's provider (`CredentialsFile`) brings its settings
        tokens = _tokens(provider, "credentials=", base_url, is_async)
        return Credential("credentials", "credentials=", None, tokens, *_profile_of(provider))
    static = _static(api_key, auth_token)
    if static is not None:
        return static
    step = _step()
    if step is None:
        raise _no_credentials()
    library = _library(step)
    try:
        result = library.default_credentials(base_url=base_url)
    except Exception as exc:
        raise CredentialsError(
            f"{step[0].upper()}{step[1:]} could not be used ({type(exc).__name__}: "
            f"{scrub(str(exc))})."
        ) from None
    if result is None:
        raise _no_credentials()
    tokens = _tokens(result.provider, step, base_url, is_async)
    headers = {str(k).lower(): str(v) for k, v in (result.extra_headers or {}).items()}
    return Credential("credentials", step, None, tokens, result.base_url, headers, owned=True)


def _profile_of(provider: object) -> tuple[str | None, dict[str, str]]:
    """The base URL and extra headers of a profile's provider (the SDK's
    `CredentialsFile` or `InMemoryConfig`: `profile=` and `config=` there)."""
    extra = getattr(provider, "extra_headers", None)
    try:
        headers = extra() if callable(extra) else {}
    except Exception as exc:
        raise CredentialsError(
            f"The profile given as credentials= could not be read ({type(exc).__name__}: "
            f"{scrub(str(exc))})."
        ) from None
    base_url = getattr(provider, "resolved_base_url", None)
    return (
        base_url if isinstance(base_url, str) else None,
        {str(k).lower(): str(v) for k, v in (headers or {}).items()},
    )
