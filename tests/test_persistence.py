"""What the database sees while a reply streams: few writes, regular checkpoints, crash recovery."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from conversations import generation, services
from conversations.models import ContentBlock, Message
from tests.fakes import Reply

pytestmark = pytest.mark.django_db(transaction=True)

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def write_log(monkeypatch):
    """Every INSERT/UPDATE/DELETE any thread sends to the database."""
    statements: list[str] = []
    original = CursorWrapper.execute

    def execute(self, sql, params=None):
        if sql.lstrip().upper().startswith(WRITES):
            statements.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", execute)
    return statements


async def test_a_1000_token_reply_costs_blocks_plus_one_plus_checkpoints(
    fake_api, alice, settings, write_log
):
    assert settings.CHAT_CHECKPOINT_INTERVAL == 2.0  # the default, so the printed figure is the real one
    text = "".join(f"t{i} " for i in range(1000))
    fake_api.enqueue(Reply(text, tokens_per_second=300))  # about 3.3 s of streaming
    _, reply = await sync_to_async(services.conversation_start)(user=alice, text="Go", model="m")
    generation.ensure_sweeper()  # the process-wide orphan sweep is not part of the reply's cost
    await asyncio.sleep(0.1)
    write_log.clear()
    started = asyncio.get_running_loop().time()
    generation.start(reply.pk)
    await generation.wait_all()
    seconds = asyncio.get_running_loop().time() - started

    reply = await Message.objects.aget(pk=reply.pk)
    assert reply.status == "complete" and reply.output_tokens == 1000
    blocks = 1
    # A checkpoint is at most two statements (the partial block, the heartbeat).
    allowed = blocks + 1 + 2 * (int(seconds / settings.CHAT_CHECKPOINT_INTERVAL) + 1)
    print(f"\n1,000-token reply: {len(write_log)} write statements in {seconds:.2f} s")
    assert 2 <= len(write_log) <= allowed, write_log


async def test_partial_text_is_checkpointed_while_streaming(fake_api, alice, settings):
    settings.CHAT_CHECKPOINT_INTERVAL = 0.2
    text = " ".join(f"w{i}" for i in range(100))
    fake_api.enqueue(Reply(text, tokens_per_second=100))
    _, reply = await sync_to_async(services.conversation_start)(user=alice, text="Go", model="m")
    generation.start(reply.pk)
    await asyncio.sleep(0.6)
    block = await ContentBlock.objects.aget(message_id=reply.pk, index=0)
    stored = await Message.objects.aget(pk=reply.pk)
    assert stored.status == "streaming" and stored.worker == generation.WORKER_ID
    assert block.payload["text"] and text.startswith(block.payload["text"]) and block.payload["text"] != text
    await generation.wait_all()


def test_replies_orphaned_by_a_dead_worker_become_interrupted_with_their_text(alice, settings):
    settings.CHAT_ORPHAN_AFTER = 15
    _, orphan = services.conversation_start(user=alice, text="one", model="m")
    _, alive = services.conversation_start(user=alice, text="two", model="m")
    ContentBlock.objects.create(
        message=orphan, index=0, type="text", payload={"type": "text", "text": "half"}
    )
    Message.objects.filter(pk=orphan.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=60))

    assert services.orphaned_replies_interrupt() == 1
    orphan.refresh_from_db()
    alive.refresh_from_db()
    assert orphan.status == "interrupted" and "stopped while this reply was streaming" in orphan.error
    assert orphan.blocks.get().payload["text"] == "half"
    assert alive.status == "streaming"
