"""Bench data, written through the ORM into the bench database (run with the bench's environment).

    python -m bench.dbsetup streams --users 500 --per-user 4
    python -m bench.dbsetup page --messages 1000

Prints one JSON object on stdout. Like a `manage.py shell` script, but importable and testable.
"""

import argparse
import itertools
import json
import sys

import django

PASSWORD = "bench-pass-123"


def _users(count: int, prefix: str) -> list:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    names = [f"{prefix}{i}" for i in range(count)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    password = make_password(PASSWORD)  # hashed once (MD5 under bench.settings), shared by all
    User.objects.bulk_create(
        [User(username=name, password=password) for name in names if name not in existing]
    )
    by_name = {u.username: u for u in User.objects.filter(username__in=names)}
    return [by_name[name] for name in names]


def streams(users: int, per_user: int) -> dict:
    """`users` users, each with `per_user` conversations holding one finished exchange."""
    from django.conf import settings
    from django.db import transaction

    from conversations.models import ContentBlock, Conversation, Message
    from conversations.rendering import render_markdown

    answer = "Hi! Ask me anything."
    rendered = render_markdown(answer)
    with transaction.atomic():
        people = _users(users, "bench")
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(owner=user, model=settings.CHAT_DEFAULT_MODEL, title=f"bench {n}")
                for user in people
                for n in range(per_user)
            ]
        )
        messages = Message.objects.bulk_create(
            [
                Message(conversation=conversation, role=role, status=Message.Status.COMPLETE)
                for conversation in conversations
                for role in (Message.Role.USER, Message.Role.ASSISTANT)
            ]
        )
        for question, reply in zip(messages[::2], messages[1::2], strict=True):
            reply.parent = question  # each reply follows its question (the versions tree)
        Message.objects.bulk_update(messages[1::2], ["parent"], batch_size=500)
        ContentBlock.objects.bulk_create(
            [
                ContentBlock(
                    message=message,
                    index=0,
                    type="text",
                    payload={"type": "text", "text": "Hello" if message.role == "user" else answer},
                    rendered="" if message.role == "user" else rendered,
                )
                for message in messages
            ]
        )
    ids = [c.pk for c in conversations]
    return {
        "password": PASSWORD,
        "users": [
            {"username": user.username, "conversations": ids[i * per_user : (i + 1) * per_user]}
            for i, user in enumerate(people)
        ],
    }


def page(messages: int) -> dict:
    """One conversation of `messages` messages; every assistant message has a code block."""
    from django.conf import settings
    from django.db import transaction

    from conversations.models import ContentBlock, Conversation, Message
    from conversations.rendering import render_markdown

    variants = []
    for n in range(5):
        text = (
            f"Answer {n}: here is **some** code, with `inline` parts and a list.\n\n"
            f"- first point\n- second point\n\n"
            f"```python\ndef answer_{n}(x: int) -> int:\n    # comment <b>{n}</b>\n"
            f"    return sum(i * x for i in range({n + 10}))\n```\n\nAnd a closing paragraph."
        )
        variants.append((text, render_markdown(text)))
    with transaction.atomic():
        (user,) = _users(1, f"benchpage{messages}-")
        conversation = Conversation.objects.create(
            owner=user, model=settings.CHAT_DEFAULT_MODEL, title=f"{messages} messages"
        )
        rows = Message.objects.bulk_create(
            [
                Message(
                    conversation=conversation,
                    role=Message.Role.USER if i % 2 == 0 else Message.Role.ASSISTANT,
                    status=Message.Status.COMPLETE,
                    model="" if i % 2 == 0 else settings.CHAT_DEFAULT_MODEL,
                    input_tokens=0 if i % 2 == 0 else 120 + i,
                    output_tokens=0 if i % 2 == 0 else 80,
                )
                for i in range(messages)
            ]
        )
        for previous, message in itertools.pairwise(rows):
            message.parent = previous  # one branch: each message follows the one before
        Message.objects.bulk_update(rows[1:], ["parent"], batch_size=500)
        blocks = []
        for i, message in enumerate(rows):
            if message.role == Message.Role.USER:
                text = f"Question {i}: how do I write function number {i}?"
                blocks.append(
                    ContentBlock(
                        message=message, index=0, type="text", payload={"type": "text", "text": text}
                    )
                )
            else:
                text, html = variants[i % len(variants)]
                blocks.append(
                    ContentBlock(
                        message=message,
                        index=0,
                        type="text",
                        payload={"type": "text", "text": text},
                        rendered=html,
                    )
                )
        ContentBlock.objects.bulk_create(blocks, batch_size=500)
    return {"password": PASSWORD, "username": user.username, "conversation": conversation.pk}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dbsetup")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("streams")
    s.add_argument("--users", type=int, required=True)
    s.add_argument("--per-user", type=int, required=True)
    p = sub.add_parser("page")
    p.add_argument("--messages", type=int, required=True)
    options = parser.parse_args(argv)
    django.setup()
    if options.command == "streams":
        result = streams(options.users, options.per_user)
    else:
        result = page(options.messages)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
