"""Web search and fetch (conversations/web.py) end to end against the fake Messages API: the exact
tools a request offers and who can turn them off, the server tool blocks and citations replayed
verbatim in the next turn, the search fee, a rejected replay, and cited documents."""

import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from conversations import services
from conversations.claude import pricing, tools, web
from conversations.claude.capabilities import capabilities
from conversations.models import Conversation, Message, ModelPrice, TeamPolicy
from fakes import Cited, Fetch, GroundedReply, HttpError, Reply, Search
from fakes import server_tools as fake_tools
from tests.helpers import payloads, pdf_bytes, run_to_end, send, start_chat

SEARCH = {"type": "web_search_20260318", "name": "web_search", "max_uses": 5}
FETCH = {"type": "web_fetch_20260318", "name": "web_fetch", "max_uses": 5, "citations": {"enabled": True}}


def web_on(conversation: Conversation, **extra) -> None:
    services.conversation_configure(
        conversation=conversation, model=conversation.model, params={"web": True, **extra}
    )


async def chat_with_web(user, text="What happened?", **extra):
    conversation, reply = await start_chat(user, text, "claude-sonnet-4-6")
    await sync_to_async(web_on)(conversation, **extra)
    return conversation, reply


def grounded_reply() -> GroundedReply:
    results = [
        fake_tools.search_result("https://news.example/a", "Storm <b>warning</b>"),
        fake_tools.search_result("https://wiki.example/b", "Paris weather", page_age=None),
    ]
    cites = [
        fake_tools.web_citation(results[0], "A storm hits on Monday."),
        fake_tools.web_citation(results[1], "Mild"),
    ]
    return GroundedReply(
        [
            "Let me check.",
            Search("paris weather", results),
            Fetch("https://wiki.example/b"),
            Cited("Rain Monday.", cites),
        ]
    )


# --- the tools offered -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_request_offers_both_tools_exactly_after_the_client_tools(fake_api, alice, settings):
    conversation, reply = await chat_with_web(alice)
    await run_to_end(reply)
    assert fake_api.message_requests[-1].body["tools"] == [*tools.schemas(), SEARCH, FETCH]

    settings.CHAT_WEB_MAX_USES = 0
    settings.CHAT_WEB_ALLOWED_DOMAINS = ["example.com", "docs.example.org"]
    await sync_to_async(web_on)(conversation, tools=False)
    await send(conversation, "Only the web now")
    domains = {"allowed_domains": ["example.com", "docs.example.org"]}
    assert fake_api.message_requests[-1].body["tools"] == [
        {"type": "web_search_20260318", "name": "web_search", **domains},
        {"type": "web_fetch_20260318", "name": "web_fetch", **domains, "citations": {"enabled": True}},
    ]


@pytest.mark.django_db(transaction=True)
async def test_off_by_default_and_off_when_the_instance_or_the_team_says_so(
    fake_api, alice, settings, team, prompt
):
    conversation, reply = await start_chat(alice, "Hi", "claude-sonnet-4-6")
    await run_to_end(reply)
    assert fake_api.message_requests[-1].body["tools"] == tools.schemas()  # the user has not turned it on

    await sync_to_async(web_on)(conversation)
    settings.CHAT_WEB_ACCESS = False
    await send(conversation, "Instance off")
    assert fake_api.message_requests[-1].body["tools"] == tools.schemas()

    settings.CHAT_WEB_ACCESS = True
    version = await sync_to_async(lambda: prompt.versions.first())()
    await Conversation.objects.filter(pk=conversation.pk).aupdate(prompt_version=version)
    conversation = await Conversation.objects.select_related("prompt_version__prompt").aget(
        pk=conversation.pk
    )
    await TeamPolicy.objects.acreate(team=team, web_access=False)
    await send(conversation, "Team off")
    assert fake_api.message_requests[-1].body["tools"] == tools.schemas()
    await TeamPolicy.objects.filter(team=team).aupdate(web_access=True)
    await send(conversation, "Team on")
    assert fake_api.message_requests[-1].body["tools"][-2:] == [SEARCH, FETCH]


def test_the_toggle_is_offered_only_where_the_capability_table_allows(settings, alice):
    conversation = Conversation(owner=alice, model="claude-sonnet-4-6")
    assert web.offered(conversation, capabilities("claude-sonnet-4-6"))
    assert not web.offered(conversation, capabilities(settings.CHAT_LOCAL_MODEL_NAME))
    assert not web.offered(conversation, capabilities("claude-3-haiku-20240307"))
    with pytest.raises(services.ChatError, match="does not offer web search"):
        services.conversation_configure(
            conversation=conversation, model="claude-3-haiku-20240307", params={"web": True}
        )


# --- streaming, storing, replaying -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_server_tool_blocks_and_citations_are_replayed_verbatim(fake_api, alice):
    grounded = grounded_reply()
    fake_api.enqueue(grounded)
    conversation, reply = await chat_with_web(alice)
    reply = await run_to_end(reply)
    sent = fake_tools.blocks(grounded)  # what the fake streamed (the ids are kept on its parts)

    assert reply.status == "complete"
    assert await payloads(reply) == sent
    await send(conversation, "And tomorrow?")
    replayed = fake_api.message_requests[-1].body["messages"][1]
    assert replayed == {"role": "assistant", "content": sent}
    assert json.dumps(replayed["content"], sort_keys=True) == json.dumps(sent, sort_keys=True)
    results = replayed["content"][2]["content"]
    assert results[0]["encrypted_content"].startswith("EncRes") and results[1]["page_age"] is None
    assert replayed["content"][5]["citations"][0]["encrypted_index"].startswith("EncIdx")


@pytest.mark.django_db(transaction=True)
async def test_searches_are_stored_and_billed_per_thousand(fake_api, alice):
    await sync_to_async(pricing.seed_default_prices)(ModelPrice)
    fake_api.enqueue(grounded_reply())
    _, reply = await chat_with_web(alice)
    reply = await run_to_end(reply)

    assert (reply.web_search_requests, reply.web_fetch_requests) == (1, 1)
    price = await sync_to_async(lambda: ModelPrice.objects.get(model="claude-sonnet-4"))()
    tokens = pricing.Usage(
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        cache_creation_input_tokens=reply.cache_creation_input_tokens,
        cache_read_input_tokens=reply.cache_read_input_tokens,
    )
    token_cost = pricing.cost(
        tokens,
        pricing.Price(
            price.input, price.output, price.cache_write_5m, price.cache_write_1h, price.cache_read
        ),
    )
    assert price.web_search == Decimal("10")
    assert reply.cost == token_cost + Decimal("0.01")


def test_the_fee_follows_the_editable_price():
    price = pricing.Price(*(Decimal(0),) * 5, web_search=Decimal("12.5"))
    assert pricing.cost(pricing.Usage(web_search_requests=4, web_fetch_requests=9), price) == Decimal("0.05")


@pytest.mark.django_db(transaction=True)
async def test_a_rejected_replay_is_reported_with_its_request_id_and_not_retried(fake_api, alice):
    fake_api.enqueue(grounded_reply())
    conversation, reply = await chat_with_web(alice)
    await run_to_end(reply)
    before = len(fake_api.message_requests)
    fake_api.enqueue(
        HttpError(400, message="messages.1.content.2: invalid encrypted_content", request_id="req_bad")
    )

    failed = await send(conversation, "Next")

    assert failed.status == "error" and failed.request_id == "req_bad"
    assert "invalid encrypted_content" in failed.error
    assert len(fake_api.message_requests) == before + 1


@pytest.mark.django_db(transaction=True)
async def test_a_search_cut_off_before_its_result_is_not_replayed(fake_api, alice):
    fake_api.enqueue(Reply("Answer"))
    conversation, reply = await start_chat(alice, "Q", "claude-sonnet-4-6")
    await run_to_end(reply)
    orphan = {"type": "server_tool_use", "id": "srvtoolu_x", "name": "web_search", "input": {"query": "q"}}
    await sync_to_async(services.block_save)(message_id=reply.pk, index=1, payload=orphan)

    await send(conversation, "Next")

    assert fake_api.message_requests[-1].body["messages"][1]["content"] == [
        {"type": "text", "text": "Answer"}
    ]


# --- cited documents ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_pdfs_and_text_files_are_sent_with_citations_on(fake_api, alice, media):
    pdf = await sync_to_async(services.attachment_store)(user=alice, name="report.pdf", data=pdf_bytes(3))
    notes = await sync_to_async(services.attachment_store)(
        user=alice, name="notes.md", data=b"# Notes\nShip Friday.\n"
    )
    conversation, first = await start_chat(alice, "Hi", "claude-sonnet-4-6")
    await run_to_end(first)
    fake_api.enqueue(
        GroundedReply([Cited("Due Friday.", [fake_tools.page_citation("Friday", document_index=0, page=2)])])
    )
    _, reply = await sync_to_async(services.message_send)(
        conversation=conversation, text="When?", attachments=[pdf, notes]
    )
    reply = await run_to_end(reply)

    content = fake_api.message_requests[-1].body["messages"][2]["content"]
    await pdf.arefresh_from_db()  # the PDF goes by file_id (Files API); the text file stays inline
    assert pdf.file_id and content[0]["source"] == {"type": "file", "file_id": pdf.file_id}
    assert {k: v for k, v in content[0].items() if k != "source"} == {
        "type": "document",
        "title": "report.pdf",
        "citations": {"enabled": True},
    }
    assert content[1] == {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "# Notes\nShip Friday.\n"},
        "title": "notes.md",
        "citations": {"enabled": True},
    }
    assert reply.cited_documents == [pdf.pk, notes.pk]
    assert (await payloads(reply))[0]["citations"][0]["start_page_number"] == 2


# --- the team's switch -------------------------------------------------------------------------


def test_only_team_owners_turn_web_access_off(client, people, team):
    url = reverse("team_web_access", args=[team.pk])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(people["outsider"])
    assert client.get(url).status_code == 404
    client.force_login(people["member"])
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403
    assert url not in client.get(reverse("team_detail", args=[team.pk])).content.decode()
    client.force_login(people["owner"])
    assert (
        f'href="{url}">Web access</a>' in client.get(reverse("team_detail", args=[team.pk])).content.decode()
    )
    assert "checked" in client.get(url).content.decode()

    response = client.post(url, {})

    assert response.status_code == 302 and TeamPolicy.objects.get(team=team).web_access is False
    assert "Saved: web search and fetch are off" in client.get(response["Location"]).content.decode()
    client.post(url, {"web_access": "on"})
    assert TeamPolicy.objects.get(team=team).web_access is True


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_catalog")
def test_the_composer_offers_the_switch(client, alice, fake_api):
    """Turning it on with a send: tests/test_conversations_switches.py."""
    conversation = Conversation.objects.create(owner=alice, model="claude-sonnet-4-6")
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert '<input type="checkbox" name="web">' in page
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_the_dashboard_counts_searches_and_their_fee_is_in_the_cost(client, alice, staff):
    conversation = Conversation.objects.create(owner=alice, model="claude-sonnet-4-6")
    price = pricing.Price(*(Decimal(0),) * 5)  # tokens free here: the cost is the fee alone
    fee = pricing.cost(pricing.Usage(web_search_requests=250), price)
    Message.objects.create(conversation=conversation, role="assistant", web_search_requests=250, cost=fee)
    client.force_login(staff)

    page = client.get(reverse("usage_dashboard")).content.decode()

    assert fee == Decimal("2.5")
    assert '<dt>Web searches</dt><dd class="figure">250</dd>' in page and "$2.5000" in page


@pytest.mark.django_db(transaction=True)
async def test_a_paused_turn_resumes_with_its_server_blocks_verbatim(fake_api, alice):
    paused = GroundedReply(
        [Search("long research", [fake_tools.search_result("https://a.example", "A")])],
        stop_reason="pause_turn",
    )
    fake_api.enqueue(paused, Reply("Done researching."))
    _, reply = await chat_with_web(alice)
    reply = await run_to_end(reply)

    resumed = fake_api.message_requests[-1].body["messages"]
    assert resumed[-1] == {"role": "assistant", "content": fake_tools.blocks(paused)}
    assert reply.status == "complete" and reply.web_search_requests == 1
    assert [p["type"] for p in await payloads(reply)] == ["server_tool_use", "web_search_tool_result", "text"]


@pytest.mark.usefixtures("fresh_catalog")
def test_the_api_model_list_can_say_a_model_has_no_web_search(alice, settings, monkeypatch):
    from types import SimpleNamespace

    from conversations.claude import catalog

    def listed(model_id, supported):
        support = SimpleNamespace(web_search=SimpleNamespace(supported=supported))
        return SimpleNamespace(
            id=model_id,
            display_name=model_id,
            max_input_tokens=None,
            max_tokens=None,
            capabilities=SimpleNamespace(server_tools=support),
        )

    async def list_models():
        return [
            listed("claude-sonnet-4-6", True),
            listed("claude-haiku-4-5", False),
            SimpleNamespace(
                id="claude-opus-4-8", display_name="Opus", max_input_tokens=None, max_tokens=None
            ),
        ]

    settings.CHAT_USE_LOCAL_MODEL = False
    monkeypatch.setattr(catalog.llm, "list_models", list_models)
    catalog.available()
    offered = {
        m: web.offered(Conversation(owner=alice, model=m), capabilities(m))
        for m in ("claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-8")
    }
    assert offered == {"claude-sonnet-4-6": True, "claude-haiku-4-5": False, "claude-opus-4-8": True}
