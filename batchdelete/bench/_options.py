"""What a run measures (`Options`, `Settings`) and how its clients connect
(`Setup`, handed to every worker process)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "API_KEY",
    "BATCH",
    "NEVER_EXISTS",
    "PROXY_VARIABLES",
    "REAL_API_CAP",
    "SECTIONS",
    "Options",
    "Settings",
    "Setup",
]

#: Every section, in the order they run.
SECTIONS = ("decode", "latency", "layer", "throughput", "async", "coldstart", "pace")
#: The key the clients send to the local benchmark server (which ignores it).
API_KEY = "sk-ant-bench-0000"
#: The batch the local server answers for.
BATCH = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
#: A well-formed id no batch can have (ids are random): against a real
#: endpoint every delete of it is answered 404 and deletes nothing.
NEVER_EXISTS = "msgbatch_" + "0" * 24
#: At most this many requests against a real endpoint, in all.
REAL_API_CAP = 200
#: The proxy variables, removed from the workers' environment unless the
#: run goes through the proxy.
PROXY_VARIABLES = tuple(
    name
    for base in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    for name in (base, base.upper())
)


@dataclass(frozen=True)
class Options:
    """What the user asked for (the command line, checked)."""

    quick: bool = False
    sections: tuple[str, ...] = SECTIONS
    tls: bool = False
    through_proxy: bool = False
    #: A real endpoint (latency only, deletes of NEVER_EXISTS), or None: a
    #: server started for the run on 127.0.0.1.
    base_url: str | None = None
    #: Against base_url: counted requests per client (None: the default).
    requests: int | None = None
    #: Against base_url: at most this many requests a minute.
    rate: int = 50
    #: The command, as the results record it.
    label: str = "batchdelete bench"


class Settings:
    """How much each section measures (recorded as the results' parameters)."""

    def __init__(self, quick: bool) -> None:
        self.rounds = 3 if quick else 7
        self.requests = 150 if quick else 1500
        self.warmup = 30 if quick else 200
        self.pair_requests = 150 if quick else 1500
        self.throughput_workers = (1, 16, 64)
        self.throughput_requests = 2000 if not quick else 128  # per level, all workers
        self.cold_rounds = 1 if quick else 7
        self.decode_rounds = 3 if quick else 9
        self.decode_n = 2000 if quick else 50_000
        self.async_inflight = (1, 16, 64)
        self.async_requests = 150 if quick else 3000  # per measurement
        self.async_rounds = 2 if quick else 5  # the SDK's 3000 take ~10 s a level


@dataclass(frozen=True)
class Setup:
    """How every client of a run connects, sent to each worker process as
    JSON (in its arguments: never a credential, see `api_key`)."""

    url: str
    #: The key sent; None: ANTHROPIC_API_KEY from the environment (a real
    #: endpoint), so that no credential is ever in a process's arguments.
    api_key: str | None = API_KEY
    batch: str = BATCH
    #: The status every request must be answered with (404: a real endpoint).
    expect: int = 200
    #: The CA file the local server's certificate is signed by (--tls).
    ca: str | None = None
    #: A proxy every client is given explicitly (--through-proxy).
    proxy: str | None = None
    #: Retries of batchdelete's clients (0 against a real endpoint: the
    #: request count is exact).
    max_retries: int = 2

    @property
    def path(self) -> str:
        return "/v1/messages/batches/" + self.batch

    @property
    def key(self) -> str:
        return self.api_key if self.api_key is not None else os.environ["ANTHROPIC_API_KEY"]

    def headers(self) -> dict[str, str]:
        """The headers of the bare rows: those batchdelete sends."""
        return {
            "accept": "application/json",
            "anthropic-version": "2023-06-01",
            "x-api-key": self.key,
            "user-agent": "batchdelete-bench/1",
        }

    def client_args(self) -> dict[str, Any]:
        """Connection arguments of batchdelete's clients."""
        args: dict[str, Any] = {"base_url": self.url, "max_retries": self.max_retries}
        if self.api_key is not None:
            args["api_key"] = self.api_key
        if self.ca is not None:
            args["verify"] = self.ca
        if self.proxy is not None:
            args["proxy"] = self.proxy
        return args

    def ssl_context(self) -> Any:
        """A client TLS context trusting `ca` (None without one)."""
        if self.ca is None:
            return None
        import ssl

        return ssl.create_default_context(cafile=self.ca)

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str) -> Setup:
        return cls(**json.loads(text))
