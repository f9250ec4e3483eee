"""A 300-turn conversation with compaction, against the fake API: the request sizes, and the first
turn's fact still in every request.

    .venv/bin/python -m bench.long_chat                      # 300 turns, a 20,000-token window
    .venv/bin/python -m bench.long_chat --turns 300 --limit 200000 --words 2000

Turn 1 says "My cat is called Ziggy."; every later turn adds `--words` words; the last asks for the
cat's name. The model's input limit is `--limit` (the trigger is CHAT_COMPACTION_TRIGGER of it,
0.75). The fake summarizes over the trigger (fakes/compaction.py) and keeps each user turn's first
words, so the check is that "Ziggy" is in every request: in a user turn, or in the summary that
opens it. Reported: input tokens (the fake's count: JSON length / 4) at turns 50, 150 and 300, the
largest request, how many summaries were made, and the time per turn.
"""

import argparse
import asyncio
import time

from bench.inprocess import setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--limit", type=int, default=20_000, help="the model's input limit, in tokens")
    parser.add_argument("--words", type=int, default=200, help="words per turn")
    args = parser.parse_args()
    setup_django("bench-long-chat-")
    asyncio.run(run(args.turns, args.limit, args.words))


async def run(turns: int, limit: int, words: int) -> None:
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from conversations import services
    from conversations.claude import catalog
    from conversations.models import ContentBlock, Message
    from conversations.reply import generation
    from fakes import FakeAnthropic, Reply
    from fakes.tokens import estimate_input_tokens

    catalog.input_limit = lambda model, context_1m=False: limit  # the window under test
    filler = " ".join(f"word{i}" for i in range(words))
    with FakeAnthropic() as fake:
        settings.CHAT_USE_LOCAL_MODEL = False
        settings.ANTHROPIC_BASE_URL, settings.ANTHROPIC_API_KEY = fake.base_url, "bench"
        settings.CHAT_GENERATED_TITLES = False
        settings.CHAT_MAX_TOKENS = 1000
        user = await sync_to_async(get_user_model().objects.create_user)("ann", "ann@example.com", "x")

        async def answer(reply):
            fake.enqueue(Reply("Noted."))
            generation.start(reply)
            await generation.wait_all()
            done = await Message.objects.aget(pk=reply.pk)
            assert done.status == "complete", done.error
            return fake.message_requests[-1].body

        start = services.conversation_start
        conversation, reply = await sync_to_async(start)(
            user=user, text=f"My cat is called Ziggy. {filler}", model="claude-sonnet-4-6"
        )
        sizes = {1: estimate_input_tokens(await answer(reply))}
        began = time.perf_counter()
        for turn in range(2, turns + 1):
            text = "What is my cat called?" if turn == turns else f"Turn {turn}: {filler}"
            _, reply = await sync_to_async(services.message_send)(conversation=conversation, text=text)
            body = await answer(reply)
            assert "Ziggy" in str(body["messages"]), f"turn {turn}: the first turn's fact is gone"
            sizes[turn] = estimate_input_tokens(body)
        per_turn = (time.perf_counter() - began) / (turns - 1)
        summaries = await ContentBlock.objects.filter(
            message__conversation=conversation, type="compaction"
        ).acount()
        trigger = int(limit * settings.CHAT_COMPACTION_TRIGGER)
        marks = [t for t in (50, 150, 300) if t in sizes]
        print(f"{turns} turns of {words} words, input limit {limit:,}, trigger {trigger:,} tokens")
        print("input tokens per request: " + ", ".join(f"turn {t} {sizes[t]:,}" for t in marks))
        largest = max(sizes.values())
        print(f"largest request {largest:,} tokens; {summaries} summaries; {per_turn * 1000:.0f} ms a turn")
        print('"Ziggy" (turn 1) was in every request, the last one included')


if __name__ == "__main__":
    main()
