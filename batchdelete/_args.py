"""The client's arguments, checked: credentials, the base URL's warning,
headers and query parameters given by the user, and which arguments decide
the transport (for `with_options`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from ._errors import ConfigurationError
from ._spec import check_header, check_header_name

__all__ = [
    "CONNECTION_ARGS",
    "CREDENTIAL_HEADERS",
    "ENV_CREDENTIALS",
    "WORKSPACE_HEADER",
    "checked_query",
    "credentials",
    "custom_headers",
    "env",
    "merge_headers",
    "v1_hint",
    "workspace",
]

ENV_CREDENTIALS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


def env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def credentials(api_key: str | None, auth_token: str | None) -> tuple[str | None, str | None]:
    """(api key, auth token), exactly one set: explicit arguments first, then
    ANTHROPIC_API_KEY, then ANTHROPIC_AUTH_TOKEN. A blank value is refused,
    naming where it came from, rather than sent and answered with a 401."""
    if api_key is not None and auth_token is not None:
        raise ConfigurationError("Pass either api_key or auth_token, not both.")
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
        return (value, None) if i == 0 else (None, value)
    raise ConfigurationError(
        "No credentials: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the "
        "environment, or pass api_key= (or auth_token=) to the client."
    )


def v1_hint(base_url: str) -> str | None:
    """A warning for a base URL that ends in /v1, which the paths add again."""
    path = urlsplit(base_url).path.rstrip("/")
    if not path.endswith("/v1"):
        return None
    fixed = base_url.rstrip("/")[: -len("/v1")]
    return (
        f"The base URL {base_url!r} ends in /v1, so requests go to "
        f"{fixed}/v1/v1/messages/batches/...; the API's base URL has no /v1. "
        f"Use base_url={fixed!r} (or ANTHROPIC_BASE_URL)."
    )


CREDENTIAL_HEADERS = ("x-api-key", "authorization")
WORKSPACE_HEADER = "anthropic-workspace-id"
#: The arguments that decide the transport: a copy changing one builds its own.
CONNECTION_ARGS = (
    *("transport", "http_client", "proxy", "trust_env", "verify", "cert", "max_connections"),
)


def merge_headers(
    headers: dict[str, str], extra: Mapping[str, str | None] | None, source: str
) -> None:
    """Add `extra` to `headers` (a value of None removes that header), each
    checked; the credential headers are refused: they come from api_key= or
    auth_token= only, so that no header can send one silently elsewhere."""
    for name, value in (extra or {}).items():
        key = check_header_name(name)
        if key in CREDENTIAL_HEADERS:
            raise ConfigurationError(
                f"{source} may not set or remove {key}: the credentials come from "
                "api_key= or auth_token= (or with_options(api_key=...))."
            )
        if value is None or _is_omit(value):
            headers.pop(key, None)
        else:
            headers[key] = check_header(key, value)


def _is_omit(value: object) -> bool:
    """The SDK's `Omit()`, which removes a header there (as None does here)."""
    kind = type(value)
    return kind.__name__ == "Omit" and kind.__module__.startswith("anthropic")


def checked_query(query: Mapping[str, object] | None, source: str) -> dict[str, str]:
    """Query parameters as text: str, int, float or bool values (booleans
    as true/false, as the SDK sends them); anything else is refused."""
    checked: dict[str, str] = {}
    for name, value in (query or {}).items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"{source} keys must be non-empty str, got {name!r}.")
        if isinstance(value, bool):
            checked[name] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            checked[name] = str(value)
        else:
            raise ConfigurationError(
                f"{source}[{name!r}] must be a str, int, float or bool, got {type(value).__name__}."
            )
    return checked


def workspace(
    extra_headers: Mapping[str, str | None] | None, workspace_id: str | None
) -> Mapping[str, str | None] | None:
    """A call's headers with its `workspace_id` (`anthropic-workspace-id`);
    as in the SDK, the call's own `extra_headers` win."""
    if workspace_id is None:
        return extra_headers
    return {WORKSPACE_HEADER: workspace_id, **(extra_headers or {})}


def custom_headers() -> dict[str, str]:
    """ANTHROPIC_CUSTOM_HEADERS, read as the SDK reads it: one `Name: value`
    a line, split at the first colon, both sides stripped, a line without a
    colon skipped, a later name winning. A value with CR, LF or NUL is
    refused (the SDK lets one by)."""
    text = os.environ.get("ANTHROPIC_CUSTOM_HEADERS")
    headers: dict[str, str] = {}
    for number, line in enumerate((text or "").split("\n"), 1):
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name, value = name.strip(), value.strip()
        if any(ch in value for ch in "\r\n\0"):
            raise ConfigurationError(
                f"ANTHROPIC_CUSTOM_HEADERS line {number}: the value of {name!r} holds CR, "
                "LF or NUL; one header a line, `Name: value`."
            )
        headers[name.lower()] = value
    return headers
