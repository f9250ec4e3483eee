"""Staff review: titles-only lists, audited transcript openings and the user's view of them,
attachments only inside an audited opening, audited text search, filter input."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from conversations import services
from conversations.models import ContentBlock, Message
from conversations.rendering import render_markdown_blocks
from fakes import Cited, GroundedReply, Search
from fakes import server_tools as fake_tools
from review.models import SearchAudit, TranscriptView
from tests.helpers import finish, image_bytes, open_transcript

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat_with_image(alice, media):
    image = services.attachment_store(user=alice, name="scan.png", data=image_bytes(8, 8))
    conversation, _ = services.conversation_start(
        user=alice, text="What is on this scan?", model="claude-sonnet-4-6", attachments=[image]
    )
    return conversation, image


@pytest.fixture
def chat(alice):
    conversation, reply = services.conversation_start(user=alice, text="My salary is 123456", model="m")
    Message.objects.filter(pk=reply.pk).update(status="error", error="boom", request_id="req_1")
    ContentBlock.objects.create(
        message=reply, index=0, type="text", payload={"type": "text", "text": "Noted."}
    )
    return conversation


# --- titles only, audited openings -----------------------------------------------------------


def test_only_staff_can_review(client, alice, chat):
    client.force_login(alice)
    assert client.get(reverse("review_list")).status_code == 403
    assert client.post(reverse("review_transcript", args=[chat.pk])).status_code == 403
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


# --- attachments -----------------------------------------------------------------------------


def test_staff_no_longer_read_attachments_through_the_owners_url(client, staff, chat_with_image):
    _, image = chat_with_image
    client.force_login(staff)
    assert client.get(reverse("attachment_file", args=[image.pk])).status_code == 404


def test_staff_read_an_attachment_only_after_an_audited_opening(client, staff, media, chat_with_image):
    conversation, image = chat_with_image
    url = reverse("review_attachment", args=[conversation.pk, image.pk])
    client.force_login(staff)
    refused = client.get(url)  # not opened yet
    assert refused.status_code == 403 and "Open the transcript first" in refused.content.decode()
    page = open_transcript(client, conversation).content.decode()
    assert f'src="{url}"' in page and f'"{reverse("attachment_file", args=[image.pk])}"' not in page

    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == (media / image.storage_key).read_bytes()
    assert TranscriptView.objects.filter(staff=staff, conversation=conversation).count() == 1


def test_an_opening_lets_staff_read_attachments_for_hours_only(client, staff, chat_with_image, settings):
    settings.CHAT_REVIEW_ATTACHMENT_HOURS = 8
    conversation, image = chat_with_image
    url = reverse("review_attachment", args=[conversation.pk, image.pk])
    client.force_login(staff)
    open_transcript(client, conversation)
    with time_machine.travel(timezone.now() + timedelta(hours=7)):
        assert client.get(url).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=9)):
        assert client.get(url).status_code == 403


def test_another_staff_members_opening_does_not_count(client, staff, chat_with_image):
    conversation, image = chat_with_image
    client.force_login(staff)
    open_transcript(client, conversation)
    other = get_user_model().objects.create_user("other", password="x", is_staff=True)
    client.force_login(other)
    assert client.get(reverse("review_attachment", args=[conversation.pk, image.pk])).status_code == 403


def test_only_attachments_of_the_opened_conversation(client, staff, alice, chat_with_image):
    conversation, _ = chat_with_image
    unrelated = services.attachment_store(user=alice, name="unrelated.png", data=image_bytes(9, 9))
    client.force_login(staff)
    open_transcript(client, conversation)
    assert client.get(reverse("review_attachment", args=[conversation.pk, unrelated.pk])).status_code == 404
    assert client.get(reverse("review_attachment", args=[conversation.pk, 999999])).status_code == 404


def test_non_staff_cannot_use_the_review_route(client, alice, chat_with_image):
    conversation, image = chat_with_image
    url = reverse("review_attachment", args=[conversation.pk, image.pk])
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(alice)  # even the owner: her own URL is the other one
    assert client.get(url).status_code == 403


def test_the_owners_page_keeps_the_owners_url(client, alice, chat_with_image):
    conversation, image = chat_with_image
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert f'src="{reverse("attachment_file", args=[image.pk])}"' in page
    assert "/review/" not in page.split("<main", 1)[1].split("</main>", 1)[0]


# --- audited search --------------------------------------------------------------------------


@pytest.fixture
def chats(alice, bob):
    salary, _ = services.conversation_start(user=alice, text="My salary is 123456", model="m")
    services.conversation_start(user=alice, text="Holiday plans", model="m")
    other, _ = services.conversation_start(user=bob, text="Weather", model="m")
    return salary, other


def test_every_text_search_is_recorded(client, staff, chats):
    salary, _ = chats
    client.force_login(staff)
    client.get(reverse("review_list"))
    client.get(reverse("review_list"), {"user": "alice", "q": ""})
    assert not SearchAudit.objects.exists()  # titles only: nothing to record

    page = client.get(reverse("review_list"), {"q": "salary"}).content.decode()
    assert "My salary is 123456" in page and "recorded" in page
    audit = SearchAudit.objects.get()
    assert (audit.staff, audit.query, audit.match_count, audit.conversation_ids) == (
        staff,
        "salary",
        1,
        [salary.pk],
    )
    client.get(reverse("review_list"), {"q": "no such text anywhere"})
    assert SearchAudit.objects.order_by("-searched_at").first().match_count == 0


def test_users_see_the_searches_that_listed_their_conversations(client, staff, alice, bob, chats):
    client.force_login(staff)
    client.get(reverse("review_list"), {"q": "salary"})
    client.get(reverse("review_list"), {"q": "weather"})

    client.force_login(alice)
    page = client.get(reverse("my_reviews")).content.decode()
    assert "salary" in page and "weather" not in page and "staff" in page
    client.force_login(bob)
    page = client.get(reverse("my_reviews")).content.decode()
    assert "weather" in page and "salary" not in page


def test_deleting_a_conversation_keeps_the_search_on_its_owners_page(client, staff, alice, chats):
    salary, _ = chats
    client.force_login(staff)
    client.get(reverse("review_list"), {"q": "salary"})
    salary.delete()
    client.force_login(alice)
    assert "salary" in client.get(reverse("my_reviews")).content.decode()


def test_the_search_log_is_read_only_and_for_superusers(client, staff, chats):
    client.force_login(staff)
    client.get(reverse("review_list"), {"q": "salary"})
    assert client.get("/admin/review/searchaudit/").status_code == 403
    boss = get_user_model().objects.create_superuser("boss", "b@example.com", "boss-pass-123")
    client.force_login(boss)
    listing = client.get("/admin/review/searchaudit/")
    assert listing.status_code == 200 and "salary" in listing.content.decode()
    entry = SearchAudit.objects.get()
    assert client.get(f"/admin/review/searchaudit/{entry.pk}/change/").status_code == 200
    assert client.post(f"/admin/review/searchaudit/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/review/searchaudit/add/").status_code == 403
    assert SearchAudit.objects.count() == 1


# --- filter input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"prompt_version": "abc"}, "Enter a whole number."),
        ({"prompt_version": "9" * 30}, "less than or equal to"),
        ({"since": "garbage"}, "Enter a valid date."),
        ({"until": "2026-13-45"}, "Enter a valid date."),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "The start date is after the end date."),
        ({"status": "exploded"}, "Select a valid choice."),
        ({"q": "x\x00y"}, "Null characters are not allowed."),
        ({"q": "x" * 201}, "at most 200 characters"),
    ],
)
def test_bad_filter_input_is_a_form_error_never_a_500(client, staff, chats, params, error):
    client.force_login(staff)
    response = client.get(reverse("review_list"), {**params, "user": "alice"})
    page = response.content.decode()
    assert response.status_code == 400
    assert error in page and 'role="alert"' in page
    assert "My salary" not in page  # no half-filtered list
    assert not SearchAudit.objects.exists()


def test_good_filters_still_filter(client, staff, chats):
    salary, other = chats
    client.force_login(staff)
    today = timezone.now().date().isoformat()
    page = client.get(
        reverse("review_list"), {"since": today, "until": today, "user": "alice", "status": "streaming"}
    ).content.decode()
    assert "My salary" in page and "Holiday plans" in page and "Weather" not in page
    page = client.get(reverse("review_list"), {"prompt_version": "12345"}).content.decode()
    assert "No conversations match." in page


def test_a_bad_reason_is_a_form_error_and_nothing_is_opened(client, staff, chats):
    salary, _ = chats
    client.force_login(staff)
    for reason, error in [("ticket\x00", "Null characters are not allowed."), ("r" * 501, "at most 500")]:
        response = client.post(reverse("review_transcript", args=[salary.pk]), {"reason": reason})
        assert response.status_code == 422 and error in response.content.decode()
    assert not TranscriptView.objects.exists()


def test_the_transcript_shows_citations_as_the_owners_page_does(client, staff, alice, fake_api) -> None:
    conversation, reply = services.conversation_start(user=alice, text="News?", model="claude-sonnet-4-6")
    source = fake_tools.search_result("https://news.example/storm", "Storm warning")
    cited = Cited("Rain on Monday.", [fake_tools.web_citation(source, "Rain Monday")])
    finish(reply, *fake_tools.blocks(GroundedReply([Search("storm", [source]), cited])))
    for block in ContentBlock.objects.filter(message=reply, type="text"):  # as the stream stores them
        ContentBlock.objects.filter(pk=block.pk).update(
            rendered=render_markdown_blocks(block.payload["text"])
        )

    client.force_login(staff)
    html = client.post(
        reverse("review_transcript", args=[conversation.pk]), {"reason": "ticket 9"}
    ).content.decode()
    assert '<ol class="citations" aria-label="Sources">' in html and "“Rain Monday”" in html
    assert 'href="https://news.example/storm"' in html and "Searching: <q>storm</q>" in html
