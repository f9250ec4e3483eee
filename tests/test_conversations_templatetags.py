"""conversations/templatetags/chat.py."""

import pytest
from django.urls import NoReverseMatch, reverse

from conversations.templatetags.chat import message_url

NAMES = ["edit_form", "continue_reply", "retry_reply", "regenerate_reply", "choose_version"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pk", [1, 7, 10, 900000000000000001])
def test_message_url_is_what_reverse_gives(name, pk):
    assert message_url(name, pk) == reverse(name, args=[pk])


def test_message_url_refuses_a_url_that_does_not_take_one_id():
    with pytest.raises(NoReverseMatch):
        message_url("new_chat", 1)


# --- blocks_html: the same markup as one _block.html include per block -----------------------------

TEXTS = ["Plain answer.", " starts with a space", "ends with a line\n", "<b>not html</b> & more", ""]


def blocks_of(role: str) -> list:
    from conversations.models import ContentBlock
    from conversations.rendering import render_markdown

    blocks = []
    for text in TEXTS:
        rendered = render_markdown(text) if role == "assistant" else ""
        blocks.append(
            ContentBlock(
                index=len(blocks), type="text", payload={"type": "text", "text": text}, rendered=rendered
            )
        )
    cited = {
        "type": "text",
        "text": "Rain.",
        "citations": [
            {
                "type": "char_location",
                "cited_text": "Rain",
                "document_index": 0,
                "document_title": "a.txt",
                "start_char_index": 0,
                "end_char_index": 4,
            }
        ],
    }
    blocks.append(ContentBlock(index=len(blocks), type="text", payload=cited, rendered="<p>Rain.</p>"))
    streaming = ContentBlock(
        index=len(blocks),
        type="text",
        payload={"type": "text", "text": "## Hi\n\nopen"},
        rendered="<h2>Hi</h2>",
    )
    streaming.tail = "open"
    blocks.append(streaming)
    blocks.append(
        ContentBlock(index=len(blocks), type="thinking", payload={"type": "thinking", "thinking": "<hm>"})
    )
    call = {"type": "tool_use", "id": "t", "name": "calculator", "input": {"expression": "1+1"}}
    blocks.append(ContentBlock(index=len(blocks), type="tool_use", payload=call))
    return blocks


@pytest.mark.parametrize("role", ["assistant", "user"])
def test_blocks_html_is_what_one_include_per_block_gives(role):
    from django.template import engines

    from conversations.models import Message

    engine = engines["django"]
    message = Message(role=role)
    blocks = blocks_of(role)
    fast = engine.from_string("{% load chat %}{% blocks_html message blocks %}")
    slow = engine.from_string(
        '{% for block in blocks %}{% include "conversations/_block.html" %}{% endfor %}'
    )
    context = {"message": message, "blocks": blocks, "sources": None}
    assert fast.render(context) == slow.render(context)
    assert "&lt;b&gt;not html&lt;/b&gt;" in fast.render(context) or role == "assistant"
