"""Generated titles: the exact request to the cheapest model after the first reply, cleaning the
answer, never overwriting a rename, the title frame to open tabs, the fallback kept when the call
fails or is not made (embedded model, later replies), and the call's tokens and cost counted in
usage and budgets as overhead of its conversation."""

import csv
import io
import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from conversations import budgets, services
from conversations.claude import llm
from conversations.claude.pricing import Price, Usage, seed_default_prices
from conversations.models import Budget, Conversation, ModelPrice
from conversations.reply import generation, titles
from fakes import HttpError, Reply
from teams import services as team_services
from tests.helpers import connect, frames_until_end, run_reply, run_to_end, send, start_chat

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "How do I keep a sourdough starter alive while I am away on holiday for three weeks?"
ANSWER = "Feed it, then put it in the fridge; it keeps for weeks."
# Sonnet at $3/$15 per million: $0.009, plus a few cache-write tokens.
REPLY_TOKENS = {"input_tokens": 1000, "output_tokens": 400}
# Haiku at $1/$5 per million: $0.002 + $0.00005.
TITLE_TOKENS = {"input_tokens": 2000, "output_tokens": 10}
TITLE_COST = Decimal("0.00205")


@pytest.fixture
def titled(fake_api, settings, fresh_catalog):
    settings.CHAT_GENERATED_TITLES = True
    seed_default_prices(ModelPrice)
    return fake_api


# --- pure parts ----------------------------------------------------------------------------------


def test_the_request_is_short_and_exact() -> None:
    request = titles.title_request(model="claude-haiku-4-5", question="Q" * 5000, answer="A")
    assert request == {
        "model": "claude-haiku-4-5",
        "max_tokens": 24,
        "system": titles.SYSTEM,
        "messages": [
            {
                "role": "user",
                "content": f"<question>\n{'Q' * 2000}\n</question>\n"
                "<answer>\nA\n</answer>\n\nTitle this conversation.",
            }
        ],
    }


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ('"Sourdough Starter Care."', "Sourdough Starter Care"),
        ("Title: Holiday starter care\nBecause you asked…", "Holiday starter care"),
        ("\n\n  **Feeding schedules**  ", "Feeding schedules"),
        ("   ", ""),
        ("x " * 100, services.title_from_text("x " * 100)),
        ("<b>Bold</b>", "<b>Bold</b>"),  # stored as text; templates escape it
    ],
)
def test_the_answer_is_cleaned_into_a_title(answer: str, title: str) -> None:
    assert titles.cleaned(answer) == title
    assert len(titles.cleaned(answer)) <= services.TITLE_LENGTH + 1


def test_the_cheapest_priced_model_is_chosen() -> None:
    def price(i: str, o: str) -> Price:
        return Price(Decimal(i), Decimal(o), Decimal(0), Decimal(0), Decimal(0))

    prices = {"opus": price("5", "25"), "haiku": price("1", "5"), "sonnet": price("3", "15"), "new": None}
    assert titles.cheapest_model(["opus", "new", "haiku", "sonnet"], prices, "sonnet") == "haiku"
    assert titles.cheapest_model(["new"], {"new": None}, "sonnet") == "sonnet"


# --- after the first reply -----------------------------------------------------------------------


async def test_the_first_reply_gets_a_title_from_the_cheapest_model(titled, alice) -> None:
    titled.enqueue(Reply(ANSWER), Reply("“Sourdough starter on holiday.”"))
    conversation, reply = await start_chat(alice, QUESTION, "claude-sonnet-4-6")
    fallback = services.title_from_text(QUESTION)
    assert conversation.title == fallback
    socket = await connect(alice, conversation.pk)
    generation.start(reply)
    await frames_until_end(socket, reply.pk)
    frame = json.loads(await socket.receive_from(timeout=5))
    await socket.disconnect()
    await generation.wait_all()

    assert frame == ["t", conversation.pk, "Sourdough starter on holiday"]
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == "Sourdough starter on holiday"
    calls = titled.message_requests
    assert len(calls) == 2
    assert "stream" in calls[0].body and "stream" not in calls[1].body  # off the streamed path
    assert calls[1].body == titles.title_request(model="claude-haiku-4-5", question=QUESTION, answer=ANSWER)


async def test_an_api_error_keeps_the_fallback_title_without_retrying(titled, alice, staff) -> None:
    titled.enqueue(Reply(ANSWER), HttpError(529, retry_after=0))
    conversation, reply = await run_reply(alice, QUESTION)
    await generation.wait_all()
    assert reply.status == "complete"
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == services.title_from_text(QUESTION)
    assert len(titled.message_requests) == 2  # the reply, one title call: no retries
    context, _ = await sync_to_async(usage_seen_by)(staff)
    assert context["totals"]["cost"] == reply.cost  # a refused request spent nothing


async def test_an_empty_answer_keeps_the_fallback_title_and_is_still_counted(titled, alice, staff) -> None:
    titled.enqueue(Reply(ANSWER), Reply(" \n ", **TITLE_TOKENS))
    conversation, reply = await run_reply(alice, QUESTION)
    await generation.wait_all()
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == services.title_from_text(QUESTION)
    context, _ = await sync_to_async(usage_seen_by)(staff)
    assert context["totals"]["cost"] == reply.cost + TITLE_COST  # its tokens were spent all the same


async def test_a_renamed_title_is_never_replaced(titled, alice) -> None:
    # Renamed before the first reply ends: no call at all.
    conversation, reply = await start_chat(alice, QUESTION, "claude-sonnet-4-6")
    await sync_to_async(services.conversation_rename)(conversation=conversation, title="My starter")
    titled.enqueue(Reply(ANSWER))
    generation.start(reply)
    await generation.wait_all()
    assert len(titled.message_requests) == 1
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == "My starter"

    # Renamed while the call is out: the conditional write leaves the rename.
    other, reply = await run_reply(alice, "Another question about bread")
    fallback = services.title_from_text("Another question about bread")
    job = titles.TitleJob(other.pk, fallback, {}, alice.pk, None)
    await sync_to_async(services.conversation_rename)(conversation=other, title="Mine")
    assert not await sync_to_async(services.conversation_title_replace)(
        conversation_id=job.conversation_id, fallback=job.fallback, title="Generated"
    )
    assert (await Conversation.objects.aget(pk=other.pk)).title == "Mine"


async def test_only_the_first_reply_is_titled(titled, alice) -> None:
    titled.enqueue(Reply(ANSWER), Reply("Starter care"), Reply("Second answer"))
    conversation, _ = await run_reply(alice, QUESTION)
    await send(await Conversation.objects.aget(pk=conversation.pk), "And after a month?")
    await generation.wait_all()
    assert len(titled.message_requests) == 3  # reply, title, reply: no second title call
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == "Starter care"


async def test_no_call_for_the_embedded_model_or_when_turned_off(titled, alice, settings) -> None:
    settings.CHAT_GENERATED_TITLES = False
    conversation, _ = await run_reply(alice, QUESTION)
    assert len(titled.message_requests) == 1
    settings.CHAT_GENERATED_TITLES = True
    settings.CHAT_USE_LOCAL_MODEL = True
    assert not titles.wanted()


# --- counted in usage and budgets ------------------------------------------------------------------


def usage_seen_by(staff) -> tuple[dict, dict[str, list[dict]]]:
    """The staff dashboard's context, and each CSV export as rows of {column: value}."""
    client = Client()
    client.force_login(staff)
    context = client.get(reverse("usage_dashboard")).context
    exports = {}
    for table in ("models", "conversations", "teams"):
        text = client.get(reverse("usage_dashboard"), {"export": table}).content.decode()
        exports[table] = list(csv.DictReader(io.StringIO(text)))
    return context, exports


def conversation_totals_seen_by(user, conversation_id: int) -> dict:
    client = Client()
    client.force_login(user)
    return client.get(reverse("conversation", args=[conversation_id])).context["totals"]


async def test_the_fake_api_reports_the_title_calls_usage(titled) -> None:
    titled.enqueue(Reply("Starter care", input_tokens=70, output_tokens=3))
    request = titles.title_request(model="claude-haiku-4-5", question=QUESTION, answer=ANSWER)
    answer = await llm.complete_text(request)
    assert answer.text == "Starter care"
    assert answer.usage == Usage(input_tokens=70, output_tokens=3)
    assert answer.request_id.startswith("req_")


async def test_a_title_is_counted_in_usage_and_in_the_users_budget(titled, alice, staff) -> None:
    await Budget.objects.acreate(user=alice, monthly_limit=Decimal("0.01"))
    titled.enqueue(Reply(ANSWER, **REPLY_TOKENS), Reply("Starter care", **TITLE_TOKENS))
    conversation, reply = await run_reply(alice, QUESTION)
    await generation.wait_all()
    spent = reply.cost + TITLE_COST
    assert reply.cost < Decimal("0.01") <= spent  # the limit is reached only with the title

    [status] = await sync_to_async(budgets.statuses)(alice)
    assert status.spent == spent
    with pytest.raises(services.ChatError, match=r"limit of \$0.01 is reached \(\$0.01 spent\)"):
        await start_chat(alice, "One more question")
    await Budget.objects.filter(user=alice).aupdate(month_start=None)  # summed afresh: the same
    assert [s.spent for s in await sync_to_async(budgets.statuses)(alice)] == [spent]

    page = await sync_to_async(conversation_totals_seen_by)(alice, conversation.pk)
    assert (page["cost"], page["overhead_cost"]) == (spent, TITLE_COST)
    context, exports = await sync_to_async(usage_seen_by)(staff)
    totals = context["totals"]
    assert (totals["cost"], totals["replies"]) == (spent, 1)
    assert totals["input"] == reply.input_tokens + 2000 and totals["output"] == 400 + 10
    assert [(row["label"], row["cost"]) for row in context["users"]] == [("alice", spent)]
    models = {row["label"]: (row["cost"], row["replies"]) for row in context["models"]}
    assert models == {"claude-sonnet-4-6": (reply.cost, 1), "claude-haiku-4-5": (TITLE_COST, 0)}
    assert {row["model"]: Decimal(row["cost"]) for row in exports["models"]} == {
        "claude-sonnet-4-6": reply.cost,
        "claude-haiku-4-5": TITLE_COST,
    }
    # Shown as overhead of its conversation: in its cost, and as a column of its own.
    [row] = context["expensive"]
    assert (row["conversation_pk"], row["cost"], row["overhead_cost"]) == (conversation.pk, spent, TITLE_COST)
    [line] = exports["conversations"]
    assert (Decimal(line["cost"]), Decimal(line["overhead_cost"]), line["overhead_calls"]) == (
        spent,
        TITLE_COST,
        "1",
    )


async def test_a_title_in_a_team_prompts_conversation_counts_against_the_team(titled, alice, staff) -> None:
    team = await sync_to_async(team_services.team_create)(user=alice, name="Legal")
    prompt = await sync_to_async(team_services.prompt_create)(
        user=alice, name="Reviewer", text="x", team=team, cache_ttl="5m"
    )
    version = await sync_to_async(lambda: prompt.latest)()
    await Budget.objects.acreate(team=team, monthly_limit=Decimal("0.01"))
    titled.enqueue(Reply(ANSWER, **REPLY_TOKENS), Reply("Contract review", **TITLE_TOKENS))
    _, reply = await sync_to_async(services.conversation_start)(
        user=alice, text=QUESTION, model="claude-sonnet-4-6", prompt_version=version
    )
    reply = await run_to_end(reply)
    await generation.wait_all()
    spent = reply.cost + TITLE_COST
    assert reply.cost < Decimal("0.01") <= spent

    [status] = await sync_to_async(budgets.statuses)(alice, [team.pk])
    assert (status.label, status.spent) == ("The team “Legal”’s", spent)
    with pytest.raises(services.ChatError, match="Legal"):
        await sync_to_async(services.conversation_start)(
            user=alice, text="More", model="claude-sonnet-4-6", prompt_version=version
        )
    await start_chat(alice, "No team prompt: not the team's budget")

    context, exports = await sync_to_async(usage_seen_by)(staff)
    assert [(row["label"], row["cost"]) for row in context["teams"] if row["label"]] == [("Legal", spent)]
    assert [Decimal(row["cost"]) for row in exports["teams"] if row["team"] == "Legal"] == [spent]
