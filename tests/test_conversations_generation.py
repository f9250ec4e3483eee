"""One reply run: streaming, coalesced frames, snapshots, errors, stop, retry, stop reasons, the
tool-use loop, and what the database sees while a reply streams. Faults (retried 529s, mid-stream
failures, a closed tab, ...) are in tests/test_faults.py."""

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.db.backends.utils import CursorWrapper

from conversations import services
from conversations.claude import attachment_files
from conversations.live import runtime
from conversations.models import ContentBlock, Message
from conversations.reply import generation
from fakes import Cut, HttpError, Reply
from tests.helpers import (
    LONG_TEXT,
    connect,
    eventually,
    frames_until_end,
    payloads,
    reload,
    run_reply,
    start_chat,
    stored_text,
    streamed_text,
)

pytestmark = pytest.mark.django_db(transaction=True)

WRITES = ("INSERT", "UPDATE", "DELETE")


# --- streaming ---------------------------------------------------------------------------------


async def test_frames_arrive_in_order_with_only_new_text_and_the_reply_is_stored(fake_api, alice):
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=300))
    conversation, reply = await start_chat(alice)
    ws = await connect(alice, conversation.pk)
    generation.start(reply)
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    assert [f[2] for f in frames] == list(range(1, len(frames) + 1)), "seq has a gap or repeats"
    assert frames[0] == [
        "b",
        reply.pk,
        1,
        0,
        "text",
        '<div class="block block-text markdown" data-index="0"><div class="streaming-text"></div></div>',
    ]
    deltas = [f[3] for f in frames if f[0] == "d"]
    assert "".join(deltas) == LONG_TEXT
    # Coalesced: 60 tokens over ~0.2 s must not become 60 frames.
    assert len(deltas) < 30
    assert [f[0] for f in frames[-2:]] == ["c", "e"]
    assert "word59" in frames[-2][4] and 'data-status="complete"' in frames[-1][3]

    reply = await reload(reply)
    assert reply.status == "complete" and reply.stop_reason == "end_turn"
    assert reply.request_id == fake_api.replies[-1].request_id
    assert reply.output_tokens == 60
    assert reply.input_tokens + reply.cache_creation_input_tokens + reply.cache_read_input_tokens > 0
    assert await stored_text(reply) == LONG_TEXT
    assert runtime.current().live_replies == {}


async def test_thinking_is_stored_with_its_signature(fake_api, alice):
    fake_api.enqueue(Reply("Answer", thinking="Pondering", thinking_signature="sig-123"))
    _, reply = await start_chat(alice)
    generation.start(reply)
    await generation.wait_all()
    payloads = [b.payload async for b in ContentBlock.objects.filter(message=reply).order_by("index")]
    assert payloads == [
        {"type": "thinking", "thinking": "Pondering", "signature": "sig-123"},
        {"type": "text", "text": "Answer"},
    ]


async def test_a_tab_joining_mid_stream_gets_a_snapshot_then_live_frames(fake_api, alice):
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=60))
    conversation, reply = await start_chat(alice)
    generation.start(reply)
    await eventually(lambda: streamed_text(reply), what="some text to stream with nobody watching")

    ws = await connect(alice, conversation.pk)
    await ws.send_json_to({"type": "resync", "message": reply.pk})
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    snapshot_at = next(i for i, f in enumerate(frames) if f[0] == "s")
    snapshot = frames[snapshot_at]
    snapshot_text = snapshot[3][0][2]
    assert snapshot_text and LONG_TEXT.startswith(snapshot_text) and snapshot_text != LONG_TEXT
    later = [f for f in frames[snapshot_at + 1 :] if f[2] > snapshot[2]]
    assert [f[2] for f in later] == list(range(snapshot[2] + 1, snapshot[2] + 1 + len(later)))
    assert snapshot_text + "".join(f[3] for f in later if f[0] == "d") == LONG_TEXT


async def test_stop_cancels_the_upstream_request_and_keeps_the_partial_text(fake_api, alice):
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=40))
    conversation, reply = await start_chat(alice)
    ws = await connect(alice, conversation.pk)
    generation.start(reply)
    while json.loads(await ws.receive_from(timeout=5))[0] != "d":
        pass
    await ws.send_json_to({"type": "stop", "message": reply.pk})
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    assert 'data-status="stopped"' in frames[-1][3]
    reply = await reload(reply)
    assert reply.status == "stopped"
    partial = await stored_text(reply)
    assert partial and LONG_TEXT.startswith(partial) and partial != LONG_TEXT
    # The fake server saw the client hang up and stopped sending: its stream falls silent (running,
    # it sends a word every 25 ms) before the whole text is out.
    sent = fake_api.replies[-1]
    await eventually(lambda: time.monotonic() - sent.delta_times[-1] > 0.2, what="the stream to fall silent")
    assert len(sent.text_sent) < len(LONG_TEXT)


async def test_a_stop_sent_as_soon_as_the_turn_shows_stops_the_reply(fake_api, alice, monkeypatch):
    """The tab sees the turn as soon as the send is accepted, before the run has loaded its reply
    (a thread hop, slow on a busy server): a Stop then is honoured, and no API call is made."""
    fake_api.enqueue(Reply(LONG_TEXT, tokens_per_second=40))
    conversation, reply = await start_chat(alice)
    ws = await connect(alice, conversation.pk)
    load = generation.ReplyRun._load

    def slow_load(run):
        asyncio.run_coroutine_threadsafe(ws.send_json_to({"type": "stop", "message": reply.pk}), loop)
        time.sleep(0.5)  # the stop frame is handled while the run still loads
        return load(run)

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(generation.ReplyRun, "_load", slow_load)
    generation.start(reply)
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    assert not [f for f in frames if f[0] == "x"]  # never "That reply is not streaming."
    assert 'data-status="stopped"' in frames[-1][3]
    assert (await reload(reply)).status == "stopped"
    assert fake_api.message_requests == []


# --- errors and retry --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (HttpError(401), "The API key is invalid"),
        (HttpError(400, message="messages: bad"), "rejected the request as invalid"),
        (HttpError(403), "not allowed"),
        (HttpError(404), "not found"),
        (HttpError(413), "too large"),
    ],
)
async def test_api_errors_become_a_clear_message_with_the_request_id(fake_api, alice, script, expected):
    script.request_id = "req_fake_error"
    fake_api.enqueue(script)
    conversation, reply = await start_chat(alice)
    ws = await connect(alice, conversation.pk)
    generation.start(reply)
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    reply = await reload(reply)
    assert reply.status == "error"
    assert expected in reply.error
    assert reply.request_id == "req_fake_error"
    html = frames[-1][3]
    assert "req_fake_error" in html and "Retry" in html and "Traceback" not in html


async def test_retry_reruns_a_failed_reply_in_place(fake_api, alice):
    fake_api.enqueue(Cut("half", after_deltas=1), Reply("whole answer"))
    _, reply = await start_chat(alice)
    generation.start(reply)
    await generation.wait_all()
    assert (await reload(reply)).status == "error"
    reply = await sync_to_async(services.reply_retry)(reply=await reload(reply))
    generation.start(reply)
    await generation.wait_all()
    reply = await reload(reply)
    assert reply.status == "complete" and reply.error == ""
    assert await stored_text(reply) == "whole answer"
    assert fake_api.message_requests[-1].body["messages"][-1]["role"] == "user"


# --- the tool-use loop -------------------------------------------------------------------------


def call(name="calculator", tool_input=None, tool_id="toolu_1") -> dict:
    return {"id": tool_id, "name": name, "input": {"expression": "6*7"} if tool_input is None else tool_input}


async def test_tool_use_then_result_then_text_with_usage_summed(fake_api, alice):
    fake_api.enqueue(
        Reply("Let me compute.", tool_use=call(), stop_reason="tool_use", output_tokens=10),
        Reply("The answer is 42.", output_tokens=5),
    )
    _, reply = await run_reply(alice)
    assert reply.status == "complete" and reply.stop_reason == "end_turn"
    assert await payloads(reply) == [
        {"type": "text", "text": "Let me compute."},
        {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expression": "6*7"}},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"},
        {"type": "text", "text": "The answer is 42."},
    ]
    second = fake_api.message_requests[1].body
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    assert second["messages"][2]["content"][0]["tool_use_id"] == "toolu_1"
    assert {t["name"] for t in second["tools"]} == {"calculator", "current_datetime", "search_conversations"}
    assert reply.output_tokens == 15  # both calls


@pytest.mark.parametrize(
    ("tool_call", "error"),
    [
        (call(name="no_such_tool"), "Unknown tool: no_such_tool"),
        (call(tool_input="{not json"), "Invalid input for calculator"),
        (call(tool_input={"expression": "1/0"}), "ZeroDivisionError"),
    ],
)
async def test_tool_errors_become_is_error_results_and_the_loop_goes_on(fake_api, alice, tool_call, error):
    fake_api.enqueue(Reply("", tool_use=tool_call, stop_reason="tool_use"), Reply("Sorry, that failed."))
    _, reply = await run_reply(alice)
    result = next(p for p in await payloads(reply) if p["type"] == "tool_result")
    assert result["is_error"] is True and error in result["content"]
    assert reply.status == "complete" and len(fake_api.message_requests) == 2


async def test_the_loop_stops_at_the_iteration_cap(fake_api, alice, settings):
    settings.CHAT_MAX_TOOL_ITERATIONS = 2
    for n in range(3):
        fake_api.enqueue(Reply("again", tool_use=call(tool_id=f"toolu_{n}"), stop_reason="tool_use"))
    _, reply = await run_reply(alice)
    assert reply.stop_reason == "max_iterations" and len(fake_api.message_requests) == 2
    assert reply.status == "complete"


async def test_tools_can_be_turned_off_and_the_local_model_gets_none(fake_api, alice, settings):
    conversation, _ = await run_reply(alice)
    assert "tools" in fake_api.message_requests[-1].body
    await sync_to_async(services.conversation_configure)(
        conversation=conversation, model="claude-sonnet-4-6", params={"tools": False}
    )
    _, reply = await sync_to_async(services.message_send)(conversation=conversation, text="again")
    generation.start(reply)
    await generation.wait_all()
    assert "tools" not in fake_api.message_requests[-1].body
    await run_reply(alice, model=settings.CHAT_LOCAL_MODEL_NAME)
    assert "tools" not in fake_api.message_requests[-1].body


# --- stop reasons ------------------------------------------------------------------------------


async def test_max_tokens_is_marked_cut_off_and_continue_resumes_it(fake_api, alice):
    fake_api.enqueue(Reply("The first half ", stop_reason="max_tokens"), Reply("and the second half."))
    conversation, reply = await run_reply(alice)
    assert reply.stop_reason == "max_tokens" and reply.status == "complete"
    reply = await sync_to_async(services.reply_continue)(reply=reply)
    generation.start(reply)
    await generation.wait_all()
    prefill = fake_api.message_requests[-1].body["messages"][-1]
    assert prefill == {"role": "assistant", "content": [{"type": "text", "text": "The first half"}]}
    reply = await Message.objects.aget(pk=reply.pk)
    assert reply.stop_reason == "end_turn"
    assert [p["text"] for p in await payloads(reply)] == ["The first half ", "and the second half."]


async def test_stop_sequence_is_recorded(fake_api, alice):
    fake_api.enqueue(Reply("Counting 1 2", stop_reason="stop_sequence", stop_sequence="3"))
    _, reply = await run_reply(alice)
    assert (reply.stop_reason, reply.stop_sequence) == ("stop_sequence", "3")


async def test_refusal_is_shown_and_never_retried(fake_api, alice):
    fake_api.enqueue(Reply("", stop_reason="refusal"))
    _, reply = await run_reply(alice)
    assert reply.stop_reason == "refusal" and reply.status == "complete"
    assert len(fake_api.message_requests) == 1


async def test_pause_turn_is_resent_automatically(fake_api, alice):
    fake_api.enqueue(Reply("Working on it. ", stop_reason="pause_turn"), Reply("Done."))
    _, reply = await run_reply(alice)
    assert len(fake_api.message_requests) == 2 and reply.stop_reason == "end_turn"
    assert fake_api.message_requests[1].body["messages"][-1]["role"] == "assistant"


async def test_thinking_signature_is_replayed_in_the_next_turn(fake_api, alice):
    fake_api.enqueue(Reply("Answer", thinking="Pondering", thinking_signature="sig-XYZ"), Reply("Second"))
    conversation, _ = await run_reply(alice)
    _, second = await sync_to_async(services.message_send)(conversation=conversation, text="and?")
    generation.start(second)
    await generation.wait_all()
    replayed = fake_api.message_requests[-1].body["messages"][1]["content"][0]
    assert replayed == {"type": "thinking", "thinking": "Pondering", "signature": "sig-XYZ"}


# --- database writes ---------------------------------------------------------------------------


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
    fake_api, alice, settings, write_log, monkeypatch
):
    assert settings.CHAT_CHECKPOINT_INTERVAL == 2.0  # the default, so the printed figure is the real one
    text = "".join(f"t{i} " for i in range(1000))
    fake_api.enqueue(Reply(text, tokens_per_second=300))  # about 3.3 s of streaming
    _, reply = await sync_to_async(services.conversation_start)(user=alice, text="Go", model="m")
    # The process-wide orphan sweep is not part of the reply's cost: its first pass ends first.
    swept = asyncio.Event()
    remote_deletions_run = attachment_files.remote_deletions_run

    async def last_step_of_the_sweep():
        try:
            return await remote_deletions_run()
        finally:
            swept.set()

    monkeypatch.setattr(attachment_files, "remote_deletions_run", last_step_of_the_sweep)
    generation.ensure_sweeper()
    await asyncio.wait_for(swept.wait(), 10)
    write_log.clear()
    started = asyncio.get_running_loop().time()
    generation.start(reply)
    await generation.wait_all()
    seconds = asyncio.get_running_loop().time() - started

    reply = await Message.objects.aget(pk=reply.pk)
    assert reply.status == "complete" and reply.output_tokens == 1000
    blocks = 1
    # A checkpoint is at most two statements (the partial block, the heartbeat).
    allowed = blocks + 1 + 2 * (int(seconds / settings.CHAT_CHECKPOINT_INTERVAL) + 1)
    print(f"\n1,000-token reply: {len(write_log)} write statements in {seconds:.2f} s")
    assert 2 <= len(write_log) <= allowed, write_log


async def test_replies_streaming_at_once_are_checkpointed_together_and_end_complete(
    fake_api, alice, settings, monkeypatch
):
    """One transaction per checkpoint interval for every reply streaming here, not one per reply;
    and no checkpoint lands after a reply's final write (its stored text is the whole reply)."""
    settings.CHAT_CHECKPOINT_INTERVAL = 0.1
    batches: list[list[int]] = []
    checkpoint = services.replies_checkpoint

    def recorded(**kwargs):
        batches.append(sorted(kwargs["message_ids"]))
        return checkpoint(**kwargs)

    monkeypatch.setattr(services, "replies_checkpoint", recorded)
    texts = [" ".join(f"{name}{i}" for i in range(60)) for name in ("a", "b", "c")]
    replies = []
    for text in texts:
        fake_api.enqueue(Reply(text, tokens_per_second=100))
        _, reply = await sync_to_async(services.conversation_start)(user=alice, text="Go", model="m")
        replies.append(reply.pk)
    for pk in replies:
        generation.start(await Message.objects.aget(pk=pk))
    await generation.wait_all()

    assert sorted(replies) in batches, batches  # all three in one transaction
    assert len(batches) < 3 * 7  # about 0.6 s of streaming each: far fewer than one per reply per tick
    stored = [(await ContentBlock.objects.aget(message_id=pk, index=0)).payload["text"] for pk in replies]
    assert sorted(stored) == sorted(texts)  # which reply got which text is the fake's order
    assert {m.status async for m in Message.objects.filter(pk__in=replies)} == {"complete"}


async def test_a_reply_deleted_mid_stream_does_not_cost_the_others_their_checkpoint(alice):
    """One transaction for all; if it fails, each reply on its own."""
    _, kept = await sync_to_async(services.conversation_start)(user=alice, text="Go", model="m")
    _, gone = await sync_to_async(services.conversation_start)(user=alice, text="Go", model="m")
    await Message.objects.filter(pk=gone.pk).adelete()
    await Message.objects.filter(pk=kept.pk).aupdate(worker="")
    await sync_to_async(services.replies_checkpoint)(
        message_ids=[gone.pk, kept.pk],
        partial=[
            (gone.pk, 0, {"type": "text", "text": "Lost"}),
            (kept.pk, 0, {"type": "text", "text": "Kept"}),
        ],
        worker="w1",
    )
    assert (await Message.objects.aget(pk=kept.pk)).worker == "w1"
    assert (await ContentBlock.objects.aget(message_id=kept.pk, index=0)).payload["text"] == "Kept"
    assert not await ContentBlock.objects.filter(message_id=gone.pk).aexists()


async def test_partial_text_is_checkpointed_while_streaming(fake_api, alice, settings):
    settings.CHAT_CHECKPOINT_INTERVAL = 0.2
    text = " ".join(f"w{i}" for i in range(100))
    fake_api.enqueue(Reply(text, tokens_per_second=100))
    _, reply = await sync_to_async(services.conversation_start)(user=alice, text="Go", model="m")
    generation.start(reply)

    async def checkpointed() -> ContentBlock | None:
        block = await ContentBlock.objects.filter(message_id=reply.pk, index=0).afirst()
        return block if block and block.payload["text"] else None

    block = await eventually(checkpointed, what="a checkpoint of the text so far")
    stored = await Message.objects.aget(pk=reply.pk)
    assert stored.status == "streaming" and stored.worker == generation.WORKER_ID
    assert block.payload["text"] and text.startswith(block.payload["text"]) and block.payload["text"] != text
    await generation.wait_all()
