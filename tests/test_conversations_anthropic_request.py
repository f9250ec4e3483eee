import json

import pytest

from conversations.reply.anthropic_request import PinnedPrompt, Turn, build_request, count_breakpoints

EPHEMERAL = {"type": "ephemeral"}


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def cached(block: dict, control: dict = EPHEMERAL) -> dict:
    return {**block, "cache_control": control}


def request_for(turns, prompt=None, tools=None) -> dict:
    options = {"tools": tools} if tools else None
    return build_request(turns=turns, model="m", max_tokens=100, user_id="u1", prompt=prompt, options=options)


def test_no_prompt_exact_json():
    assert request_for([Turn("user", [text("Hi")])]) == {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}],
            }
        ],
        "metadata": {"user_id": "u1"},
    }


def test_team_prompt_exact_json():
    request = request_for([Turn("user", [text("Hi")])], PinnedPrompt("You are the support desk.", "5m"))
    assert request == {
        "model": "m",
        "max_tokens": 100,
        "system": [
            {"type": "text", "text": "You are the support desk.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}],
            }
        ],
        "metadata": {"user_id": "u1"},
    }


def test_one_hour_ttl_is_on_the_system_breakpoint_only():
    request = request_for([Turn("user", [text("Hi")])], PinnedPrompt("Long prompt", "1h"))
    assert request["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert request["messages"][0]["content"][-1]["cache_control"] == EPHEMERAL


def test_rolling_breakpoint_moves_to_the_newest_user_turn_across_three_turns():
    prompt = PinnedPrompt("Support tone")
    history: list[Turn] = []
    requests = []
    for n in range(1, 4):
        history.append(Turn("user", [text(f"question {n}")]))
        requests.append(request_for(history, prompt))
        history.append(Turn("assistant", [text(f"answer {n}")]))

    assert requests[2]["messages"] == [
        {"role": "user", "content": [text("question 1")]},
        {"role": "assistant", "content": [text("answer 1")]},
        {"role": "user", "content": [text("question 2")]},
        {"role": "assistant", "content": [text("answer 2")]},
        {"role": "user", "content": [cached(text("question 3"))]},
    ]
    for request in requests:
        assert request["system"] == [cached(text("Support tone"))]
        assert count_breakpoints(request) == 2
    # The marker moved: turn 1's request had it on question 1, turn 2's on question 2 only.
    assert requests[0]["messages"][0]["content"] == [cached(text("question 1"))]
    assert requests[1]["messages"][0]["content"] == [text("question 1")]
    assert requests[1]["messages"][2]["content"] == [cached(text("question 2"))]


def test_an_edited_prompt_leaves_an_old_conversations_prefix_byte_identical():
    old_version = PinnedPrompt("Be formal.", "5m")
    new_version = PinnedPrompt("Be formal and brief.", "1h")
    turns = [Turn("user", [text("Hello")])]
    before = json.dumps(request_for(turns, old_version)["system"])
    # The old conversation is still pinned to old_version after the edit; a new one gets the new.
    after = json.dumps(request_for(turns, old_version)["system"])
    assert before == after
    assert json.dumps(request_for(turns, new_version)["system"]) != before


def test_stored_blocks_are_never_mutated_by_the_breakpoint():
    block = text("Hi")
    request_for([Turn("user", [block])])
    assert block == {"type": "text", "text": "Hi"}


def test_more_than_four_breakpoints_are_refused():
    turns = [Turn("user", [cached(text(str(i))) for i in range(4)])]
    with pytest.raises(AssertionError):
        request_for(turns, PinnedPrompt("p"))


CALC = {"name": "calc", "description": "Arithmetic", "input_schema": {"type": "object"}}


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
    assert request_for(turns, tools=[CALC])["messages"] == [
        {"role": "user", "content": [text("What is 2+2?")]},
        {"role": "assistant", "content": [thinking, redacted, tool_use]},
        {"role": "user", "content": [tool_result]},
        {"role": "assistant", "content": [text("4")]},
        {"role": "user", "content": [cached(text("Thanks"))]},
    ]


def test_failed_empty_reply_is_skipped_and_user_turns_merge():
    turns = [
        Turn("user", [text("first")]),
        Turn("assistant", []),  # failed before any output
        Turn("user", [text("second")]),
    ]
    assert request_for(turns)["messages"] == [
        {"role": "user", "content": [text("first"), cached(text("second"))]}
    ]


def test_stopped_reply_keeps_its_text_but_drops_unsigned_thinking_and_empty_text():
    turns = [
        Turn("user", [text("q")]),
        Turn(
            "assistant",
            [{"type": "thinking", "thinking": "half", "signature": ""}, text("partial"), text("")],
        ),
        Turn("user", [text("go on")]),
    ]
    messages = request_for(turns)["messages"]
    assert messages[1] == {"role": "assistant", "content": [text("partial")]}
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]


def test_first_message_is_always_user():
    turns = [Turn("assistant", [text("orphan")]), Turn("user", [text("hello")])]
    assert request_for(turns)["messages"] == [{"role": "user", "content": [cached(text("hello"))]}]


# --- tools the request no longer defines: their blocks become text --------------------------------


def test_a_tool_turned_off_leaves_its_calls_and_results_as_text():
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {"expression": "2+2"}}
    tool_result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4"}
    turns = [
        Turn("user", [text("What is 2+2?")]),
        Turn("assistant", [text("Let me add."), tool_use]),
        Turn("user", [tool_result]),
        Turn("assistant", [text("4")]),
        Turn("user", [text("Thanks")]),
    ]
    request = request_for(turns)
    assert "tools" not in request
    assert request["messages"] == [
        {"role": "user", "content": [text("What is 2+2?")]},
        {"role": "assistant", "content": [text("Let me add."), text('[calc call: {"expression": "2+2"}]')]},
        {"role": "user", "content": [text("[calc result: 4]")]},
        {"role": "assistant", "content": [text("4")]},
        {"role": "user", "content": [cached(text("Thanks"))]},
    ]


def test_web_and_code_blocks_become_text_when_their_tools_are_off_and_stay_when_on():
    search = {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"query": "rain"}}
    hit = {
        "type": "web_search_result",
        "url": "https://a.example/",
        "title": "Rain",
        "encrypted_content": "E",
    }
    results = {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": [hit]}
    cite = {
        "type": "web_search_result_location",
        "url": hit["url"],
        "title": "Rain",
        "encrypted_index": "I",
        "cited_text": "wet",
    }
    cited = {"type": "text", "text": "It rains.", "citations": [cite]}
    run = {
        "type": "server_tool_use",
        "id": "srv_2",
        "name": "bash_code_execution",
        "input": {"command": "ls"},
    }
    output = {
        "type": "bash_code_execution_result",
        "stdout": "a.txt",
        "stderr": "",
        "return_code": 0,
        "content": [],
    }
    ran = {"type": "bash_code_execution_tool_result", "tool_use_id": "srv_2", "content": output}
    turns = [
        Turn("user", [text("Weather?")]),
        Turn("assistant", [search, results, cited, run, ran]),
        Turn("user", [text("More")]),
    ]
    web = [{"type": "web_search_20260318", "name": "web_search"}]
    code = [{"type": "code_execution_20260521", "name": "code_execution"}]

    assert request_for(turns, tools=web + code)["messages"][1]["content"] == [
        search,
        results,
        cited,
        run,
        ran,
    ]
    assert request_for(turns, tools=code)["messages"][1]["content"] == [
        text('[web_search call: {"query": "rain"}]'),
        text("[web_search result: Rain https://a.example/]"),
        text("It rains."),
        run,
        ran,
    ]
    assert request_for(turns)["messages"][1]["content"][3:] == [
        text('[bash_code_execution call: {"command": "ls"}]'),
        text("[code_execution result: a.txt]"),
    ]
