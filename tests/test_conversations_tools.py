"""The built-in tools: arithmetic only, errors as results, the user's own conversations only."""

import pytest
from asgiref.sync import sync_to_async

from conversations import services
from conversations.claude import tools
from fakes import Reply
from tests.helpers import run_to_end, send, start_chat


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


@pytest.mark.django_db(transaction=True)
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


@pytest.mark.django_db(transaction=True)
async def test_tools_turned_off_after_a_call_leave_the_call_as_text(fake_api, alice):
    """The API refuses tool blocks in a request that defines no tools (the fake does too): the
    calculator's call and result go on as text once the user turns tools off."""
    calculator = {"id": "toolu_1", "name": "calculator", "input": {"expression": "6*7"}}
    fake_api.enqueue(Reply("", tool_use=calculator, stop_reason="tool_use"), Reply("42."))
    conversation, reply = await start_chat(alice, "6 times 7?", "claude-sonnet-4-6")
    reply = await run_to_end(reply)
    assert reply.status == "complete"
    await sync_to_async(services.conversation_configure)(
        conversation=conversation, model=conversation.model, params={"tools": False}
    )
    fake_api.enqueue(Reply("Sure."))

    answered = await send(conversation, "Thanks")

    assert answered.status == "complete", answered.error
    body = fake_api.message_requests[-1].body
    assert "tools" not in body
    call = '[calculator call: {"expression": "6*7"}]'
    assert {"type": "text", "text": call} in body["messages"][1]["content"]
    assert body["messages"][2]["content"][0] == {"type": "text", "text": "[calculator result: 42]"}
