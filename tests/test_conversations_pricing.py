"""Cost and cache savings: each token kind, both TTLs, the embedded model, and a five-turn
conversation on a team prompt against the fake API's cache simulation."""

import dataclasses
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from conversations import selectors
from conversations import services as chat_services
from conversations.claude import pricing
from conversations.models import Message, ModelPrice
from conversations.reply import generation
from teams import services as team_services
from usage.selectors import prompt_version_stats

SONNET = pricing.Price(Decimal("3"), Decimal("15"), Decimal("3.75"), Decimal("6"), Decimal("0.30"))


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (pricing.Usage(input_tokens=1_000_000), Decimal("3")),
        (pricing.Usage(output_tokens=1_000_000), Decimal("15")),
        (pricing.Usage(cache_creation_input_tokens=1_000_000), Decimal("3.75")),
        (
            pricing.Usage(cache_creation_input_tokens=1_000_000, cache_creation_1h_input_tokens=1_000_000),
            Decimal("6"),
        ),
        (pricing.Usage(cache_read_input_tokens=1_000_000), Decimal("0.30")),
        (pricing.Usage(input_tokens=10, output_tokens=20, cache_read_input_tokens=1000), Decimal("0.00063")),
    ],
)
def test_cost_of_each_token_kind(usage, expected):
    assert pricing.cost(usage, SONNET) == expected


def test_savings_count_reads_and_charge_the_write_premium():
    assert pricing.cache_savings(pricing.Usage(cache_read_input_tokens=1_000_000), SONNET) == Decimal("2.70")
    assert pricing.cache_savings(pricing.Usage(cache_creation_input_tokens=1_000_000), SONNET) == Decimal(
        "-0.75"
    )
    one_hour = pricing.Usage(cache_creation_input_tokens=1_000_000, cache_creation_1h_input_tokens=1_000_000)
    assert pricing.cache_savings(one_hour, SONNET) == Decimal("-3")


def test_hit_rate():
    assert (
        pricing.hit_rate(input_tokens=10, cache_creation_input_tokens=10, cache_read_input_tokens=80) == 0.8
    )
    assert pricing.hit_rate(input_tokens=0, cache_creation_input_tokens=0, cache_read_input_tokens=0) == 0.0


@pytest.mark.django_db
def test_default_prices_match_by_longest_prefix_and_the_embedded_model_is_free():
    # The seeded Sonnet row has long-context rates too (migration 0028: the 1M window's).
    long_context = {"long_input": Decimal(6), "long_output": Decimal("22.5")}
    assert selectors.price_for_model("claude-sonnet-4-6") == dataclasses.replace(SONNET, **long_context)
    assert selectors.price_for_model("claude-opus-4-8-20260101").output == Decimal("25")
    free = selectors.price_for_model("smollm2-135m-local")
    assert pricing.cost(pricing.Usage(input_tokens=10**6, output_tokens=10**6), free) == 0
    assert selectors.price_for_model("gpt-4") is None


@pytest.mark.django_db(transaction=True)
async def test_five_turns_on_a_team_prompt_read_the_prefix_from_the_cache(fake_api, alice):
    # Transactional tests start from an empty table; put the seeded prices back.
    await sync_to_async(pricing.seed_default_prices)(ModelPrice)
    team = await sync_to_async(team_services.team_create)(user=alice, name="Support")
    prompt = await sync_to_async(team_services.prompt_create)(
        user=alice,
        name="Support tone",
        text="You are a calm, precise support agent. " * 200,
        team=team,
        cache_ttl="5m",
    )
    version = await sync_to_async(lambda: prompt.latest)()
    conversation, reply = await sync_to_async(chat_services.conversation_start)(
        user=alice, text="Question 1", model="claude-sonnet-4-6", prompt_version=version
    )
    for turn in range(2, 7):
        generation.start(reply)
        await generation.wait_all()
        if turn <= 5:
            _, reply = await sync_to_async(chat_services.message_send)(
                conversation=conversation, text=f"Question {turn}"
            )

    replies = [m async for m in Message.objects.filter(conversation=conversation, role="assistant")]
    assert len(replies) == 5 and all(r.status == "complete" for r in replies)
    assert replies[0].cache_read_input_tokens == 0 and replies[0].cache_creation_input_tokens > 0
    assert all(r.cache_read_input_tokens > 0 for r in replies[1:])
    [row] = await sync_to_async(prompt_version_stats)(prompt)
    assert row["hit_rate"] > 0.6 and row["saved"] > 0
    print(
        f"\nfive turns on a team prompt: cache hit rate {row['hit_rate']:.1%}, "
        f"cost ${row['cost']:.6f}, saved by caching ${row['saved']:.6f}"
    )
