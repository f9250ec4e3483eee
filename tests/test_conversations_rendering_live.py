"""Live markdown: each top-level block is rendered once, as it closes, while the reply streams;
the page after the stream is exactly what streamed."""

import json
import random

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from conversations import services
from conversations.models import ContentBlock
from conversations.rendering import LiveMarkdown, render_markdown_blocks
from conversations.reply import generation
from conversations.routing import websocket_urlpatterns
from fakes import Reply

REPLY = (
    "## Plan\n\nFirst **bold** and *soft* words.\n\n- one\n- two\n\n"
    "```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe end 😀.\n"
)


def test_feeding_the_text_in_any_pieces_renders_what_the_whole_text_renders():
    whole = render_markdown_blocks(REPLY)
    for seed in range(20):
        cuts = sorted(random.Random(seed).sample(range(1, len(REPLY)), 12)) + [len(REPLY)]
        live = LiveMarkdown()
        for cut in cuts:
            live.feed(REPLY[:cut])
        assert live.finish(REPLY) == whole
    assert "<h2>Plan</h2>" in whole and "<strong>bold</strong>" in whole and "<table>" in whole


def test_a_block_closes_only_when_the_next_starts_on_a_complete_line():
    live = LiveMarkdown()
    assert live.feed("para\n#") is None  # "#" may still become "#hashtag", part of the paragraph
    assert live.feed("para\n#hashtag\n") is None
    html, units = live.feed("para\n#hashtag\n\n# Heading\n")
    assert html == "<p>para<br>\n#hashtag</p>\n" and units == len("para\n#hashtag\n\n")


def test_the_utf16_length_counts_what_the_browser_counts():
    live = LiveMarkdown()
    _, units = live.feed("😀 x\n\nnext\n")
    assert units == len("😀 x\n\n") + 1  # the emoji is two UTF-16 code units


@pytest.mark.django_db(transaction=True)
async def test_closed_blocks_arrive_rendered_mid_stream_and_equal_the_stored_page(fake_api, alice):
    fake_api.enqueue(Reply(REPLY, tokens_per_second=200))
    conversation, reply = await sync_to_async(services.conversation_start)(user=alice, text="Hi", model="m")
    ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/c/{conversation.pk}/")
    ws.scope["user"] = alice
    assert (await ws.connect())[0]
    generation.start(reply.pk)
    frames = []
    while not frames or frames[-1][0] != "e":
        frames.append(json.loads(await ws.receive_from(timeout=10)))
    await ws.disconnect()

    rendered = [f for f in frames if f[0] == "m"]
    assert [f[4].split(">")[0] + ">" for f in rendered] == ["<h2>", "<p>", "<ul>", "<pre>", "<table>"]
    end = next(i for i, f in enumerate(frames) if f[0] == "c")
    assert all(frames.index(f) < end for f in rendered), "rendered while streaming, before the block ended"
    stored = await ContentBlock.objects.aget(message=reply, index=0)
    assert stored.rendered == "".join(f[4] for f in rendered) + "<p>The end 😀.</p>\n"
    assert stored.rendered == render_markdown_blocks(REPLY)
