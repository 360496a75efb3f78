"""Connection options: proxy, trust_env, verify, cert, max_connections.

Resolved once, when a client is built, from its arguments and then (when
`trust_env`) the environment; every owned transport applies the same
result, so that choosing a transport changes speed, never connectivity.

- proxy: `proxy="http://[user:pass@]host:port"` (for every host, loopback
  included); else, with `trust_env`, `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`
  (either case, lower case first), except for hosts in `NO_PROXY` and
  loopback hosts; else none.
- CA bundle: `verify="ca.pem"` (or a directory, or an `ssl.SSLContext`;
  `verify=False` turns verification off and logs a warning); else, with
  `trust_env`, `SSL_CERT_FILE`, `SSL_CERT_DIR`, `REQUESTS_CA_BUNDLE`,
  `CURL_CA_BUNDLE`, the first one set; else the system's CAs.
- client certificate: `cert="both.pem"` or `("cert.pem", "key.pem")`.
- `max_connections` per origin: 10.

`NO_PROXY` is read as curl and requests read it: comma-separated host
names (matching the host and its subdomains; a leading dot is ignored),
`host:port`, `*` for every host, IP addresses and CIDR ranges. Matching is
the standard library's (`urllib.request.proxy_bypass_environment`), with
addresses and ranges checked by `ipaddress`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigurationError, mask_userinfo
from ._transport import is_loopback_host

__all__ = ["CA_VARIABLES", "DEFAULT_MAX_CONNECTIONS", "ConnectionOptions", "bypasses_proxy"]

log = logging.getLogger("batchdelete")

DEFAULT_MAX_CONNECTIONS = 10
#: CA variables, in the order they are looked at.
CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether `no_proxy` (a NO_PROXY value) exempts `host` (and `port`)."""
    if not no_proxy:
        return False
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        for entry in (e.strip() for e in no_proxy.split(",")):
            try:
                if entry and address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
    target = host if port is None else f"{host}:{port}"
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return bool(bypass(target, {"no": no_proxy}))


def _check_proxy(url: str) -> str:
    """A proxy URL, checked; without a scheme, http:// (as curl and requests
    read `HTTPS_PROXY=proxy.corp:3128`)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise ConfigurationError(f"The proxy URL {mask_userinfo(url)!r} is not valid.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"The proxy must look like http://[user:password@]host:port (http or https; "
            f"SOCKS is not supported), got {mask_userinfo(url)!r}."
        )
    return url


def _check_path(path: str, what: str) -> str:
    if not os.path.exists(path):
        raise ConfigurationError(
            f"{what} is {path!r}, which does not exist: point it at a file (or directory) "
            "that does."
        )
    return path


#: TLS contexts built from the same CA and certificate files, shared by the
#: clients of a process: loading the system's CAs takes tens of
#: milliseconds, and a client per task or test would pay it each time. The
#: key holds each file's modification time and size, so a changed file is
#: loaded again. (Transports only add the deadline socket class, the same
#: for all, and ALPN "http/1.1".)
_contexts: dict[tuple[object, ...], Any] = {}
_contexts_lock = threading.Lock()


def _file_key(value: object) -> object:
    """What identifies a verify= or cert= value: its files as they are now."""
    if isinstance(value, tuple):
        return tuple(_file_key(v) for v in value)
    if isinstance(value, str):
        try:
            found = os.stat(value)
        except OSError:
            return (value, None)
        return (value, found.st_mtime_ns, found.st_size)
    return value


class ConnectionOptions:
    """The connection options of one client, resolved once (see the module
    docstring for the table). Transports read `proxy_for(url)`,
    `ssl_context()` and `max_connections`; the repr masks credentials."""

    def __init__(
        self,
        *,
        proxy: str | None = None,
        trust_env: bool = True,
        verify: bool | str | Any = True,
        cert: str | tuple[str, str] | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        env = os.environ
        if not isinstance(trust_env, bool):
            raise ConfigurationError(f"trust_env must be True or False, got {trust_env!r}.")
        if (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or max_connections < 1
        ):
            raise ConfigurationError(
                f"max_connections must be an int of 1 or more, got {max_connections!r}."
            )
        self.trust_env = trust_env
        self.max_connections = max_connections
        self.explicit_proxy = proxy is not None
        self.proxies: dict[str, str] = {}
        self.no_proxy = ""
        if proxy is not None:
            if not isinstance(proxy, str):
                raise ConfigurationError(f"proxy must be a str URL, got {type(proxy).__name__}.")
            url = _check_proxy(proxy)
            self.proxies = {"http": url, "https": url}
        elif trust_env:
            found = _environment_proxies()
            self.no_proxy = found.pop("no", "")
            self.proxies = {k: _check_proxy(v) for k, v in found.items() if k in ("http", "https")}
        self.verify, self.ca_source = self._resolve_verify(verify, env)
        self.cert = self._resolve_cert(cert)
        self._context: Any = None
        self._lock = threading.Lock()
        if verify is False:
            log.warning(
                "TLS verification is off (verify=False): a machine in the middle can read "
                "and change this client's traffic, its API key included."
            )

    def _resolve_verify(self, verify: object, env: Mapping[str, str]) -> tuple[Any, str]:
        if verify is True:
            if self.trust_env:
                for name in CA_VARIABLES:
                    if env.get(name):
                        return _check_path(env[name], name), name
            return True, "the system's CAs"
        if verify is False:
            return False, "none: verification is off"
        if isinstance(verify, str):
            return _check_path(verify, "verify"), "verify="
        import ssl

        if isinstance(verify, ssl.SSLContext):
            return verify, "verify= (an ssl.SSLContext)"
        raise ConfigurationError(
            "verify must be True, False, a path to a CA bundle (file or directory) or an "
            f"ssl.SSLContext; got {type(verify).__name__}."
        )

    def _resolve_cert(self, cert: object) -> str | tuple[str, str] | None:
        if cert is None:
            return None
        if not isinstance(self.verify, (bool, str)):
            raise ConfigurationError(
                "cert= cannot be combined with an ssl.SSLContext as verify=: load the "
                "certificate into that context (load_cert_chain)."
            )
        if isinstance(cert, str):
            return _check_path(cert, "cert")
        if (
            isinstance(cert, tuple)
            and len(cert) == 2
            and all(isinstance(part, str) for part in cert)
        ):
            return (_check_path(cert[0], "cert[0]"), _check_path(cert[1], "cert[1]"))
        raise ConfigurationError(
            'cert must be a path ("both.pem") or a pair ("cert.pem", "key.pem"), got '
            f"{type(cert).__name__}."
        )

    @property
    def default(self) -> bool:
        """Whether no option was set explicitly (a transport that takes no
        options may then be used)."""
        return (
            not self.explicit_proxy
            and self.cert is None
            and self.verify is not False
            and self.ca_source in ("the system's CAs", *CA_VARIABLES)
            and self.max_connections == DEFAULT_MAX_CONNECTIONS
        )

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL to reach `url` through, or None to go direct."""
        if not self.proxies:
            return None
        parts = urlsplit(url)
        if not self.explicit_proxy:
            host = parts.hostname or ""
            if is_loopback_host(host) or bypasses_proxy(host, parts.port, self.no_proxy):
                return None
        return self.proxies.get(parts.scheme)

    def ssl_context(self) -> Any:
        """The TLS context every connection of the client uses: built once,
        on first use (loading CAs costs tens of milliseconds)."""
        with self._lock:
            if self._context is None:
                self._context = self._build_context()
            return self._context

    def _build_context(self) -> Any:
        import ssl

        if isinstance(self.verify, ssl.SSLContext):
            return self.verify
        key = (_file_key(self.verify), _file_key(self.cert))
        with _contexts_lock:
            context = _contexts.get(key)
        if context is None:
            context = self._new_context()
            with _contexts_lock:
                if len(_contexts) >= 8:
                    _contexts.clear()
                _contexts[key] = context
        return context

    def _new_context(self) -> Any:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif isinstance(self.verify, str):
            if os.path.isdir(self.verify):
                context.load_verify_locations(capath=self.verify)
            else:
                context.load_verify_locations(cafile=self.verify)
        else:  # the system's: OpenSSL's built-in paths, not its reading of SSL_CERT_FILE
            paths = ssl.get_default_verify_paths()
            cafile = paths.openssl_cafile if os.path.isfile(paths.openssl_cafile or "") else None
            capath = paths.openssl_capath if os.path.isdir(paths.openssl_capath or "") else None
            if cafile or capath:
                context.load_verify_locations(cafile=cafile, capath=capath)
            else:  # a platform store (Windows, macOS)
                context.load_default_certs()
        if self.cert is not None:
            certfile, keyfile = self.cert if isinstance(self.cert, tuple) else (self.cert, None)
            context.load_cert_chain(certfile, keyfile)
        return context

    def describe(self, url: str) -> dict[str, Any]:
        """What a transport of this client would use for `url`, credentials
        masked: for `batchdelete transports --json` and the docs."""
        proxy = self.proxy_for(url)
        return {
            "proxy": mask_userinfo(proxy) if proxy else None,
            "proxy_source": (
                None if proxy is None else "proxy=" if self.explicit_proxy else "environment"
            ),
            "ca": self.verify if isinstance(self.verify, str) else None,
            "ca_source": self.ca_source,
            "client_certificate": self.cert is not None,
            "max_connections": self.max_connections,
            "trust_env": self.trust_env,
        }

    def __repr__(self) -> str:
        proxies = {k: mask_userinfo(v) for k, v in self.proxies.items()}
        return (
            f"ConnectionOptions(proxies={proxies!r}, no_proxy={self.no_proxy!r}, "
            f"trust_env={self.trust_env}, ca_source={self.ca_source!r}, "
            f"cert={'set' if self.cert else None}, max_connections={self.max_connections})"
        )


def _environment_proxies() -> dict[str, str]:
    """Proxy variables as the standard library reads them (lower case
    first); ALL_PROXY for a scheme without its own."""
    found = urllib.request.getproxies_environment()
    every = found.pop("all", None)
    if every:
        found.setdefault("http", every)
        found.setdefault("https", every)
    return found
