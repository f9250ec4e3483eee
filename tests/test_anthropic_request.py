from conversations.anthropic_request import Turn, build_request


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def test_single_turn_request_is_exact():
    request = build_request(turns=[Turn("user", [text("Hi")])], model="m", max_tokens=100, user_id="u1")
    assert request == {
        "model": "m",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "metadata": {"user_id": "u1"},
    }


def test_system_is_a_top_level_list_of_text_blocks():
    request = build_request(
        turns=[Turn("user", [text("Hi")])], model="m", max_tokens=1, user_id="u", system="Be brief"
    )
    assert request["system"] == [{"type": "text", "text": "Be brief"}]
    assert all(m["role"] != "system" for m in request["messages"])


def test_thinking_and_tool_blocks_replay_verbatim():
    thinking = {"type": "thinking", "thinking": "Let me see", "signature": "EqQBCkYIAxgCIkD+/=="}
    redacted = {"type": "redacted_thinking", "data": "opaque=="}
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {"expression": "2+2"}}
    tool_result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4"}
    turns = [
        Turn("user", [text("What is 2+2?")]),
        Turn("assistant", [thinking, redacted, tool_use]),
        Turn("user", [tool_result]),
        Turn("assistant", [text("4")]),
        Turn("user", [text("Thanks")]),
    ]
    messages = build_request(turns=turns, model="m", max_tokens=1, user_id="u")["messages"]
    assert messages == [
        {"role": "user", "content": [text("What is 2+2?")]},
        {"role": "assistant", "content": [thinking, redacted, tool_use]},
        {"role": "user", "content": [tool_result]},
        {"role": "assistant", "content": [text("4")]},
        {"role": "user", "content": [text("Thanks")]},
    ]


def test_failed_empty_reply_is_skipped_and_user_turns_merge():
    turns = [
        Turn("user", [text("first")]),
        Turn("assistant", []),  # failed before any output
        Turn("user", [text("second")]),
    ]
    messages = build_request(turns=turns, model="m", max_tokens=1, user_id="u")["messages"]
    assert messages == [{"role": "user", "content": [text("first"), text("second")]}]


def test_stopped_reply_keeps_its_text_but_drops_unsigned_thinking_and_empty_text():
    turns = [
        Turn("user", [text("q")]),
        Turn(
            "assistant",
            [{"type": "thinking", "thinking": "half", "signature": ""}, text("partial"), text("")],
        ),
        Turn("user", [text("go on")]),
    ]
    messages = build_request(turns=turns, model="m", max_tokens=1, user_id="u")["messages"]
    assert messages[1] == {"role": "assistant", "content": [text("partial")]}
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]


def test_first_message_is_always_user():
    turns = [Turn("assistant", [text("orphan")]), Turn("user", [text("hello")])]
    messages = build_request(turns=turns, model="m", max_tokens=1, user_id="u")["messages"]
    assert messages == [{"role": "user", "content": [text("hello")]}]
