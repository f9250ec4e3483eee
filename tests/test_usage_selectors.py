"""Usage aggregates: each prompt version's replies, cache hit rate, cost and savings."""

from decimal import Decimal

import pytest

from conversations import services as chat_services
from conversations.models import Message
from teams import services as team_services
from usage.selectors import prompt_version_stats


@pytest.mark.django_db
def test_version_analytics_from_usage(alice):
    team = team_services.team_create(user=alice, name="T")
    prompt = team_services.prompt_create(user=alice, name="P", text="x", team=team, cache_ttl="5m")
    conversation, reply = chat_services.conversation_start(
        user=alice, text="hi", model="claude-sonnet-4-6", prompt_version=prompt.latest
    )
    Message.objects.filter(pk=reply.pk).update(
        status="complete",
        input_tokens=100,
        cache_creation_input_tokens=100,
        cache_read_input_tokens=800,
        output_tokens=50,
        cost=Decimal("0.01"),
        cache_savings=Decimal("0.002"),
    )
    [row] = prompt_version_stats(prompt)
    assert row["version"] == 1 and row["replies"] == 1
    assert row["hit_rate"] == 0.8 and row["cache_read"] == 800
    assert row["cost"] == Decimal("0.01") and row["saved"] == Decimal("0.002")
