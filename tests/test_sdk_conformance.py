"""The emulator, driven by a client nobody here wrote: the official SDK."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from batchdelete.emulator import Emulator


def _requests(n: int) -> list[dict[str, object]]:
    return [
        {
            "custom_id": f"req-{i}",
            "params": {
                "model": "claude-emulated",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": "hello"}],
            },
        }
        for i in range(n)
    ]


@pytest.fixture
def sdk(batch_emulator: Emulator) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(
        api_key=batch_emulator.api_key, base_url=batch_emulator.base_url, max_retries=0
    )
    yield client
    client.close()


@pytest.mark.parametrize("beta", [False, True], ids=["ga", "beta"])
def test_full_lifecycle_through_the_sdk(
    batch_emulator: Emulator, sdk: anthropic.Anthropic, beta: bool
) -> None:
    batches = sdk.beta.messages.batches if beta else sdk.messages.batches
    created = [batches.create(requests=_requests(i + 1)) for i in range(5)]  # type: ignore[arg-type]
    for i, batch in enumerate(created):
        assert batch.processing_status == "in_progress"
        assert batch.request_counts.processing == i + 1
        assert batch.type == "message_batch"

    listed = [b.id for b in batches.list(limit=2)]  # auto-pagination over 3 pages
    assert listed == [b.id for b in reversed(created)]
    page = batches.list(limit=2)
    assert page.has_more and page.last_id == created[3].id

    got = batches.retrieve(created[0].id)
    assert got.id == created[0].id and got.expires_at > got.created_at

    canceled = batches.cancel(created[0].id)
    assert canceled.processing_status == "canceling"
    assert canceled.cancel_initiated_at is not None

    with pytest.raises(anthropic.BadRequestError) as info:
        batches.delete(created[1].id)  # still in progress
    assert "cancel" in str(info.value)

    ended = batches.retrieve(created[0].id)
    assert ended.processing_status == "ended" and ended.request_counts.canceled == 1
    assert ended.results_url is not None

    deleted = batches.delete(created[0].id)
    assert deleted.id == created[0].id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        batches.retrieve(created[0].id)

    batch_emulator.clock.advance(3600)  # the rest finish processing
    for batch in created[1:]:
        done = batches.retrieve(batch.id)
        assert done.processing_status == "ended" and done.request_counts.succeeded >= 1
        assert batches.delete(batch.id).id == batch.id
    assert list(batches.list()) == []


def test_sdk_errors_parse(batch_emulator: Emulator) -> None:
    wrong = anthropic.Anthropic(api_key="wrong", base_url=batch_emulator.base_url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        wrong.messages.batches.list()
    assert info.value.status_code == 401
    assert info.value.request_id is not None and info.value.request_id.startswith("req_")
    wrong.close()
