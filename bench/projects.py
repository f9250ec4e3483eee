"""A project's cached prefix, against the fake API: the second member's first question.

    .venv/bin/python -m bench.projects                 # 20 KB of Markdown and a 100-page PDF
    .venv/bin/python -m bench.projects --text-kb 200

A team project with instructions, a Markdown file and a 100-page PDF (added as the page does:
checked, stored, counted with count_tokens; the PDF goes to the Files API on first use). One
member asks a first question, then another member asks theirs. Reported: the time to add the PDF
until it is usable (stored and counted; the Files API upload is timed apart), and for the second
member's request the share of input tokens read from the cache and its cost against the same
request uncached, at the default price of claude-sonnet-4-6. The fake counts tokens as JSON length
/ 4 (fakes/tokens.py), so a file sent by file_id counts as its reference, not its pages.
"""

import argparse
import asyncio
import io
import time
from decimal import Decimal

from bench.inprocess import setup_django


def pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--text-kb", type=int, default=20)
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    setup_django("bench-projects-")
    asyncio.run(run(args.text_kb, args.pages))


async def run(text_kb: int, pages: int) -> None:
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from conversations.claude import attachment_files, pricing
    from conversations.models import Message, ModelPrice
    from conversations.projects import knowledge
    from conversations.projects import services as projects
    from conversations.reply import generation
    from conversations.selectors import price_for_model
    from conversations.sending import SendCommand, conversation_post
    from fakes import FakeAnthropic
    from teams import services as teams

    with FakeAnthropic() as fake:
        settings.CHAT_USE_LOCAL_MODEL = False
        settings.ANTHROPIC_BASE_URL, settings.ANTHROPIC_API_KEY = fake.base_url, "bench"
        settings.CHAT_GENERATED_TITLES = False
        model = settings.CHAT_DEFAULT_MODEL = "claude-sonnet-4-6"

        def setup():
            pricing.seed_default_prices(ModelPrice)
            make = get_user_model().objects.create_user
            ann, ben = make("ann", "ann@example.com", "x"), make("ben", "ben@example.com", "x")
            team = teams.team_create(user=ann, name="Support")
            teams.member_add(team=team, identifier="ben", role="member")
            project = projects.project_create(
                user=ann, name="Handbook", instructions="Answer from the handbook; cite it.", team=team
            )
            text = "".join(
                f"Policy {i}: requests are answered within {i % 48 + 1} hours.\n" for i in range(99999)
            )
            projects.project_file_add(
                user=ann, project=project, name="policies.md", data=text[: text_kb * 1024].encode()
            )
            return ann, ben, project

        ann, ben, project = await sync_to_async(setup)()
        data = pdf(pages)
        started = time.perf_counter()
        added, _ = await sync_to_async(projects.project_file_add)(
            user=ann, project=project, name="manual.pdf", data=data
        )
        tokens = await knowledge.file_tokens(added, model)
        await sync_to_async(projects.project_file_token_count_set)(file_id=added.pk, token_count=tokens)
        usable = time.perf_counter() - started
        started = time.perf_counter()
        await attachment_files.upload(added)
        uploaded = time.perf_counter() - started

        async def ask(user, text):
            command = SendCommand(text, model=model, project_id=project.pk)
            sent = await sync_to_async(conversation_post)(user=user, command=command)
            generation.start(sent.reply)
            await generation.wait_all()
            return await Message.objects.aget(pk=sent.reply.pk)

        await ask(ann, "How fast do we answer refunds?")
        second = await ask(ben, "Who answers on weekends?")
        price = await sync_to_async(price_for_model)(model)
        read = second.cache_read_input_tokens
        total = second.input_tokens + read + second.cache_creation_input_tokens
        uncached = pricing.cost(pricing.Usage(input_tokens=total, output_tokens=second.output_tokens), price)
        print(
            f"PDF of {pages} pages ({len(data) / 1024:.0f} KB): usable in {usable * 1000:.0f} ms "
            f"(checked, stored, counted); Files API upload {uploaded * 1000:.0f} ms"
        )
        print(
            f"second member's first question: {total} input tokens, {read} read from cache "
            f"({read / total:.1%}), {second.cache_creation_input_tokens} written, "
            f"{second.input_tokens} uncached"
        )
        print(
            f"cost ${second.cost:.6f} against ${uncached:.6f} uncached "
            f"({Decimal(1) - second.cost / uncached:.1%} less)"
        )


if __name__ == "__main__":
    main()
