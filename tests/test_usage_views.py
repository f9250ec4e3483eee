"""The staff usage dashboard, its CSV export, and each team's usage page for its owners."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations.models import ApiCall, Conversation, Message
from conversations.spending import spent, totals
from teams import services as team_services

pytestmark = pytest.mark.django_db


def test_dashboard_is_staff_only(client, alice, staff):
    assert client.get(reverse("usage_dashboard")).status_code == 302
    client.force_login(alice)
    assert client.get(reverse("usage_dashboard")).status_code == 403
    assert client.get(reverse("usage_dashboard"), {"export": "users"}).status_code == 403
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


def test_figures_are_grouped_by_thousands_on_the_page_and_raw_in_the_csv(client, staff, usage_fixture):
    client.force_login(staff)
    page = client.get(reverse("usage_dashboard")).content.decode()
    assert '<dd class="figure">1,000</dd>' in page  # cache writes, in the totals
    assert '<td class="figure">1,000</td>' in page  # alice's, in the users' table
    exported = client.get(reverse("usage_dashboard"), {"export": "users"}).content.decode()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert "1000" in rows[0].values() and not any("," in value for row in rows for value in row.values())


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

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("usage_dashboard")).status_code == 200
        return len(queries)

    def add(count: int) -> None:
        conversations = Conversation.objects.bulk_create(
            Conversation(owner=alice, title="t", model="claude-sonnet-4-6") for _ in range(count)
        )
        reply, title = {"role": "assistant", "cost": Decimal("0.001")}, {"cost": Decimal("0.0001")}
        Message.objects.bulk_create(Message(conversation=c, **reply) for c in conversations)
        ApiCall.objects.bulk_create(
            ApiCall(kind="title", user=alice, conversation=c, model="claude-haiku-4-5", **title)
            for c in conversations
        )

    add(10)
    small = count_queries()
    add(2990)
    assert count_queries() == small


def test_overhead_is_in_every_table_and_ranks_its_conversation(client, staff, alice, bob, usage_fixture):
    legal, plain = Conversation.objects.get(title="Contract"), Conversation.objects.get(owner=bob)
    title = {"kind": "title", "model": "claude-haiku-4-5", "input_tokens": 50, "output_tokens": 5}
    ApiCall.objects.create(
        user=alice, team=usage_fixture, conversation=legal, cost=Decimal("0.0001"), **title
    )
    # Bob's conversation cost less in replies ($0.0007 against $0.012), more with its overhead.
    ApiCall.objects.create(user=bob, conversation=plain, cost=Decimal("0.02"), **title)
    client.force_login(staff)
    context = client.get(reverse("usage_dashboard")).context
    totals = context["totals"]
    counts = (totals["replies"], totals["overhead_calls"], totals["input"], totals["output"])
    assert counts == (3, 2, 500, 210)
    assert (totals["cost"], totals["overhead_cost"]) == (Decimal("0.0328"), Decimal("0.0201"))
    assert [(row["label"], row["cost"], row["overhead_cost"]) for row in context["expensive"]] == [
        ("=HYPERLINK(evil)", Decimal("0.0207"), Decimal("0.02")),
        ("Contract", Decimal("0.0121"), Decimal("0.0001")),
    ]
    assert [(row["label"], row["cost"]) for row in context["teams"]] == [
        (None, Decimal("0.0207")),
        ("Legal", Decimal("0.0121")),
    ]
    assert [(row["label"], row["replies"]) for row in context["models"]] == [
        ("claude-haiku-4-5", 1),
        ("claude-sonnet-4-6", 2),
    ]
    assert sum(day["cost"] for day in context["days"]) == totals["cost"]
    response = client.get(reverse("usage_dashboard"), {"export": "users"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    columns = [
        (r["user"], Decimal(r["cost"]), r["overhead_calls"], Decimal(r["overhead_cost"])) for r in rows
    ]
    assert columns == [
        ("bob", Decimal("0.0207"), "1", Decimal("0.02")),
        ("alice", Decimal("0.0121"), "1", Decimal("0.0001")),
    ]
    client.force_login(alice)  # the team's owner: its overhead, not bob's
    team = client.get(reverse("team_usage", args=[usage_fixture.pk])).context["totals"]
    assert (team["cost"], team["overhead_calls"]) == (Decimal("0.0121"), 1)


def test_a_purged_conversations_overhead_stays_in_usage(alice):
    conversation = Conversation.objects.create(owner=alice, title="t", model="claude-sonnet-4-6")
    call = ApiCall.objects.create(
        kind="title", user=alice, conversation=conversation, model="claude-haiku-4-5", cost=Decimal("0.001")
    )
    conversation.delete()  # as a purge does
    call.refresh_from_db()
    assert call.conversation_id is None
    assert totals(spent().of_user(alice.pk))["cost"] == Decimal("0.001")


def test_team_usage_is_for_that_teams_owners_only(client, alice, bob, usage_fixture):
    other = team_services.team_create(user=bob, name="Other")
    url = reverse("team_usage", args=[usage_fixture.pk])
    client.force_login(alice)
    page = client.get(url)
    assert page.status_code == 200 and page.context["totals"]["replies"] == 2
    html = page.content.decode()
    main = html[html.index("<main") : html.index("</main>")]  # the sidebar lists alice's own chats
    assert "Contract" not in main  # the usage shows no transcripts, not even titles
    client.force_login(bob)  # owns another team, not this one
    assert client.get(url).status_code == 404
    team_services.member_add(team=usage_fixture, identifier="bob", role="member")
    assert client.get(url).status_code == 403  # in the team, not an owner
    assert client.get(reverse("team_usage", args=[other.pk])).status_code == 200
