"""The memory tool in chats (conversations/memory_tool.py): offered to those who turned it on,
run in the reply's tool loop on the caller's own /memories, refusals as tool errors."""

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from conversations.claude import params, tools
from conversations.claude.capabilities import capabilities
from conversations.claude.memory_tool import TOOL, with_memory
from conversations.models import Conversation
from fakes import Reply
from memory import store
from memory.models import MemoryFile
from tests.helpers import payloads, run_reply

MEMORY_TOOL = {"type": "memory_20250818", "name": "memory"}


def call(tool_id: str, **tool_input) -> Reply:
    return Reply("", tool_use={"id": tool_id, "name": "memory", "input": tool_input}, stop_reason="tool_use")


def test_the_tool_is_the_sdks_memory_tool_param():
    from anthropic.types import MemoryTool20250818Param, ToolUnionParam

    assert TOOL == MEMORY_TOOL
    hints = {name: str(hint) for name, hint in MemoryTool20250818Param.__annotations__.items()}
    assert "Required[Literal['memory']]" in hints["name"]
    assert "Required[Literal['memory_20250818']]" in hints["type"]
    assert [name for name, hint in hints.items() if "Required[" in hint] == ["name", "type"]
    assert MemoryTool20250818Param in ToolUnionParam.__args__


@pytest.mark.django_db
def test_offered_only_to_people_who_turned_it_on_on_models_with_tools(alice, settings):
    sonnet = capabilities("claude-sonnet-4-6")
    custom = {"tools": tools.schemas()}
    assert with_memory(custom, alice.pk, sonnet) == custom  # off by default
    store.set_enabled(alice.pk, True)
    assert with_memory(custom, alice.pk, sonnet) == {"tools": [*tools.schemas(), MEMORY_TOOL]}
    # The conversation's built-in tools switch is off: memory is still offered (a per-person choice).
    assert with_memory({"thinking": {"type": "adaptive"}}, alice.pk, sonnet) == {
        "thinking": {"type": "adaptive"},
        "tools": [MEMORY_TOOL],
    }
    assert with_memory({}, alice.pk, capabilities(settings.CHAT_LOCAL_MODEL_NAME)) == {}
    settings.CHAT_MEMORY = False
    assert with_memory(custom, alice.pk, sonnet) == custom


@pytest.mark.django_db(transaction=True)
async def test_a_refused_path_is_a_tool_error_and_the_loop_goes_on(fake_api, alice):
    await sync_to_async(store.set_enabled)(alice.pk, True)
    await sync_to_async(store.run)(
        alice.pk, {"command": "create", "path": "/memories/x.md", "file_text": "x"}
    )
    fake_api.enqueue(
        call("toolu_1", command="view", path="/memories/../../etc/passwd"),
        call("toolu_2", command="create", path="/memories/prefs.md", file_text="Prefers tea."),
        Reply("Noted: you prefer tea."),
    )
    conversation, reply = await run_reply(alice, "Remember that I prefer tea.")

    assert reply.status == "complete"
    first, second, third = [r.body for r in fake_api.message_requests]
    assert first["tools"] == [*tools.schemas(), MEMORY_TOOL]
    refusal = second["messages"][-1]["content"]
    assert refusal == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": "Refused: a memory path may not contain '..', '.' or '//': /memories/../../etc/passwd",
            "is_error": True,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert third["messages"][-1]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": "File created successfully at: /memories/prefs.md",
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert [(f.path, f.content) async for f in MemoryFile.objects.filter(owner=alice).order_by("path")] == [
        ("/memories/prefs.md", "Prefers tea."),
        ("/memories/x.md", "x"),
    ]
    stored = await payloads(reply)
    assert [p["type"] for p in stored if p["type"] != "text"] == ["tool_use", "tool_result"] * 2


@pytest.mark.django_db(transaction=True)
async def test_a_memory_call_when_memory_is_off_is_refused(fake_api, alice):
    fake_api.enqueue(call("toolu_1", command="view", path="/memories"), Reply("ok"))
    _, reply = await run_reply(alice, "Hi")
    [result] = [p for p in await payloads(reply) if p["type"] == "tool_result"]
    assert result["is_error"] is True and "turned off" in result["content"]
    assert MEMORY_TOOL not in fake_api.message_requests[0].body["tools"]


@pytest.mark.django_db(transaction=True)
async def test_staff_review_shows_memory_calls_like_any_tool_call(fake_api, alice, staff, client):
    await sync_to_async(store.set_enabled)(alice.pk, True)
    fake_api.enqueue(
        call("toolu_1", command="create", path="/memories/job.md", file_text="Works on <b>billing</b>."),
        Reply("Saved."),
    )
    conversation, _ = await run_reply(alice, "I work on billing.")

    await sync_to_async(client.force_login)(staff)
    response = await sync_to_async(client.post)(
        reverse("review_transcript", args=[conversation.pk]), {"reason": "ticket 9"}
    )
    page = response.content.decode()
    assert "Tool call: memory" in page and "/memories/job.md" in page
    assert "Works on &lt;b&gt;billing&lt;/b&gt;." in page and "<b>billing</b>" not in page
    assert "File created successfully at: /memories/job.md" in page
    assert await Conversation.objects.filter(pk=conversation.pk).aexists()


def test_chat_params_default_keeps_the_built_in_tools_on():
    assert params.stored({}).tools is True


@pytest.mark.django_db
def test_a_store_failure_is_a_tool_error_not_a_crashed_reply(alice, monkeypatch):
    from django.db import IntegrityError

    store.set_enabled(alice.pk, True)

    def clash(owner_id, tool_input):
        raise IntegrityError("duplicate key")

    monkeypatch.setattr(store, "run", clash)
    text, is_error = tools.run_tool(
        "memory", {"command": "view", "path": "/memories"}, tools.ToolContext(alice.pk)
    )
    assert is_error and text == "memory failed: IntegrityError; try again."
