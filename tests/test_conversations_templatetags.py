"""conversations/templatetags/chat.py."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.urls import NoReverseMatch, reverse

from conversations.models import ContentBlock, Message
from conversations.templatetags.chat import local_time, message_url, reply_markdown, usage_badge

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


# The badge as template markup (before it became a tag): the tag must write the same, figures
# grouped by thousands, each with its unit in a span that does not wrap.
USAGE_MARKUP = (
    '{% if message.output_tokens %}<span class="usage muted" title="input '
    '{{ message.input_tokens|floatformat:"g" }} · cache read '
    '{{ message.cache_read_input_tokens|floatformat:"g" }} · cache write '
    '{{ message.cache_creation_input_tokens|floatformat:"g" }} · output '
    '{{ message.output_tokens|floatformat:"g" }} tokens'
    "{% if message.cache_savings is not None %} · caching saved "
    '${{ message.cache_savings|floatformat:"6g" }}{% endif %}">{{ message.model }} · <span class="figure">'
    "{{ message.input_tokens|add:message.cache_read_input_tokens"
    '|add:message.cache_creation_input_tokens|floatformat:"g" }} in</span> · <span class="figure">'
    '{{ message.output_tokens|floatformat:"g" }} out</span>'
    '{% if message.cost is not None %} · <span class="figure">${{ message.cost|floatformat:"4g" }}</span>'
    "{% endif %}"
    "</span>{% endif %}"
)


@pytest.mark.parametrize(
    ("tokens", "cost", "savings"),
    [
        ((1200, 0, 0, 350), Decimal("0.01234567"), None),
        ((3, 150000, 2048, 1), Decimal("0.00005000"), Decimal("0.00000050")),  # halves round up
        ((10, 0, 0, 5), None, Decimal("1.23456789")),
        ((10, 0, 0, 12345678), Decimal("123456.78900000"), Decimal("0")),
        ((10, 0, 0, 0), Decimal("0.1"), None),  # no output yet: no badge
    ],
)
def test_usage_badge_is_what_the_markup_gave(tokens, cost, savings):
    fields = dict(
        zip(
            ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens"],
            tokens,
            strict=True,
        )
    )
    message = Message(model="claude-sonnet-4-6 <x>", cost=cost, cache_savings=savings, **fields)
    expected = Template(USAGE_MARKUP).render(Context({"message": message}))
    assert usage_badge(message) == expected
    assert ("caching saved" in expected) == (savings is not None and tokens[3] > 0)


def hover(message: Message) -> str:
    return usage_badge(message).split('title="')[1].split('"')[0]


def test_usage_badge_names_on_hover_the_options_the_reply_was_made_with():
    options = {"model": "claude-opus-4-8", "thinking": True, "effort": "high", "tools": True, "web": True}
    message = Message(model="claude-opus-4-8", input_tokens=10, output_tokens=5, options=options)
    assert hover(message).endswith("output 5 tokens · thinking on · effort high · web search")
    sampled = {**options, "thinking": False, "effort": None, "web": False, "code": True, "tools": False}
    message.options = {**sampled, "temperature": 0.7, "top_k": 40, "max_tokens": 2000}
    assert hover(message).endswith(
        "tokens · code execution · tools off · temperature 0.7 · top_k 40 · max tokens 2,000"
    )
    # A plain reply (defaults only), and one made before options were kept, say nothing more.
    plain = usage_badge(Message(model="m", output_tokens=5, options={"model": "m", "tools": True}))
    assert plain == usage_badge(Message(model="m", output_tokens=5))


def test_a_time_is_utc_for_a_page_without_scripts_and_its_moment_for_the_browser():
    moment = datetime(2026, 3, 1, 23, 30, 5, 123456, tzinfo=ZoneInfo("Europe/Paris"))
    assert local_time(moment) == '<time datetime="2026-03-01T22:30:05+00:00">2026-03-01 22:30 UTC</time>'
    assert local_time(moment, "message-time").startswith('<time class="message-time" datetime=')
    assert local_time(None) == ""


def test_copy_reply_has_the_cited_passages_numbered_and_the_sources_after_the_text():
    rain = {"type": "web_search_result_location", "url": "https://weather.example/rain", "title": "Rain <b>"}
    wind = {"type": "web_search_result_location", "url": "https://weather.example/wind", "title": "Wind"}
    reply_blocks = [
        ContentBlock(
            index=0,
            type="text",
            payload={"type": "text", "text": "It rains on **Monday**", "citations": [rain]},
        ),
        ContentBlock(
            index=1, type="server_tool_use", payload={"type": "server_tool_use", "name": "web_search"}
        ),
        ContentBlock(
            index=2, type="text", payload={"type": "text", "text": "and blows", "citations": [wind, rain]}
        ),
    ]
    assert reply_markdown(Message(role="assistant"), reply_blocks) == (
        "It rains on **Monday** [1]\n\nand blows [2] [1]\n\nSources:\n\n"
        "[1] Rain \\<b\\> — <https://weather.example/rain>\n[2] Wind — <https://weather.example/wind>"
    )
    plain = [ContentBlock(index=0, type="text", payload={"type": "text", "text": "No sources."})]
    assert reply_markdown(Message(role="assistant"), plain) == "No sources."
