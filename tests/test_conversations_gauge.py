"""The composer's context gauge (reply/context_window.gauge): how much of the model's input window
the next send uses, from the last reply's usage and a draft's files (count_tokens), with the next
send's estimated cost; amber from 80%; the limit from the API's model list when it gives one."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversations import services
from conversations.claude import catalog
from conversations.models import Message, ModelPrice
from conversations.reply import context_window
from tests.helpers import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced():
    ModelPrice.objects.update_or_create(
        model="claude-sonnet-4-6",
        defaults={
            "input": Decimal(3),
            "output": Decimal(15),
            "cache_write_5m": Decimal("3.75"),
            "cache_write_1h": Decimal(6),
            "cache_read": Decimal("0.30"),
        },
    )


def chat_with_usage(user, **usage):
    conversation, reply = services.conversation_start(user=user, text="Hi", model="claude-sonnet-4-6")
    Message.objects.filter(pk=reply.pk).update(status="complete", **usage)
    return conversation


def test_the_gauge_reads_the_last_replys_usage_and_prices_the_next_send(alice, priced):
    conversation = chat_with_usage(
        alice,
        input_tokens=1_000,
        cache_read_input_tokens=9_000,
        cache_creation_input_tokens=0,
        output_tokens=500,
    )
    meter = context_window.gauge(conversation)
    assert (meter.used, meter.limit, meter.percent, meter.warn) == (10_500, 200_000, 5, False)
    # 10,000 tokens read from the cache at $0.30/M, 500 new at $3/M: before any output.
    assert meter.next_cost == Decimal("0.0045")


def test_from_80_percent_it_is_amber_and_says_nearly_full(client, alice, priced):
    conversation = chat_with_usage(
        alice, input_tokens=150_000, cache_read_input_tokens=10_000, output_tokens=2_000
    )
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert 'class="context-gauge warn"' in page
    assert '<meter id="context-meter" min="0" max="200000" value="162000" high="160000"' in page
    assert "81% of 200,000 tokens · next send ≈ $0.0540 · nearly full" in page


def test_the_model_lists_input_limit_is_used_when_it_gives_one(alice, priced, monkeypatch):
    conversation = chat_with_usage(alice, input_tokens=100_000)
    listed = catalog.ModelChoice("claude-sonnet-4-6", "Claude Sonnet 4.6", 1_000_000, 64_000)
    monkeypatch.setattr(catalog, "_cache", (float("inf"), [listed]))
    meter = context_window.gauge(conversation)
    assert (meter.limit, meter.percent) == (1_000_000, 10)


@pytest.mark.django_db(transaction=True)
def test_a_drafts_files_are_counted_and_someone_elses_are_404(client, fake_api, alice, bob):
    conversation = chat_with_usage(alice, input_tokens=1_000)
    client.force_login(alice)
    url = reverse("conversation_gauge", args=[conversation.pk])
    before = client.get(url).content.decode()
    assert "of 200,000 tokens" in before
    upload = client.post(reverse("upload_attachment"), {"file": _png()})
    mine = upload.json()["id"]
    after = client.get(url, {"attachment": mine}).content.decode()
    used = [int(part.split('value="')[1].split('"')[0]) for part in (before, after)]
    assert used[1] > used[0]  # the image's tokens, by count_tokens
    assert fake_api.requests[-1].path == "/v1/messages/count_tokens"
    client.force_login(bob)
    assert client.get(url).status_code == 404  # not bob's chat
    bobs = chat_with_usage(bob, input_tokens=10)
    assert client.get(reverse("conversation_gauge", args=[bobs.pk]), {"attachment": mine}).status_code == 404


def _png():
    return SimpleUploadedFile("chart.png", image_bytes(), content_type="image/png")
