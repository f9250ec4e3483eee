"""The usage dashboard with many usage rows: server time (median of 20) and queries per page.

    .venv/bin/python -m bench.dashboard                  # 100,000 replies, SQLite in a temp dir
    .venv/bin/python -m bench.dashboard --rows 10000
    .venv/bin/python -m bench.dashboard --database-url postgres://postgres@127.0.0.1:5432/chat_bench

It runs in-process through Django's test client (no network), so the time is the server's own.
With --database-url, the database is created if missing and its tables are emptied first.
"""

import argparse
import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from bench.inprocess import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    setup_django("chat-dashboard-", args.database_url)
    staff = _fill(args.rows)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(staff)
    times, queries = [], []
    for _ in range(args.runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/usage/")
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        queries.append(len(captured))
    engine = connection.vendor
    median, low, high = (round(x * 1000) for x in (statistics.median(times), min(times), max(times)))
    print(
        f"usage dashboard, {args.rows:,} replies on {engine}: median {median} ms (min {low}, max {high}) "
        f"over {args.runs} requests; {queries[0]} queries per page (every request: {sorted(set(queries))})"
    )


def _fill(rows: int):
    """Users, teams with prompts, conversations each with its title call, and `rows` assistant
    replies over the last 30 days."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from conversations.models import ApiCall, Conversation, Message
    from teams import services as team_services

    random.seed(7)
    User = get_user_model()
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    users = User.objects.bulk_create(User(username=f"user{i}") for i in range(50))
    versions = []
    for t in range(5):
        team = team_services.team_create(user=users[t], name=f"Team {t}")
        prompt = team_services.prompt_create(
            user=users[t], name=f"Prompt {t}", text="x" * 500, team=team, cache_ttl="5m"
        )
        versions.append(prompt.latest)
    models = ["claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5"]
    conversations = Conversation.objects.bulk_create(
        Conversation(
            owner=random.choice(users),
            title=f"Conversation {i}",
            model=random.choice(models),
            prompt_version=random.choice(versions + [None, None]),
        )
        for i in range(1000)
    )
    now = timezone.now()
    batch = []
    for i in range(rows):
        conversation = conversations[i % len(conversations)]
        inp, out = random.randint(10, 4000), random.randint(10, 2000)
        read, write = random.choice([0, 0, 2000, 5000]), random.choice([0, 0, 0, 2000])
        batch.append(
            Message(
                conversation=conversation,
                role="assistant",
                status="complete",
                model=conversation.model,
                input_tokens=inp,
                output_tokens=out,
                cache_read_input_tokens=read,
                cache_creation_input_tokens=write,
                cost=Decimal(inp * 3 + out * 15 + read * 0.3 + write * 3.75) / 1_000_000,
                cache_savings=Decimal(read * 2.7 - write * 0.75) / 1_000_000,
            )
        )
        if len(batch) == 5000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    teams = {version.pk: version.prompt.team_id for version in versions}
    ApiCall.objects.bulk_create(
        ApiCall(
            kind="title",
            user_id=conversation.owner_id,
            team_id=teams.get(conversation.prompt_version_id),
            conversation=conversation,
            model="claude-haiku-4-5",
            input_tokens=400,
            output_tokens=8,
            cost=Decimal("0.00044"),
        )
        for conversation in conversations
    )
    # Spread them over the last 30 days.
    ids = list(Message.objects.values_list("id", flat=True))
    for day in range(30):
        Message.objects.filter(id__in=ids[day::30]).update(created_at=now - timedelta(days=day, hours=1))
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum would have done by the time anyone looks
    return staff


if __name__ == "__main__":
    main()
