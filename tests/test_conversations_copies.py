"""Copies (an import, or a share continued) as an attacker would make them: their figures never
count as spending, hostile numbers and nesting are refused with a reason, what is stored already
never breaks a page, and the Markdown export's code blocks cannot be closed from inside."""

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from chatsite import json_depth
from conversations import budgets, exporting, services, sharing
from conversations.models import Budget, ContentBlock, Conversation, Message
from tests.helpers import finish

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_catalog")]

MODEL = "claude-sonnet-4-6"


def export_with(*messages: dict) -> bytes:
    return json.dumps(
        {"format": "chat-conversation", "version": 1, "title": "Copied", "model": MODEL, "messages": list(messages)}
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
    assert "$0.2500 · from the original chat" in page
    assert 'class="model-name conversation-cost"' not in page  # nothing spent in this conversation


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
def test_what_is_stored_deep_already_renders_everywhere(client, fake_api, people, team, staff, levels) -> None:
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
