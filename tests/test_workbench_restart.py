"""A live run whose process stops mid-run, taken up by another: a case whose result was stored is
never sent again, a case whose request was out is sent once more (the only way to get its answer),
and never a third time. The stop is simulated as the other worker tests do: the worker's task is
cancelled with its requests out, its lease lapses, and a worker of another name takes the run."""

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from conversations.claude.pricing import seed_default_prices
from conversations.models import ApiCall, ModelPrice
from fakes import Reply, Stall
from teams import services as team_services
from tests.helpers import eventually
from workbench import services, worker
from workbench.models import Result, Run

pytestmark = pytest.mark.django_db(transaction=True)

SONNET = "claude-sonnet-4-6"


@pytest.fixture
def run(prompt, people, fake_api, fresh_catalog, settings):
    seed_default_prices(ModelPrice)
    settings.CHAT_WORKBENCH_CONCURRENCY = 4  # every request out at once
    team_services.prompt_edit(
        user=people["editor"], prompt=prompt, name=prompt.name, text="Be brief.", cache_ttl="5m"
    )
    for text in ("Where is my order?", "Refund?"):
        services.case_add(prompt=prompt, user=people["editor"], case_input=text)
    v1, v2 = prompt.versions.order_by("number")
    return services.run_create(
        prompt=prompt, user=people["editor"], version_a=v1.pk, model_a=SONNET, version_b=v2.pk, model_b=SONNET
    )


def sent(fake) -> Counter:
    """How often each (case input, system prompt) went out."""
    return Counter(
        (r.body["messages"][0]["content"][-1]["text"], r.body["system"][0]["text"])
        for r in fake.message_requests
    )


async def stop_with_requests_out(run: Run, fake, *, out: int, stored: int) -> None:
    """Work the run in a process named `host:<n>` until `out` requests in all reached the fake and
    `stored` results are stored, then stop it as a crash would: its task gone, its lease lapsed."""
    task = asyncio.ensure_future(worker.work(run.pk))
    await eventually(lambda: len(fake.message_requests) >= out, timeout=15)
    await eventually(lambda: _stored(run, stored), timeout=15)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await sync_to_async(Run.objects.filter(pk=run.pk).update)(
        lease_owner=worker.WORKER, lease_until=timezone.now() - timedelta(seconds=1)
    )


async def _stored(run: Run, count: int) -> bool:
    return await sync_to_async(Result.objects.filter(run=run).exclude(status="pending").count)() >= count


def restarted(monkeypatch, number: int) -> None:
    """From here on this test is another server process."""
    monkeypatch.setattr(worker, "WORKER", f"host:{number}")


async def test_a_restart_sends_only_what_was_not_stored_and_an_out_request_once_more(
    run, fake_api, monkeypatch
):
    restarted(monkeypatch, 1)
    fake_api.enqueue(Reply("Stored"), Reply("Stored"), Stall(seconds=60), Stall(seconds=60))
    await stop_with_requests_out(run, fake_api, out=4, stored=2)
    before = sent(fake_api)
    assert sum(before.values()) == 4 and set(before.values()) == {1}
    results = await sync_to_async(list)(Result.objects.filter(run=run).order_by("position", "side"))
    stored = {r.pk for r in results if r.status == "succeeded"}
    assert len(stored) == 2 and all(r.attempts == 1 for r in results)

    restarted(monkeypatch, 2)
    await worker.work(run.pk)
    after = sent(fake_api)
    assert sum(after.values()) == 6  # the two that were out, once more each; nothing else
    results = await sync_to_async(list)(Result.objects.filter(run=run).order_by("position", "side"))
    for result in results:
        key = (result.input, "Be kind." if result.side == "a" else "Be brief.")
        assert after[key] == (1 if result.pk in stored else 2), result
        assert result.attempts == after[key] and result.status == "succeeded"
    assert {r.output for r in results if r.pk in stored} == {"Stored"}
    assert (await Run.objects.aget(pk=run.pk)).status == Run.Status.COMPLETE
    # Each answer stored was paid once; the two cut off are not in the figures (the API bills a
    # request stopped before its end only for what it streamed, which the stop lost).
    assert await sync_to_async(ApiCall.objects.filter(kind=ApiCall.Kind.WORKBENCH).count)() == 4


async def test_a_request_out_at_two_stops_is_not_sent_a_third_time(run, fake_api, monkeypatch):
    restarted(monkeypatch, 1)
    fake_api.enqueue(Reply("Stored"), *[Stall(seconds=60)] * 3)
    await stop_with_requests_out(run, fake_api, out=4, stored=1)
    restarted(monkeypatch, 2)
    fake_api.enqueue(Reply("Stored on the second try"), *[Stall(seconds=60)] * 2)
    await stop_with_requests_out(run, fake_api, out=7, stored=2)
    assert sum(sent(fake_api).values()) == 7

    restarted(monkeypatch, 3)
    await worker.work(run.pk)
    assert sum(sent(fake_api).values()) == 7  # nothing went a third time
    results = await sync_to_async(list)(Result.objects.filter(run=run).order_by("position", "side"))
    assert sorted((r.status, r.output, r.attempts) for r in results) == [
        ("errored", "", 2),
        ("errored", "", 2),
        ("succeeded", "Stored", 1),
        ("succeeded", "Stored on the second try", 2),
    ]
    assert {r.error for r in results if r.status == "errored"} == {services.SENT_TWICE}
    assert (await Run.objects.aget(pk=run.pk)).status == Run.Status.COMPLETE


def test_a_grade_out_at_two_stops_is_not_asked_a_third_time(run):
    result = run.results.first()
    Result.objects.filter(pk=result.pk).update(status="succeeded", output="ok")
    assert services.result_grading(result_id=result.pk) and services.result_grading(result_id=result.pk)
    assert not services.result_grading(result_id=result.pk)
    result.refresh_from_db()
    assert (result.grade_attempts, result.score) == (2, None)
    assert result.score_reason == (
        "Not graded: its request was out when the server stopped, twice; it was not sent a third time."
    )


def test_a_late_answer_is_paid_for_but_never_overwrites_a_stored_result(run):
    from conversations.claude.pricing import Usage

    result = run.results.first()
    services.result_record(result_id=result.pk, status="succeeded", output="First", usage=Usage(10, 5))
    services.result_record(result_id=result.pk, status="succeeded", output="Late", usage=Usage(10, 7))
    result.refresh_from_db()
    assert (result.output, result.output_tokens) == ("First", 5)
    assert ApiCall.objects.filter(kind=ApiCall.Kind.WORKBENCH).count() == 2  # both requests were spent
