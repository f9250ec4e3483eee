"""Times `manage.py purge` on 100,000 messages: `python -m bench.purge [--conversations N]`.

Uses the database the environment names (DATABASE_URL, or SQLite in CHAT_DATA_DIR): point it at a
scratch one, it is migrated and filled. Each conversation gets 20 messages in one branch (10 asked,
10 answered with usage), each with a text block, all last touched 400 days ago; then the purge
runs with CHAT_RETENTION_DAYS=365 and reports its time and its longest transaction.
"""

import argparse
import os
import time
from datetime import timedelta


def fill(conversations: int, per_conversation: int = 20) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from conversations.models import ContentBlock, Conversation, Message

    owner, _ = get_user_model().objects.get_or_create(username="purge-bench")
    old = timezone.now() - timedelta(days=400)
    chats = Conversation.objects.bulk_create(
        Conversation(owner=owner, title=f"Chat {i}", model="claude-sonnet-4-6") for i in range(conversations)
    )
    parents: list = [None] * conversations
    for turn in range(per_conversation):
        role = "user" if turn % 2 == 0 else "assistant"
        usage = {"input_tokens": 900, "output_tokens": 300, "cost": "0.0072"} if role == "assistant" else {}
        parents = Message.objects.bulk_create(
            Message(conversation=chat, role=role, parent=parents[i], model="claude-sonnet-4-6", **usage)
            for i, chat in enumerate(chats)
        )
        text = "Some words of a message, long enough to look like one. " * 8
        ContentBlock.objects.bulk_create(
            ContentBlock(message=m, index=0, type="text", payload={"type": "text", "text": text})
            for m in parents
        )
    Conversation.objects.filter(owner=owner).update(updated_at=old)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=5000, help="20 messages each")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    os.environ["CHAT_RETENTION_DAYS"] = "365"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    fill(args.conversations)
    took = time.perf_counter() - started
    print(f"filled {args.conversations * 20} messages in {took:.1f} s ({connection.vendor})")
    call_command("purge")


if __name__ == "__main__":
    main()
