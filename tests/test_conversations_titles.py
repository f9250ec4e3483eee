"""Generated titles: the exact request to the cheapest model after the first reply, cleaning the
answer, never overwriting a rename, the title frame to open tabs, and the fallback kept when the
call fails or is not made (embedded model, later replies)."""

import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from conversations import generation, services, titles
from conversations.models import Conversation, ModelPrice
from conversations.pricing import Price, seed_default_prices
from fakes import HttpError, Reply
from tests.helpers import connect, frames_until_end, run_reply, send, start_chat

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "How do I keep a sourdough starter alive while I am away on holiday for three weeks?"
ANSWER = "Feed it, then put it in the fridge; it keeps for weeks."


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
    generation.start(reply.pk)
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


async def test_an_api_error_keeps_the_fallback_title_without_retrying(titled, alice) -> None:
    titled.enqueue(Reply(ANSWER), HttpError(529, retry_after=0))
    conversation, reply = await run_reply(alice, QUESTION)
    await generation.wait_all()
    assert reply.status == "complete"
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == services.title_from_text(QUESTION)
    assert len(titled.message_requests) == 2  # the reply, one title call: no retries


async def test_an_empty_answer_keeps_the_fallback_title(titled, alice) -> None:
    titled.enqueue(Reply(ANSWER), Reply(" \n "))
    conversation, _ = await run_reply(alice, QUESTION)
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == services.title_from_text(QUESTION)


async def test_a_renamed_title_is_never_replaced(titled, alice) -> None:
    # Renamed before the first reply ends: no call at all.
    conversation, reply = await start_chat(alice, QUESTION, "claude-sonnet-4-6")
    await sync_to_async(services.conversation_rename)(conversation=conversation, title="My starter")
    titled.enqueue(Reply(ANSWER))
    generation.start(reply.pk)
    await generation.wait_all()
    assert len(titled.message_requests) == 1
    assert (await Conversation.objects.aget(pk=conversation.pk)).title == "My starter"

    # Renamed while the call is out: the conditional write leaves the rename.
    other, reply = await run_reply(alice, "Another question about bread")
    job = titles.TitleJob(other.pk, services.title_from_text("Another question about bread"), {})
    await sync_to_async(services.conversation_rename)(conversation=other, title="Mine")
    assert not await sync_to_async(titles.store)(job, "Generated")
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
