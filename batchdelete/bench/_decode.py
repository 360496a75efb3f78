"""Decoding a delete response: ours against the usual alternatives, in-process."""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from ._clients import installed, not_installed
from ._server import BODY

__all__ = ["decoders", "run"]

Decode = Callable[[bytes], object]


class BareDeleted(msgspec.Struct):
    id: str
    type: str


@dataclasses.dataclass(frozen=True)
class CheckedDeleted:
    id: str
    type: str

    @classmethod
    def from_json(cls, body: bytes) -> CheckedDeleted:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError("id")
        if data.get("type") != "message_batch_deleted":
            raise ValueError("type")
        return cls(data["id"], data["type"])


def decoders() -> tuple[dict[str, Decode], dict[str, str]]:
    """(name -> decode function, name -> why it was skipped)."""
    from .._models import DECODERS, DeletedMessageBatch

    found: dict[str, Decode] = {
        # What Client._request calls: the module-level decoder of the model.
        "batchdelete": DECODERS[DeletedMessageBatch].decode,
        "bare msgspec Decoder": msgspec.json.Decoder(BareDeleted).decode,
        "json.loads + dataclass": CheckedDeleted.from_json,
    }
    skipped: dict[str, str] = {}
    if installed("orjson"):
        import orjson

        found["orjson + dict"] = orjson.loads
    else:
        skipped["orjson + dict"] = not_installed("orjson")
    if installed("pydantic"):
        import pydantic

        class PydanticDeleted(pydantic.BaseModel):
            id: str
            type: Literal["message_batch_deleted"]

        found["pydantic v2"] = PydanticDeleted.model_validate_json
    else:
        skipped["pydantic v2"] = not_installed("pydantic")
    if installed("anthropic"):
        from anthropic._models import construct_type
        from anthropic.types.messages import DeletedMessageBatch as SDKDeleted

        def sdk(body: bytes) -> Any:  # the SDK: response.json(), then construct_type
            return construct_type(type_=SDKDeleted, value=json.loads(body))

        found["anthropic SDK"] = sdk
    else:
        skipped["anthropic SDK"] = not_installed("anthropic")
    return found, skipped


def run(rounds: int, n: int) -> dict[str, Any]:
    found, skipped = decoders()
    for decode in found.values():  # every one accepts the body
        decode(BODY)
    per_round: dict[str, list[float]] = {name: [] for name in found}
    ratios: dict[str, list[float]] = {name: [] for name in found}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, decode in found.items():
            start = clock()
            for _ in range(n):
                decode(BODY)
            per_round[name].append((clock() - start) / n)
        bare = per_round["bare msgspec Decoder"][-1]
        for name in found:
            ratios[name].append(per_round[name][-1] / bare)
    return {
        "body_bytes": len(BODY),
        "results": {
            name: {
                "ns": statistics.median(per_round[name]),
                "ratio_to_bare": statistics.median(ratios[name]),
            }
            for name in found
        },
        "skipped": skipped,
    }
