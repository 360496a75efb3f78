"""Plugins, the transports they register, and choosing one.

Listing transports never imports an HTTP library: availability is whether
the library can be found, and its version comes from package metadata.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import pluggy

from . import hookspecs
from ._errors import ConfigurationError, mask_userinfo
from ._options import ConnectionOptions
from ._transport import AsyncTransport, Transport
from .hookspecs import TransportFactory

__all__ = [
    "ASYNC_AUTO_ORDER",
    "AUTO_ORDER",
    "TransportInfo",
    "get_plugin_manager",
    "list_transports",
    "register_plugin",
    "resolve_async_transport",
    "resolve_transport",
    "unregister_plugin",
]

ENTRY_POINT_GROUP = "batchdelete"
ENV_TRANSPORT = "BATCHDELETE_TRANSPORT"
#: Built-ins tried, in this order, when no transport is named: the installed
#: HTTP libraries, fastest measured first (bare on loopback: urllib3 0.27 ms,
#: httpx 0.6 ms, requests 0.9 ms a request), then the dependency-free
#: `stdlib` transport, which needs nothing installed but uses no proxies.
AUTO_ORDER = ("urllib3", "httpx", "requests", "stdlib")
#: The same for `AsyncClient`, among the async transports.
ASYNC_AUTO_ORDER = ("aiohttp", "httpx")
BUILTIN_MODULES = {
    **{f"batchdelete_{name}": (name, False) for name in AUTO_ORDER},
    "batchdelete_aiohttp": ("aiohttp", True),
    "batchdelete_httpx_async": ("httpx", True),
    # Built in, but chosen only by name: its read timeout is in whole seconds.
    "batchdelete_pycurl": ("pycurl", False),
}
Key = tuple[str, bool]  # (name, asynchronous): "httpx" is both


class TransportInfo(msgspec.Struct, frozen=True):
    """What `list_transports()` tells about one transport."""

    name: str
    available: bool
    version: str | None
    module: str
    builtin: bool
    reason: str | None = None
    install: str | None = None
    takes_options: bool = False
    asynchronous: bool = False


class _Entry(msgspec.Struct, frozen=True):
    info: TransportInfo
    factory: TransportFactory | None
    native_types: frozenset[str]
    takes_options: bool = False


class _State:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.load_failures: dict[str, str] = {}
        self.entries: dict[Key, _Entry] | None = None


_lock = threading.RLock()
_state: _State | None = None


def _load() -> _State:
    state = _State()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if state.pm.has_plugin(ep.name) or ep.name in state.load_failures:
            continue
        try:
            state.pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken plugin must not break the others
            state.load_failures[ep.name] = f"{type(exc).__name__}: {exc} ({ep.value})"
    return state


def _get_state() -> _State:
    global _state
    with _lock:
        if _state is None:
            _state = _load()
        return _state


def get_plugin_manager() -> pluggy.PluginManager:
    """The pluggy plugin manager, with every entry-point plugin loaded."""
    return _get_state().pm


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Add a plugin at run time (a module or object with hook implementations)."""
    with _lock:
        state = _get_state()
        state.pm.register(plugin, name=name)
        state.entries = None


def unregister_plugin(plugin: object) -> None:
    """Remove a plugin added with `register_plugin`."""
    with _lock:
        state = _get_state()
        state.pm.unregister(plugin)
        state.entries = None


def _library_status(library: str | None) -> tuple[bool, str | None, str | None]:
    if library is None:
        return True, None, None
    try:
        found = importlib.util.find_spec(library) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return False, None, f"the {library} library is not installed"
    try:
        return True, importlib.metadata.version(library), None
    except importlib.metadata.PackageNotFoundError:
        return True, None, None


def _collect(state: _State) -> dict[Key, _Entry]:
    entries: dict[Key, _Entry] = {}
    for impl in state.pm.hook.register_transports.get_hookimpls():
        plugin_name = impl.plugin_name
        module = getattr(impl.plugin, "__name__", type(impl.plugin).__name__)

        def register(
            name: str,
            factory: TransportFactory,
            *,
            library: str | None = None,
            install: str | None = None,
            native_types: Iterable[str] = (),
            version: str | None = None,
            takes_options: bool = False,
            asynchronous: bool = False,
            _module: str = module,
        ) -> None:
            key = (name, bool(asynchronous))
            if key in entries:
                kind = "async transport" if asynchronous else "transport"
                raise ConfigurationError(
                    f"The {kind} {name!r} is registered twice, by "
                    f"{entries[key].info.module} and by {_module}."
                )
            available, found, reason = _library_status(library)
            builtin = BUILTIN_MODULES.get(_module) == key
            info = TransportInfo(
                *(name, available, found or version, _module, builtin, reason, install),
                *(takes_options, key[1]),
            )
            entries[key] = _Entry(info, factory, frozenset(native_types), takes_options)

        try:
            impl.function(register=register)
        except Exception as exc:  # report it, keep the others
            entries.setdefault(
                (plugin_name, False),
                _Entry(
                    TransportInfo(
                        plugin_name,
                        False,
                        None,
                        module,
                        False,
                        f"plugin failed to register: {type(exc).__name__}: {exc}",
                    ),
                    None,
                    frozenset(),
                ),
            )
    for name, why in state.load_failures.items():
        entries.setdefault(
            (name, False),
            _Entry(
                TransportInfo(name, False, None, "?", False, f"plugin failed to load: {why}"),
                None,
                frozenset(),
            ),
        )
    return entries


def _entries() -> dict[Key, _Entry]:
    with _lock:
        state = _get_state()
        if state.entries is None:
            state.entries = _collect(state)
        return state.entries


def list_transports() -> list[TransportInfo]:
    """Every registered transport: the sync ones, then the async ones
    (`asynchronous`), each kind with its built-ins first in automatic order."""
    entries = _entries()

    def rank(e: _Entry) -> tuple[bool, int, str]:
        order = ASYNC_AUTO_ORDER if e.info.asynchronous else AUTO_ORDER
        place = order.index(e.info.name) if e.info.name in order else 99
        return (e.info.asynchronous, place, e.info.name)

    return [e.info for e in sorted(entries.values(), key=rank)]


def _unavailable_message(info: TransportInfo, entries: Mapping[Key, _Entry]) -> str:
    usable = (
        ", ".join(
            name
            for (name, is_async), e in entries.items()
            if e.info.available and is_async == info.asynchronous
        )
        or "none"
    )
    how = f" Install it with: {info.install}." if info.install else ""
    return (
        f"The {info.name!r} transport is not available ({info.reason}).{how} "
        f"Available transports: {usable}."
    )


def _build(name: str, source: str, options: ConnectionOptions, is_async: bool = False) -> Any:
    entries = _entries()
    entry = entries.get((name, is_async))
    if entry is None:
        kind, install = (
            ("async transport", "'batchdelete[aiohttp]' (or [httpx])")
            if is_async
            else ("transport", "'batchdelete[urllib3]' (or [httpx], [requests])")
        )
        known = ", ".join(sorted(n for n, a in entries if a == is_async)) or "none"
        raise ConfigurationError(
            f"Unknown {kind} {name!r}{source}. Known {kind}s: {known}. "
            f"Built-in ones install with pip install {install}."
        )
    if not entry.info.available or entry.factory is None:
        raise ConfigurationError(_unavailable_message(entry.info, entries))
    return _make(entry, None, options)


def _make(entry: _Entry, native: object, options: ConnectionOptions) -> Any:
    """Run a transport factory, with the client's connection options when it
    takes them; what it raises becomes a `ConfigurationError` (a CA bundle
    that is not one, say)."""
    assert entry.factory is not None
    if not entry.takes_options and not options.default:
        raise ConfigurationError(
            f"The {entry.info.name!r} transport takes no connection options (proxy, verify, "
            "cert, max_connections); configure its own client, or choose a built-in transport."
        )
    try:
        if entry.takes_options:
            return entry.factory(native, options)  # type: ignore[call-arg]
        return entry.factory(native)
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"The {entry.info.name!r} transport could not be set up: "
            f"{type(exc).__name__}: {mask_userinfo(str(exc))}. Check the environment it reads "
            "(SSL_CERT_FILE, SSL_CERT_DIR, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, "
            "*_PROXY) or choose another transport."
        ) from exc


def _qualnames(obj: object) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__}


def resolve_transport(
    transport: str | Transport | Any | None,
    options: ConnectionOptions | None = None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[Transport, bool]:
    """The transport to use, and whether the client owns (and closes) it.
    `options` (default: resolved from the environment) go to a transport the
    client builds; a transport or native client handed in is used as is."""
    return _resolve(transport, options, environ, False)


def resolve_async_transport(
    transport: str | AsyncTransport | Any | None,
    options: ConnectionOptions | None = None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[AsyncTransport, bool]:
    """`resolve_transport` for `AsyncClient`, among the async transports.
    BATCHDELETE_TRANSPORT applies when it names one; else the automatic
    order (`ASYNC_AUTO_ORDER`)."""
    return _resolve(transport, options, environ, True)


def _resolve(
    transport: Any, options: ConnectionOptions | None, environ: Mapping[str, str], is_async: bool
) -> tuple[Any, bool]:
    if transport is None or isinstance(transport, str):
        options = options if options is not None else ConnectionOptions()
    else:  # used as it is: no options, nothing read from the environment
        options = ConnectionOptions(trust_env=False)
    entries = _entries()
    if transport is None:
        name = environ.get(ENV_TRANSPORT, "").strip()
        if name and (not is_async or (name, True) in entries):
            return _build(name, f" in {ENV_TRANSPORT}", options, is_async), True
        for candidate in ASYNC_AUTO_ORDER if is_async else AUTO_ORDER:
            entry = entries.get((candidate, is_async))
            if entry is not None and entry.info.builtin and entry.info.available:
                return _build(candidate, "", options, is_async), True
        raise ConfigurationError(
            "No async HTTP library for batchdelete is installed. Install one with "
            "pip install 'batchdelete[aiohttp]' (or [httpx])."
            if is_async
            else "No HTTP library for batchdelete is installed. Install one with "
            "pip install 'batchdelete[urllib3]' (or [httpx], [requests])."
        )
    if isinstance(transport, str):
        return _build(transport, "", options, is_async), True
    base = AsyncTransport if is_async else Transport
    if isinstance(transport, base) or (
        not isinstance(transport, (type, Transport, AsyncTransport))
        and callable(getattr(transport, "send", None))
        and callable(getattr(transport, "close", None))
        and isinstance(getattr(transport, "name", None), str)
        and inspect.iscoroutinefunction(transport.send) == is_async
    ):
        return transport, False
    names = _qualnames(transport)
    for (_, entry_async), entry in entries.items():
        if entry_async == is_async and entry.native_types & names and entry.factory is not None:
            return _make(entry, transport, options), True
    raise ConfigurationError(
        "transport= takes an async transport name, an AsyncTransport, or an "
        f"httpx.AsyncClient or aiohttp.ClientSession; got {type(transport).__name__}."
        if is_async
        else "transport= takes a transport name, a Transport, or a requests.Session, "
        f"httpx.Client or urllib3.PoolManager; got {type(transport).__name__}."
    )


def _reset_for_tests() -> None:
    """Forget loaded plugins so that the next use loads them again."""
    global _state
    with _lock:
        _state = None
