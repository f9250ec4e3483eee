"""Workbench runs end to end against the fake API: the exact request JSON of a live case, a Message
Batch and a grader; each request's cost in usage and the team's budget (a batch's at half price);
batch errors per case, a cancelled batch keeping what finished, a refused batch shown; one worker
per run (the lease), and a run left by a stopped process taken up again."""

import asyncio
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import IntegrityError
from django.utils import timezone

from conversations import spending
from conversations.claude.pricing import seed_default_prices
from conversations.models import ApiCall, ModelPrice
from conversations.reply.reply_request import opaque_user_id
from fakes import HttpError, Reply
from teams import services as team_services
from tests.helpers import eventually
from workbench import requests, selectors, services, worker
from workbench.models import Result, Run

pytestmark = pytest.mark.django_db(transaction=True)

SONNET = "claude-sonnet-4-6"


@pytest.fixture
def setup(prompt, people, fake_api, fresh_catalog):
    seed_default_prices(ModelPrice)  # a transactional test starts with empty tables
    team_services.prompt_edit(
        user=people["editor"], prompt=prompt, name=prompt.name, text="Be brief.", cache_ttl="1h"
    )
    for text, expected in (("Where is my order?", "Ask for the number"), ("Refund?", "")):
        services.case_add(prompt=prompt, user=people["editor"], case_input=text, expected=expected)
    v1, v2 = prompt.versions.order_by("number")
    return {"prompt": prompt, "v1": v1, "v2": v2, "editor": people["editor"], "fake": fake_api}


def canonical(body: dict) -> str:
    return json.dumps(body, sort_keys=True)


def query(read):
    """A database read for `eventually`, run off the event loop."""
    return lambda: sync_to_async(read)()


def make_run(setup, **options) -> Run:
    return services.run_create(
        prompt=setup["prompt"],
        user=setup["editor"],
        version_a=setup["v1"].pk,
        model_a=SONNET,
        version_b=setup["v2"].pk,
        model_b=SONNET,
        **options,
    )


def params(setup, version_text: str, ttl: dict, text: str) -> dict:
    return {
        "model": SONNET,
        "max_tokens": 1024,
        "system": [{"type": "text", "text": version_text, "cache_control": ttl}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        "metadata": {"user_id": opaque_user_id(setup["editor"].pk)},
    }


A_TTL, B_TTL = {"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}


async def test_a_live_run_streams_each_case_on_each_side_and_counts_every_request(setup):
    run = await sync_to_async(make_run)(setup)
    await worker.work(run.pk)
    bodies = [r.body for r in setup["fake"].message_requests]
    assert sorted(bodies, key=canonical) == sorted(
        [
            {**params(setup, "Be kind.", A_TTL, "Where is my order?"), "stream": True},
            {**params(setup, "Be brief.", B_TTL, "Where is my order?"), "stream": True},
            {**params(setup, "Be kind.", A_TTL, "Refund?"), "stream": True},
            {**params(setup, "Be brief.", B_TTL, "Refund?"), "stream": True},
        ],
        key=canonical,
    )
    run = await sync_to_async(Run.objects.get)(pk=run.pk)
    assert run.status == Run.Status.COMPLETE and run.finished_at and run.lease_owner == ""
    results = await sync_to_async(list)(run.results.order_by("position", "side"))
    assert [(r.position, r.side, r.status, r.output) for r in results] == [
        (1, "a", "succeeded", "Echo: Where is my order?"),
        (1, "b", "succeeded", "Echo: Where is my order?"),
        (2, "a", "succeeded", "Echo: Refund?"),
        (2, "b", "succeeded", "Echo: Refund?"),
    ]
    assert all(r.stop_reason == "end_turn" and r.first_token_ms is not None and r.cost > 0 for r in results)
    calls = await sync_to_async(list)(ApiCall.objects.filter(kind=ApiCall.Kind.WORKBENCH))
    assert len(calls) == 4 and {c.team_id for c in calls} == {setup["prompt"].team_id}
    assert {c.user_id for c in calls} == {setup["editor"].pk}
    assert sum(c.cost for c in calls) == sum(r.cost for r in results)
    team_total = await sync_to_async(spending.totals)(spending.spent().of_team(setup["prompt"].team_id))
    assert team_total["cost"] == sum(r.cost for r in results) and team_total["overhead_calls"] == 4


async def test_a_batch_run_sends_one_batch_and_costs_half_of_the_same_run_live(setup):
    live = await sync_to_async(make_run)(setup)
    await worker.work(live.pk)
    setup["fake"].reset()
    batch = await sync_to_async(make_run)(setup, batch=True)
    await worker.work(batch.pk)
    creates = [r.body for r in setup["fake"].requests if r.path == "/v1/messages/batches"]
    assert creates == [
        {
            "requests": [
                {"custom_id": "case-1-a", "params": params(setup, "Be kind.", A_TTL, "Where is my order?")},
                {"custom_id": "case-1-b", "params": params(setup, "Be brief.", B_TTL, "Where is my order?")},
                {"custom_id": "case-2-a", "params": params(setup, "Be kind.", A_TTL, "Refund?")},
                {"custom_id": "case-2-b", "params": params(setup, "Be brief.", B_TTL, "Refund?")},
            ]
        }
    ]
    assert setup["fake"].message_requests == []
    batch = await sync_to_async(Run.objects.get)(pk=batch.pk)
    assert (batch.status, batch.batch_status) == (Run.Status.COMPLETE, "ended")
    assert batch.batch_counts == {"canceled": 0, "errored": 0, "expired": 0, "processing": 0, "succeeded": 4}
    live_table = await sync_to_async(selectors.run_table)(
        await sync_to_async(Run.objects.select_related("version_a", "version_b").get)(pk=live.pk)
    )
    batch_table = await sync_to_async(selectors.run_table)(
        await sync_to_async(Run.objects.select_related("version_a", "version_b").get)(pk=batch.pk)
    )
    assert [r["a"].output for r in batch_table["rows"]] == ["Echo: Where is my order?", "Echo: Refund?"]
    # The fake's cache: the live run wrote the prefixes, the batch read them; same tokens priced by hand.
    for side in batch_table["sides"]:
        assert side.done == 2 and side.cost > 0
    calls = await sync_to_async(list)(ApiCall.objects.filter(kind=ApiCall.Kind.WORKBENCH).order_by("pk"))
    assert len(calls) == 8
    for batch_call in calls[4:]:
        full = await sync_to_async(_full_price)(batch_call)
        assert abs(batch_call.cost - full / 2) <= Decimal("0.00000001")  # stored to 8 places
    assert live_table["cost"] > 0


def _full_price(call: ApiCall) -> Decimal:
    from conversations import selectors as chat_selectors
    from conversations.claude import pricing

    usage = pricing.Usage(
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        cache_creation_input_tokens=call.cache_creation_input_tokens,
        cache_creation_1h_input_tokens=call.cache_creation_1h_input_tokens,
        cache_read_input_tokens=call.cache_read_input_tokens,
    )
    return pricing.cost(usage, chat_selectors.price_for_model(call.model))


async def test_batch_errors_show_per_case_and_a_cancelled_batch_keeps_what_finished(setup):
    fake = setup["fake"]
    fake.batches.hold = True
    fake.batches.fail("case-1-b", "errored", "max_tokens: too large for this model")
    run = await sync_to_async(make_run)(setup, batch=True)
    task = asyncio.ensure_future(worker.work(run.pk))
    run = await eventually(query(lambda: Run.objects.filter(pk=run.pk).exclude(batch_id="").first()))
    fake.batches.finish(run.batch_id, count=2)  # case 1 on both sides processed, case 2 not
    await sync_to_async(services.run_cancel)(run=run)
    await asyncio.wait_for(task, 20)
    cancels = [r for r in fake.requests if r.path.endswith("/cancel")]
    assert len(cancels) == 1
    run = await sync_to_async(Run.objects.get)(pk=run.pk)
    assert run.status == Run.Status.CANCELLED
    assert run.batch_counts == {"canceled": 2, "errored": 1, "expired": 0, "processing": 0, "succeeded": 1}
    results = await sync_to_async(list)(run.results.order_by("position", "side"))
    assert [(r.status, r.output, r.error) for r in results] == [
        ("succeeded", "Echo: Where is my order?", ""),
        ("errored", "", "invalid_request_error: max_tokens: too large for this model"),
        ("canceled", "", "Cancelled before it ran."),
        ("canceled", "", "Cancelled before it ran."),
    ]
    assert await sync_to_async(ApiCall.objects.filter(kind="workbench").count)() == 1


async def test_an_expired_request_shows_on_its_case(setup):
    setup["fake"].batches.fail("case-2-a", "expired")
    run = await sync_to_async(make_run)(setup, batch=True)
    await worker.work(run.pk)
    result = await sync_to_async(Result.objects.get)(run=run, position=2, side="a")
    assert (result.status, result.error) == ("expired", "The batch expired before this request ran.")
    assert (await sync_to_async(Run.objects.get)(pk=run.pk)).status == Run.Status.COMPLETE


async def test_a_batch_the_api_refuses_fails_the_run_with_its_message(setup):
    setup["fake"].batches.create_error = HttpError(
        400, message="requests: too many", request_id="req_refused"
    )
    run = await sync_to_async(make_run)(setup, batch=True)
    await worker.work(run.pk)
    run = await sync_to_async(Run.objects.get)(pk=run.pk)
    assert run.status == Run.Status.FAILED
    assert run.error == (
        "The batch was refused: The Claude API rejected the request as invalid (requests: too many) "
        "(request req_refused)"
    )
    assert await sync_to_async(Result.objects.filter(run=run, status="canceled").count)() == 4


async def test_polling_backs_off_to_at_most_30_seconds(setup):
    fake = setup["fake"]
    fake.batches.hold = True
    run = await sync_to_async(make_run)(setup, batch=True)
    task = asyncio.ensure_future(worker.work(run.pk))
    await eventually(query(lambda: Run.objects.filter(pk=run.pk, poll_interval__gte=4).exists()), timeout=15)
    fake.batches.finish()
    await asyncio.wait_for(task, 20)
    polls = [
        r.at
        for r in fake.requests
        if r.path.startswith("/v1/messages/batches/msgbatch_") and r.path.count("/") == 4
    ]
    gaps = [round(b - a) for a, b in zip(polls, polls[1:], strict=False)]
    assert gaps[:2] == [2, 4]  # 1 s, then doubling
    assert worker.MAX_POLL_SECONDS == 30
    with pytest.raises(IntegrityError):  # the database refuses a longer interval
        await sync_to_async(Run.objects.filter(pk=run.pk).update)(poll_interval=31)


async def test_one_worker_per_run_and_a_lapsed_run_is_taken_up_again(setup):
    run = await sync_to_async(make_run)(setup, batch=True)
    claim = sync_to_async(services.run_claim)
    assert await claim(run_id=run.pk, owner="host:1", seconds=60)
    assert not await claim(run_id=run.pk, owner="host:2", seconds=60)  # no double polling
    await worker.work(run.pk)  # this process is not the holder: it does nothing
    assert [r for r in setup["fake"].requests if "batches" in r.path] == []
    # host:1 stopped: its lease lapses, and the next sweep here takes the run up.
    await sync_to_async(Run.objects.filter(pk=run.pk).update)(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    worker.ensure_sweeper()
    await eventually(
        query(lambda: Run.objects.filter(pk=run.pk, status=Run.Status.COMPLETE).exists()), timeout=15
    )


async def test_grading_sends_structured_output_requests_with_the_expected_answer(setup):
    run = await sync_to_async(make_run)(setup, rubric="Answers politely.", grader_model="claude-haiku-4-5")
    await worker.work(run.pk)
    graders = [r.body for r in setup["fake"].message_requests if "output_config" in r.body]
    assert len(graders) == 4
    first = next(b for b in graders if "Where is my order?" in b["messages"][0]["content"][0]["text"])
    assert first == {
        "model": "claude-haiku-4-5",
        "max_tokens": 300,
        "system": requests.GRADER_SYSTEM + "Answers politely.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "<input>\nWhere is my order?\n</input>\n\n"
                        "<expected>\nAsk for the number\n</expected>\n\n"
                        "<answer>\nEcho: Where is my order?\n</answer>",
                    }
                ],
            }
        ],
        "output_config": {"format": {"type": "json_schema", "schema": requests.GRADE_SCHEMA}},
    }
    run = await sync_to_async(Run.objects.select_related("version_a", "version_b").get)(pk=run.pk)
    table = await sync_to_async(selectors.run_table)(run)
    assert run.status == Run.Status.COMPLETE and table["graded"]
    results = await sync_to_async(list)(run.results.all())
    assert all(1 <= r.score <= 5 and r.score_reason and r.grader_cost > 0 for r in results)
    assert await sync_to_async(ApiCall.objects.filter(kind=ApiCall.Kind.GRADER).count)() == 4
    for side in table["sides"]:
        assert side.mean_score == sum(side.scores) / 2
    assert table["sides"][0].wins + table["sides"][1].wins + table["ties"] == 2


async def test_a_grader_answer_that_does_not_fit_is_shown_not_scored(setup):
    run = await sync_to_async(make_run)(setup, rubric="Polite", grader_model="claude-haiku-4-5")
    setup["fake"].enqueue(
        *[Reply("ok", tokens_per_second=0)] * 4, *[Reply('{"score": 9, "reason": "x"}')] * 4
    )
    await worker.work(run.pk)
    results = await sync_to_async(list)(Result.objects.filter(run=run))
    assert all(
        r.score is None and r.score_reason.startswith("Not graded: the grader's answer did not fit")
        for r in results
    )
    assert all(r.grader_cost > 0 for r in results)  # a grader's request is paid for all the same


def test_parse_grade_and_custom_ids():
    assert requests.parse_grade('{"score": 4, "reason": " Good,\\n  kind. "}') == (4, "Good, kind.")
    for bad in ('{"score": 0, "reason": ""}', '{"score": true}', "[]", "not json"):
        with pytest.raises(ValueError):
            requests.parse_grade(bad)
    assert requests.parse_custom_id("case-12-b") == (12, "b")
    assert requests.parse_custom_id("case-x-a") is None


# --- a batch run's grades: a second Message Batch ----------------------------------------------------


def batch_creates(fake) -> list[dict]:
    return [r.body for r in fake.requests if r.path == "/v1/messages/batches"]


async def test_a_batch_runs_grades_go_in_a_second_batch_at_the_batch_rate(setup):
    fake = setup["fake"]
    run = await sync_to_async(make_run)(
        setup, batch=True, rubric="Answers politely.", grader_model="claude-haiku-4-5"
    )
    await worker.work(run.pk)
    assert fake.message_requests == []  # nothing live
    cases, grades = batch_creates(fake)
    assert [r["custom_id"] for r in cases["requests"]] == ["case-1-a", "case-1-b", "case-2-a", "case-2-b"]
    assert [r["custom_id"] for r in grades["requests"]] == [
        "grade-1-a",
        "grade-1-b",
        "grade-2-a",
        "grade-2-b",
    ]
    assert grades["requests"][0]["params"] == requests.grader_request(
        model="claude-haiku-4-5",
        rubric="Answers politely.",
        case_input="Where is my order?",
        expected="Ask for the number",
        output="Echo: Where is my order?",
    )
    run = await sync_to_async(Run.objects.select_related("version_a", "version_b").get)(pk=run.pk)
    assert (run.status, run.grader_batch_status) == (Run.Status.COMPLETE, "ended")
    assert run.grader_batch_id and run.grader_batch_id != run.batch_id
    assert run.grader_batch_counts["succeeded"] == 4
    results = await sync_to_async(list)(run.results.all())
    assert all(1 <= r.score <= 5 and r.score_reason and r.grader_cost > 0 for r in results)
    graders = await sync_to_async(list)(ApiCall.objects.filter(kind=ApiCall.Kind.GRADER))
    assert len(graders) == 4 and {c.model for c in graders} == {"claude-haiku-4-5"}
    for call in graders:
        full = await sync_to_async(_full_price)(call)
        assert abs(call.cost - full / 2) <= Decimal("0.00000001")
    assert sum(c.cost for c in graders) == sum(r.grader_cost for r in results)
    team_total = await sync_to_async(spending.totals)(spending.spent().of_team(setup["prompt"].team_id))
    # The team's spending counts both batches (results keep costs to 8 places).
    assert abs(team_total["cost"] - sum(r.cost + r.grader_cost for r in results)) < Decimal("0.0000001")
    assert team_total["overhead_calls"] == 8
    table = await sync_to_async(selectors.run_table)(run)
    assert table["graded"] and table["cost"] == sum(r.cost + r.grader_cost for r in results)


async def test_a_cancel_while_grading_cancels_the_graders_batch_and_keeps_the_grades_done(setup):
    fake = setup["fake"]
    run = await sync_to_async(make_run)(setup, batch=True, rubric="Polite", grader_model="claude-haiku-4-5")
    task = asyncio.ensure_future(worker.work(run.pk))
    await eventually(query(lambda: Run.objects.filter(pk=run.pk, status=Run.Status.GRADING).exists()))
    fake.batches.hold = True  # the cases' batch ended; the grader's stays open until told
    run = await eventually(
        query(lambda: Run.objects.filter(pk=run.pk).exclude(grader_batch_id="").first()), timeout=15
    )
    fake.batches.finish(run.grader_batch_id, count=2)  # case 1's two grades
    await sync_to_async(services.run_cancel)(run=run)
    await asyncio.wait_for(task, 20)
    assert [r.path for r in fake.requests if r.path.endswith("/cancel")] == [
        f"/v1/messages/batches/{run.grader_batch_id}/cancel"
    ]
    run = await sync_to_async(Run.objects.get)(pk=run.pk)
    assert run.status == Run.Status.CANCELLED
    results = await sync_to_async(list)(run.results.order_by("position", "side"))
    assert [r.status for r in results] == ["succeeded"] * 4  # the outputs are kept
    assert [r.score is not None for r in results] == [True, True, False, False]
    assert [r.score_reason for r in results[2:]] == ["Not graded: cancelled before it ran"] * 2
    assert await sync_to_async(ApiCall.objects.filter(kind=ApiCall.Kind.GRADER).count)() == 2


async def test_a_refused_graders_batch_fails_the_run_with_its_message_and_keeps_the_outputs(setup):
    fake = setup["fake"]
    run = await sync_to_async(make_run)(setup, batch=True, rubric="Polite", grader_model="claude-haiku-4-5")
    fake.batches.fail("grade-2-b", "errored", "output_config: schema too complex")
    await worker.work(run.pk)
    result = await sync_to_async(Result.objects.get)(run=run, position=2, side="b")
    assert (result.score, result.score_reason) == (
        None,
        "Not graded: invalid_request_error: output_config: schema too complex",
    )
    assert (await sync_to_async(Run.objects.get)(pk=run.pk)).status == Run.Status.COMPLETE

    fake.reset()
    run = await sync_to_async(make_run)(setup, batch=True, rubric="Polite", grader_model="claude-haiku-4-5")
    task = asyncio.ensure_future(worker.work(run.pk))
    await eventually(query(lambda: Run.objects.filter(pk=run.pk).exclude(batch_id="").exists()))
    fake.batches.create_error = HttpError(400, message="requests: too large", request_id="req_graders")
    await asyncio.wait_for(task, 20)
    run = await sync_to_async(Run.objects.get)(pk=run.pk)
    assert run.status == Run.Status.FAILED
    assert run.error == (
        "The grader's batch was refused: The Claude API rejected the request as invalid "
        "(requests: too large) (request req_graders)"
    )
    assert await sync_to_async(Result.objects.filter(run=run, status="succeeded").count)() == 4
