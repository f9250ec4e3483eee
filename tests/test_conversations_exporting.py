"""Export and import: the JSON round trip (every version, blocks, usage, model), Markdown of the
branch on screen, the zip of all of a user's data, and imports refused with their reason."""

import json
import re
import zipfile
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from conversations import services
from conversations.library import exporting, organising
from conversations.models import ContentBlock, Conversation
from fakes import server_tools as fake_tools
from tests.helpers import add_blocks, finish, image_bytes
from usage.selectors import spent_between

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_catalog")]

MODEL = "claude-sonnet-4-6"
VOLATILE = {"exported_at", "created_at", "chosen_at"}


@pytest.fixture
def chat(fake_api, alice, media) -> Conversation:
    """Two turns, the second question edited (two versions), thinking, a tool call, an image."""
    picture = services.attachment_store(user=alice, name="graph.png", data=image_bytes(20, 20))
    conversation, reply = services.conversation_start(
        user=alice, text="What does this graph show?", model=MODEL, attachments=[picture]
    )
    finish(
        reply,
        {"type": "thinking", "thinking": "Look at the axes.", "signature": "sig-1"},
        {"type": "text", "text": "It **rises**, <b>then</b> falls."},
        input_tokens=1200,
        output_tokens=45,
        cache_read_input_tokens=900,
        cost=Decimal("0.00123400"),
        cache_savings=Decimal("-0.00010000"),
    )
    question, second = services.message_send(conversation=conversation, text="When does it peak?")
    finish(
        second,
        {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expression": "2+2"}},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4"},
        {"type": "text", "text": "In March."},
        output_tokens=12,
    )
    _, edited = services.message_edit(message=question, text="When does it peak, exactly?")
    finish(edited, {"type": "text", "text": "On 14 March."}, output_tokens=7)
    return conversation


def stable(data: dict) -> dict:
    """The export without what changes on every export or import: timestamps."""
    return json.loads(
        json.dumps(data), object_hook=lambda d: {k: v for k, v in d.items() if k not in VOLATILE}
    )


def test_json_round_trip_keeps_every_version_block_usage_and_model(chat, alice) -> None:
    exported = exporting.conversation_data(chat)
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"] * 3
    assert exported["messages"][1]["usage"]["cache_read_input_tokens"] == 900
    assert exported["messages"][1]["cost"] == "0.00123400"
    assert exported["messages"][1]["blocks"][0] == {
        "type": "thinking",
        "thinking": "Look at the axes.",
        "signature": "sig-1",
    }

    raw = exporting.as_json(exported).encode()
    copy = exporting.conversation_import(user=alice, data=exporting.parse(raw))

    assert copy.pk != chat.pk and copy.owner == alice
    assert stable(exporting.conversation_data(copy)) == stable(exported)
    # The copy shows the same branch (the edited question), its files still alice's own.
    assert (
        exporting.as_markdown(exporting.conversation_data(copy)).split("\n")[3:]
        == (exporting.as_markdown(exported).split("\n")[3:])
    )
    image = copy.messages.order_by("id").first().blocks.get(index=0)
    assert image.type == "image" and image.payload["name"] == "graph.png"
    # Its replies' tokens were spent before: counted there, not again in today's usage.
    today = timezone.now().date()
    assert set(spent_between(today, today).replies) == set(chat.messages.filter(role="assistant"))


def test_a_reply_keeps_its_options_through_an_export_and_an_import(fake_api, alice) -> None:
    conversation, reply = services.conversation_start(user=alice, text="Think", model=MODEL)
    finish(reply, {"type": "text", "text": "Plain."}, output_tokens=3)
    settings = {"thinking": True, "effort": "high", "web": True}
    services.conversation_configure(conversation=conversation, model=MODEL, params=settings)
    _, second = services.message_send(conversation=conversation, text="Harder")
    finish(second, {"type": "text", "text": "Thought."}, output_tokens=9)
    exported = exporting.conversation_data(conversation)
    plain = {"model": MODEL, "thinking": False, "tools": True, "web": False, "code": False}
    thought = {**plain, **settings}
    assert [m["options"] for m in exported["messages"]] == [None, plain, None, thought]

    exported["messages"][3]["options"]["from_a_later_version"] = 1  # an unknown key is dropped
    raw = exporting.as_json(exported).encode()
    copy = exporting.conversation_import(user=alice, data=exporting.parse(raw))
    assert [r.options for r in copy.messages.filter(role="assistant").order_by("id")] == [plain, thought]


def test_markdown_is_the_branch_on_screen(chat) -> None:
    text = exporting.as_markdown(exporting.conversation_data(chat))
    assert text.startswith("# What does this graph show?\n")
    assert "## You\n\n*[Image: graph.png]*\n\nWhat does this graph show?" in text
    assert "It **rises**, <b>then</b> falls." in text  # the markdown as written
    assert "When does it peak, exactly?" in text and "On 14 March." in text
    assert "In March." not in text  # the older version is not on screen
    assert "<details><summary>Thinking</summary>" in text


def test_someone_elses_file_is_never_reached_through_an_import(chat, bob) -> None:
    exported = exporting.conversation_data(chat)
    copy = exporting.conversation_import(user=bob, data=exporting.parse(exporting.as_json(exported).encode()))
    first = copy.messages.order_by("id").first().blocks.get(index=0)
    assert first.payload == {"type": "text", "text": "[Image not included: graph.png]"}
    assert not ContentBlock.objects.filter(message__conversation=copy, payload__attachment_id__isnull=False)


def test_a_streaming_reply_comes_in_interrupted(fake_api, alice) -> None:
    conversation, _ = services.conversation_start(user=alice, text="Hi", model=MODEL)
    raw = exporting.as_json(exporting.conversation_data(conversation)).encode()
    copy = exporting.conversation_import(user=alice, data=exporting.parse(raw))
    assert copy.messages.get(role="assistant").status == "interrupted"


def valid() -> dict:
    return {
        "format": "chat-conversation",
        "version": 1,
        "title": "T",
        "model": MODEL,
        "messages": [{"role": "user", "blocks": [{"type": "text", "text": "Hi"}]}],
    }


def with_message(**changes) -> dict:
    data = valid()
    data["messages"][0].update(changes)
    return data


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe not text", "not JSON"),
        (b"[" * 100_000, "nests deeper than 64 levels"),
        (b'{"messages": []}', "not a conversation exported from this app"),
        (json.dumps({**valid(), "version": 7}).encode(), "version"),
        (json.dumps(with_message(role="system")).encode(), "messages.0.role"),
        (json.dumps(with_message(parent=3)).encode(), "does not come before it"),
        (json.dumps(with_message(blocks=[{"type": "text"}])).encode(), "no valid 'text'"),
        (json.dumps(with_message(blocks=[{"type": "script"}])).encode(), "'script' is not one"),
        (json.dumps(with_message(blocks=[{"type": ["text"]}])).encode(), "\"['text']\" is not one"),
        (
            json.dumps(
                with_message(blocks=[{"type": "image", "attachment_id": 10**30, "name": "x"}])
            ).encode(),
            "no valid 'attachment_id'",
        ),
        (json.dumps(with_message(usage={"input_tokens": -1})).encode(), "usage"),
        (json.dumps(with_message(cost="1e400")).encode(), "cost"),
        (json.dumps(with_message(options={"model": "m", "temperature": 7})).encode(), "options.temperature"),
        (json.dumps(with_message(options={"model": "m" * 101})).encode(), "options.model"),
        (json.dumps(with_message(options=["thinking"])).encode(), "options"),
        (json.dumps(with_message(blocks=[{"type": "text", "text": "a\x00b"}])).encode(), "NUL"),
        (b" " * (exporting.MAX_IMPORT_BYTES + 1), "imports are limited to 10 MB"),
        (
            json.dumps(
                with_message(blocks=[{"type": "server_tool_use", "name": "web_search", "input": {}}])
            ).encode(),
            "a server_tool_use block has no valid 'id'",
        ),
        (
            json.dumps(
                with_message(blocks=[{"type": "web_fetch_tool_result", "tool_use_id": "s", "content": []}])
            ).encode(),
            "a web_fetch_tool_result block has no valid 'content'",
        ),
    ],
)
def test_an_import_that_is_not_the_format_is_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(exporting.Refused, match=re.escape(reason)):
        exporting.parse(raw)


def test_an_unknown_model_and_settings_fall_back_and_a_foreign_prompt_is_dropped(fake_api, alice) -> None:
    for prompt_id in (999_999, 10**30, True, "1"):
        data = {**valid(), "model": "gpt-9", "params": {"temperature": 7}, "system_prompt": {"id": prompt_id}}
        copy = exporting.conversation_import(user=alice, data=exporting.parse(json.dumps(data).encode()))
        assert (copy.model, copy.params, copy.prompt_version) == ("claude-sonnet-4-6", {}, None)
        assert copy.title == "T"


def test_a_team_prompt_is_kept_for_a_member(fake_api, people, prompt) -> None:
    data = {**valid(), "system_prompt": {"id": prompt.latest.pk}}
    raw = json.dumps(data).encode()
    member_copy = exporting.conversation_import(user=people["member"], data=exporting.parse(raw))
    outsider_copy = exporting.conversation_import(user=people["outsider"], data=exporting.parse(raw))
    assert (member_copy.prompt_version, outsider_copy.prompt_version) == (prompt.latest, None)


def test_the_zip_holds_all_my_conversations_and_files_only(chat, alice, bob) -> None:
    services.conversation_start(user=bob, text="Bob's secret", model=MODEL)
    archived, _ = services.conversation_start(user=alice, text="Archived one", model=MODEL)
    organising.conversation_archive(conversation=archived, archived=True)
    gone, _ = services.conversation_start(user=alice, text="Deleted one", model=MODEL)
    organising.conversation_trash(conversation=gone)

    archive = zipfile.ZipFile(exporting.user_zip(alice))
    names = sorted(archive.namelist())
    assert names == sorted(
        [
            f"conversations/what-does-this-graph-show-{chat.pk}.json",
            f"conversations/what-does-this-graph-show-{chat.pk}.md",
            f"conversations/archived-one-{archived.pk}.json",
            f"conversations/archived-one-{archived.pk}.md",
            f"attachments/{alice.attachments.get().pk}-graph.png",
        ]
    )
    body = json.loads(archive.read(f"conversations/what-does-this-graph-show-{chat.pk}.json"))
    assert stable(body) == stable(exporting.conversation_data(chat, feedback=True))
    assert archive.read(names[0]).startswith(b"\x89PNG")
    assert b"Bob's secret" not in b"".join(archive.read(n) for n in names)


def test_imported_times_are_kept_for_versions(chat, alice) -> None:
    exported = exporting.conversation_data(chat)
    exported["messages"][0]["chosen_at"] = datetime(2020, 1, 1, tzinfo=UTC).isoformat()
    copy = exporting.conversation_import(user=alice, data=exporting.parse(json.dumps(exported).encode()))
    assert copy.messages.order_by("id").first().chosen_at == datetime(2020, 1, 1, tzinfo=UTC)


def test_markdown_shows_code_execution_its_output_and_its_errors(fake_api, alice) -> None:
    conversation, reply = services.conversation_start(user=alice, text="Run it", model=MODEL)
    call = {
        "type": "server_tool_use",
        "id": "s1",
        "name": "bash_code_execution",
        "input": {"command": "ls /"},
    }
    output = {
        "type": "bash_code_execution_result",
        "stdout": "bin\netc",
        "stderr": "",
        "return_code": 0,
        "content": [],
    }
    result = {"type": "bash_code_execution_tool_result", "tool_use_id": "s1", "content": output}
    error = {"type": "bash_code_execution_tool_result_error", "error_code": "unavailable"}
    failed = {"type": "bash_code_execution_tool_result", "tool_use_id": "s2", "content": error}
    finish(reply, call, result, failed)
    text = exporting.as_markdown(exporting.conversation_data(conversation))
    assert "Code execution:\n\n```\nls /\n```\n\nOutput:\n\n```\nbin\netc\n```" in text
    assert "*[Code execution failed: unavailable]*" in text


def test_markdown_shows_searches_and_numbered_sources_as_literal_text(fake_api, alice) -> None:
    conversation, reply = services.conversation_start(user=alice, text="News?", model=MODEL)
    good = fake_tools.search_result("https://news.example/storm_watch", "Storm [watch](javascript:x)")
    evil = fake_tools.search_result("javascript:alert(1)", "<b>Evil</b>")
    finish(
        reply,
        {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"query": "storm *today*"}},
        {"type": "web_search_tool_result", "tool_use_id": "s1", "content": [good, evil]},
        {"type": "text", "text": "Rain on Monday.", "citations": [fake_tools.web_citation(good, "Rain")]},
        {"type": "text", "text": "Wind too.", "citations": [fake_tools.web_citation(evil, "Wind")]},
        {"type": "server_tool_use", "id": "s2", "name": "web_fetch", "input": {"url": "https://a.example/"}},
        {
            "type": "web_fetch_tool_result",
            "tool_use_id": "s2",
            "content": {"type": "web_fetch_tool_error", "error_code": "url_not_accessible"},
        },
    )
    text = exporting.as_markdown(exporting.conversation_data(conversation))
    assert "*Searched: storm \\*today\\**" in text
    assert "- Storm \\[watch\\]\\(javascript:x\\) — <https://news.example/storm_watch>" in text
    assert "- \\<b\\>Evil\\</b\\> — javascript:alert\\(1\\)" in text
    assert "Rain on Monday. [1]\n\nWind too. [2]" in text
    assert "*Read: <https://a.example/>*\n\n*[Web fetch failed: url\\_not\\_accessible]*" in text
    sources = text.split("Sources:\n\n")[1]
    assert sources.startswith(
        "[1] Storm \\[watch\\]\\(javascript:x\\) — <https://news.example/storm_watch>\n"
        "[2] \\<b\\>Evil\\</b\\> — javascript:alert\\(1\\)\n"
    )
    assert "[server_tool_use]" not in text and "[web_search_tool_result]" not in text


def test_searches_citations_and_code_round_trip_as_the_api_sent_them(fake_api, alice) -> None:
    conversation, reply = services.conversation_start(user=alice, text="News?", model=MODEL)
    result = fake_tools.search_result("https://news.example/storm", "Storm")
    output = {
        "type": "bash_code_execution_result",
        "stdout": "ok",
        "stderr": "",
        "return_code": 0,
        "content": [],
    }
    finish(
        reply,
        {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"query": "storm"}},
        {"type": "web_search_tool_result", "tool_use_id": "s1", "content": [result]},
        {"type": "text", "text": "Rain.", "citations": [fake_tools.web_citation(result, "Rain")]},
        {"type": "server_tool_use", "id": "s2", "name": "bash_code_execution", "input": {"command": "ls"}},
        {"type": "bash_code_execution_tool_result", "tool_use_id": "s2", "content": output},
    )
    exported = exporting.conversation_data(conversation)
    copy = exporting.conversation_import(
        user=alice, data=exporting.parse(exporting.as_json(exported).encode())
    )
    assert stable(exporting.conversation_data(copy))["messages"] == stable(exported)["messages"]


def test_markdown_names_each_attached_file_by_kind(fake_api, alice) -> None:
    conversation, reply = services.conversation_start(user=alice, text="Read", model=MODEL)
    question = conversation.messages.get(role="user")
    files = [
        {"type": "document", "attachment_id": 1, "name": "q3.pdf", "pages": 3},
        {"type": "document", "attachment_id": 2, "name": "notes.txt"},
    ]
    add_blocks(question, files, start=1)
    text = exporting.as_markdown(exporting.conversation_data(conversation))
    assert "Read\n\n*[PDF: q3.pdf]*\n\n*[Text: notes.txt]*" in text
