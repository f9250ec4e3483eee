"""Citations as the page shows them (conversations/citations.py): numbered markers with the cited
text on hover or focus, footnotes with title and URL, only http(s) links, everything escaped; a
document's page citation opens the ownership-checked file at its page; and what a streaming
search shows ("Searching: ...", "Reading: ...")."""

import re

import pytest
from django.urls import reverse

from conversations import rendering
from conversations.claude import citations
from conversations.models import ContentBlock, Message
from conversations.reply import generation
from fakes import Cited, Fetch, GroundedReply, Search
from fakes import server_tools as fake_tools
from tests.helpers import connect, frames_until_end, start_chat


def web_cite(url: str, title: str, quote: str) -> dict:
    return {
        "type": "web_search_result_location",
        "url": url,
        "title": title,
        "encrypted_index": "x",
        "cited_text": quote,
    }


def message_with(alice, blocks: list[dict], **fields) -> Message:
    from conversations.models import Conversation

    conversation = Conversation.objects.create(owner=alice, model="claude-sonnet-4-6")
    message = Message.objects.create(conversation=conversation, role="assistant", **fields)
    for index, payload in enumerate(blocks):
        rendered = rendering.render_markdown_blocks(payload["text"]) if payload["type"] == "text" else ""
        ContentBlock.objects.create(
            message=message, index=index, type=payload["type"], payload=payload, rendered=rendered
        )
    return message


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("HTTP://EXAMPLE.COM", "HTTP://EXAMPLE.COM"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("https:///no-host", None),
        ("//example.com/protocol-relative", None),
        ("https://exa\nmple.com", None),
        ("ftp://example.com/file", None),
        (None, None),
    ],
)
def test_only_http_urls_with_a_host_are_links(url, safe):
    assert citations.safe_url(url) == safe


@pytest.mark.django_db
def test_web_citations_are_numbered_footnotes_with_safe_links_and_escaped_text(alice):
    good = web_cite(
        "https://news.example/storm", "Storm <b>warning</b> & more", "Rain <script>x</script> Monday"
    )
    evil = web_cite("javascript:alert(1)", "<img src=x onerror=alert(1)>", "quoted")
    data = web_cite("data:text/html,hi", "Data page", "other")
    blocks = [
        {"type": "text", "text": "Forecast: "},
        {"type": "text", "text": "rain on Monday", "citations": [good, evil]},
        {"type": "text", "text": "and again", "citations": [good, data]},
    ]
    html = rendering.message_html(message_with(alice, blocks))

    assert html.count('class="cite-link"') == 4
    assert re.findall(r'class="cite-link"[^>]*>\[(\d)\]', html) == [
        "1",
        "2",
        "1",
        "3",
    ]  # one number per source
    assert 'href="https://news.example/storm" target="_blank" rel="noopener noreferrer nofollow"' in html
    assert 'href="javascript' not in html and 'href="data:' not in html
    assert '<span class="cite-link">[2]</span>' in html  # the unsafe source's marker is text
    assert "<script>" not in html and "<img" not in html and "<b>warning" not in html
    assert "Storm &lt;b&gt;warning&lt;/b&gt; &amp; more" in html
    assert "“Rain &lt;script&gt;x&lt;/script&gt; Monday”" in html  # the hover text
    footnotes = html.split('<ol class="citations"')[1]
    assert footnotes.count("<li") == 3
    assert '<span class="cite-url">javascript:alert(1)</span>' in footnotes
    assert '<span class="">&lt;img src=x onerror=alert(1)&gt;</span>' in footnotes
    assert 'role="tooltip"' in html and 'tabindex="0"' in html  # reachable by keyboard, shown on focus
    # The markers sit at the end of the cited paragraph, not on a line of their own, and the
    # API's separate text blocks of one sentence flow as one paragraph (app.css).
    assert re.search(r"rain on Monday<span class=\"cite\"", html)
    assert 'class="block block-text markdown flows-in flows-out space-out" data-index="0"' in html
    assert 'class="block block-text markdown cited flows-in flows-out" data-index="1"' in html


@pytest.mark.django_db
def test_a_page_citation_opens_the_pdf_at_its_page_through_the_owner_view(alice, client):
    page = {
        "type": "page_location",
        "cited_text": "Revenue grew 12%",
        "document_index": 1,
        "document_title": "q3.pdf",
        "start_page_number": 4,
        "end_page_number": 6,
    }
    chars = {
        "type": "char_location",
        "cited_text": "Ship Friday",
        "document_index": 0,
        "document_title": None,
    }
    message = message_with(
        alice, [{"type": "text", "text": "It grew.", "citations": [page, chars]}], cited_documents=[7, 9]
    )
    html = rendering.message_html(message)

    pdf_url = reverse("attachment_file", args=[9])
    assert f'href="{pdf_url}#page=4" target="_blank" rel="noopener"' in html
    assert "q3.pdf, pages 4–5" in html and "<q>Revenue grew 12%</q>" in html
    assert (
        f'href="{reverse("attachment_file", args=[7])}"' in html
        and "Attached document</a>: <q>Ship Friday</q>" in html
    )


def test_a_citation_of_a_document_not_sent_is_text():
    sources = citations.Sources(documents=[])
    html = citations.marks(
        {"citations": [{"type": "page_location", "document_index": 3, "cited_text": "x"}]}, sources
    )
    assert "href" not in html and "[1]" in html


@pytest.mark.django_db(transaction=True)
async def test_a_streaming_search_shows_what_it_searches_and_reads(fake_api, alice):
    result = fake_tools.search_result("https://a.example/x", "A <i>title</i>")
    fake_api.enqueue(
        GroundedReply(
            [
                Search("paris <weather>", [result]),
                Fetch("javascript:alert(1)", error_code="url_not_accessible"),
                Fetch("https://a.example/x", title="Page"),
                Cited("Sunny.", [fake_tools.web_citation(result, "sun")]),
            ]
        )
    )
    conversation, reply = await start_chat(alice, "Weather?", "claude-sonnet-4-6")
    ws = await connect(alice, conversation.pk)
    generation.start(reply)
    frames = await frames_until_end(ws, reply.pk)
    await ws.disconnect()

    done = [f[4] for f in frames if f[0] == "c"]
    assert "Searching: <q>paris &lt;weather&gt;</q>" in done[0]
    assert (
        '1 result</summary><ul><li><a href="https://a.example/x" target="_blank" '
        'rel="noopener noreferrer nofollow">A &lt;i&gt;title&lt;/i&gt;</a>' in done[1]
    )
    assert 'Reading: <span class="unsafe-url">javascript:alert(1)</span>' in done[2]
    assert "Could not read the page (url_not_accessible)" in done[3]
    assert 'Reading: <a href="https://a.example/x"' in done[4] and "Read: <a" in done[5]
    assert '[1]</a><span class="cite-quote" role="tooltip">“sun”' in done[6]
    assert '<ol class="citations"' in frames[-1][3]  # the footnotes come with the finished reply


def test_inside_a_staff_transcript_a_page_citation_opens_the_review_view():
    sources = citations.Sources(documents=[12], review_conversation=5)
    html = citations.marks(
        {"citations": [{"type": "page_location", "document_index": 0, "start_page_number": 3}]}, sources
    )
    assert f'href="{reverse("review_attachment", args=[5, 12])}#page=3"' in html


def test_odd_citation_values_render_as_text_without_failing():
    odd = [
        {
            "type": "web_search_result_location",
            "url": ["not", "a", "string"],
            "title": None,
            "cited_text": None,
        },
        {"type": "page_location", "document_index": [1], "start_page_number": "2", "cited_text": "x" * 1000},
        "not even a dict",
    ]
    sources = citations.Sources(documents=[4])
    html = citations.marks({"citations": odd}, sources)
    assert "href" not in html and html.count('class="cite"') == 2
    assert "x" * 300 + "…" in html and "x" * 301 not in html
    assert sources.footnotes().count("<li") == 2
