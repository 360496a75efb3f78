"""What each command does; `batchdelete.cli` parses and dispatches."""

from __future__ import annotations

import argparse
import ipaddress
import json
import time
from datetime import datetime, timezone
from typing import Any, TextIO

from .._client import Client
from .._errors import ConfigurationError
from .._registry import list_transports
from .._spec import Timeout
from .._workflows import (
    Outcome,
    check_prune_filters,
    delete_many,
    parse_duration,
    parse_moment,
    select_for_prune,
)
from . import EXIT_INTERRUPTED, EXIT_OK, exit_code_for


def transports(args: argparse.Namespace, out: TextIO) -> int:
    infos = list_transports()
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
            }
            for i in infos
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK
    for i in infos:
        state = f"{i.version or '?'}" if i.available else "unavailable"
        note = "" if i.available else f"  {i.reason}" + (f"; {i.install}" if i.install else "")
        out.write(f"{i.name:<12} {state:<12} {i.module}{note}\n")
    return EXIT_OK


def serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..emulator import DEFAULT_API_KEY, Emulator

    api = Emulator(
        host=args.host,
        port=args.port,
        api_key=args.api_key or DEFAULT_API_KEY,
        processing_time=args.processing_time,
        cancel_time=args.cancel_time,
        seed=args.seed if args.seed else None,
    )
    for i in range(args.seed):
        status = "in_progress" if i % 3 == 2 else "ended"
        api.add_batch(status, requests=1 + i % 5, age=3600.0 * (args.seed - i))
    key = "the one given with --api-key" if args.api_key else DEFAULT_API_KEY
    out.write(
        f"batchdelete emulator listening on {api.base_url} "
        f"({args.seed} batches seeded). Ctrl-C stops it.\n"
        f"  export ANTHROPIC_BASE_URL={api.base_url}\n"
        f"  API key: {key}\n"
    )
    out.flush()
    if not _is_loopback(args.host):
        err.write(
            f"batchdelete: warning: listening on {args.host}, not loopback: other "
            "machines can reach this emulator (plain HTTP, no TLS).\n"
        )
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        out.write("emulator stopped.\n")
    return EXIT_OK


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _client(args: argparse.Namespace) -> Client:
    timeout = Timeout()
    if args.timeout is not None:
        timeout = Timeout(connect=args.timeout, read=args.timeout)
    if args.deadline is not None:
        timeout = timeout.replace(deadline=args.deadline)
    return Client(
        base_url=args.base_url,
        api_version=args.api_version,
        transport=args.transport,
        timeout=timeout,
        max_retries=args.max_retries,
    )


def _read_ids(args: argparse.Namespace, stdin: TextIO) -> list[str]:
    ids = list(args.ids)
    if args.from_file:
        try:
            if args.from_file == "-":
                text = stdin.read()
            else:
                with open(args.from_file, encoding="utf-8") as f:
                    text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"Cannot read ids from {args.from_file}: {exc}.") from None
        for line in text.splitlines():
            batch_id = line.strip()
            if batch_id and not batch_id.startswith("#"):
                ids.append(batch_id)
    if not ids:
        raise ConfigurationError(
            "No batch ids given: pass them as arguments or with --from-file PATH (- for stdin)."
        )
    return ids


def work(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """`delete` and `prune`."""
    if args.command == "delete":
        ids = _read_ids(args, stdin)
        with _client(args) as client:
            return _run(client, ids, args, out, err, force=args.force, missing_ok=args.missing_ok)
    ended_before = parse_moment(args.ended_before) if args.ended_before else None
    older_than = parse_duration(args.older_than) if args.older_than else None
    check_prune_filters(ended_before, older_than)  # before any request
    with _client(args) as client:
        batches = list(client.list(limit=1000, betas=args.betas))
        matched, running = select_for_prune(
            batches,
            now=datetime.now(timezone.utc),
            ended_before=ended_before,
            older_than=older_than,
            include_running=args.include_running,
        )
        if running:
            err.write(
                f"batchdelete: {len(running)} running batch(es) match but are left alone; "
                "add --include-running to cancel and delete them.\n"
            )
        if not matched:
            out.write(f"No batch matches the filters ({len(batches)} batches looked at).\n")
            return EXIT_OK
        if not args.yes:
            for b in matched:
                ended = b.ended_at.isoformat() if b.ended_at else b.processing_status
                out.write(
                    f"would delete {b.id}  (created {b.created_at.isoformat()}, ended {ended})\n"
                )
            out.write(
                f"{len(matched)} of {len(batches)} batches match; nothing was deleted. "
                "Run again with --yes to delete them.\n"
            )
            return EXIT_OK
        ids = [b.id for b in matched]
        return _run(client, ids, args, out, err, force=args.include_running, missing_ok=True)


class Progress:
    """done/total, failures and rate on one line of a terminal; silent otherwise."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.on = total > 1 and stream.isatty()
        self.done = self.failed = 0
        self.started = time.monotonic()

    def clear(self) -> None:
        if self.on:
            self.stream.write("\r\x1b[K")

    def update(self, outcome: Outcome) -> None:
        self.done += 1
        self.failed += not outcome.ok
        if self.on:
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            self.stream.write(
                f"\r\x1b[K{self.done}/{self.total} done, {self.failed} failed, {rate:.1f}/s"
            )
            self.stream.flush()


def _json_row(o: Outcome, transport: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": o.id,
        "ok": o.ok,
        "status": o.status,
        "canceled": o.canceled,
        "attempts": o.attempts,
        "request_id": o.request_id,
        "elapsed_ms": round(o.elapsed * 1000, 3),
        "transport": transport,
    }
    if o.error is not None:
        row.update(
            error=type(o.error).__name__,
            message=str(o.error),
            status_code=getattr(o.error, "status_code", None),
            exit_code=exit_code_for(o.error),
        )
    return row


def _text_line(o: Outcome, transport: str) -> str:
    if o.status == "missing":
        return f"already gone {o.id}  (request id {o.request_id or '-'})\n"
    tries = "attempt" if o.attempts == 1 else "attempts"
    canceled = ", canceled first" if o.canceled else ""
    return (
        f"deleted {o.id}  ({transport}, {o.attempts} {tries}, {o.elapsed * 1000:.1f} ms, "
        f"request id {o.request_id or '-'}{canceled})\n"
    )


def _run(
    client: Client,
    ids: list[str],
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    force: bool,
    missing_ok: bool,
) -> int:
    transport = client.transport.name
    progress = Progress(err, len(ids))
    outcomes: list[Outcome] = []
    code = EXIT_OK

    def report(o: Outcome) -> None:
        nonlocal code
        outcomes.append(o)
        progress.clear()
        if args.json:
            out.write(json.dumps(_json_row(o, transport)) + "\n")
        elif o.ok:
            out.write(_text_line(o, transport))
        if o.error is not None:
            code = max(code, exit_code_for(o.error))
            if not args.json:
                err.write(f"batchdelete: {o.id}: {o.error}\n")
        out.flush()
        progress.update(o)

    started = time.monotonic()
    try:
        delete_many(
            client,
            ids,
            concurrency=args.concurrency,
            force=force,
            missing_ok=missing_ok,
            wait_timeout=args.wait_timeout,
            betas=args.betas,
            on_outcome=report,
        )
    except KeyboardInterrupt:
        progress.clear()
        finished = {o.id for o in outcomes}
        deleted = [o.id for o in outcomes if o.ok]
        left = [i for i in dict.fromkeys(ids) if i not in finished]
        err.write(
            f"batchdelete: interrupted. Done: {len(deleted)} "
            f"({', '.join(deleted) or 'none'}); failed: {len(outcomes) - len(deleted)}; "
            f"not done: {len(left)} ({', '.join(left[:20])}{' ...' if len(left) > 20 else ''}).\n"
        )
        return EXIT_INTERRUPTED
    progress.clear()
    if len(outcomes) > 1:
        n_deleted = sum(o.status == "deleted" for o in outcomes)
        canceled = sum(o.canceled for o in outcomes)
        gone = sum(o.status == "missing" for o in outcomes)
        failed = sum(not o.ok for o in outcomes)
        err.write(
            f"{n_deleted} deleted ({canceled} after canceling), {gone} already gone, "
            f"{failed} failed, of {len(outcomes)} batches in "
            f"{time.monotonic() - started:.1f} s.\n"
        )
    return code
