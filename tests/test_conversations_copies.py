"""Copies (an import, or a share continued) as an attacker would make them: their figures never
count as spending, hostile numbers and nesting are refused with a reason, what is stored already
never breaks a page, and the Markdown export's code blocks cannot be closed from inside."""

import json
import re
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from chatsite import json_depth
from conversations import budgets, services
from conversations.library import exporting, sharing
from conversations.models import Attachment, Budget, ContentBlock, Conversation, Message, ProducedFile
from conversations.reply import reply_request
from conversations.reply.anthropic_request import FILE_LEFT_OUT
from tests.helpers import add_blocks, finish, image_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_catalog")]

MODEL = "claude-sonnet-4-6"


def export_with(*messages: dict) -> bytes:
    return json.dumps(
        {
            "format": "chat-conversation",
            "version": 1,
            "title": "Copied",
            "model": MODEL,
            "messages": list(messages),
        }
    ).encode()


def reply(cost: str, **extra) -> dict:
    return {
        "parent": 0,
        "role": "assistant",
        "usage": {"input_tokens": 1000, "output_tokens": 500},
        "cost": cost,
        "blocks": [{"type": "text", "text": "An answer."}],
        **extra,
    }


QUESTION = {"role": "user", "blocks": [{"type": "text", "text": "A question"}]}


def imported(user, raw: bytes) -> Conversation:
    return exporting.conversation_import(user=user, data=exporting.parse(raw))


# --- row 1: copied figures are never spending -----------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [("cost", "-999999.00"), ("cost", "-0.01"), ("cost", "5000000")])
def test_a_negative_or_huge_imported_cost_is_refused(alice, field, value) -> None:
    with pytest.raises(exporting.Refused, match=f"messages.1.{field}"):
        exporting.parse(export_with(QUESTION, reply(value)))


def test_a_negative_cache_saving_within_bounds_is_kept(fake_api, alice) -> None:
    copy = imported(alice, export_with(QUESTION, reply("0.01", cache_savings="-0.002")))
    assert copy.messages.get(role="assistant").cache_savings == Decimal("-0.002")


def test_an_imported_reply_never_counts_toward_the_importers_budget(fake_api, alice) -> None:
    Budget.objects.create(user=alice, monthly_limit=Decimal("1"))
    imported(alice, export_with(QUESTION, reply("500.00")))
    budgets.check_can_send(user=alice, team_id=None)  # $0 spent here: the $500 was spent elsewhere
    assert budgets.statuses(alice)[0].spent == 0

    # What alice spends herself still counts, so the limit still holds.
    conversation = Conversation.objects.create(owner=alice, title="mine", model=MODEL)
    Message.objects.create(conversation=conversation, role="assistant", model=MODEL, cost=Decimal("1.5"))
    Budget.objects.filter(user=alice).update(month_start=None)  # summed afresh
    with pytest.raises(budgets.BudgetExceeded, match=r"\$1.50 spent"):
        budgets.check_can_send(user=alice, team_id=None)


def test_continuing_a_500_dollar_share_charges_the_reader_nothing(fake_api, people, team) -> None:
    owner, member = people["owner"], people["member"]
    conversation, first = services.conversation_start(user=owner, text="Plan", model=MODEL)
    finish(first, {"type": "text", "text": "Costly."}, output_tokens=10, cost=Decimal("500"))
    share = sharing.share_create(conversation=conversation, team=team)
    Budget.objects.create(user=member, monthly_limit=Decimal("1"))

    copy = sharing.share_continue(user=member, share=share)

    budgets.check_can_send(user=member, team_id=None)
    copied = copy.messages.get(role="assistant")
    assert copied.copied_at is not None and copied.cost == Decimal("500")
    assert not Message.objects.spending().filter(conversation=copy).exists()


def test_a_copied_reply_shows_its_figures_as_the_original_chats(client, fake_api, alice) -> None:
    copy = imported(alice, export_with(QUESTION, reply("0.25")))
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[copy.pk])).content.decode()
    figures = '<span class="figure">$0.2500</span> · <span class="figure">from the original chat</span>'
    assert figures in page
    assert 'class="model-name conversation-cost"' not in page  # nothing spent in this conversation


# --- row 2: a file id never crosses owners ------------------------------------------------------


def file_source(file_id: str) -> dict:
    return {"type": "file", "file_id": file_id}


def forged_blocks(foreign: str, foreign_code: str, own_code: str) -> list[dict]:
    """A reply that refers to files at every depth the API has: a tool's result (an image and a
    document), a fetched document, the files code made, and a container upload."""
    return [
        {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expression": "1+1"}},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [
                {"type": "image", "source": file_source(foreign)},
                {"type": "document", "source": file_source(foreign), "title": "Salaries"},
                {"type": "text", "text": "2"},
            ],
        },
        {
            "type": "server_tool_use",
            "id": "srvtoolu_1",
            "name": "web_fetch",
            "input": {"url": "https://a.example"},
        },
        {
            "type": "web_fetch_tool_result",
            "tool_use_id": "srvtoolu_1",
            "content": {
                "type": "web_fetch_result",
                "url": "https://a.example",
                "content": {"type": "document", "source": file_source(foreign), "title": "A"},
            },
        },
        {
            "type": "server_tool_use",
            "id": "srvtoolu_2",
            "name": "bash_code_execution",
            "input": {"command": "ls"},
        },
        {
            "type": "bash_code_execution_tool_result",
            "tool_use_id": "srvtoolu_2",
            "content": {
                "type": "bash_code_execution_result",
                "stdout": "",
                "stderr": "",
                "return_code": 0,
                "content": [
                    {"type": "bash_code_execution_output", "file_id": foreign_code},
                    {"type": "bash_code_execution_output", "file_id": own_code},
                ],
            },
        },
        {"type": "text", "text": "Done."},
    ]


@pytest.fixture
def alices_files(fake_api, alice, media) -> tuple[str, str]:
    """A file alice uploaded (its Files API id) and one her code made."""
    picture = services.attachment_store(user=alice, name="salaries.png", data=image_bytes(8, 8))
    Attachment.objects.filter(pk=picture.pk).update(file_id="file_alice_upload")
    conversation = Conversation.objects.create(owner=alice, title="Payroll", model=MODEL)
    ProducedFile.objects.create(conversation=conversation, file_id="file_alice_code", filename="pay.csv")
    return "file_alice_upload", "file_alice_code"


@pytest.fixture
def bobs_code_file(bob) -> str:
    conversation = Conversation.objects.create(owner=bob, title="Mine", model=MODEL)
    ProducedFile.objects.create(conversation=conversation, file_id="file_bob_code", filename="mine.csv")
    return "file_bob_code"


def test_an_import_keeps_no_file_its_importer_does_not_own_at_any_depth(
    alices_files, alice, bob, bobs_code_file
):
    upload, code = alices_files
    blocks = forged_blocks(upload, code, bobs_code_file)
    image = {"type": "image", "attachment_id": 1, "name": "x.png", "source": file_source(upload)}
    question = {"role": "user", "blocks": [image, {"type": "text", "text": "Look"}]}

    copy = imported(bob, export_with(question, reply("0", blocks=blocks)))

    stored = [
        b.payload
        for b in ContentBlock.objects.filter(message__conversation=copy).order_by("message", "index")
    ]
    text = json.dumps(stored)
    assert upload not in text and code not in text
    assert stored[0] == {"type": "text", "text": "[Image not included: x.png]"}
    assert stored[3]["content"][:2] == [
        {"type": "text", "text": FILE_LEFT_OUT},
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": FILE_LEFT_OUT},
            "title": "Salaries",
        },
    ]
    assert stored[5]["content"]["content"]["source"]["data"] == FILE_LEFT_OUT
    assert stored[7]["content"]["content"] == [
        {"type": "bash_code_execution_output", "file_id": bobs_code_file}
    ]

    # Alice's own export of the same blocks keeps her files.
    mine = imported(alice, export_with(QUESTION, reply("0", blocks=blocks)))
    assert upload in json.dumps([b.payload for b in ContentBlock.objects.filter(message__conversation=mine)])


def test_the_request_carries_only_files_its_owner_has_whatever_is_stored(
    alices_files, bob, bobs_code_file, caplog
):
    """Defence in depth: blocks written past the import's check (forged at every nesting) still
    send none of alice's files in bob's request."""
    upload, code = alices_files
    conversation, first = services.conversation_start(user=bob, text="Look", model=MODEL)
    services.conversation_configure(
        conversation=conversation, model=MODEL, params={"web": True, "code": True}
    )
    finish(first, *forged_blocks(upload, code, bobs_code_file))
    question = conversation.messages.get(role="user")
    add_blocks(question, [{"type": "image", "source": file_source(upload)}], start=1)
    _, second = services.message_send(conversation=conversation, text="And now?")

    request = reply_request.request_for(
        Message.objects.select_related("conversation__prompt_version").get(pk=second.pk), own_blocks=[]
    ).body

    text = json.dumps(request)
    assert upload not in text and code not in text
    assert request["messages"][0]["content"][1] == {"type": "text", "text": FILE_LEFT_OUT}
    assert request["messages"][2]["content"][0]["content"] == [
        {"type": "text", "text": FILE_LEFT_OUT},
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": FILE_LEFT_OUT},
            "title": "Salaries",
        },
        {"type": "text", "text": "2"},
    ]
    assistant = request["messages"][3]["content"]
    assert assistant[1]["content"]["content"]["source"]["data"] == FILE_LEFT_OUT
    assert assistant[3]["content"]["content"] == [
        {"type": "bash_code_execution_output", "file_id": bobs_code_file}
    ]
    assert "left out 2 file(s) its owner does not have" in caplog.text


# --- row 3: a big import never holds others' writes ---------------------------------------------


def many_messages(count: int) -> bytes:
    messages = [
        {
            "parent": i - 1 if i else None,
            "role": "assistant" if i % 2 else "user",
            "blocks": [{"type": "text", "text": f"Part {j} of message {i}"} for j in range(5)],
        }
        for i in range(count)
    ]
    return export_with(*messages)


@pytest.mark.django_db(transaction=True)
def test_others_write_between_the_chunks_of_a_big_import_which_stays_hidden_until_done(
    fake_api, alice, bob, monkeypatch
) -> None:
    monkeypatch.setattr(exporting, "CHUNK_BLOCKS", 12)
    bobs = Conversation.objects.create(owner=bob, title="Bob's", model=MODEL)
    written = exporting._write_chunk
    seen: list[int] = []

    def rename_bobs() -> None:
        services.conversation_rename(conversation=bobs, title="Renamed by bob")
        connection.close()

    def write_chunk(*args, **kwargs) -> None:
        written(*args, **kwargs)
        seen.append(Conversation.objects.visible().filter(owner=alice).count())
        if len(seen) == 1:  # midway: another person writes, and is not kept waiting for the rest
            other = threading.Thread(target=rename_bobs)
            other.start()
            other.join(timeout=10)
            assert not other.is_alive(), "bob's rename waited for alice's whole import"

    monkeypatch.setattr(exporting, "_write_chunk", write_chunk)
    copy = imported(alice, many_messages(40))

    assert len(seen) >= 10 and set(seen) == {0}  # nothing of it on show while it was written
    bobs.refresh_from_db()
    assert bobs.title == "Renamed by bob"
    assert copy.deleted_at is None and Conversation.objects.visible().get(owner=alice) == copy
    assert (
        copy.messages.count() == 40 and ContentBlock.objects.filter(message__conversation=copy).count() == 200
    )


def test_an_import_that_fails_midway_leaves_nothing(fake_api, alice, monkeypatch) -> None:
    monkeypatch.setattr(exporting, "CHUNK_BLOCKS", 12)
    written = exporting._write_chunk
    calls: list[int] = []

    def write_chunk(*args, **kwargs) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        written(*args, **kwargs)

    monkeypatch.setattr(exporting, "_write_chunk", write_chunk)
    with pytest.raises(OSError):
        imported(alice, many_messages(40))
    assert not Conversation.objects.filter(owner=alice).exists()
    assert not Message.objects.filter(conversation__owner=alice).exists()


# --- row 4: nesting ------------------------------------------------------------------------------


def nested(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_an_import_nested_deeper_than_the_limit_is_refused_with_the_reason(alice) -> None:
    tool = {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": nested(json_depth.MAX_DEPTH)}
    with pytest.raises(exporting.Refused, match="a block nests deeper than 64 levels"):
        exporting.parse(export_with(QUESTION, reply("0", blocks=[tool])))
    tool["input"] = nested(json_depth.MAX_DEPTH - 2)  # the block and its input make two more levels
    exporting.parse(export_with(QUESTION, reply("0", blocks=[tool])))
    with pytest.raises(exporting.Refused, match="nests deeper than 64 levels"):
        exporting.parse(b"[" * 5000 + b"]" * 5000)


@pytest.mark.parametrize("levels", [950, 1150])
def test_what_is_stored_deep_already_renders_everywhere(
    client, fake_api, people, team, staff, levels
) -> None:
    owner = people["owner"]
    conversation, first = services.conversation_start(user=owner, text="Deep", model=MODEL)
    finish(
        first,
        {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": nested(levels)},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [nested(levels)]},
        {"type": "text", "text": "Done."},
    )
    share = sharing.share_create(conversation=conversation, team=team)

    client.force_login(owner)
    for name in ("conversation", "export_json", "export_markdown"):
        response = client.get(reverse(name, args=[conversation.pk]))
        assert response.status_code == 200, name
        assert json_depth.CUT in response.content.decode(), name  # cut at the limit
    assert client.get(reverse("export_all")).status_code == 200
    client.force_login(people["member"])
    assert client.get(reverse("shared_conversation", args=[share.pk])).status_code == 200
    client.force_login(staff)
    transcript = client.post(reverse("review_transcript", args=[conversation.pk]), {"reason": "ticket 7"})
    assert transcript.status_code == 200 and json_depth.CUT in transcript.content.decode()

    # The export (cut at the limit) comes back in.
    client.force_login(owner)
    copy = imported(owner, client.get(reverse("export_json", args=[conversation.pk])).content)
    assert json_depth.depth(copy.messages.get(role="assistant").blocks.get(index=0).payload) == 64


# --- row 8: NaN and Infinity ---------------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_with_the_reason(client, alice, constant) -> None:
    tool = {"type": "tool_use", "id": "t", "name": "calc", "input": {"x": float(constant)}}
    raw = export_with(QUESTION, reply("0", blocks=[tool]))
    assert constant.encode() in raw
    client.force_login(alice)
    response = client.post(reverse("import_conversation"), {"file": _upload(raw)})
    assert response.status_code == 422
    assert f"The file contains {constant}, which is not a number JSON allows." in response.content.decode()
    assert not Conversation.objects.filter(owner=alice).exists()


def _upload(raw: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("chat.json", raw, content_type="application/json")


# --- row 9: Markdown fences ----------------------------------------------------------------------


def test_no_output_or_tool_result_can_close_its_code_block_in_the_markdown_export(fake_api, alice) -> None:
    hostile = "```\n<img src=x onerror=alert(1)>\n[click](javascript:alert(1))\n````"
    conversation, first = services.conversation_start(user=alice, text="Run it", model=MODEL)
    finish(
        first,
        {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {"expression": hostile}},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": hostile},
        {
            "type": "server_tool_use",
            "id": "srvtoolu_1",
            "name": "code_execution",
            "input": {"code": hostile},
        },
        {
            "type": "code_execution_tool_result",
            "tool_use_id": "srvtoolu_1",
            "content": {"type": "code_execution_result", "stdout": hostile, "stderr": "", "return_code": 0},
        },
    )
    text = exporting.as_markdown(exporting.conversation_data(conversation))
    # Every line of the hostile text is inside a fence that opened with 5 backticks and closes
    # with 5: the 3- and 4-backtick runs inside cannot end it.
    fences = re.findall(r"^(`{3,})[a-z]*\n(.*?)\n\1$", text, flags=re.S | re.M)
    assert len(fences) == 4
    assert all(len(fence) == 5 and "onerror" in body for fence, body in fences)
    outside = re.sub(r"^(`{3,})[a-z]*\n.*?\n\1$", "", text, flags=re.S | re.M)
    assert "onerror" not in outside and "javascript:" not in outside
    assert ContentBlock.objects.filter(message=first).count() == 4
