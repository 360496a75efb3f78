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
from .._ids import InvalidBatchIdError, InvalidWorkspaceIdError
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

#: Every exit code: (code, a word for --help, the meaning as the README's
#: table says it). The parser's epilog is built from it, and a test checks
#: the README's table against it.
EXIT_CODES: tuple[tuple[int, str, str], ...] = (
    (
        EXIT_OK,
        "done",
        "done: every batch was deleted (or, with `--missing-ok`, was already gone)",
    ),
    (EXIT_INTERNAL, "internal error", "unexpected internal error (a bug: please report it)"),
    (
        EXIT_USAGE,
        "usage",
        "bad command-line usage: an unknown flag or bad value, no ids, an invalid id; for "
        "`bench`, an option this installation cannot honour (`--plot` without matplotlib, "
        "`--tls` without cryptography) or a real-endpoint run refused (no `--yes-real-api`, "
        "more than 200 requests)",
    ),
    (
        EXIT_CONFIG,
        "configuration",
        "configuration error: credentials (none, or empty), transport, base URL, CA file, "
        "date or duration, the batches route missing under `--missing-ok`, a port in use "
        "for `serve`, a journal or report file that cannot be read or written; for `bench`, "
        "an output file that cannot be written or no proxy for `--through-proxy`",
    ),
    (
        EXIT_NOT_FOUND,
        "not found",
        "not found (unknown or already deleted; or no batches route when listing)",
    ),
    (
        EXIT_REFUSED,
        "refused",
        "refused by the API: other 4xx (authentication, permission, batch still running) "
        "or a redirect",
    ),
    (EXIT_SERVER, "server error", "server-side failure after retries: 429, 5xx"),
    (
        EXIT_CONNECTION,
        "connection/timeout/TLS",
        "connection failure, timeout or TLS certificate failure (after retries; a "
        "certificate is not retried), or a `--force` wait that ran out",
    ),
    (EXIT_INVALID_RESPONSE, "bad response", "the API answered 2xx with an unexpected body"),
    (
        EXIT_INTERRUPTED,
        "interrupted",
        "interrupted (Ctrl-C); stderr says which batches were done",
    ),
)


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


#: The exit code of each kind of error, the first match winning: the order
#: matters (an InvalidBatchIdError is a ConfigurationError, a RateLimitError
#: an APIStatusError). Anything else is EXIT_INTERNAL.
_CODE_OF: tuple[tuple[tuple[type[BaseException], ...], int], ...] = (
    ((UsageError, InvalidBatchIdError, InvalidWorkspaceIdError), EXIT_USAGE),
    ((ConfigurationError,), EXIT_CONFIG),
    ((StoppedError,), EXIT_INTERRUPTED),
    ((NotFoundError,), EXIT_NOT_FOUND),
    ((RateLimitError, InternalServerError), EXIT_SERVER),
    ((APIStatusError,), EXIT_REFUSED),
    ((APIConnectionError, TransportError), EXIT_CONNECTION),
    ((APIResponseValidationError,), EXIT_INVALID_RESPONSE),
    ((KeyboardInterrupt,), EXIT_INTERRUPTED),
)


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for an error (a `StepError`'s is its
    error's)."""
    if isinstance(error, StepError):
        return exit_code_for(error.error)
    for kinds, code in _CODE_OF:
        if isinstance(error, kinds):
            return code
    return EXIT_INTERNAL
