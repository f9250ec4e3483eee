"""Temporary chats (conversations/library/temporary.py): never listed, searched, exported or
shared; scrubbed when their owner leaves them (the last tab's socket closes and none comes back
within the grace) or a day after they began; still counted in usage and budgets, and open to staff
review, marked temporary, until then."""

import zipfile
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from django.utils import timezone

from conversations import services, spending
from conversations.claude import pricing, tools
from conversations.library import exporting, search, temporary
from conversations.models import Conversation, Message, ModelPrice
from conversations.reply import generation
from fakes import Reply
from tests.helpers import eventually, next_frame, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def temporary_chat_over_the_socket(fake_api, alice, text="A secret plan"):
    """Started from the New chat page's socket with Temporary chat ticked; the reply finished."""
    await sync_to_async(pricing.seed_default_prices)(ModelPrice)  # emptied by transactional tests
    fake_api.enqueue(Reply("Noted.", output_tokens=50))
    ws = await open_socket(alice, "/ws/new/")
    frame = {"type": "start", "id": "1", "text": text, "model": "claude-sonnet-4-6", "temporary": True}
    await ws.send_json_to(frame)
    assert (await next_frame(ws, "an"))[0] == "a"
    await generation.wait_all()
    conversation = await Conversation.objects.aget(owner=alice)
    return ws, conversation


async def test_a_temporary_chat_lasts_a_day_at_most_and_is_scrubbed_soon_after_its_tab_closes(
    fake_api, alice
):
    ws, conversation = await temporary_chat_over_the_socket(fake_api, alice)
    assert conversation.temporary and conversation.left_at is None
    assert (
        timedelta(hours=23, minutes=59) < conversation.temporary_until - timezone.now() <= timedelta(hours=24)
    )
    reply = await Message.objects.aget(conversation=conversation, role="assistant")
    cost = reply.cost
    assert cost > 0

    await ws.disconnect()  # its last tab closed: left
    await conversation.arefresh_from_db()
    assert conversation.left_at is not None
    tab = await open_socket(alice, f"/ws/c/{conversation.pk}/")  # a reload comes back in time
    returned = Conversation.objects.filter(pk=conversation.pk, left_at__isnull=True)
    await eventually(returned.aexists, what="the tab that came back to clear left_at")
    await tab.disconnect()

    later = timezone.now() + temporary.LEAVE_GRACE - timedelta(seconds=5)
    assert await sync_to_async(temporary.temporary_chats_scrub)(later) == 0  # within the grace
    after = timezone.now() + temporary.LEAVE_GRACE + timedelta(seconds=1)
    assert await sync_to_async(temporary.temporary_chats_scrub)(after) == 1
    await conversation.arefresh_from_db()
    assert conversation.scrubbed_at is not None and conversation.title == ""
    assert not await Message.objects.filter(conversation=conversation, role="user").aexists()

    # Its spending stays: usage and the month's budget still count it.
    spent = await sync_to_async(lambda: spending.spent().of_user(alice.pk).replies.get())()
    assert spent.pk == reply.pk and spent.cost == cost


async def test_a_day_after_it_began_it_goes_even_with_a_tab_open_but_never_mid_reply(fake_api, alice):
    ws, conversation = await temporary_chat_over_the_socket(fake_api, alice)
    tomorrow = conversation.temporary_until + timedelta(seconds=1)
    await Message.objects.filter(conversation=conversation, role="assistant").aupdate(status="streaming")
    assert await sync_to_async(temporary.temporary_chats_scrub)(tomorrow) == 0
    await Message.objects.filter(conversation=conversation, role="assistant").aupdate(status="complete")
    assert await sync_to_async(temporary.temporary_chats_scrub)(tomorrow) == 1
    await ws.disconnect()


def test_it_is_not_listed_searched_exported_or_shared(client, fake_api, people, team):
    member = people["member"]
    services.conversation_start(user=member, text="A listed secret", model="claude-sonnet-4-6")
    hidden, reply = services.conversation_start(
        user=member, text="A temporary secret", model="claude-sonnet-4-6", temporary=True
    )
    Message.objects.filter(pk=reply.pk).update(status="complete")
    client.force_login(member)

    page = client.get(reverse("conversation", args=[hidden.pk])).content.decode()
    assert "Temporary chat · deleted when you leave" in page
    assert "Export as JSON" not in page and "Share with" not in page
    sidebar = client.get(reverse("sidebar_list")).content.decode()
    assert "A listed secret" in sidebar and "A temporary secret" not in sidebar
    assert client.get(reverse("home")).url != reverse("conversation", args=[hidden.pk])
    assert [r.conversation.title for r in search.search(member, "secret")] == ["A listed secret"]
    found, _ = tools.run_tool("search_conversations", {"query": "secret"}, tools.ToolContext(member.pk))
    assert "A listed secret" in found and "temporary" not in found
    assert client.get(reverse("export_json", args=[hidden.pk])).status_code == 404
    assert client.get(reverse("export_markdown", args=[hidden.pk])).status_code == 404
    names = zipfile.ZipFile(exporting.user_zip(member)).namelist()
    assert names and not [name for name in names if "temporary" in name]
    shared = client.post(reverse("share_conversation", args=[hidden.pk]), {"team": team.pk})
    assert shared.status_code == 404 and not hidden.shares.exists()


def test_staff_review_opens_it_marked_temporary_until_it_is_scrubbed(client, alice, staff):
    hidden, _ = services.conversation_start(user=alice, text="Temporary words", model="m", temporary=True)
    client.force_login(staff)
    listing = client.get(reverse("review_list")).content.decode()
    assert "Temporary words" in listing and '<span class="temporary-badge">temporary</span>' in listing
    Conversation.objects.filter(pk=hidden.pk).update(left_at=timezone.now() - timedelta(minutes=5))
    Message.objects.filter(conversation=hidden).update(status="complete")
    assert temporary.temporary_chats_scrub() == 1
    assert "Temporary words" not in client.get(reverse("review_list")).content.decode()


def test_a_post_start_can_be_temporary_too(client, fake_api, alice):
    client.force_login(alice)
    page = client.get(reverse("new_chat")).content.decode()
    assert 'name="temporary"' in page and "Temporary chat" in page
    response = client.post(reverse("start_chat"), {"text": "By post", "temporary": "on"})
    assert response.status_code == 302
    assert Conversation.objects.get(owner=alice).temporary
