"""The usage dashboard, team usage, CSV export and budgets."""

import csv
import io
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversations import services as chat
from conversations.models import Conversation, Message
from teams import services as team_services
from usage.models import Budget

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff", "s@example.com", "staff-pass-123", is_staff=True)


def reply(conversation, *, days_ago=0, model="claude-sonnet-4-6", status="complete", **usage) -> Message:
    message = Message.objects.create(
        conversation=conversation, role="assistant", status=status, model=model, **usage
    )
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return message


@pytest.fixture
def usage_fixture(alice, bob):
    team = team_services.team_create(user=alice, name="Legal")
    prompt = team_services.prompt_create(user=alice, name="Reviewer", text="x", team=team, cache_ttl="5m")
    legal = Conversation.objects.create(
        owner=alice, title="Contract", model="claude-sonnet-4-6", prompt_version=prompt.latest
    )
    plain = Conversation.objects.create(owner=bob, title="=HYPERLINK(evil)", model="claude-haiku-4-5")
    reply(
        legal,
        days_ago=1,
        input_tokens=100,
        cache_creation_input_tokens=1000,
        output_tokens=50,
        cost=Decimal("0.01"),
        cache_savings=Decimal("-0.0008"),
    )
    reply(
        legal,
        input_tokens=100,
        cache_read_input_tokens=1000,
        output_tokens=50,
        cost=Decimal("0.002"),
        cache_savings=Decimal("0.0027"),
    )
    reply(
        plain,
        model="claude-haiku-4-5",
        input_tokens=200,
        output_tokens=100,
        cost=Decimal("0.0007"),
        cache_savings=Decimal("0"),
    )
    reply(plain, days_ago=90, input_tokens=999, cost=Decimal("9"))  # outside the default range
    return team


def test_dashboard_is_staff_only(client, alice, staff):
    assert client.get(reverse("usage_dashboard")).status_code == 302
    client.force_login(alice)
    assert client.get(reverse("usage_dashboard")).status_code == 302  # to the admin login
    assert client.get(reverse("usage_dashboard"), {"export": "users"}).status_code == 302
    client.force_login(staff)
    assert client.get(reverse("usage_dashboard")).status_code == 200


def test_dashboard_numbers_match_the_fixture(client, staff, usage_fixture):
    client.force_login(staff)
    context = client.get(reverse("usage_dashboard")).context
    totals = context["totals"]
    assert (
        totals["replies"],
        totals["input"],
        totals["cache_write"],
        totals["cache_read"],
        totals["output"],
    ) == (
        3,
        400,
        1000,
        1000,
        200,
    )
    assert totals["cost"] == Decimal("0.0127") and totals["saved"] == Decimal("0.0019")
    assert totals["hit_rate"] == 1000 / 2400
    assert [(row["label"], row["cost"]) for row in context["users"]] == [
        ("alice", Decimal("0.012")),
        ("bob", Decimal("0.0007")),
    ]
    assert [(row["label"], row["replies"]) for row in context["teams"]] == [("Legal", 2), (None, 1)]
    assert [row["label"] for row in context["models"]] == ["claude-sonnet-4-6", "claude-haiku-4-5"]
    assert [(row["label"], row["version"]) for row in context["prompts"]][0] == ("Reviewer", 1)
    assert [row["label"] for row in context["expensive"]] == ["Contract", "=HYPERLINK(evil)"]
    assert len(context["days"]) == 2 and sum(day["replies"] for day in context["days"]) == 3
    assert context["bars"] and '<svg class="chart"' in client.get(reverse("usage_dashboard")).content.decode()


def test_csv_export_neutralises_formulas(client, staff, usage_fixture):
    client.force_login(staff)
    response = client.get(reverse("usage_dashboard"), {"export": "conversations"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:2] == ["conversation", "replies"]
    assert ["'=HYPERLINK(evil)", "1"] == rows[2][:2]
    for table in ["daily", "users", "teams", "models", "prompts"]:
        assert client.get(reverse("usage_dashboard"), {"export": table}).status_code == 200
    assert client.get(reverse("usage_dashboard"), {"export": "secrets"}).status_code == 404


@pytest.mark.parametrize(
    ("since", "until", "error"),
    [
        ("2026-02-30", "", "Dates must look like"),
        ("2026-11-20", "2026-11-01", "start date is after"),
        ("2020-01-01", "2026-01-01", "at most 366 days"),
    ],
)
def test_invalid_date_ranges_are_a_clear_error(client, staff, since, until, error):
    client.force_login(staff)
    assert error in client.get(reverse("usage_dashboard"), {"since": since, "until": until}).content.decode()


def test_query_count_does_not_grow_with_the_data(client, staff, alice):
    client.force_login(staff)
    conversation = Conversation.objects.create(owner=alice, title="t", model="claude-sonnet-4-6")

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("usage_dashboard")).status_code == 200
        return len(queries)

    Message.objects.bulk_create(
        Message(conversation=conversation, role="assistant", input_tokens=1, cost=Decimal("0.001"))
        for _ in range(10)
    )
    small = count_queries()
    Message.objects.bulk_create(
        Message(conversation=conversation, role="assistant", input_tokens=1, cost=Decimal("0.001"))
        for _ in range(9990)
    )
    assert count_queries() == small


def test_team_usage_is_for_that_teams_owners_only(client, alice, bob, usage_fixture):
    other = team_services.team_create(user=bob, name="Other")
    url = reverse("team_usage", args=[usage_fixture.pk])
    client.force_login(alice)
    page = client.get(url)
    assert page.status_code == 200 and page.context["totals"]["replies"] == 2
    assert "Contract" not in page.content.decode()  # no transcripts, not even titles
    client.force_login(bob)  # owns another team, not this one
    assert client.get(url).status_code == 404
    team_services.member_add(team=usage_fixture, identifier="bob", role="member")
    assert client.get(url).status_code == 404
    assert client.get(reverse("team_usage", args=[other.pk])).status_code == 200


# --- budgets ---------------------------------------------------------------------------------


def spend(user, amount: str, days_ago: int = 0):
    conversation = Conversation.objects.create(owner=user, title="spent", model="claude-sonnet-4-6")
    return reply(conversation, days_ago=days_ago, cost=Decimal(amount))


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


def test_last_months_spending_does_not_count(alice):
    Budget.objects.create(user=alice, monthly_limit=Decimal("1"))
    spend(alice, "50", days_ago=40)
    chat.conversation_start(user=alice, text="fresh month", model="claude-sonnet-4-6")


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
