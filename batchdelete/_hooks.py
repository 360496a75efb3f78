"""Typed calls of the observation hooks; a failing hook is logged, not raised."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pluggy

from ._errors import APIError
from ._spec import redact_headers

log = logging.getLogger("batchdelete")


class Hooks:
    """The observation hooks of one plugin manager, with typed signatures.

    Each method is a no-op costing one list copy when no plugin implements
    the hook; otherwise it calls the hook with keyword arguments and logs
    (never raises) what a plugin's hook raised.
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._hook = pm.hook
        # A hook caller keeps its list of implementations up to date in place
        # as plugins come and go; looking at it (when this pluggy has it)
        # spares every request the copy `get_hookimpls()` makes.
        self._impls = {
            name: getattr(getattr(pm.hook, name), "_hookimpls", None)
            for name in ("on_request", "on_response", "on_error", "on_retry")
        }

    def active(self, name: str) -> bool:
        """Whether any plugin implements the hook `name`."""
        impls = self._impls[name]
        if impls is not None:
            return bool(impls)
        return bool(getattr(self._hook, name).get_hookimpls())

    def _call(self, name: str, **kwargs: object) -> None:
        if not self.active(name):
            return
        caller = getattr(self._hook, name)
        if "headers" in kwargs and name == "on_request":
            headers = kwargs["headers"]
            assert isinstance(headers, Mapping)
            kwargs["headers"] = redact_headers(headers)
        try:
            caller(**kwargs)
        except Exception:
            log.warning("A batchdelete plugin's %s hook raised; ignored.", name, exc_info=True)

    def on_request(
        self, *, method: str, url: str, headers: Mapping[str, str], attempt: int, transport: str
    ) -> None:
        self._call(
            "on_request",
            method=method,
            url=url,
            headers=headers,
            attempt=attempt,
            transport=transport,
        )

    def on_response(
        self,
        *,
        method: str,
        url: str,
        attempt: int,
        transport: str,
        status_code: int,
        headers: Mapping[str, str],
        request_id: str | None,
        elapsed: float,
    ) -> None:
        self._call(
            "on_response",
            method=method,
            url=url,
            attempt=attempt,
            transport=transport,
            status_code=status_code,
            headers=headers,
            request_id=request_id,
            elapsed=elapsed,
        )

    def on_error(
        self, *, method: str, url: str, attempt: int, transport: str, error: APIError
    ) -> None:
        self._call(
            "on_error", method=method, url=url, attempt=attempt, transport=transport, error=error
        )

    def on_retry(
        self, *, method: str, url: str, attempt: int, transport: str, wait: float, error: APIError
    ) -> None:
        self._call(
            "on_retry",
            method=method,
            url=url,
            attempt=attempt,
            transport=transport,
            wait=wait,
            error=error,
        )
