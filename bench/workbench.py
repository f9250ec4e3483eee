"""The prompt workbench's figures, against the fake API at 50 tokens/s: a run of N cases on two
versions, live and as a batch.

    .venv/bin/python -m bench.workbench                  # 50 cases, replies of about 100 tokens
    .venv/bin/python -m bench.workbench --cases 10 --words 20
    .venv/bin/python -m bench.workbench --rubric       # both runs graded too (a batch run's in a batch)

Each case's input is `--words` words, and the fake echoes it, so a reply is about that many tokens
streamed at 50 tokens/s. Reported: the requests each run sent, the cost of the live run against the
same run as a Message Batch (the batch priced at half), and the time from Run (the run created, as
the Run button's POST does) to every result stored (what the results page then shows), for the live
run worked by the background worker with CHAT_WORKBENCH_CONCURRENCY requests out at once. With
--rubric each output is graded by Claude Haiku 4.5 too: live in the live run, in a second Message
Batch in the batch run, and the grading's cost is reported apart.
"""

import argparse
import asyncio
import time
from decimal import Decimal

from bench.inprocess import setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--words", type=int, default=100)
    parser.add_argument("--rubric", action="store_true", help="grade every output")
    args = parser.parse_args()
    setup_django("bench-workbench-")
    asyncio.run(run(args.cases, args.words, "Answers politely and briefly." if args.rubric else ""))


async def run(cases: int, words: int, rubric: str = "") -> None:
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from conversations.claude import pricing
    from conversations.models import ModelPrice
    from fakes import FakeAnthropic
    from teams import services as teams
    from workbench import services, worker
    from workbench.models import Run

    with FakeAnthropic(default_tokens_per_second=50) as fake:
        settings.CHAT_USE_LOCAL_MODEL = False
        settings.ANTHROPIC_BASE_URL, settings.ANTHROPIC_API_KEY = fake.base_url, "bench"
        model = settings.CHAT_DEFAULT_MODEL = "claude-sonnet-4-6"

        def setup():
            pricing.seed_default_prices(ModelPrice)
            ann = get_user_model().objects.create_user("ann", "ann@example.com", "x")
            team = teams.team_create(user=ann, name="Support")
            prompt = teams.prompt_create(
                user=ann, name="Tone", text="Be kind. " * 200, team=team, cache_ttl="5m"
            )
            teams.prompt_edit(user=ann, prompt=prompt, name="Tone", text="Be brief. " * 200, cache_ttl="5m")
            for n in range(cases):
                text = " ".join(f"word{n}-{i}" for i in range(words))
                services.case_add(prompt=prompt, user=ann, case_input=text)
            v1, v2 = prompt.versions.order_by("number")
            return ann, prompt, v1, v2

        ann, prompt, v1, v2 = await sync_to_async(setup)()

        def create(batch: bool) -> Run:
            return services.run_create(
                prompt=prompt,
                user=ann,
                version_a=v1.pk,
                model_a=model,
                version_b=v2.pk,
                model_b=model,
                batch=batch,
                rubric=rubric,
                grader_model="claude-haiku-4-5" if rubric else "",
            )

        async def finished(run_id: int) -> Run:
            while True:
                run = await Run.objects.aget(pk=run_id)
                if not run.is_open:
                    return run
                await asyncio.sleep(0.05)

        started = time.perf_counter()
        live = await sync_to_async(create)(False)
        worker.start(live.pk)
        live = await finished(live.pk)
        elapsed = time.perf_counter() - started
        live_requests = len(fake.message_requests)
        fake.reset()  # the batch starts from a cold cache too
        batch = await sync_to_async(create)(True)
        await worker.work(batch.pk)
        batch = await finished(batch.pk)
        batch_sizes = [
            str(len(r.body.get("requests", []))) for r in fake.requests if r.path == "/v1/messages/batches"
        ]
        polls = sum(1 for r in fake.requests if r.path.startswith("/v1/messages/batches/"))

        async def cost(run: Run, field: str = "cost"):
            return sum([getattr(r, field) or 0 async for r in run.results.all()], Decimal(0))

        live_cost, batch_cost = await cost(live), await cost(batch)
        print(
            f"{cases} cases × 2 versions, replies of about {words} tokens at 50 tokens/s, "
            f"{settings.CHAT_WORKBENCH_CONCURRENCY} requests out at once"
        )
        print(
            f"live: {live_requests} requests ({live.status}); batch: {len(batch_sizes)} batch(es) of "
            f"{' and '.join(batch_sizes)} requests, {polls} batch calls after (retrieve, results)"
        )
        print(f"cost: live ${live_cost:.4f}, batch ${batch_cost:.4f} ({batch_cost / live_cost:.1%} of live)")
        if rubric:
            live_grades, batch_grades = await cost(live, "grader_cost"), await cost(batch, "grader_cost")
            print(
                f"grading: live ${live_grades:.4f}, in a second batch ${batch_grades:.4f} "
                f"({batch_grades / live_grades:.1%} of live)"
            )
        print(f"Run to results (live): {elapsed:.1f} s")


if __name__ == "__main__":
    main()
