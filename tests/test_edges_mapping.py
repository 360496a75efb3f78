"""Edges of the exception mapping every transport shares (issue 12, branch
coverage): a library error caused by the guards' own errors (the body cap,
a protocol violation), a subclass of a mapped class, an unknown error left
as it is, and the processes where `ssl` or the guards were never imported.
Unit tests of the core, with a transport of exception classes only."""

from __future__ import annotations

import sys
from types import MappingProxyType

import pytest

import batchdelete as bd
from batchdelete._errors import (
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportResponseTooLargeError,
)
from batchdelete.guards import ProtocolViolationError


class LibraryError(Exception):
    """A library's base exception."""


class LibraryConnectError(LibraryError):
    pass


class LibraryRefusedError(LibraryConnectError):
    """Not in the map: its parent is."""


class MappingOnly(bd.Transport):
    name = "mapping-only"
    exceptions = MappingProxyType({LibraryConnectError: TransportConnectError})

    def send(self, spec: bd.RequestSpec) -> bd.RawResponse:
        raise NotImplementedError

    def close(self) -> None:
        pass


def caused_by(cause: BaseException) -> LibraryError:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise LibraryError("wrapped") from inner
    except LibraryError as outer:
        return outer


def test_the_body_cap_behind_a_library_error_is_raised_itself() -> None:
    cap = TransportResponseTooLargeError("too large", status=200, headers={})
    assert MappingOnly().translate(caused_by(cap)) is cap


def test_a_protocol_violation_behind_a_library_error_is_a_protocol_error() -> None:
    mapped = MappingOnly().translate(caused_by(ProtocolViolationError("invalid status line")))
    assert isinstance(mapped, TransportProtocolError)
    assert str(mapped) == "The response is malformed: invalid status line."


def test_a_subclass_of_a_mapped_class_takes_its_parents_entry() -> None:
    mapped = MappingOnly().translate(LibraryRefusedError("no"))
    assert type(mapped) is TransportConnectError
    assert str(mapped) == "LibraryRefusedError: no"


def test_an_unknown_error_is_left_as_it_is() -> None:
    transport = MappingOnly()
    assert transport.translate(LibraryError("new")) is None
    with pytest.raises(LibraryError, match="new"), transport.mapped_errors():
        raise LibraryError("new")
    refined: list[TransportError | None] = []
    with (
        pytest.raises(LibraryError),
        transport.mapped_errors(lambda exc, mapped: refined.append(mapped)),
    ):
        raise LibraryError("refined to nothing")
    assert refined == [None]
    with transport.mapped_errors():
        pass  # no error: nothing


def test_without_ssl_or_the_guards_imported_the_map_still_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process that never started TLS, or never loaded the guards, has
    nothing of theirs in a chain: the map alone decides."""
    monkeypatch.delitem(sys.modules, "ssl")
    monkeypatch.delitem(sys.modules, "batchdelete.guards")
    transport = MappingOnly()
    assert type(transport.translate(LibraryConnectError("refused"))) is TransportConnectError
    assert transport.translate(caused_by(ProtocolViolationError("x"))) is None
