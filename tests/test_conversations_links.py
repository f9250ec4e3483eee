"""Images and PDFs by their link (the API's `url` source, blocks/files.py): sent as url blocks and
replayed byte-identical, checked before anything is written, refused for a model that reads no
files, the API's refusal shown on the reply, shown on the message as a link (never loaded here),
and exported and imported."""

import json

import anthropic
import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from conversations import rendering, services
from conversations.library import exporting
from conversations.models import ContentBlock, Conversation, Message
from conversations.reply.anthropic_request import file_ids_in, without_files
from conversations.routing import websocket_urlpatterns
from fakes import Reply
from fakes.fake_anthropic import URL_REFUSED
from tests.helpers import run_to_end, send

MODEL = "claude-sonnet-4-6"
EPHEMERAL = {"type": "ephemeral"}
PHOTO = "https://images.example.org/cats/tabby%20cat.JPG?size=large"
REPORT = "https://docs.example.org/reports/annual.pdf"
PHOTO_BLOCK = {"type": "image", "source": {"type": "url", "url": PHOTO}}
REPORT_BLOCK = {
    "type": "document",
    "source": {"type": "url", "url": REPORT},
    "title": "annual.pdf",
    "citations": {"enabled": True},
}


def start(user, text: str = "What are these?", links=(PHOTO, REPORT), model: str = MODEL):
    return services.conversation_start(user=user, text=text, model=model, links=list(links))


def without_cache_control(messages: list[dict]) -> list[dict]:
    return [
        {**m, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in m["content"]]}
        for m in messages
    ]


# --- the request -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_links_are_sent_as_url_sources_and_replayed_byte_identical(fake_api, alice):
    fake_api.enqueue(Reply("A cat and a report."), Reply("Still a cat."))
    conversation, reply = await sync_to_async(start)(alice)
    first = await run_to_end(reply)
    await send(conversation, "Are you sure?")

    requests = [r.body for r in fake_api.message_requests]
    assert requests[0]["messages"] == [
        {
            "role": "user",
            "content": [
                PHOTO_BLOCK,
                REPORT_BLOCK,
                {"type": "text", "text": "What are these?", "cache_control": EPHEMERAL},
            ],
        }
    ]
    turn_one = without_cache_control(requests[0]["messages"])
    assert json.dumps(requests[1]["messages"][:1], sort_keys=True) == json.dumps(turn_one, sort_keys=True)
    assert requests[1]["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "text", "text": "A cat and a report."}]},
        {"role": "user", "content": [{"type": "text", "text": "Are you sure?", "cache_control": EPHEMERAL}]},
    ]
    # The links went to the API, nowhere else: no upload, and this server requested nothing.
    assert [r.path for r in fake_api.requests] == ["/v1/messages", "/v1/messages"]
    assert first.status == "complete" and first.cited_documents == [REPORT]
    user_message = await Message.objects.aget(conversation=conversation, role="user", parent=None)
    stored = [b.payload async for b in ContentBlock.objects.filter(message=user_message).order_by("index")]
    assert stored == [PHOTO_BLOCK, REPORT_BLOCK, {"type": "text", "text": "What are these?"}]


def test_links_only_title_the_chat_and_an_edit_keeps_them(fake_api, alice, client):
    conversation, _ = start(alice, text="", links=[PHOTO])
    assert conversation.title == "tabby cat.JPG"
    question = conversation.messages.get(role="user")
    client.force_login(alice)
    edit_box = client.get(reverse("edit_form", args=[question.pk])).content.decode()
    assert "Sent again with it: tabby cat.JPG" in edit_box
    Message.objects.filter(conversation=conversation, role="assistant").update(status="complete")
    edited, _ = services.message_edit(message=question, text="Which breed?")
    assert [b.payload for b in edited.blocks.order_by("index")] == [
        PHOTO_BLOCK,
        {"type": "text", "text": "Which breed?"},
    ]


def test_a_cited_page_of_a_linked_pdf_links_to_that_page(fake_api, alice):
    conversation, reply = start(alice, links=[PHOTO, REPORT])
    citation = {
        "type": "page_location",
        "cited_text": "Revenue grew.",
        "document_index": 0,
        "document_title": "annual.pdf",
        "start_page_number": 3,
        "end_page_number": 4,
    }
    ContentBlock.objects.create(
        message=reply,
        index=0,
        type="text",
        payload={"type": "text", "text": "It grew.", "citations": [citation]},
        rendered=rendering.render_markdown_blocks("It grew."),
    )
    Message.objects.filter(pk=reply.pk).update(status="complete", cited_documents=[REPORT])
    html = rendering.message_html(Message.objects.get(pk=reply.pk))
    assert f'href="{REPORT}#page=3" target="_blank" rel="noopener noreferrer nofollow"' in html
    assert "annual.pdf, page 3" in html


# --- checked before anything is written ------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        (
            "javascript:alert(1)//x.png",
            "Only http:// and https:// links can be attached, not javascript: links.",
        ),
        (
            "data:image/png;base64,iVBORw0KGgo=",
            "Only http:// and https:// links can be attached, not data: links.",
        ),
        ("ftp://files.example.org/a.pdf", "Only http:// and https:// links can be attached, not ftp: links."),
        (
            "https://example.org/" + "a" * 1990 + ".png",
            "The link is 2,014 characters long; a link can be at most 2,000.",
        ),
        ("https://example.org/my cat.png", "A link cannot contain spaces or control characters."),
        ("https://example.org/a.png\n", "A link cannot contain spaces or control characters."),
        ("https:///a.png", "That link has no host name."),
        (
            "example.org/a.png",
            "Only http:// and https:// links can be attached, not links without http(s)://.",
        ),
    ],
)
def test_a_bad_link_is_refused_with_the_reason_and_nothing_is_written(client, fake_api, alice, link, reason):
    with pytest.raises(services.ChatError) as refused:
        start(alice, links=[PHOTO, link])
    assert str(refused.value) == reason
    client.force_login(alice)
    response = client.post(reverse("start_chat"), {"text": "Look at this", "link": [link]})
    page = response.content.decode()
    assert response.status_code == 422 and reason.replace("'", "&#x27;") in page
    assert "Look at this</textarea>" in page  # nothing else lost
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_a_model_that_reads_no_files_refuses_links_and_links_count_as_files(fake_api, alice, settings):
    with pytest.raises(services.ChatError, match="cannot read images or PDFs"):
        start(alice, model=settings.CHAT_LOCAL_MODEL_NAME)
    with pytest.raises(services.ChatError, match="at most 20 files"):
        start(alice, links=[f"https://example.org/{i}.png" for i in range(21)])
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_links_go_over_the_socket_and_a_bad_one_is_refused_there(fake_api, alice):
    ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/new/")
    ws.scope["user"] = alice
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "start", "id": "1", "text": "Hm", "model": MODEL, "links": ["data:,x"]})
    assert await next_frame(ws, "an") == [
        "n",
        "1",
        "Only http:// and https:// links can be attached, not data: links.",
    ]
    assert not await Message.objects.aexists()
    await ws.send_json_to({"type": "start", "id": "2", "text": "Hm", "model": MODEL, "links": [PHOTO]})
    accepted = await next_frame(ws, "an")
    assert accepted[:2] == ["a", "2"] and "tabby cat.JPG" in accepted[2]
    await ws.disconnect()
    question = await Message.objects.aget(role="user")
    assert [b.payload async for b in question.blocks.order_by("index")][0] == PHOTO_BLOCK


async def next_frame(ws, kinds: str) -> list:
    """The next frame of one of these kinds (a send's answer: accepted or refused)."""
    while True:
        frame = json.loads(await ws.receive_from(timeout=10))
        if frame[0] in kinds:
            return frame


# --- the API's refusal -----------------------------------------------------------------------


def test_the_fake_refuses_a_url_it_is_told_to_as_the_api_does(fake_api):
    client = anthropic.Anthropic(base_url=fake_api.base_url, api_key="test", max_retries=0)
    content = [{"type": "image", "source": {"type": "url", "url": "https://example.org/refuse/a.png"}}]
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": content}])
    assert refused.value.body["error"] == {"type": "invalid_request_error", "message": URL_REFUSED}


@pytest.mark.django_db(transaction=True)
async def test_the_apis_refusal_is_the_replys_error_and_the_link_stays(fake_api, alice, client):
    refused = "https://example.org/refuse/huge.png"
    conversation, reply = await sync_to_async(start)(alice, links=[refused])
    failed = await run_to_end(reply)
    assert failed.status == "error" and URL_REFUSED in failed.error
    question = await Message.objects.aget(conversation=conversation, role="user")
    assert [b.payload async for b in question.blocks.order_by("index")][0]["source"]["url"] == refused
    await sync_to_async(client.force_login)(alice)
    page = (await sync_to_async(client.get)(reverse("conversation", args=[conversation.pk]))).content.decode()
    assert URL_REFUSED in page and 'title="Retry"' in page
    assert f'href="{refused}"' in page


# --- shown, exported, imported ---------------------------------------------------------------


def test_the_message_shows_the_link_with_its_host_and_name_and_never_loads_it(fake_api, alice, client):
    conversation, _ = start(alice)
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert "Image link · images.example.org · tabby cat.JPG" in page
    assert "PDF link · docs.example.org · annual.pdf" in page
    assert f'href="{PHOTO.replace("&", "&amp;")}" target="_blank" rel="noopener noreferrer nofollow"' in page
    assert 'src="https://' not in page and "example.org" not in page.split("<img")[-1].split(">")[0]


def test_export_and_import_round_trip_and_a_bad_link_is_refused_on_import(fake_api, alice, bob):
    conversation, reply = start(alice)
    Message.objects.filter(pk=reply.pk).update(status="complete")
    exported = exporting.conversation_data(conversation)
    assert exported["messages"][0]["blocks"][:2] == [PHOTO_BLOCK, REPORT_BLOCK]
    markdown = exporting.as_markdown(exported)
    assert f"*[Image link: <{PHOTO}>]*\n\n*[PDF link: <{REPORT}>]*\n\nWhat are these?" in markdown

    # Anyone can import a link (it is no one's file), exactly as this app sends it.
    exported["messages"][0]["blocks"][0]["source"]["extra"] = "dropped"
    copy = exporting.conversation_import(user=bob, data=exporting.parse(exporting.as_json(exported).encode()))
    question = copy.messages.get(role="user")
    assert [b.payload for b in question.blocks.order_by("index")][:2] == [PHOTO_BLOCK, REPORT_BLOCK]
    # Nor does a later request take a link for a file of someone else's (reply_request.only_own_files).
    assert file_ids_in([PHOTO_BLOCK, REPORT_BLOCK]) == set()
    assert without_files([PHOTO_BLOCK, REPORT_BLOCK], keep=set()) == [PHOTO_BLOCK, REPORT_BLOCK]

    exported["messages"][0]["blocks"][0]["source"]["url"] = "javascript:alert(1)"
    with pytest.raises(exporting.Refused, match="not javascript: links"):
        exporting.parse(exporting.as_json(exported).encode())
    exported["messages"][0]["blocks"][0]["source"] = {"type": "url"}
    with pytest.raises(exporting.Refused, match="link is refused: A link to attach is empty"):
        exporting.parse(exporting.as_json(exported).encode())
