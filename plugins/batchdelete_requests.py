"""The requests transport of batchdelete (`pip install 'batchdelete[requests]'`).

Registered through the `batchdelete` entry-point group like any third-party
plugin. requests is imported only when a transport is built.

Its own session has `trust_env` off: the proxy and CA-bundle settings of the
environment are read once, when the transport is built, instead of on every
request (requests' per-request lookup, and ~/.netrc, are skipped); proxies
from the environment are never used for a loopback host. Explicit
`proxies=` and `verify=` beat the environment. A session passed in is used
as it is: its adapters, auth, proxies, `trust_env` and retries are the user's.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from batchdelete import (
    RawResponse,
    RequestSpec,
    Transport,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
    check_ca_environment,
    hookimpl,
    is_loopback_host,
)
from batchdelete.hookspecs import RegisterTransport

if TYPE_CHECKING:
    import requests

NAME = "requests"


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        NAME,
        RequestsTransport,
        library="requests",
        install="pip install 'batchdelete[requests]'",
        native_types=("requests.sessions.Session",),
    )


def exception_map() -> dict[type[BaseException], type[TransportError]]:
    """Every requests exception class, and what it means to the core."""
    from requests import exceptions as e
    from urllib3 import exceptions as u

    connect, timeout, protocol, other = (
        TransportConnectError,
        TransportTimeoutError,
        TransportProtocolError,
        TransportError,
    )
    return {
        e.RequestException: other,
        e.InvalidJSONError: other,
        e.JSONDecodeError: other,
        e.HTTPError: other,
        e.ConnectionError: connect,
        e.ProxyError: connect,
        e.SSLError: connect,
        e.Timeout: timeout,
        e.ConnectTimeout: timeout,
        e.ReadTimeout: timeout,
        e.URLRequired: other,
        e.TooManyRedirects: other,
        e.MissingSchema: other,
        e.InvalidSchema: other,
        e.InvalidURL: other,
        e.InvalidHeader: other,
        e.InvalidProxyURL: other,
        e.ChunkedEncodingError: protocol,
        e.ContentDecodingError: protocol,
        e.StreamConsumedError: other,
        e.RetryError: other,
        e.UnrewindableBodyError: other,
        # urllib3 errors that requests lets through unwrapped.
        u.HTTPError: other,
        u.ReadTimeoutError: timeout,
        u.ProtocolError: protocol,
        u.DecodeError: protocol,
        TimeoutError: timeout,  # socket.timeout too
        OSError: connect,
    }


def _bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether `no_proxy` (a snapshot of NO_PROXY) exempts this host."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip() for e in no_proxy.split(",")):
        if address is not None and entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
    target = host if port is None else f"{host}:{port}"
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return bool(bypass(target, {"no": no_proxy}))


class RequestsTransport(Transport):
    """Sends through a `requests.Session`: its own, or the one passed in."""

    name = NAME

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        proxies: Mapping[str, str] | None = None,
        verify: bool | str | None = None,
    ) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.library_version = requests.__version__
        self.exceptions = exception_map()
        self._owned = session is None
        self._env_proxies = False
        if session is None:
            session = requests.Session()
            session.trust_env = False
            adapter = HTTPAdapter(pool_connections=10, pool_maxsize=10, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._env_proxies = proxies is None
            if proxies is None:  # the environment, read once
                found = urllib.request.getproxies_environment()
                self._no_proxy = found.pop("no", "")
                proxies = found
            else:
                self._no_proxy = ""
            if verify is None:
                first = "REQUESTS_CA_BUNDLE" if os.environ.get("REQUESTS_CA_BUNDLE") else ""
                check_ca_environment(first or "CURL_CA_BUNDLE")  # the one requests reads
                verify = (
                    os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
                )
            session.verify = verify
        self._session = session
        self._proxies = dict(proxies or {})
        self._proxy_cache: dict[str, dict[str, str]] = {}

    def _proxies_for(self, origin: str) -> dict[str, str]:
        """The proxies for `scheme://host[:port]`, decided once per origin."""
        found = self._proxy_cache.get(origin)
        if found is None:
            parts = urlsplit(origin)
            host = parts.hostname or ""
            bypass = (self._env_proxies and is_loopback_host(host)) or (
                bool(self._no_proxy) and _bypasses_proxy(host, parts.port, self._no_proxy)
            )
            found = {} if bypass else self._proxies
            if len(self._proxy_cache) < 64:
                self._proxy_cache[origin] = found
        return found

    def send(self, spec: RequestSpec) -> RawResponse:
        proxies = None
        if self._owned:
            scheme, _, rest = spec.url.partition("://")
            proxies = self._proxies_for(f"{scheme}://{rest.partition('/')[0]}")
        try:
            response = self._session.request(
                spec.method,
                spec.url,
                headers=dict(spec.headers),
                data=spec.body,
                timeout=(spec.timeout.connect, spec.timeout.read),
                allow_redirects=False,
                proxies=proxies,
            )
        except Exception as exc:
            mapped = self.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc
        headers = {k.lower(): v for k, v in response.headers.items()}
        return RawResponse(response.status_code, headers, response.content)

    def close(self) -> None:
        if self._owned:
            self._session.close()
