"""Monthly budgets: a warning at 80%, a refusal at 100%, per user and per team prompt, race-safe."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from conversations import services as chat
from conversations.models import Budget, Conversation
from tests.helpers import reply_with_usage

pytestmark = pytest.mark.django_db


def spend(user, amount: str, days_ago: int = 0):
    conversation = Conversation.objects.create(owner=user, title="spent", model="claude-sonnet-4-6")
    return reply_with_usage(conversation, days_ago=days_ago, cost=Decimal(amount))


def test_a_budget_must_be_a_non_negative_number(alice):
    for bad in ("-1", "abc"):
        with pytest.raises(ValidationError):
            Budget(user=alice, monthly_limit=bad).full_clean()


def test_warning_at_80_percent_then_refusal_at_100_then_raising_the_limit(client, alice):
    Budget.objects.create(user=alice, monthly_limit=Decimal("10"))
    spend(alice, "8.50")
    client.force_login(alice)
    page = client.get(reverse("new_chat")).content.decode()
    assert "$8.50 of $10.00 spent (85%)" in page

    spend(alice, "1.50")
    response = client.post(reverse("start_chat"), {"text": "one more"})
    body = response.content.decode()
    assert response.status_code == 422
    assert "monthly limit of $10.00 is reached ($10.00 spent); it resets on" in body
    assert "one more</textarea>" in body
    assert not Conversation.objects.filter(title="one more").exists()

    Budget.objects.filter(user=alice).update(monthly_limit=Decimal("20"))
    assert client.post(reverse("start_chat"), {"text": "one more"}).status_code == 302


def test_last_months_spending_does_not_count_and_this_months_does(alice, bob):
    for user in (alice, bob):
        Budget.objects.create(user=user, monthly_limit=Decimal("1"))
    spend(alice, "50", days_ago=40)
    spend(bob, "50")
    chat.conversation_start(user=alice, text="fresh month", model="claude-sonnet-4-6")
    with pytest.raises(chat.ChatError, match=r"limit of \$1\.00 is reached \(\$50\.00 spent\)"):
        chat.conversation_start(user=bob, text="same month", model="claude-sonnet-4-6")
    assert not Conversation.objects.filter(title="same month").exists()


def test_a_team_budget_limits_its_prompts_only(alice, usage_fixture):
    Budget.objects.create(team=usage_fixture, monthly_limit=Decimal("0.01"))
    version = usage_fixture.prompts.get().latest
    with pytest.raises(chat.ChatError, match="Legal"):
        chat.conversation_start(user=alice, text="hi", model="claude-sonnet-4-6", prompt_version=version)
    chat.conversation_start(user=alice, text="hi", model="claude-sonnet-4-6")  # no team prompt: fine


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_near_the_limit_start_only_one_reply(alice):
    Budget.objects.create(user=alice, monthly_limit=Decimal("10"))
    spend(alice, "9")  # the most expensive reply so far costs $9
    conversations = [Conversation.objects.create(owner=alice, title=f"c{i}", model="m") for i in range(6)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(conversations))

    def send(conversation):
        barrier.wait()
        try:
            chat.message_send(conversation=conversation, text="go")
            outcomes.append("sent")
        except chat.ChatError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in conversations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("sent") == 1, outcomes
    assert all("wait for the reply that is still running" in o for o in outcomes if o != "sent")
