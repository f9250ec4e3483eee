"""The composer's switches (Web search, Thinking with its effort, Code execution): sent with a
message over the socket or by POST, they apply from that message on, only where the chat offers
them, and the user's last choice starts their next new chat."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from conversations import services
from conversations.models import Conversation, Message, TeamPolicy, ToolDefaults
from conversations.reply import generation
from fakes import Reply
from teams.models import Membership, PromptVersion, SystemPrompt, Team
from tests.helpers import next_frame, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


def tool_types(body: dict) -> list[str]:
    return [tool.get("type", "custom") for tool in body.get("tools", [])]


async def finished_chat(user, model="claude-sonnet-4-6", **fields) -> Conversation:
    conversation, reply = await sync_to_async(services.conversation_start)(
        user=user, text="Hi", model=model, **fields
    )
    await Message.objects.filter(pk=reply.pk).aupdate(status="complete")
    return conversation


async def test_switches_sent_with_a_message_apply_to_that_request_and_are_remembered(fake_api, alice):
    fake_api.enqueue(Reply("Searched."), Reply("Plain."))
    conversation = await finished_chat(alice)
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    tools = {"web": True, "thinking": True, "effort": "high", "code": True}
    await ws.send_json_to({"type": "send", "id": "1", "text": "Look it up", "tools": tools})
    assert (await next_frame(ws, "an"))[0] == "a"
    await generation.wait_all()
    body = fake_api.message_requests[-1].body
    assert "web_search_20260318" in tool_types(body) and "code_execution_20260521" in tool_types(body)
    assert body["thinking"]["type"] == "adaptive" and body["output_config"] == {"effort": "high"}
    await conversation.arefresh_from_db()
    assert {k: conversation.params[k] for k in tools} == tools
    assert (await ToolDefaults.objects.aget(user=alice)).switches == tools

    await ws.send_json_to({"type": "send", "id": "2", "text": "Now plainly", "tools": {}})
    assert (await next_frame(ws, "an"))[0] == "a"
    await generation.wait_all()
    body = fake_api.message_requests[-1].body
    assert "web_search_20260318" not in tool_types(body) and "thinking" not in body
    assert (await ToolDefaults.objects.aget(user=alice)).switches == {}
    await ws.disconnect()


async def test_a_send_without_switches_leaves_them_as_they_were(fake_api, alice):
    fake_api.enqueue(Reply("Still searching."))
    conversation = await finished_chat(alice)
    await Conversation.objects.filter(pk=conversation.pk).aupdate(params={"web": True})
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    await ws.send_json_to({"type": "send", "id": "1", "text": "Again"})  # an older tab, or the bench
    assert (await next_frame(ws, "an"))[0] == "a"
    await generation.wait_all()
    assert "web_search_20260318" in tool_types(fake_api.message_requests[-1].body)
    assert not await ToolDefaults.objects.filter(user=alice).aexists()
    await ws.disconnect()


@pytest.mark.parametrize(
    ("model", "tools", "reason"),
    [
        ("claude-sonnet-4-5", {"thinking": True}, "Thinking is not available in this chat."),
        (
            "claude-3-5-haiku",
            {"web": True, "code": True},
            "Web search and Code execution are not available in this chat.",
        ),
        ("claude-sonnet-4-5", {"effort": "max"}, "Effort is not available in this chat."),
    ],
)
async def test_a_switch_the_chat_does_not_offer_is_refused_and_nothing_is_written(
    fake_api, alice, model, tools, reason
):
    conversation = await finished_chat(alice, model=model)
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    await ws.send_json_to({"type": "send", "id": "5", "text": "Hi", "tools": tools})
    assert await next_frame(ws, "an") == ["n", "5", reason]
    assert await Message.objects.filter(conversation=conversation).acount() == 2
    await conversation.arefresh_from_db()
    assert conversation.params == {} and not fake_api.message_requests
    await ws.disconnect()


async def test_thinking_with_a_temperature_from_settings_is_a_clear_refusal(fake_api, alice):
    conversation = await finished_chat(alice)
    await Conversation.objects.filter(pk=conversation.pk).aupdate(params={"temperature": 0.3})
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    await ws.send_json_to({"type": "send", "id": "6", "text": "Hi", "tools": {"thinking": True}})
    assert await next_frame(ws, "an") == [
        "n",
        "6",
        "Temperature, top_p and top_k cannot be combined with thinking.",
    ]
    await ws.disconnect()


async def test_unknown_switch_names_are_malformed(alice):
    conversation = await finished_chat(alice)
    ws = await open_socket(alice, f"/ws/c/{conversation.pk}/")
    await ws.send_json_to({"type": "send", "id": "1", "text": "Hi", "tools": {"bash": True}})
    assert json.loads(await ws.receive_from(timeout=10))[0] == "x"
    await ws.disconnect()


async def test_web_search_is_refused_on_a_team_prompt_whose_owners_turned_it_off(fake_api, alice):
    def team_prompt():
        team = Team.objects.create(name="Legal")
        Membership.objects.create(team=team, user=alice, role="owner")
        TeamPolicy.objects.create(team=team, web_access=False)
        prompt = SystemPrompt.objects.create(team=team, name="Contracts")
        return PromptVersion.objects.create(prompt=prompt, number=1, text="Be careful.", author=alice)

    version = await sync_to_async(team_prompt)()
    ws = await open_socket(alice, "/ws/new/")
    frame = {
        "type": "start",
        "id": "1",
        "text": "Hi",
        "model": "claude-sonnet-4-6",
        "prompt": version.prompt_id,
    }
    await ws.send_json_to({**frame, "tools": {"web": True}})
    assert await next_frame(ws, "an") == ["n", "1", "Web search is not available in this chat."]
    assert not await Conversation.objects.filter(owner=alice).aexists()
    await ws.send_json_to({**frame, "id": "2", "tools": {"code": True}})
    assert (await next_frame(ws, "an"))[0] == "a"
    await generation.wait_all()
    conversation = await Conversation.objects.aget(owner=alice)
    assert conversation.params["code"] is True and "web" not in conversation.params
    await ws.disconnect()


def test_the_new_chat_page_starts_with_the_last_choice_and_a_post_send_carries_switches(
    client, fake_api, alice
):
    fake_api.enqueue(Reply("By post."), Reply("Again by post."))
    client.force_login(alice)
    page = client.get(reverse("new_chat")).content.decode()
    assert 'name="web">' in page and 'name="thinking">' in page  # not checked: nothing chosen yet
    response = client.post(
        reverse("start_chat"),
        {
            "text": "Hi",
            "model": "claude-sonnet-4-6",
            "switches": "on",
            "web": "on",
            "thinking": "on",
            "effort": "low",
        },
    )
    assert response.status_code == 302
    conversation = Conversation.objects.get(owner=alice)
    assert conversation.params | {"timezone": "x"} == {
        "web": True,
        "thinking": True,
        "effort": "low",
        "timezone": "x",
    }
    page = client.get(reverse("new_chat")).content.decode()
    assert 'name="web" checked' in page and 'name="thinking" checked' in page and 'name="code">' in page
    assert '<option value="low" selected>' in page

    # In the conversation, a POST send with the switches turned off turns them off.
    Message.objects.filter(conversation=conversation).update(status="complete")
    client.post(reverse("send_message", args=[conversation.pk]), {"text": "More", "switches": "on"})
    conversation.refresh_from_db()
    assert not {"web", "thinking", "effort"} & set(conversation.params)


@pytest.mark.usefixtures("fresh_catalog")
def test_settings_keep_the_switches_a_new_model_offers_and_drop_the_others(client, fake_api, alice):
    conversation = Conversation.objects.create(
        owner=alice, model="claude-sonnet-4-6", params={"web": True, "thinking": True, "effort": "high"}
    )
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert "Save settings" in page and 'name="web" checked' in page and 'name="thinking" checked' in page
    url = reverse("conversation_settings", args=[conversation.pk])
    assert (
        client.post(url, {"model": "claude-sonnet-4-6", "max_tokens": "900", "tools": "on"}).status_code
        == 302
    )
    conversation.refresh_from_db()
    assert conversation.params == {"web": True, "thinking": True, "effort": "high", "max_tokens": 900}
    assert client.post(url, {"model": "claude-haiku-4-5", "tools": "on"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.model == "claude-haiku-4-5" and conversation.params == {"web": True}
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert 'data-switch="thinking" hidden' in page and 'name="web" checked' in page
