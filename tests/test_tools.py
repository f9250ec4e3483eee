"""Tools, the tool-use loop, stop reasons, and the parameter capability table."""

import pytest
from asgiref.sync import sync_to_async

from conversations import generation, params, services, tools
from conversations.capabilities import capabilities
from conversations.models import ContentBlock, Message
from tests.fakes import Reply

pytestmark = pytest.mark.django_db(transaction=True)


# --- the tools themselves ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("6*7", 42),
        ("(2 + 3) * sqrt(16) / 5", 4.0),
        ("2 ** 10 - 1", 1023),
        ("-pi + pi", 0.0),
        ("7 // 2 % 3", 0),
    ],
)
def test_calculator_evaluates_arithmetic(expression, expected):
    assert tools.evaluate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "().__class__",
        "open('/etc/passwd')",
        "x",
        "2 ** 100000",
        "[1, 2]",
        "lambda: 1",
    ],
)
def test_calculator_refuses_anything_but_arithmetic(expression):
    text, is_error = tools.run_tool("calculator", {"expression": expression}, tools.ToolContext(user_id=0))
    assert is_error and text.startswith("calculator failed")


def test_unknown_tools_and_invalid_input_are_errors_not_crashes():
    context = tools.ToolContext(user_id=0)
    assert tools.run_tool("rm_rf", {}, context) == ("Unknown tool: rm_rf", True)
    text, is_error = tools.run_tool("calculator", {"expr": "1"}, context)
    assert is_error and "Invalid input for calculator" in text


def test_current_datetime_uses_the_time_zone():
    text, is_error = tools.run_tool(
        "current_datetime", {}, tools.ToolContext(user_id=0, timezone="Asia/Tokyo")
    )
    assert not is_error and "Asia/Tokyo, UTC+0900" in text
    text, _ = tools.run_tool("current_datetime", {}, tools.ToolContext(user_id=0, timezone="Not/AZone"))
    assert "UTC" in text


def test_search_sees_only_the_users_own_conversations(alice, bob):
    services.conversation_start(user=alice, text="my zebra project notes", model="m")
    services.conversation_start(user=bob, text="bob's zebra secret", model="m")
    text, is_error = tools.run_tool(
        "search_conversations", {"query": "zebra"}, tools.ToolContext(user_id=alice.pk)
    )
    assert not is_error and "my zebra project" in text and "secret" not in text


def test_schemas_are_valid_tool_definitions():
    names = {schema["name"] for schema in tools.schemas()}
    assert names == {"calculator", "current_datetime", "search_conversations"}
    calc = next(s for s in tools.schemas() if s["name"] == "calculator")
    assert calc["input_schema"]["required"] == ["expression"] and calc["input_schema"]["type"] == "object"


# --- the loop ---------------------------------------------------------------------------------


async def run_reply(user, text="Question", model="claude-sonnet-4-6"):
    conversation, reply = await sync_to_async(services.conversation_start)(user=user, text=text, model=model)
    generation.start(reply.pk)
    await generation.wait_all()
    return conversation, await Message.objects.aget(pk=reply.pk)


async def payloads(reply) -> list[dict]:
    return [b.payload async for b in ContentBlock.objects.filter(message=reply).order_by("index")]


def call(name="calculator", tool_input=None, tool_id="toolu_1") -> dict:
    return {"id": tool_id, "name": name, "input": {"expression": "6*7"} if tool_input is None else tool_input}


async def test_tool_use_then_result_then_text_with_usage_summed(fake_api, alice):
    fake_api.enqueue(
        Reply("Let me compute.", tool_use=call(), stop_reason="tool_use", output_tokens=10),
        Reply("The answer is 42.", output_tokens=5),
    )
    _, reply = await run_reply(alice)
    assert reply.status == "complete" and reply.stop_reason == "end_turn"
    assert await payloads(reply) == [
        {"type": "text", "text": "Let me compute."},
        {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expression": "6*7"}},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"},
        {"type": "text", "text": "The answer is 42."},
    ]
    second = fake_api.message_requests[1].body
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    assert second["messages"][2]["content"][0]["tool_use_id"] == "toolu_1"
    assert {t["name"] for t in second["tools"]} == {"calculator", "current_datetime", "search_conversations"}
    assert reply.output_tokens == 15  # both calls


@pytest.mark.parametrize(
    ("tool_call", "error"),
    [
        (call(name="no_such_tool"), "Unknown tool: no_such_tool"),
        (call(tool_input="{not json"), "Invalid input for calculator"),
        (call(tool_input={"expression": "1/0"}), "ZeroDivisionError"),
    ],
)
async def test_tool_errors_become_is_error_results_and_the_loop_goes_on(fake_api, alice, tool_call, error):
    fake_api.enqueue(Reply("", tool_use=tool_call, stop_reason="tool_use"), Reply("Sorry, that failed."))
    _, reply = await run_reply(alice)
    result = next(p for p in await payloads(reply) if p["type"] == "tool_result")
    assert result["is_error"] is True and error in result["content"]
    assert reply.status == "complete" and len(fake_api.message_requests) == 2


async def test_the_loop_stops_at_the_iteration_cap(fake_api, alice, settings):
    settings.CHAT_MAX_TOOL_ITERATIONS = 2
    for n in range(3):
        fake_api.enqueue(Reply("again", tool_use=call(tool_id=f"toolu_{n}"), stop_reason="tool_use"))
    _, reply = await run_reply(alice)
    assert reply.stop_reason == "max_iterations" and len(fake_api.message_requests) == 2
    assert reply.status == "complete"


async def test_tools_can_be_turned_off_and_the_local_model_gets_none(fake_api, alice, settings):
    conversation, _ = await run_reply(alice)
    assert "tools" in fake_api.message_requests[-1].body
    await sync_to_async(services.conversation_configure)(
        conversation=conversation, model="claude-sonnet-4-6", params={"tools": False}
    )
    _, reply = await sync_to_async(services.message_send)(conversation=conversation, text="again")
    generation.start(reply.pk)
    await generation.wait_all()
    assert "tools" not in fake_api.message_requests[-1].body
    await run_reply(alice, model=settings.CHAT_LOCAL_MODEL_NAME)
    assert "tools" not in fake_api.message_requests[-1].body


# --- stop reasons ------------------------------------------------------------------------------


async def test_max_tokens_is_marked_cut_off_and_continue_resumes_it(fake_api, alice):
    fake_api.enqueue(Reply("The first half ", stop_reason="max_tokens"), Reply("and the second half."))
    conversation, reply = await run_reply(alice)
    assert reply.stop_reason == "max_tokens" and reply.status == "complete"
    reply = await sync_to_async(services.reply_continue)(reply=reply)
    generation.start(reply.pk)
    await generation.wait_all()
    prefill = fake_api.message_requests[-1].body["messages"][-1]
    assert prefill == {"role": "assistant", "content": [{"type": "text", "text": "The first half"}]}
    reply = await Message.objects.aget(pk=reply.pk)
    assert reply.stop_reason == "end_turn"
    assert [p["text"] for p in await payloads(reply)] == ["The first half ", "and the second half."]


async def test_stop_sequence_is_recorded(fake_api, alice):
    fake_api.enqueue(Reply("Counting 1 2", stop_reason="stop_sequence", stop_sequence="3"))
    _, reply = await run_reply(alice)
    assert (reply.stop_reason, reply.stop_sequence) == ("stop_sequence", "3")


async def test_refusal_is_shown_and_never_retried(fake_api, alice):
    fake_api.enqueue(Reply("", stop_reason="refusal"))
    _, reply = await run_reply(alice)
    assert reply.stop_reason == "refusal" and reply.status == "complete"
    assert len(fake_api.message_requests) == 1


async def test_pause_turn_is_resent_automatically(fake_api, alice):
    fake_api.enqueue(Reply("Working on it. ", stop_reason="pause_turn"), Reply("Done."))
    _, reply = await run_reply(alice)
    assert len(fake_api.message_requests) == 2 and reply.stop_reason == "end_turn"
    assert fake_api.message_requests[1].body["messages"][-1]["role"] == "assistant"


async def test_thinking_signature_is_replayed_in_the_next_turn(fake_api, alice):
    fake_api.enqueue(Reply("Answer", thinking="Pondering", thinking_signature="sig-XYZ"), Reply("Second"))
    conversation, _ = await run_reply(alice)
    _, second = await sync_to_async(services.message_send)(conversation=conversation, text="and?")
    generation.start(second.pk)
    await generation.wait_all()
    replayed = fake_api.message_requests[-1].body["messages"][1]["content"][0]
    assert replayed == {"type": "thinking", "thinking": "Pondering", "signature": "sig-XYZ"}


# --- parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "error"),
    [
        ("claude-opus-4-8", {"temperature": 0.5}, "does not accept temperature"),
        ("claude-opus-4-8", {"top_k": 5}, "does not accept top_k"),
        ("claude-haiku-4-5", {"thinking": True}, "does not support adaptive thinking"),
        ("claude-haiku-4-5", {"effort": "high"}, "does not take an effort level"),
        ("claude-sonnet-4-6", {"temperature": 0.5, "top_p": 0.9}, "not both"),
        ("claude-sonnet-4-6", {"thinking": True, "temperature": 0.2}, "cannot be combined with thinking"),
        ("claude-sonnet-4-6", {"max_tokens": 10**6}, "at most 64,000"),
        ("claude-sonnet-4-6", {"temperature": 3}, "temperature"),
        ("claude-sonnet-4-6", {"stop_sequences": ["  "]}, "stop sequence"),
        ("claude-sonnet-4-6", {"effort": "extreme"}, "effort"),
    ],
)
def test_the_capability_table_turns_bad_combinations_into_form_errors(model, data, error):
    parsed, errors = params.parse(data, capabilities(model))
    assert parsed is None and any(error in e for e in errors), errors


def test_valid_parameters_map_to_the_request():
    parsed, errors = params.parse(
        {"thinking": True, "effort": "high", "stop_sequences": ["END"], "tools": False, "max_tokens": 2000},
        capabilities("claude-opus-4-8"),
    )
    assert errors == []
    assert params.request_options(parsed, capabilities("claude-opus-4-8")) == {
        "thinking": {"type": "adaptive", "display": "summarized"},
        "output_config": {"effort": "high"},
        "stop_sequences": ["END"],
    }
    sonnet, _ = params.parse(
        {"temperature": 0.3, "top_k": 40, "tools": False}, capabilities("claude-sonnet-4-6")
    )
    assert params.request_options(sonnet, capabilities("claude-sonnet-4-6")) == {
        "extra_body": {"temperature": 0.3, "top_k": 40}
    }


# --- regenerate and edit -----------------------------------------------------------------------


async def test_regenerate_keeps_the_old_reply_as_a_previous_version(fake_api, alice):
    fake_api.enqueue(Reply("First try"), Reply("Second try"))
    conversation, reply = await run_reply(alice, text="Tell me a joke")
    new = await sync_to_async(services.reply_regenerate)(reply=reply)
    generation.start(new.pk)
    await generation.wait_all()
    old = await Message.objects.aget(pk=reply.pk)
    assert old.superseded and (await payloads(old))[0]["text"] == "First try"
    assert (await payloads(await Message.objects.aget(pk=new.pk)))[0]["text"] == "Second try"
    # The new request is the question alone: the old reply is never sent again.
    assert [m["role"] for m in fake_api.message_requests[-1].body["messages"]] == ["user"]
    with pytest.raises(services.ChatError):
        await sync_to_async(services.reply_regenerate)(reply=old)


async def test_edit_the_last_message_and_resend(fake_api, alice, client):
    fake_api.enqueue(Reply("About cats"), Reply("About dogs"))
    conversation, reply = await run_reply(alice, text="Tell me about cats")
    question = await Message.objects.filter(conversation=conversation, role="user").afirst()
    _, new_reply = await sync_to_async(services.message_edit)(message=question, text="Tell me about dogs")
    generation.start(new_reply.pk)
    await generation.wait_all()
    sent = fake_api.message_requests[-1].body["messages"]
    assert len(sent) == 1 and sent[0]["content"][0]["text"] == "Tell me about dogs"
    assert await Message.objects.filter(conversation=conversation, superseded=True).acount() == 2
    page = await sync_to_async(lambda: (client.force_login(alice), client.get(f"/c/{conversation.pk}/"))[1])()
    html = page.content.decode()
    assert html.count("Previous version") == 2 and "About cats" in html and "Regenerate" in html
    with pytest.raises(services.ChatError, match="Only the latest message"):
        await sync_to_async(services.message_edit)(message=question, text="again")
