"""What `Client` and `AsyncClient` share: their arguments, credentials,
headers, connection options and transport choice, and the calls they make
(`Call`s for the flow in `_flow.py`). Only the drivers differ."""

from __future__ import annotations

import logging
import random
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlencode, urlsplit

from ._args import (
    CONNECTION_ARGS,
    checked_query,
    custom_headers,
    env,
    merge_headers,
    v1_hint,
    workspace,
)
from ._credentials import resolve, with_oauth_beta
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
R = TypeVar("R")
C = TypeVar("C", bound="BaseClient")


class BaseClient:
    """What `Client` and `AsyncClient` share: their arguments (documented on
    `Client`), the credentials, headers, connection options and transport
    they resolve, and the calls they make. A driver adds `_setup()`."""

    _resolve: ClassVar[Callable[..., tuple[Any, bool]]]
    _is_async: ClassVar[bool] = False

    def __init__(
        self,
        *,
        api_key: str | None = None,
        auth_token: str | None = None,
        credentials: Any | None = None,
        base_url: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        transport: str | Transport | AsyncTransport | Any | None = None,
        http_client: Any | None = None,
        timeout: Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        proxy: str | None = None,
        trust_env: bool = True,
        verify: bool | str | ssl.SSLContext = True,
        cert: str | tuple[str, str] | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        default_headers: Mapping[str, str | None] | None = None,
        default_query: Mapping[str, object] | None = None,
        workspace_id: str | None = None,
        _shared: tuple[Any, ConnectionOptions | None] | None = None,
    ) -> None:
        if http_client is not None:
            _check_http_client(http_client, transport)
            transport = http_client
        _check_limits(max_retries, max_retry_wait, max_response_bytes, api_version)
        user_base_url = base_url if base_url is not None else env("ANTHROPIC_BASE_URL")
        credential = resolve(
            api_key,
            auth_token,
            credentials,
            user_base_url or DEFAULT_BASE_URL,
            is_async=self._is_async,
        )
        # What `with_options()` builds a copy from: the credential as resolved
        # (a copy shares its token cache).
        self._args: dict[str, Any] = {
            "api_key": None,
            "auth_token": None,
            "credentials": credential,
            "base_url": base_url,
            "api_version": api_version,
            "transport": transport if http_client is None else None,
            "http_client": http_client,
            "timeout": timeout,
            "max_retries": max_retries,
            "max_retry_wait": max_retry_wait,
            "max_response_bytes": max_response_bytes,
            "proxy": proxy,
            "trust_env": trust_env,
            "verify": verify,
            "cert": cert,
            "max_connections": max_connections,
            "default_headers": default_headers,
            "default_query": default_query,
            "workspace_id": workspace_id,
        }
        self._credential = credential
        # Closed with this client if the chain built it here (not a copy's).
        self._owns_credential = credential.owned and credential is not credentials
        self._max_response_bytes = max_response_bytes
        self._timeout = Timeout.coerce(timeout)
        self._max_retries = max_retries
        self._max_retry_wait = float(max_retry_wait)
        # The user's base URL, else the profile's, else the API's.
        self._base_url = user_base_url or credential.base_url or DEFAULT_BASE_URL
        self._prefix = batches_url(self._base_url)
        hint = v1_hint(self._base_url)
        if hint is not None:
            log.warning("%s", hint)
            warnings.warn(hint, UserWarning, stacklevel=2)
        self._route_known = False  # the batches route has answered 2xx here
        self._route_missing: str | None = None  # or why it proved missing
        if _shared is not None:  # a copy: the parent's transport, not closed here
            self._transport, options = _shared
            self._owns_transport = False
        else:
            options = _connection_options(
                transport, proxy, trust_env, verify, cert, max_connections
            )
            self._transport, self._owns_transport = self._resolve(transport, options)
        self._options = options
        self._headers = self._default_headers(api_version, default_headers, workspace_id)
        self._query = checked_query(default_query, "default_query")
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
            credential.tokens,
        )
        if credential.tokens is not None:
            log.debug("credentials from %s", credential.source)
        self._setup()

    def _default_headers(
        self,
        api_version: str,
        default_headers: Mapping[str, str | None] | None,
        workspace_id: str | None,
    ) -> dict[str, str]:
        """Every request's headers: ours, the credential's, then (each
        winning over the one before) a profile's extra headers,
        ANTHROPIC_CUSTOM_HEADERS, `default_headers` and `workspace_id`."""
        t = self._transport
        credential = self._credential
        headers = {
            "accept": "application/json",
            "accept-encoding": "gzip, deflate",
            "anthropic-version": check_header("anthropic-version", api_version),
            **credential.headers,
            "user-agent": check_header(
                "user-agent",
                f"batchdelete/{__version__} {t.name}/{t.library_version} python/{_PYTHON}",
            ),
        }
        merge_headers(headers, credential.extra_headers, f"The profile ({credential.source})")
        merge_headers(headers, custom_headers(), "ANTHROPIC_CUSTOM_HEADERS")
        merge_headers(headers, default_headers, "default_headers")
        merge_headers(headers, workspace(None, workspace_id), "workspace_id")
        if credential.tokens is not None:
            headers["anthropic-beta"] = with_oauth_beta(headers.get("anthropic-beta"))
        return headers

    def _setup(self) -> None:
        """What a driver adds to the shared state (locks, sleep, resources)."""

    def with_options(self: C, **overrides: Any) -> C:
        """A new client like this one, with any constructor argument
        overridden (`max_retries=0`, `timeout=...`, `default_headers=...`).
        Unless the transport or a connection option changes, the copy sends
        through this client's transport, connections and all; closing the
        copy leaves them open, closing this client closes them for both.
        The credential carries over as this client resolved it (a provider's
        token cache shared); giving `api_key`, `auth_token` or `credentials`
        replaces it."""
        unknown = sorted(set(overrides) - set(self._args))
        if unknown:
            raise ConfigurationError(
                f"with_options() got unknown argument(s) {', '.join(unknown)}; it takes "
                f"the constructor's: {', '.join(sorted(self._args))}."
            )
        args = {**self._args, **overrides}
        given = {"api_key", "auth_token", "credentials"} & set(overrides)
        for name in ("api_key", "auth_token", "credentials") if given else ():
            if name not in given:
                args[name] = None
        rebuilt = any(
            name in overrides and overrides[name] is not self._args[name]
            for name in CONNECTION_ARGS
        )
        shared = None if rebuilt else (self._transport, self._options)
        return type(self)(**args, _shared=shared)

    copy = with_options  # the SDK's other name for it

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def credential_source(self) -> str:
        """Which step of the credential chain supplied this client's
        credential (`api_key=`, `ANTHROPIC_API_KEY`, `the profile 'dev'
        (ANTHROPIC_PROFILE)`...), never its value."""
        return self._credential.source

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._base_url!r}, "
            f"transport={self._transport.name!r}, auth={self._credential.kind!r}, "
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
        extra_headers: Mapping[str, str | None] | None,
        extra_query: Mapping[str, object] | None = None,
    ) -> Call:
        """One call of the API, for a driver to run through the flow."""
        if self._closed:
            raise ConfigurationError(f"This {type(self).__name__} is closed; create a new one.")
        headers = self._headers_for(betas, extra_headers)
        limits = self._timeout if timeout is None else Timeout.coerce(timeout)
        if self._query or extra_query:
            url = self._with_query(url, extra_query)
        return Call(method, url, headers, limits, model)

    def _with_query(self, url: str, extra_query: Mapping[str, object] | None) -> str:
        """The URL with the default and per-call query parameters; those the
        call sets itself (the list's limit and cursors) cannot be replaced."""
        query = {**self._query, **checked_query(extra_query, "extra_query")}
        own = {pair.split("=", 1)[0] for pair in urlsplit(url).query.split("&") if pair}
        taken = sorted(own & set(query))
        if taken:
            raise ConfigurationError(
                f"The query parameter(s) {', '.join(taken)} are set by the call itself; "
                "pass them as its arguments (limit=, after_id=, before_id=)."
            )
        return url + ("&" if "?" in url else "?") + urlencode(query)

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
        self, betas: Iterable[str] | None, extra_headers: Mapping[str, str | None] | None
    ) -> dict[str, str]:
        beta = beta_header(betas)
        if beta is None and not extra_headers:
            return self._headers
        headers = dict(self._headers)
        if beta is not None:
            headers["anthropic-beta"] = beta
        merge_headers(headers, extra_headers, "extra_headers")
        if self._credential.tokens is not None:
            headers["anthropic-beta"] = with_oauth_beta(headers.get("anthropic-beta"))
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

    def _route_call(self, betas: Iterable[str] | None = None) -> Call:
        """`GET .../messages/batches?limit=1`: a page proves the route exists
        (with the betas of the call it is proved for)."""
        return self._call(
            "GET", self._prefix[:-1] + "?limit=1", MessageBatchPage, betas, None, None
        )

    def _route_is_missing(self) -> ConfigurationError:
        """The error for a 404 from the list route, remembered so that later
        ids make no request."""
        hint = v1_hint(self._base_url) or (
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


def _check_http_client(http_client: object, transport: object) -> None:
    if transport is not None:
        raise ConfigurationError(
            "Pass either http_client= or transport=, not both (http_client= is "
            "transport= given your own client)."
        )
    if isinstance(http_client, str):
        raise ConfigurationError(
            "http_client= takes a client object (an httpx.Client, requests.Session "
            "or urllib3.PoolManager); to name a transport, use transport=."
        )


def _check_limits(
    max_retries: object, max_retry_wait: object, max_response_bytes: object, api_version: object
) -> None:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be an int of 0 or more, got {max_retries!r}.")
    if (
        isinstance(max_retry_wait, bool)
        or not isinstance(max_retry_wait, (int, float))
        or not (0 <= max_retry_wait < float("inf"))
    ):
        raise ConfigurationError(
            f"max_retry_wait must be a finite number of seconds, 0 or more, got {max_retry_wait!r}."
        )
    if (
        isinstance(max_response_bytes, bool)
        or not isinstance(max_response_bytes, int)
        or max_response_bytes < 1
    ):
        raise ConfigurationError(
            f"max_response_bytes must be an int of 1 or more, got {max_response_bytes!r}."
        )
    if not api_version:
        raise ConfigurationError("api_version must not be empty.")


def _connection_options(
    transport: object,
    proxy: str | None,
    trust_env: bool,
    verify: object,
    cert: str | tuple[str, str] | None,
    max_connections: int,
) -> ConnectionOptions | None:
    """The options for a transport batchdelete builds; None for one of the
    user's own, which is used as built (connection options are refused)."""
    if transport is None or isinstance(transport, str):
        return ConnectionOptions(
            proxy=proxy,
            trust_env=trust_env,
            verify=verify,
            cert=cert,
            max_connections=max_connections,
        )
    if (
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
    return None
