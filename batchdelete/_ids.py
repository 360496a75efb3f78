"""What counts as a batch id (and a workspace id) where a person or a list
supplies one.

The SDK-shaped calls (`Client.delete`, `client.messages.batches.*`) send any
id the wire contract can encode, as the official SDK does. The workflows
(`delete_batch`, `delete_many`, prune) and the command line accept only
`BATCH_ID_PATTERN`, checked here and nowhere else, before any request: a
slip (a stray space, a BOM, two ids pasted as one) is refused, never sent.

Likewise a workspace the tool layer is given (`--workspace`, or a client's
`workspace_id=` handed to the workflows) must match `WORKSPACE_ID_PATTERN`:
the SDK's literal "default" and anything else are refused before any
request (the SDK-shaped calls still send what they are given).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NoReturn

from ._errors import ConfigurationError

__all__ = [
    "BATCH_ID_PATTERN",
    "WORKSPACE_ID_PATTERN",
    "InvalidBatchIdError",
    "InvalidWorkspaceIdError",
    "check_batch_id",
    "check_batch_ids",
    "check_workspace_id",
    "parse_batch_ids",
]

#: A Message Batch id: `msgbatch_` then one or more ASCII letters or digits.
BATCH_ID_PATTERN = r"msgbatch_[A-Za-z0-9]+"
_BATCH_ID = re.compile(BATCH_ID_PATTERN, re.ASCII)
#: A workspace id: `wrkspc_` then one or more ASCII letters or digits.
WORKSPACE_ID_PATTERN = r"wrkspc_[A-Za-z0-9]+"
_WORKSPACE_ID = re.compile(WORKSPACE_ID_PATTERN, re.ASCII)
# Separators in a list of ids: whitespace (any Unicode space) and commas.
_SEPARATORS = re.compile(r"[\s,]+")
_BOM = "\ufeff"


class InvalidBatchIdError(ConfigurationError):
    """A value that is not a batch id was given where only one is accepted.

    `batch_id` is the offending value; `line` its line number when it came
    from a file (1-based), else None.
    """

    def __init__(self, message: str, *, batch_id: object, line: int | None = None) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.line = line


class InvalidWorkspaceIdError(ConfigurationError):
    """A value that is not a workspace id was given where only one is
    accepted; `workspace_id` is the offending value."""

    def __init__(self, message: str, *, workspace_id: object) -> None:
        super().__init__(message)
        self.workspace_id = workspace_id


def check_workspace_id(value: object) -> str:
    """`value` if it is a workspace id (`WORKSPACE_ID_PATTERN`); else
    `InvalidWorkspaceIdError` (a `ConfigurationError`)."""
    if isinstance(value, str) and _WORKSPACE_ID.fullmatch(value):
        return value
    shown = repr(value) if isinstance(value, str) else f"a {type(value).__name__}"
    hint = " (the default workspace too is named by its id here)" if value == "default" else ""
    raise InvalidWorkspaceIdError(
        f"{shown} is not a workspace id: a workspace id is 'wrkspc_' followed by "
        f"letters and digits, such as wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ{hint}.",
        workspace_id=value,
    )


def _refuse(value: object, line: int | None = None, source: str | None = None) -> NoReturn:
    where = ""
    if line is not None:
        where = f" on line {line}" + (f" of {source}" if source else "")
    if not isinstance(value, str):
        raise InvalidBatchIdError(
            f"A batch id must be a str, got {type(value).__name__}{where}.",
            batch_id=value,
            line=line,
        )
    raise InvalidBatchIdError(
        f"{value!r}{where} is not a Message Batch id: an id is 'msgbatch_' followed "
        "by letters and digits, such as msgbatch_013Zva2CMHLNnXjNJJKqJ2EF.",
        batch_id=value,
        line=line,
    )


def check_batch_id(value: object) -> str:
    """`value` if it is a batch id; else `InvalidBatchIdError` (a ValueError)."""
    if isinstance(value, str) and _BATCH_ID.fullmatch(value):
        return value
    _refuse(value)


def check_batch_ids(values: Iterable[str]) -> list[str]:
    """Every id checked, each once, in their first order.

    A `str` or `bytes` is refused with `TypeError`: iterating it would treat
    each character as an id.
    """
    if isinstance(values, (str, bytes, bytearray)):
        kind = type(values).__name__
        raise TypeError(
            f"batch_ids must be a list (or other iterable) of ids, not a {kind}; "
            f"for one batch, pass [batch_id] (or call delete_batch)."
        )
    return list(dict.fromkeys(check_batch_id(v) for v in values))


def parse_batch_ids(text: str, *, source: str | None = None) -> list[str]:
    """The ids in a text listing them, each once, in order.

    Ids are separated by whitespace, commas or newlines; blank lines are
    skipped, and a `#` at the start of a line or after a separator starts a
    comment to the end of the line. A leading UTF-8 byte order mark is
    dropped. Any other token is refused with `InvalidBatchIdError` naming
    its line (and `source`, such as a file name).
    """
    if text.startswith(_BOM):
        text = text[1:]
    ids: dict[str, None] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        for token in _SEPARATORS.split(line):
            if token.startswith("#"):
                break
            if not token:
                continue
            if not _BATCH_ID.fullmatch(token):
                _refuse(token, number, source)
            ids.setdefault(token, None)
    return list(ids)
