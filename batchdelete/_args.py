"""The client's arguments, checked: the base URL's warning,
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
    "WORKSPACE_HEADER",
    "checked_query",
    "custom_headers",
    "env",
    "merge_headers",
    "v1_hint",
    "workspace",
]


def env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


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
    checked; the credential headers are refused: they come from the
    credential chain only (`_credentials.py`), so that no header can send
    one silently elsewhere."""
    for name, value in (extra or {}).items():
        key = check_header_name(name)
        if key in CREDENTIAL_HEADERS:
            raise ConfigurationError(
                f"{source} may not set or remove {key}: the credentials come from "
                "api_key=, auth_token= or credentials= (or with_options(api_key=...))."
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
