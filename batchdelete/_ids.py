"""What counts as a batch id where a person or a list supplies one.

The SDK-shaped calls (`Client.delete`, `client.messages.batches.*`) send any
id the wire contract can encode, as the official SDK does. The workflows
(`delete_batch`, `delete_many`, prune) and the command line accept only
`BATCH_ID_PATTERN`, checked here and nowhere else, before any request: a
slip (a stray space, a BOM, two ids pasted as one) is refused, never sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NoReturn

from ._errors import ConfigurationError

__all__ = [
    "BATCH_ID_PATTERN",
    "InvalidBatchIdError",
    "check_batch_id",
    "check_batch_ids",
    "parse_batch_ids",
]

#: A Message Batch id: `msgbatch_` then one or more ASCII letters or digits.
BATCH_ID_PATTERN = r"msgbatch_[A-Za-z0-9]+"
_BATCH_ID = re.compile(BATCH_ID_PATTERN, re.ASCII)
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
