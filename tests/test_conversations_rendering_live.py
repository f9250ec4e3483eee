"""Live markdown: each top-level block is rendered once, as it closes, while the reply streams;
the open one is rendered too, with no syntax showing at any moment, and the page after the
stream is exactly what streamed."""

import html
import json
import random
import re

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from conversations import rendering, selectors, services
from conversations.live import realtime
from conversations.models import ContentBlock, Message
from conversations.rendering import LiveMarkdown, render_markdown, render_markdown_blocks
from conversations.reply import generation
from conversations.routing import websocket_urlpatterns
from fakes import Reply

REPLY = (
    "## Plan\n\nFirst **bold** and *soft* words.\n\n- one\n- two\n\n"
    "```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe end 😀.\n"
)
# What Claude writes: headings, emphasis, code spans, links, nested and numbered lists, a quote,
# an aligned table, a rule, a fence in a list. No character of it is markdown syntax in its prose.
RICH = (
    "# Overview\n\nHere is a **summary** of the `config` options, with a [link](https://example.com/docs) "
    "to the docs, and __strong__ words.\nNext line of the same paragraph with *emphasis* and ~~strike~~.\n\n"
    "1. First step: run `make test`\n2. Second **step** with [a link](https://x.org)\n3. Third\n\n"
    "> A quote with **bold** text\n\n"
    "| Name | Value | Note |\n|:-----|------:|:----:|\n| alpha | 1 | *x* |\n| beta | 22 | `y` |\n\n"
    "Some text, then a list:\n\n- item one\n  - nested **item**\n- item two\n\n---\n\n"
    "- a step with code:\n\n  ```sh\n  make run\n  ```\n\n"
    + "A long paragraph that goes on and on, with **some bold** words, a `span`, and more words. " * 6
    + "\n\nDone."
)
SYNTAX = re.compile(r"\*\*|__|~~|`|\]\(|\[|\]|(^|\n)\s*(#|[-*+] |\d+\. |>)|\||---|zqx")


def shown_text(html: str) -> str:
    """The words a reader sees, outside code (where syntax characters are what is meant)."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<pre>.*?</pre>|<code>.*?</code>", " ", html, flags=re.S))


def page_escape(text: str) -> str:
    """chat.js's escapeText: how the page appends the text of a frame that carries no HTML."""
    return html.escape(text, quote=False).replace("\xa0", "&nbsp;")


def page_before(before: str, keep: int, add: str) -> str:
    """chat.js: the first `keep` UTF-16 units of what the page had, then `add`."""
    return before.encode("utf-16-le")[: 2 * keep].decode("utf-16-le") + add


def page_frames(reply: str, step: int = 1, ends: list[int] | None = None):
    """Frames of `reply` every `step` characters (or at `ends`), put together as chat.js does:
    yields the frame's fields, then the closed blocks' HTML and the open block's, as the page
    shows them."""
    live, shown, before, line, after, seen = LiveMarkdown(), "", "", "", "", 0
    for end in ends or [*range(step, len(reply), step), len(reply)]:
        fields = live.frame(reply[:end])
        if fields:
            closed, new_line, *around = fields
            if closed:  # the open block as the page showed it, mostly, now final
                closed = page_before(before + line + after, *closed)
            shown, line = shown + closed, new_line
            if around:
                before, after = page_before(before, *around[:2]), around[2]
        else:  # the open line grew by the new text only
            line += page_escape(reply[seen:end])
        seen = end
        assert before + line + after == live.tail, f"the page differs after {reply[:end][-40:]!r}"
        yield fields, shown, before + line + after
    assert shown + live.tail == live.finish(reply) == render_markdown_blocks(reply)


@pytest.mark.parametrize("reply", [REPLY, RICH])
def test_no_markdown_syntax_shows_at_any_moment_and_the_last_frame_is_the_stored_html(reply):
    for end, (_, shown, tail) in enumerate(page_frames(reply), 1):  # a frame after every character
        if found := SYNTAX.search(shown_text(shown + tail)):
            pytest.fail(f"{found.group()!r} shows after {reply[:end][-40:]!r}: {shown_text(tail)[-80:]!r}")


@pytest.mark.parametrize("step", [1, 5])
def test_most_frames_of_prose_carry_only_their_new_text(step):
    prose = "Words, and more plain words: a sentence. " * 30 + "The end."
    frames = [fields for fields, _, _ in page_frames(prose, step)]  # each checked against live.tail
    assert sum(not fields for fields in frames) / len(frames) > 0.9


def test_the_same_text_rendered_whole_shows_its_syntax_while_incomplete():
    """The check above can fail: rendering each prefix as it is (as before) shows syntax."""
    assert SYNTAX.search(shown_text(render_markdown("First **bo")))
    assert SYNTAX.search(shown_text(render_markdown("| a | b |")))


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("This is **bol", "This is <strong>bol</strong>"),
        ("This is **", "This is"),
        ("a *soft", "a <em>soft</em>"),
        ("2 * 3", "2 * 3"),
        ("use `co", "use <code>co</code>"),
        ("see [the docs](https://ex", "see the docs"),
        ("see [the do", "see the do"),
        ("snake_case and", "snake_case and"),
        ("| a | b |\n|---|---|\n| 1 |  2", None),
        ("**bold *and", "<strong>bold <em>and</em></strong>"),
    ],
)
def test_an_unfinished_line_is_closed_or_hidden(line, shown):
    live = LiveMarkdown()
    live.frame(line)
    assert live.tail == (f"<p>{shown}</p>\n" if shown is not None else render_markdown(line + " |"))


def test_feeding_the_text_in_any_pieces_renders_what_the_whole_text_renders():
    whole = render_markdown_blocks(REPLY)
    for seed in range(20):
        cuts = sorted(random.Random(seed).sample(range(1, len(REPLY)), 12)) + [len(REPLY)]
        *_, (_, shown, tail) = page_frames(REPLY, ends=cuts)  # which checks the last against the whole
        assert shown + tail == whole
    assert "<h2>Plan</h2>" in whole and "<strong>bold</strong>" in whole and "<table>" in whole


CODE = (
    'Some code:\n\n```python\ndef total(values):\n    result = 0  # <b>not html</b> & "quotes"\n'
    "    for value in values:\n\tresult += value\n    return result\u00a0\n```\n\n"
    "  ~~~\n  indented by the fence\n    and more\n x\n  ~~~~\n\n- a list:\n\n  ```sh\n  make run\n"
    "  `` not a fence ``\n  ```\n\nThe end ```\n"
)


@pytest.mark.parametrize("reply", [CODE, REPLY, RICH])
@pytest.mark.parametrize("step", [1, 3, 7])
def test_a_code_line_joins_the_open_block_as_rendering_it_again_would(reply, step, monkeypatch):
    """The shortcut for a line of an open code fence (LiveMarkdown._code_line_ended) gives every
    frame exactly what rendering the open block again gives."""
    fast = LiveMarkdown()
    frames = [fast.frame(reply[:end]) for end in [*range(step, len(reply), step), len(reply)]]
    monkeypatch.setattr(LiveMarkdown, "_code_line_ended", lambda self, ended: False)
    slow = LiveMarkdown()
    assert frames == [slow.frame(reply[:end]) for end in [*range(step, len(reply), step), len(reply)]]
    assert fast.finish(reply) == slow.finish(reply)


@pytest.mark.parametrize("step", [1, 3])
def test_the_page_puts_code_together_as_the_server_renders_it(step):
    assert sum(not fields for fields, _, _ in page_frames(CODE, step)) > 0  # page_frames checks each frame


def test_a_block_closes_only_when_the_next_starts_on_a_complete_line():
    live = LiveMarkdown()
    live.frame("para\n#")
    assert live.html == ""  # "#" may still become "#hashtag", part of the paragraph
    live.frame("para\n#hashtag\n")
    assert live.html == ""
    shown = live.tail
    keep, add = live.frame("para\n#hashtag\n\n# Heading\n")[0]  # of what the page showed
    assert (
        shown[:keep] + add == live.html == "<p>para<br>\n#hashtag</p>\n" and live.tail == "<h1>Heading</h1>\n"
    )


@pytest.mark.django_db(transaction=True)
async def test_closed_blocks_arrive_rendered_mid_stream_and_equal_the_stored_page(fake_api, alice):
    fake_api.enqueue(Reply(REPLY, tokens_per_second=200))
    conversation, reply = await sync_to_async(services.conversation_start)(user=alice, text="Hi", model="m")
    ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/c/{conversation.pk}/")
    ws.scope["user"] = alice
    assert (await ws.connect())[0]
    generation.start(reply)
    frames = []
    while not frames or frames[-1][0] != "e":
        frames.append(json.loads(await ws.receive_from(timeout=10)))
    await ws.disconnect()

    end = next(i for i, f in enumerate(frames) if f[0] == "c")
    closed = before = line = after = ""
    for frame in (f for f in frames[:end] if f[0] == "d"):  # put together as chat.js does
        if len(frame) == 4:
            line += page_escape(frame[3])
            continue
        if frame[4]:  # the open block as the page showed it, mostly, now final
            closed += page_before(before + line + after, *frame[4])
        line = frame[5]
        if len(frame) > 6:
            before, after = page_before(before, frame[6], frame[7]), frame[8]
    assert closed.startswith("<h2>Plan</h2>") and closed.endswith("</table>\n")  # each block once
    assert before + line + after == "<p>The end 😀.</p>\n"
    stored = await ContentBlock.objects.aget(message=reply, index=0)
    assert stored.rendered == closed + "<p>The end 😀.</p>\n" == render_markdown_blocks(REPLY)

    # The stop frame leaves out the closed blocks the page has; the end frame, every block.
    done = frames[end][4]
    assert realtime.KEPT in done and "<h2>Plan</h2>" not in done
    assert done.replace(realtime.KEPT, closed) == await sync_to_async(rendering.block_html)(stored)
    assert f'<div class="blocks">{rendering.KEPT_BLOCKS}</div>' in frames[-1][3]
    # Only then: a tab that asks for it (a resync), or blocks that differ from what tabs show, get them whole.
    final = await sync_to_async(selectors.with_versions)(await Message.objects.aget(pk=reply.pk))
    for shown in (None, {0: done}, {0: done.replace(realtime.KEPT, closed), 1: "<p>more</p>"}):
        page = await sync_to_async(rendering.message_html)(final, shown)
        assert rendering.KEPT_BLOCKS not in page and "<h2>Plan</h2>" in page
