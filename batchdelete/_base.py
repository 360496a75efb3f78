"""What `Client` and `AsyncClient` share: their arguments, credentials,
headers, connection options and transport choice, and the calls they make
(`Call`s for the flow in `_flow.py`). Only the drivers differ."""

from __future__ import annotations

import logging
import os
import random
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlencode, urlsplit

from ._errors import ConfigurationError, TransportError
from ._flow import Call, FlowSettings
from ._hooks import Hooks
from ._models import MessageBatchPage
from ._options import DEFAULT_MAX_CONNECTIONS, ConnectionOptions
from ._registry import get_plugin_manager
from ._retry import DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_WAIT
from ._spec import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RESPONSE_BYTES,
    Timeout,
    batches_url,
    beta_header,
    check_header,
    check_header_name,
    encode_batch_id,
)
from ._transport import AsyncTransport, Transport
from ._version import __version__

if TYPE_CHECKING:
    import ssl

__all__ = ["DEFAULT_API_VERSION", "BaseClient"]

log = logging.getLogger("batchdelete")
log.addHandler(logging.NullHandler())  # a library: the application chooses where logs go

DEFAULT_API_VERSION = "2023-06-01"
_PYTHON = "{}.{}.{}".format(*sys.version_info[:3])
DEFAULT_TIMEOUT = Timeout()
ENV_CREDENTIALS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
R = TypeVar("R")


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _credentials(api_key: str | None, auth_token: str | None) -> tuple[str | None, str | None]:
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


def _v1_hint(base_url: str) -> str | None:
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


class BaseClient:
    """What `Client` and `AsyncClient` share: their arguments (documented on
    `Client`), the credentials, headers, connection options and transport
    they resolve, and the calls they make. A driver adds `_setup()`."""

    _resolve: ClassVar[Callable[..., tuple[Any, bool]]]

    def __init__(
        self,
        *,
        api_key: str | None = None,
        auth_token: str | None = None,
        base_url: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        transport: str | Transport | AsyncTransport | Any | None = None,
        timeout: Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        proxy: str | None = None,
        trust_env: bool = True,
        verify: bool | str | ssl.SSLContext = True,
        cert: str | tuple[str, str] | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        api_key, auth_token = _credentials(api_key, auth_token)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(
                f"max_retries must be an int of 0 or more, got {max_retries!r}."
            )
        if (
            isinstance(max_retry_wait, bool)
            or not isinstance(max_retry_wait, (int, float))
            or not (0 <= max_retry_wait < float("inf"))
        ):
            raise ConfigurationError(
                f"max_retry_wait must be a finite number of seconds, 0 or more, "
                f"got {max_retry_wait!r}."
            )
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ConfigurationError(
                f"max_response_bytes must be an int of 1 or more, got {max_response_bytes!r}."
            )
        self._max_response_bytes = max_response_bytes
        if not api_version:
            raise ConfigurationError("api_version must not be empty.")
        self._timeout = Timeout.coerce(timeout)
        self._max_retries = max_retries
        self._max_retry_wait = float(max_retry_wait)
        self._base_url = (
            base_url if base_url is not None else (_env("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL)
        )
        self._prefix = batches_url(self._base_url)
        hint = _v1_hint(self._base_url)
        if hint is not None:
            log.warning("%s", hint)
            warnings.warn(hint, UserWarning, stacklevel=2)
        self._route_known = False  # the batches route has answered 2xx here
        self._route_missing: str | None = None  # or why it proved missing
        headers = {
            "accept": "application/json",
            "accept-encoding": "gzip, deflate",
            "anthropic-version": check_header("anthropic-version", api_version),
        }
        if api_key is not None:
            headers["x-api-key"] = check_header("x-api-key", api_key, secret=True)
            self._auth = "api_key"
        else:
            assert auth_token is not None
            token = check_header("authorization", auth_token, secret=True)
            headers["authorization"] = f"Bearer {token}"
            self._auth = "auth_token"
        options: ConnectionOptions | None = None
        if transport is None or isinstance(transport, str):
            options = ConnectionOptions(
                proxy=proxy,
                trust_env=trust_env,
                verify=verify,
                cert=cert,
                max_connections=max_connections,
            )
        elif (
            proxy is not None
            or verify is not True
            or cert is not None
            or max_connections != DEFAULT_MAX_CONNECTIONS
        ):
            raise ConfigurationError(
                "proxy, verify, cert and max_connections configure the transports batchdelete "
                "builds; a client or transport of your own is used exactly as you built it: "
                "set them on it instead."
            )
        self._options = options
        self._transport, self._owns_transport = self._resolve(transport, options)
        t = self._transport
        headers["user-agent"] = check_header(
            "user-agent",
            f"batchdelete/{__version__} {t.name}/{t.library_version} python/{_PYTHON}",
        )
        self._headers: dict[str, str] = headers
        self._hooks = Hooks(get_plugin_manager())
        self._closed = False
        self._random = random.random
        self._settings = FlowSettings(
            self._transport.name,
            self._hooks,
            self._max_retries,
            self._max_retry_wait,
            self._max_response_bytes,
            self._jitter,
            options.proxy_for if options is not None else _no_proxy,
        )
        self._setup()

    def _setup(self) -> None:
        """What a driver adds to the shared state (locks, sleep, resources)."""

    @property
    def base_url(self) -> str:
        return self._base_url

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._base_url!r}, "
            f"transport={self._transport.name!r}, auth={self._auth!r}, "
            f"api_version={self._headers['anthropic-version']!r}, "
            f"timeout={self._timeout!r}, max_retries={self._max_retries})"
        )

    # -- the calls ---------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        model: type[Any],
        betas: Iterable[str] | None,
        timeout: Timeout | float | None,
        extra_headers: Mapping[str, str] | None,
    ) -> Call:
        """One call of the API, for a driver to run through the flow."""
        if self._closed:
            raise ConfigurationError(f"This {type(self).__name__} is closed; create a new one.")
        headers = self._headers_for(betas, extra_headers)
        limits = self._timeout if timeout is None else Timeout.coerce(timeout)
        return Call(method, url, headers, limits, model)

    def _batch_url(self, batch_id: str, action: str = "") -> str:
        return self._prefix + encode_batch_id(batch_id) + action

    def _list_url(self, limit: int, after_id: str | None, before_id: str | None) -> str:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ConfigurationError(f"limit must be an int from 1 to 1000, got {limit!r}.")
        query: dict[str, str | int] = {"limit": limit}
        for name, value in (("after_id", after_id), ("before_id", before_id)):
            if value is not None:
                encode_batch_id(value)  # the same checks as an id
                query[name] = value
        return self._prefix[:-1] + "?" + urlencode(query)

    def _headers_for(
        self, betas: Iterable[str] | None, extra_headers: Mapping[str, str] | None
    ) -> dict[str, str]:
        beta = beta_header(betas)
        if beta is None and not extra_headers:
            return self._headers
        headers = dict(self._headers)
        if beta is not None:
            headers["anthropic-beta"] = beta
        for name, value in (extra_headers or {}).items():
            key = check_header_name(name)
            headers[key] = check_header(key, value, secret=key in ("x-api-key", "authorization"))
        return headers

    def _jitter(self) -> float:
        """A random number for backoff jitter (`_random` is looked up per
        call, so that tests can make it fixed)."""
        return self._random()

    def _unexpected(self, exc: Exception) -> TransportError:
        """What a transport raised that is not a batchdelete error: a
        `TransportError` (never retried), so that only batchdelete errors
        leave a call."""
        return TransportError(
            f"the {self._transport.name} transport failed unexpectedly "
            f"({type(exc).__name__}: {exc})"
        )

    # -- proof for the workflows -------------------------------------------

    def _route_call(self) -> Call:
        """`GET .../messages/batches?limit=1`: a page proves the route exists."""
        return self._call("GET", self._prefix[:-1] + "?limit=1", MessageBatchPage, None, None, None)

    def _route_is_missing(self) -> ConfigurationError:
        """The error for a 404 from the list route, remembered so that later
        ids make no request."""
        hint = _v1_hint(self._base_url) or (
            "Check the base URL: it is the API's root, such as "
            "https://api.anthropic.com, without /v1."
        )
        self._route_missing = (
            f"The batches route {self._prefix[:-1]} answered 404, so a 404 for a "
            f"batch proves nothing: nothing was deleted. {hint}"
        )
        return ConfigurationError(self._route_missing)


def _no_proxy(url: str) -> str | None:
    return None
