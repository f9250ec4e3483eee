"""Staff review: titles-only lists, audited transcript openings, the user's view of it."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from conversations import services
from conversations.models import ContentBlock, Message
from review.models import TranscriptView

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("staff", "s@example.com", "staff-pass-123", is_staff=True)


@pytest.fixture
def chat(alice):
    conversation, reply = services.conversation_start(user=alice, text="My salary is 123456", model="m")
    Message.objects.filter(pk=reply.pk).update(status="error", error="boom", request_id="req_1")
    ContentBlock.objects.create(
        message=reply, index=0, type="text", payload={"type": "text", "text": "Noted."}
    )
    return conversation


def test_only_staff_can_review(client, alice, chat):
    client.force_login(alice)
    assert client.get(reverse("review_list")).status_code == 302  # to the admin login
    assert client.post(reverse("review_transcript", args=[chat.pk])).status_code == 302
    assert not TranscriptView.objects.exists()


def test_list_shows_titles_only_and_filters(client, staff, alice, chat):
    client.force_login(staff)
    page = client.get(
        reverse("review_list"), {"q": "salary", "status": "error", "user": "alice"}
    ).content.decode()
    assert "My salary is 123456" in page  # the title
    assert "Noted." not in page  # never message text
    assert "My salary" not in client.get(reverse("review_list"), {"q": "nothing-like-this"}).content.decode()
    assert "My salary" in client.get(reverse("review_list"), {"q": "noted"}).content.decode()  # text search
    assert "My salary" not in client.get(reverse("review_list"), {"attachments": "1"}).content.decode()


def test_every_opening_is_recorded_with_the_reason_and_shown_to_the_user(client, staff, alice, chat):
    client.force_login(staff)
    assert "Noted." not in client.get(reverse("review_open", args=[chat.pk])).content.decode()
    for reason in ("ticket #42", ""):
        page = client.post(reverse("review_transcript", args=[chat.pk]), {"reason": reason}).content.decode()
        assert "Noted." in page and "req_1" in page and "boom" in page
    views = list(TranscriptView.objects.order_by("viewed_at"))
    assert [(v.staff, v.conversation_id, v.reason) for v in views] == [
        (staff, chat.pk, "ticket #42"),
        (staff, chat.pk, ""),
    ]

    client.force_login(alice)
    page = client.get(reverse("my_reviews")).content.decode()
    assert "ticket #42" in page and "staff" in page


def test_the_audit_log_is_read_only_and_for_superusers(client, staff, chat):
    TranscriptView.objects.create(staff=staff, conversation=chat, conversation_title=chat.title)
    client.force_login(staff)
    assert client.get("/admin/review/transcriptview/").status_code == 403
    boss = get_user_model().objects.create_superuser("boss", "b@example.com", "boss-pass-123")
    client.force_login(boss)
    assert client.get("/admin/review/transcriptview/").status_code == 200
    entry = TranscriptView.objects.get()
    assert client.post(f"/admin/review/transcriptview/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/review/transcriptview/add/").status_code == 403
    assert TranscriptView.objects.count() == 1
