"""The registry of content-block kinds (conversations/blocks/): each kind's partial, Markdown,
replay rule and fields are found from the block, and a new kind plugs in by being declared."""

import pytest
from django.template.loader import get_template

from conversations import blocks
from conversations.blocks.kind import Kind, call_text, result_text
from conversations.models import ContentBlock, Message
from conversations.reply.anthropic_request import Turn, build_messages


def test_every_kind_has_its_partial_and_fields() -> None:
    for kind in blocks.KINDS:
        get_template(f"conversations/blocks/{kind.partial}.html")  # raises if missing
        assert kind.fields, kind.type
    assert set(blocks.TYPES) >= {"text", "thinking", "tool_use", "tool_result", "image", "document"}


@pytest.mark.parametrize(
    ("block", "partial"),
    [
        ({"type": "server_tool_use", "name": "bash_code_execution"}, "code_call"),
        ({"type": "server_tool_use", "name": "web_fetch"}, "web_call"),
        ({"type": "server_tool_use", "name": "a_new_server_tool"}, "web_call"),
        ({"type": "bash_code_execution_tool_result"}, "code_result"),
        ({"type": "document", "pages": 3}, "file"),
        ({"type": "something_new"}, "unknown"),
    ],
)
def test_a_block_finds_its_kind_by_type_and_name(block, partial) -> None:
    assert blocks.partial(block) == f"conversations/blocks/{partial}.html"


def test_one_label_for_an_attached_file_everywhere() -> None:
    assert [
        blocks.files.label(b)
        for b in ({"type": "image"}, {"type": "document", "pages": 2}, {"type": "document"})
    ] == [
        "Image",
        "PDF",
        "Text",
    ]
    assert blocks.markdown({"type": "document", "name": "notes.txt"}, None) == "*[Text: notes.txt]*"


def test_a_kind_added_to_the_registry_renders_exports_and_replays(monkeypatch) -> None:
    """What adding a kind takes: a Kind (here a test kind reusing the tool_use partial) and
    nothing else in the app: the page, the Markdown export and the replay rule follow."""
    kind = Kind(
        "test_lookup",
        {"id": str, "name": str, "input": dict},
        partial="tool_use",
        label="Lookup",
        markdown=lambda block, sources: f"*Looked up {block['input']['q']}*",
        as_text=call_text,
        is_call=True,
    )
    monkeypatch.setitem(blocks._BY_TYPE, "test_lookup", [kind])
    block = {"type": "test_lookup", "id": "l1", "name": "lookup", "input": {"q": "tides"}}

    html = get_template("conversations/_block.html").render(
        {
            "block": ContentBlock(index=0, type="test_lookup", payload=block),
            "message": Message(role="assistant"),
        }
    )
    assert "Tool call: lookup" in html and "tides" in html
    assert blocks.markdown(block, None) == "*Looked up tides*"
    result = {"type": "tool_result", "tool_use_id": "l1", "content": "high at 6"}
    messages = build_messages(
        [Turn("user", [{"type": "text", "text": "Tides?"}]), Turn("assistant", [block, result])],
        offered=set(),
    )
    assert messages[1]["content"][0] == {"type": "text", "text": '[lookup call: {"q": "tides"}]'}


def test_replay_as_text_says_what_each_result_said() -> None:
    search = {
        "type": "web_search_tool_result",
        "tool_use_id": "s",
        "content": [{"title": "T", "url": "https://u"}],
    }
    code = {
        "type": "bash_code_execution_tool_result",
        "tool_use_id": "c",
        "content": {"stdout": "4", "stderr": ""},
    }
    failed = {
        "type": "web_fetch_tool_result",
        "tool_use_id": "f",
        "content": {"error_code": "url_not_allowed"},
    }
    assert result_text(search, "web_search") == "[web_search result: T https://u]"
    assert result_text(code, "code_execution") == "[code_execution result: 4]"
    assert result_text(failed, None) == "[tool result: error url_not_allowed]"
