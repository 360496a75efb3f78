"""What the commands share (the client, the ids), and the commands that do
not talk to the API: `transports` and `serve`."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
from typing import Any, TextIO, TypeVar

from .._async_client import AsyncClient
from .._client import Client
from .._errors import ConfigurationError
from .._ids import check_batch_id, parse_batch_ids
from .._options import ConnectionOptions
from .._registry import list_transports
from .._spec import DEFAULT_BASE_URL, Timeout
from .._transport import is_loopback_host
from .._workflows import workspace_of
from ._exits import EXIT_OK, UsageError

__all__ = ["make_async_client", "make_client", "read_ids", "serve", "transports"]


def transports(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """Every transport, and what a client built here would use: the proxy
    (credentials masked) and the CA source, read from the environment as a
    client would read it (a problem there is reported, not fatal)."""
    infos = list_transports()
    base_url = os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
    try:
        connection: dict[str, Any] | None = ConnectionOptions().describe(base_url)
        problem = None
    except ConfigurationError as exc:
        connection, problem = None, str(exc)
    if args.json:
        rows = [
            {
                "name": i.name,
                "available": i.available,
                "version": i.version,
                "module": i.module,
                "builtin": i.builtin,
                "reason": i.reason,
                "install": i.install,
                "takes_options": i.takes_options,
                "asynchronous": i.asynchronous,
                "connection": connection if i.takes_options else None,
                "connection_error": problem if i.takes_options else None,
            }
            for i in infos
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK
    for i in infos:
        state = f"{i.version or '?'}" if i.available else "unavailable"
        note = "" if i.available else f"  {i.reason}" + (f"; {i.install}" if i.install else "")
        kind = "async" if i.asynchronous else "sync"
        out.write(f"{i.name:<12} {kind:<6} {state:<12} {i.module}{note}\n")
    if connection is not None:
        proxy = connection["proxy"] or "none (direct)"
        out.write(
            f"\nFor {base_url}: proxy {proxy}; CA {connection['ca'] or connection['ca_source']}; "
            f"{connection['max_connections']} connections per origin.\n"
        )
    elif problem is not None:
        err.write(f"batchdelete: warning: {problem}\n")
    return EXIT_OK


def _listen_error(exc: OSError, host: str, port: int) -> ConfigurationError:
    if exc.errno == errno.EADDRINUSE:
        return ConfigurationError(
            f"Port {port} on {host} is in use: pick another with --port N, "
            "or use --port 0 for a free one."
        )
    return ConfigurationError(
        f"Cannot listen on {host} port {port} ({exc.strerror or exc}): check --host "
        "and --port (--port 0 picks a free port)."
    )


def serve(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    from ..emulator import DEFAULT_API_KEY, Emulator

    if args.burst is not None and args.requests_per_minute is None:
        raise ConfigurationError(
            "--burst limits bursts of a rate limit: add --requests-per-minute."
        )
    try:
        api = Emulator(
            host=args.host,
            port=args.port,
            api_key=args.api_key or DEFAULT_API_KEY,
            processing_time=args.processing_time,
            cancel_time=args.cancel_time,
            seed=args.seed if args.seed else None,
            requests_per_minute=args.requests_per_minute,
            burst=args.burst,
        )
    except OSError as exc:
        raise _listen_error(exc, args.host, args.port) from None
    for i in range(args.seed):
        status = "in_progress" if i % 3 == 2 else "ended"
        api.add_batch(status, requests=1 + i % 5, age=3600.0 * (args.seed - i))
    key = "the one given with --api-key" if args.api_key else DEFAULT_API_KEY
    out.write(
        f"batchdelete emulator listening on {api.base_url} "
        f"({args.seed} batches seeded). Ctrl-C stops it.\n"
        f"  export ANTHROPIC_BASE_URL={api.base_url}\n"
        f"  API key: {key}\n"
        "  # for other clients, keep proxies off local traffic (batchdelete's own\n"
        "  # clients already bypass proxies for loopback):\n"
        "  export NO_PROXY=127.0.0.1,localhost\n"
    )
    if args.requests_per_minute is not None:
        out.write(
            f"  rate limit: {args.requests_per_minute} requests per minute per API key"
            f"{'' if args.burst is None else f', bursts of {args.burst}'} "
            "(429 with retry-after over it)\n"
        )
    out.flush()
    if not is_loopback_host(args.host):
        err.write(
            f"batchdelete: warning: listening on {args.host}, not loopback: other "
            "machines can reach this emulator (plain HTTP, no TLS).\n"
        )
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        out.write("emulator stopped.\n")
    return EXIT_OK


def _client_args(args: argparse.Namespace) -> dict[str, Any]:
    timeout = Timeout()
    if args.timeout is not None:
        timeout = Timeout(connect=args.timeout, read=args.timeout)
    if args.deadline is not None:
        timeout = timeout.replace(deadline=args.deadline)
    return {
        "base_url": args.base_url,
        "api_version": args.api_version,
        "transport": args.transport,
        "timeout": timeout,
        "max_retries": args.max_retries,
        "workspace_id": args.workspace,
    }


#: -v's lines (the "batchdelete" logger's handler writes them on stderr).
log = logging.getLogger("batchdelete.cli")

C = TypeVar("C", Client, AsyncClient)


def _said(client: C) -> C:
    """With -v, one line: which step of the credential chain supplied the
    credential (its source, never its value), and the workspace named."""
    workspace = workspace_of(client)
    named = "" if workspace is None else f"; workspace: {workspace}"
    log.debug("credentials: %s%s", client.credential_source, named)
    return client


def make_client(args: argparse.Namespace) -> Client:
    """The client the connection options describe (credentials: environment only)."""
    return _said(Client(**_client_args(args)))


def make_async_client(args: argparse.Namespace) -> AsyncClient:
    """The same, async (--async): --transport names an async transport."""
    return _said(AsyncClient(**_client_args(args)))


def _read_text(path: str, stdin: TextIO) -> tuple[str, str]:
    """(text, its name for messages) of a file, or of standard input for "-"."""
    source = "standard input" if path == "-" else path
    try:
        if path == "-":
            binary = getattr(stdin, "buffer", None)
            text = binary.read().decode("utf-8") if binary is not None else stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"Cannot read ids from {source}: {exc}. Give a readable UTF-8 text file."
        ) from None
    return text, source


def read_ids(args: argparse.Namespace, stdin: TextIO) -> list[str]:
    """Every id from the arguments (each stripped) and --from-file, checked,
    each once, in order. A bad id raises `InvalidBatchIdError` naming it
    (and its line, in a file); no id at all is a `UsageError`."""
    ids = [check_batch_id(raw.strip()) for raw in args.ids]
    if args.from_file:
        text, source = _read_text(args.from_file, stdin)
        ids += parse_batch_ids(text, source=source)
    if not ids:
        raise UsageError(
            "no batch ids given: pass them as arguments, or with --from-file PATH "
            "('-' for standard input)",
            prog=f"batchdelete {args.command}",
        )
    return list(dict.fromkeys(ids))
