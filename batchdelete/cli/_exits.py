"""The exit codes and the exceptions that end a command early."""

from __future__ import annotations

from .._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    BatchDeleteError,
    ConfigurationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    TransportError,
)
from .._ids import InvalidBatchIdError
from .._workflows import StoppedError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_NOT_FOUND = 4
EXIT_REFUSED = 5
EXIT_SERVER = 6
EXIT_CONNECTION = 7
EXIT_INVALID_RESPONSE = 8
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """The command line is wrong: exit 2. `prog` is the (sub)command's name,
    such as "batchdelete delete", for the hint to its --help."""

    def __init__(self, message: str, *, prog: str = "batchdelete") -> None:
        super().__init__(message)
        self.prog = prog


class StepError(Exception):
    """A step of a command (such as listing the batches) failed with `error`;
    reported as "<what>: <error>" (or as `message` when given) with the
    error's exit code."""

    def __init__(self, what: str, error: BatchDeleteError, message: str | None = None) -> None:
        super().__init__(message or f"{what}: {error}")
        self.what = what
        self.error = error


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for an error."""
    if isinstance(error, StepError):
        return exit_code_for(error.error)
    if isinstance(error, (UsageError, InvalidBatchIdError)):
        return EXIT_USAGE
    if isinstance(error, ConfigurationError):
        return EXIT_CONFIG
    if isinstance(error, StoppedError):
        return EXIT_INTERRUPTED
    if isinstance(error, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(error, (RateLimitError, InternalServerError)):
        return EXIT_SERVER
    if isinstance(error, APIStatusError):
        return EXIT_REFUSED
    if isinstance(error, (APIConnectionError, TransportError)):
        return EXIT_CONNECTION
    if isinstance(error, APIResponseValidationError):
        return EXIT_INVALID_RESPONSE
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_INTERNAL
