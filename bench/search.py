"""Conversation search and the sidebar's first load, with many conversations: server time (median
of 20 requests) per query, and the sidebar's bytes.

    .venv/bin/python -m bench.search                      # SQLite in a temp dir
    .venv/bin/python -m bench.search --conversations 1000 --messages 20000
    .venv/bin/python -m bench.search --database-url postgres://postgres@127.0.0.1:5432/chat_search_bench

One user owns every one of the --conversations (the worst case for that user's search: nothing is
narrowed away by the owner); their --messages are made of words drawn from a 20,000-word
vocabulary with Zipf frequencies, so there are rare, middling and very common words to look for.
Another user has --sidebar-conversations, for the sidebar's first load. It runs in-process through
Django's test client (no network), so the time is the server's own. With --database-url, the
database is created if missing and its tables are emptied first.
"""

import argparse
import itertools
import random
import statistics
import time
from datetime import timedelta

from bench.inprocess import setup_django

VOCABULARY = 20_000
SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--sidebar-conversations", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    setup_django("chat-search-", args.database_url)
    from django.db import connection

    started = time.perf_counter()
    words = _vocabulary()
    searcher = _fill(words, args.conversations, args.messages)
    viewer = _sidebar_user(args.sidebar_conversations)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum would have done by the time anyone searches
    engine = connection.vendor
    print(
        f"{engine}: {args.conversations:,} conversations, {args.messages:,} messages for one user, "
        f"filled in {time.perf_counter() - started:.0f} s"
    )

    queries = {
        "rare word": words[19_000],
        "middling word": words[300],
        "common word": words[3],
        "two words": f"{words[40]} {words[900]}",
        "2-letter prefix": words[1_000][:2],
        "title word": "project",
        "no match": "zzzzqqqq",
        "syntax characters": f'"{words[300]}* -NEAR: (',
    }
    from django.test import Client

    client = Client()
    client.force_login(searcher)
    print(f"search (GET /search/?q=..., htmx), median of {args.runs}:")
    for label, query in queries.items():
        median, low, high, size, results = _time(client, "/search/", {"q": query}, args.runs)
        shown = repr(query[:24])
        print(f"  {label:18} {shown:28} {median:6.1f} ms (min {low:.1f}, max {high:.1f}), {results} results")

    for user, count in ((viewer, args.sidebar_conversations), (searcher, args.conversations)):
        client.force_login(user)
        median, low, high, size, items = _time(client, "/sidebar/", {}, args.runs, count="chat-item")
        page_ms, _, _, page_size, _ = _time(client, "/new/", {}, args.runs, htmx=False)
        print(
            f"sidebar, {count:,} conversations: the list {median:.1f} ms (min {low:.1f}), {size:,} bytes, "
            f"{items} items; the whole new-chat page {page_ms:.1f} ms, {page_size:,} bytes"
        )


def _time(client, path: str, params: dict, runs: int, *, htmx: bool = True, count: str = "<li><a"):
    headers = {"HX-Request": "true"} if htmx else {}
    client.get(path, params, headers=headers)  # warm: templates compiled, connection open
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, params, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    body = response.content.decode()
    return statistics.median(times), min(times), max(times), len(response.content), body.count(count)


def _vocabulary() -> list[str]:
    """VOCABULARY distinct made-up words, most frequent first."""
    rng = random.Random(11)
    seen: dict[str, None] = {}
    while len(seen) < VOCABULARY:
        seen["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(seen)


def _fill(words: list[str], conversations: int, messages: int):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from conversations.models import ContentBlock, Conversation, Message

    rng = random.Random(7)
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))  # Zipf
    user = get_user_model().objects.create_user("searcher", password="x")
    now = timezone.now()
    made = Conversation.objects.bulk_create(
        Conversation(owner=user, title=_title(rng, words, i), model="claude-sonnet-4-6")
        for i in range(conversations)
    )
    # Spread over two years, so the sidebar has its date groups.
    for i in range(0, conversations, 500):
        ids = [c.pk for c in made[i : i + 500]]
        Conversation.objects.filter(pk__in=ids).update(updated_at=now - timedelta(hours=i / 500 * 876))
    per = messages // conversations
    batch_messages, batch_texts = [], []
    for conversation in made:
        for turn in range(per):
            role = "user" if turn % 2 == 0 else "assistant"
            length = rng.randint(5, 30) if role == "user" else rng.randint(20, 120)
            batch_messages.append(Message(conversation=conversation, role=role, status="complete"))
            text = " ".join(rng.choices(words, cum_weights=cumulative, k=length))
            batch_texts.append(text.capitalize() + ".")
        if len(batch_messages) >= 5_000:
            _store(batch_messages, batch_texts, Message, ContentBlock)
            batch_messages, batch_texts = [], []
    _store(batch_messages, batch_texts, Message, ContentBlock)
    return user


def _title(rng: random.Random, words: list[str], i: int) -> str:
    topic = "Project" if i % 50 == 0 else rng.choice(words[:2000]).capitalize()
    return f"{topic} {rng.choice(words[:5000])} notes {i}"


def _store(messages, texts, Message, ContentBlock) -> None:
    created = Message.objects.bulk_create(messages)
    ContentBlock.objects.bulk_create(
        ContentBlock(message=m, index=0, type="text", payload={"type": "text", "text": t})
        for m, t in zip(created, texts, strict=True)
    )


def _sidebar_user(count: int):
    """A user with `count` conversations over the last two years, five of them pinned."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from conversations.models import Conversation

    user = get_user_model().objects.create_user("viewer", password="x")
    now = timezone.now()
    made = Conversation.objects.bulk_create(
        Conversation(owner=user, title=f"A conversation about topic number {i}", model="m")
        for i in range(count)
    )
    for i, conversation in enumerate(made):
        fields = {"updated_at": now - timedelta(hours=i * 17)}
        if i % 200 == 7:
            fields["pinned_at"] = now
        Conversation.objects.filter(pk=conversation.pk).update(**fields)
    return user


if __name__ == "__main__":
    main()
