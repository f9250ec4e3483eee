"""The sidebar's list (conversations/sidebar.py): date groups, pinned first, pages of 50 keyed by
the last item shown, archived and deleted ones left out."""

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversations.library import organising, sidebar
from conversations.models import Conversation

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def make(owner, title: str, age: timedelta = timedelta(0), **fields) -> Conversation:
    conversation = Conversation.objects.create(owner=owner, title=title, model="m")
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now() - age, **fields)
    conversation.refresh_from_db()
    return conversation


def titles(page: sidebar.Page) -> list[str]:
    return [item.title for _, item in page.rows]


def headings(page: sidebar.Page) -> list[str]:
    return [heading for heading, _ in page.rows if heading]


@pytest.mark.parametrize(
    "moment, group",
    [
        (datetime(2026, 11, 22, 0, 30, tzinfo=PARIS), "Today"),
        (datetime(2026, 11, 21, 23, 59, tzinfo=PARIS), "Yesterday"),
        (datetime(2026, 11, 21, 0, 0, tzinfo=PARIS), "Yesterday"),
        (datetime(2026, 11, 20, 23, 59, tzinfo=PARIS), "Previous 7 days"),
        (datetime(2026, 11, 15, 0, 0, tzinfo=PARIS), "Previous 7 days"),
        (datetime(2026, 11, 14, 23, 0, tzinfo=PARIS), "Previous 30 days"),
        (datetime(2026, 10, 23, 12, 0, tzinfo=PARIS), "Previous 30 days"),
        (datetime(2026, 10, 22, 12, 0, tzinfo=PARIS), "October 2026"),
        (datetime(2025, 12, 31, 12, 0, tzinfo=PARIS), "December 2025"),
        (datetime(2026, 11, 23, 9, 0, tzinfo=PARIS), "Today"),  # a clock ahead of ours
    ],
)
def test_date_groups(moment, group):
    assert sidebar.group_of(moment, date(2026, 11, 22), PARIS) == group


def test_groups_are_days_in_the_viewers_time_zone():
    late_evening_utc = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)  # already the 22nd in Paris
    assert sidebar.group_of(late_evening_utc, date(2026, 11, 22), PARIS) == "Today"
    assert sidebar.group_of(late_evening_utc, date(2026, 11, 22), UTC) == "Yesterday"


def test_pinned_first_then_newest_first_under_headings(alice, bob):
    make(alice, "Old", timedelta(days=100))
    make(alice, "Last week", timedelta(days=3))
    make(alice, "Now")
    make(alice, "Pinned long ago", timedelta(days=400), pinned_at=timezone.now() - timedelta(hours=1))
    make(alice, "Pinned just now", timedelta(days=2), pinned_at=timezone.now())
    make(alice, "Archived", archived_at=timezone.now())
    make(alice, "Deleted", deleted_at=timezone.now())
    make(bob, "Bob's")
    page = sidebar.page_for(alice, zone=UTC)
    assert titles(page) == ["Pinned just now", "Pinned long ago", "Now", "Last week", "Old"]
    old_month = sidebar.group_of(timezone.now() - timedelta(days=100), timezone.now().date(), UTC)
    assert headings(page) == ["Pinned", "Today", "Previous 7 days", old_month]
    assert page.next_query == ""


def test_pages_of_fifty_continue_without_repeating_a_heading_or_an_item(alice):
    for i in range(120):
        make(alice, f"Chat {i:03d}", timedelta(hours=i * 12))
    first = sidebar.page_for(alice, zone=UTC)
    assert len(first.rows) == sidebar.PAGE_SIZE and first.next_query.startswith("cursor=")
    # Someone sends in a conversation of the second page while the list is open: it moves to the top.
    moved = Conversation.objects.get(title="Chat 060")
    Conversation.objects.filter(pk=moved.pk).update(updated_at=timezone.now())
    cursor = sidebar.parse_cursor(first.next_query.removeprefix("cursor="))
    second = sidebar.page_for(alice, zone=UTC, cursor=cursor)
    third = sidebar.page_for(
        alice, zone=UTC, cursor=sidebar.parse_cursor(second.next_query[len("cursor=") :])
    )
    seen = titles(first) + titles(second) + titles(third)
    assert seen == [f"Chat {i:03d}" for i in range(120) if i != 60]
    assert third.next_query == ""
    # "Previous 30 days" runs across the page break: it is not headed again.
    assert first.rows[-1][1].title == "Chat 049" and headings(first)[-1] == "Previous 30 days"
    assert second.rows[0][0] is None
    every_heading = headings(first) + headings(second) + headings(third)
    assert len(every_heading) == len(set(every_heading))


def test_bad_cursors_are_refused(alice, client):
    client.force_login(alice)
    for cursor in ["x", "1.2.3", "-1.5", "1." + "9" * 30, "١٢.٣", "1e5.1", " 1.1"]:
        assert sidebar.parse_cursor(cursor) is None, cursor
        assert client.get(reverse("sidebar_list"), {"cursor": cursor}).status_code == 400, cursor
    for cursor in ["0.1", "9" * 17 + "." + "9" * 18]:  # far past or future: an empty page
        response = client.get(reverse("sidebar_list"), {"cursor": cursor})
        assert response.status_code == 200 and 'class="chat-item"' not in response.content.decode()


def test_the_archive_lists_only_archived(alice):
    make(alice, "Kept")
    make(alice, "Put away", archived_at=timezone.now())
    page = sidebar.page_for(alice, zone=UTC, archived=True)
    assert titles(page) == ["Put away"] and page.archived


def test_every_page_shows_the_list_in_two_queries_however_many_conversations(alice, client):
    for i in range(60):
        make(alice, f"Chat {i}", timedelta(days=i))
    make(alice, "Pinned", pinned_at=timezone.now())
    client.force_login(alice)
    client.get(reverse("new_chat"))
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("new_chat")).content.decode()
    sidebar_queries = [q["sql"] for q in queries if "conversations_conversation" in q["sql"]]
    assert len(sidebar_queries) == 2, sidebar_queries
    assert html.count('class="chat-item"') == 51
    assert "<h2>Pinned</h2>" in html and "<h2>Today</h2>" in html
    assert 'hx-trigger="intersect once"' in html


def test_titles_are_escaped_in_the_list_and_the_menus_name(alice, client):
    conversation = make(alice, '<img src=x onerror=alert(1)> & "q"')
    client.force_login(alice)
    html = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert "<img src=x" not in html
    assert 'aria-label="Options for &lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;"' in html
    assert f'<a href="/c/{conversation.pk}/" aria-current="page">&lt;img' in html


def test_next_page_view_answers_items_only_and_marks_the_current_conversation(alice, client):
    for i in range(55):
        make(alice, f"Chat {i:02d}", timedelta(days=i))
    client.force_login(alice)
    first = sidebar.page_for(alice, zone=UTC)
    current = Conversation.objects.get(title="Chat 52")
    response = client.get(
        f"{reverse('sidebar_list')}?{first.next_query}",
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver/c/{current.pk}/"},
    )
    html = response.content.decode()
    assert html.count('class="chat-item"') == 5 and "Chat 49" not in html and "Chat 54" in html
    assert f'href="/c/{current.pk}/" aria-current="page"' in html
    assert "intersect once" not in html  # the last page


def test_purge_removes_only_expired_deletions(alice):
    fresh = make(alice, "Just deleted", deleted_at=timezone.now())
    stale = make(alice, "Long deleted", deleted_at=timezone.now() - timedelta(seconds=60))
    assert organising.deleted_conversations_purge() == 1
    assert Conversation.objects.filter(pk=fresh.pk).exists()
    assert not Conversation.objects.filter(pk=stale.pk).exists()
