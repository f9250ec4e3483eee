"""A streaming reply's blocks (conversations/reply/reply_blocks.py), fed SDK-shaped events by hand:
each block grows from its deltas, the tab is sent only what is new (code, not its JSON), a tab
joining gets the text so far, checkpoints see each change once, and a closed block is stored."""

from types import SimpleNamespace

import pytest
from anthropic.types import CitationCharLocation

from conversations.models import ContentBlock
from conversations.reply.reply_blocks import ReplyBlocks
from tests.helpers import start_chat


class Frames:
    """What ReplyBlocks asks of its FrameWriter, recorded (HTML left out unless a test needs it)."""

    conversation_id = 0

    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.html: dict[int, str] = {}
        self.shown: dict[int, str] = {}  # index -> the closed markdown blocks' HTML the tab has
        self.render_text = None

    def block_started(self, index: int, block_type: str, html: str) -> None:
        self.sent.append(("b", index, block_type))

    def text(self, text: str) -> None:
        self.sent.append(("d", text))

    def block_done(self, index: int, html: str, shown: str = "") -> None:
        self.sent.append(("c", index))
        self.html[index] = html
        self.shown[index] = shown

    def flush(self) -> None:  # as the FrameWriter's: a text block's frame renders it
        self.sent.append(("flush",))
        if self.render_text is not None:
            self.render_text()


def delta(kind: str, **fields) -> SimpleNamespace:
    return SimpleNamespace(type=kind, **fields)


def streaming(*deltas, block: dict, message_id: int = 0) -> tuple[ReplyBlocks, Frames]:
    """A reply whose block 0 opened as `block` and got these deltas."""
    frames = Frames()
    blocks = ReplyBlocks(message_id, frames)
    blocks.open(0, block)
    for each in deltas:
        blocks.delta(0, each)
    return blocks, frames


TEXT = {"type": "text", "text": ""}


def code_call(name: str) -> dict:
    return {"type": "server_tool_use", "id": "srvtoolu_1", "name": name, "input": {}}


# --- text and thinking -------------------------------------------------------------------------


def test_a_text_block_grows_by_its_deltas_and_the_tab_gets_only_the_new_text():
    blocks, frames = streaming(
        delta("text_delta", text="Hel"), delta("text_delta", text="lo"), block=dict(TEXT)
    )
    assert frames.sent == [("b", 0, "text"), ("d", "Hel"), ("d", "lo")]
    assert blocks.in_order() == [{"type": "text", "text": "Hello"}]
    frames.flush()  # a snapshot follows a flush: the open text as the last frame showed it
    [(block_type, html, text, *_)] = blocks.snapshot()
    assert (block_type, text) == ("text", "Hello") and "<p>Hello</p>" in html


def page_start(html: str, units: int) -> str:
    """The page's html.slice(0, units): JavaScript counts UTF-16 units."""
    return html.encode("utf-16-le")[: 2 * units].decode("utf-16-le")


def test_each_text_frame_renders_the_open_line_and_what_is_around_it_when_that_changes():
    blocks, frames = streaming(delta("text_delta", text="# Tïtle 😀\nPara"), block=dict(TEXT))
    assert frames.render_text() == ["", "Para", 0, "<h1>Tïtle 😀</h1>\n<p>", "</p>\n"]  # nothing closed yet
    blocks.delta(0, delta("text_delta", text="graph 😀 **bo"))
    assert frames.render_text() == ["", "Paragraph 😀 <strong>bo</strong>"]  # the same line: only it
    shown = "<h1>Tïtle 😀</h1>\n<p>Paragraph 😀 <strong>bo</strong></p>\n"  # the open block on the page
    blocks.delta(0, delta("text_delta", text="ld**\n\n- item"))  # the heading closes: the next block started
    closed, line, keep, add, after = frames.render_text()
    assert closed == [18, ""]  # of what the page shows, the first 18 UTF-16 units (😀 counts 2)
    closed = page_start(shown, 18)
    before = page_start(shown, keep) + add  # only what changed of the HTML before the line
    assert closed == "<h1>Tïtle 😀</h1>\n" and line == "item"
    assert before + line + after == "<p>Paragraph 😀 <strong>bold</strong></p>\n<ul>\n<li>item</li>\n</ul>\n"
    [(_, html, text, *around)] = blocks.snapshot()  # a tab joining now: the same, and what is around the line
    assert text.endswith("- item") and around == [before, after, line, closed]
    assert html.endswith(f'{closed}<div class="streaming-text">{before}{line}{after}</div></div>')

    shown = before + line + after
    blocks.delta(
        0, delta("text_delta", text=" 😀\n- two")
    )  # the paragraph closes: the list is the open block
    (closed_keep, closed_add), line, keep, add, after = frames.render_text()
    assert (
        page_start(shown, closed_keep) + closed_add == "<p>Paragraph 😀 <strong>bold</strong></p>\n"
    )  # 😀 is after the cut
    before = page_start(before, keep) + add
    assert before + line + after == "<ul>\n<li>item 😀</li>\n<li>two</li>\n</ul>\n"
    blocks.delta(0, delta("text_delta", text="\n- three"))
    _, line, keep, add, after = frames.render_text()
    assert keep == len(before) + 1 and add == "two</li>\n<li>"  # keep counts UTF-16 units, as the page does


def test_thinking_is_shown_as_it_grows_and_its_signature_kept_unshown():
    blocks, frames = streaming(
        delta("thinking_delta", thinking="Hmm"),
        delta("signature_delta", signature="sig-1"),
        block={"type": "thinking", "thinking": "", "signature": ""},
    )
    assert blocks.in_order() == [{"type": "thinking", "thinking": "Hmm", "signature": "sig-1"}]
    assert frames.sent[1:] == [("d", "Hmm")]
    assert blocks.snapshot()[0][2] == "Hmm"


def test_citations_are_kept_exactly_as_sent_and_an_empty_list_is_dropped():
    citation = CitationCharLocation(
        type="char_location",
        cited_text="the sky is blue",
        document_index=0,
        document_title="Sky",
        start_char_index=4,
        end_char_index=19,
    )
    blocks, _ = streaming(
        delta("text_delta", text="Blue."),
        delta("citations_delta", citation=citation),
        block={"type": "text", "text": "", "citations": []},
    )
    assert blocks.in_order()[0]["citations"] == [citation.to_dict(mode="json")]
    uncited, _ = streaming(
        delta("text_delta", text="Hi"), block={"type": "text", "text": "", "citations": []}
    )
    assert uncited.in_order() == [{"type": "text", "text": "Hi"}]


# --- calls -------------------------------------------------------------------------------------


def test_a_tool_calls_input_streams_as_its_json_so_far():
    blocks, frames = streaming(
        delta("input_json_delta", partial_json='{"path": "/mem'),
        delta("input_json_delta", partial_json='ories"}'),
        block={"type": "tool_use", "id": "toolu_1", "name": "memory", "input": {"stale": True}},
    )
    assert frames.sent[1:] == [("d", '{"path": "/mem'), ("d", 'ories"}')]
    assert blocks.in_order()[0]["input"] == {}  # parsed when the block closes
    assert blocks.snapshot()[0][2] == '{"path": "/memories"}'


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("code_execution", "code"),
        ("bash_code_execution", "command"),
        ("text_editor_code_execution", "file_text"),
    ],
)
def test_a_code_execution_call_streams_its_code_not_its_json(name, field):
    blocks, frames = streaming(
        delta("input_json_delta", partial_json='{"'),
        delta("input_json_delta", partial_json=f'{field}": "print('),
        delta("input_json_delta", partial_json="1)\\nx"),
        delta("input_json_delta", partial_json='"}'),
        block=code_call(name),
    )
    assert [sent for sent in frames.sent[1:] if sent[1]] == [("d", "print("), ("d", "1)\nx")]
    assert blocks.snapshot()[0][2] == "print(1)\nx"


# --- checkpoints and what was never stored -----------------------------------------------------


def test_a_checkpoint_sees_the_open_block_once_per_change_as_a_copy():
    blocks, _ = streaming(delta("text_delta", text="Hi"), block=dict(TEXT))
    index, block = blocks.checkpoint()
    assert (index, block) == (0, {"type": "text", "text": "Hi"})
    block["text"] = "changed"
    assert blocks.in_order() == [{"type": "text", "text": "Hi"}]
    assert blocks.checkpoint() == (None, None)
    blocks.delta(0, delta("text_delta", text="!"))
    assert blocks.checkpoint() == (0, {"type": "text", "text": "Hi!"})


def test_blocks_loaded_from_the_database_are_stored_and_come_before_new_ones():
    blocks = ReplyBlocks(0, Frames())
    blocks.load([ContentBlock(index=0, type="text", payload={"type": "text", "text": "Before"})])
    blocks.open(1, dict(TEXT))
    blocks.delta(1, delta("text_delta", text="after"))
    assert [b["text"] for b in blocks.in_order()] == ["Before", "after"]
    assert list(blocks.unstored()) == [1]


# --- closing a block: stored, then its final HTML ----------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_closed_tool_call_is_stored_with_its_parsed_input_then_shown_after_held_text(alice):
    _, reply = await start_chat(alice)
    blocks, frames = streaming(
        delta("input_json_delta", partial_json='{"path": "/memories"}'),
        block={"type": "tool_use", "id": "toolu_1", "name": "memory", "input": {}},
        message_id=reply.pk,
    )
    await blocks.close(0)
    stored = await ContentBlock.objects.aget(message_id=reply.pk, index=0)
    expected = {"type": "tool_use", "id": "toolu_1", "name": "memory", "input": {"path": "/memories"}}
    assert stored.payload == expected
    assert frames.sent[-2:] == [("flush",), ("c", 0)]  # text the writer held goes out first
    assert blocks.unstored() == {} and blocks.checkpoint() == (None, None)


@pytest.mark.django_db(transaction=True)
async def test_a_tool_calls_json_cut_short_is_stored_as_an_empty_input(alice):
    _, reply = await start_chat(alice)
    blocks, _ = streaming(
        delta("input_json_delta", partial_json='{"path": "/mem'),
        block={"type": "tool_use", "id": "toolu_1", "name": "memory", "input": {}},
        message_id=reply.pk,
    )
    await blocks.close(0)
    assert (await ContentBlock.objects.aget(message_id=reply.pk, index=0)).payload["input"] == {}


@pytest.mark.django_db(transaction=True)
async def test_a_closed_text_block_is_stored_rendered_and_the_tab_gets_its_html(alice):
    _, reply = await start_chat(alice)
    blocks, frames = streaming(
        delta("text_delta", text="# Title\nSome *text*"), block=dict(TEXT), message_id=reply.pk
    )
    await blocks.close(0)
    stored = await ContentBlock.objects.aget(message_id=reply.pk, index=0)
    assert "<h1" in stored.rendered and "<em>text</em>" in stored.rendered
    assert "<em>text</em>" in frames.html[0]
