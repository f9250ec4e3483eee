"""The sidebar's conversation list: pinned ones first, then the rest newest first under date
headings (Today, Yesterday, Previous 7 days, Previous 30 days, then one per month), PAGE_SIZE at
a time.

Pages are keyed by the last item shown (its `updated_at` and id), not by an offset, so a
conversation that moves to the top while someone scrolls is neither repeated nor skipped.
"""

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.dateformat import format as date_format

from conversations.claude.params import ZONES
from conversations.models import Conversation, Message

PAGE_SIZE = 50
PINNED = "Pinned"
FIELDS = ("id", "title", "updated_at", "pinned_at", "archived_at")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"([0-9]{1,17})\.([0-9]{1,18})")


def group_of(moment: datetime, today: date, zone) -> str:
    """The heading a conversation last active at `moment` sits under, seen on `today` in `zone`."""
    day = moment.astimezone(zone).date()
    if day >= today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day >= today - timedelta(days=7):
        return "Previous 7 days"
    if day >= today - timedelta(days=30):
        return "Previous 30 days"
    return date_format(day, "F Y")


@dataclass
class Page:
    rows: list[tuple[str | None, Conversation]] = field(default_factory=list)  # (heading or None, item)
    next_query: str = ""  # the query string of the next page; empty on the last page
    archived: bool = False


def cursor_of(conversation: Conversation) -> str:
    delta = conversation.updated_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}.{conversation.pk}"


def parse_cursor(value: str) -> tuple[datetime, int] | None:
    """(updated_at, id) of the last item shown, or None for anything that is not a cursor."""
    match = _CURSOR.fullmatch(value)
    if not match:
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(match[1])), int(match[2])
    except OverflowError:
        return None


def zone_of(request: HttpRequest):
    """The browser's time zone (the `tz` cookie sidebar.js sets), else the server's."""
    name = request.COOKIES.get("tz", "")
    return zoneinfo.ZoneInfo(name) if name in ZONES else timezone.get_current_timezone()


def imported_at() -> Subquery:
    """When a conversation was imported (from an export, or continued from a team share), else
    None: its first message is a copy (Message.copied_at). The first by id, found by the index on
    the conversation, so a long chat is not read through for it."""
    first = Message.objects.filter(conversation=OuterRef("pk")).order_by("id")
    return Subquery(first.values("copied_at")[:1])


def page_for(user, *, zone, cursor: tuple[datetime, int] | None = None, archived: bool = False) -> Page:
    """One page of the list. The first (no cursor) starts with every pinned conversation."""
    today = timezone.now().astimezone(zone).date()
    mine = Conversation.objects.listed().filter(owner=user).only(*FIELDS).annotate(imported_at=imported_at())
    page = Page(archived=archived)
    previous = None  # the heading of the item before this page's first
    if archived:  # one heading, in the template, over the whole archive
        listed = mine.filter(archived_at__isnull=False)
    else:
        listed = mine.filter(archived_at__isnull=True, pinned_at__isnull=True)
        if cursor is None:
            pinned = mine.filter(archived_at__isnull=True, pinned_at__isnull=False).order_by("-pinned_at")
            page.rows += _headed(pinned, lambda c: PINNED, None)
        else:
            previous = group_of(cursor[0], today, zone)
    if cursor is not None:
        at, pk = cursor
        listed = listed.filter(Q(updated_at__lt=at) | Q(updated_at=at, pk__lt=pk))
    items = list(_newest_first(listed)[: PAGE_SIZE + 1])
    more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    heading = (lambda c: None) if archived else (lambda c: group_of(c.updated_at, today, zone))
    page.rows += _headed(items, heading, previous)
    if more:
        query = {"cursor": cursor_of(items[-1])}
        if archived:
            query["view"] = "archived"
        page.next_query = urlencode(query)
    return page


def _newest_first(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return conversations.order_by("-updated_at", "-id")


def _headed(
    items: Iterable[Conversation], heading, previous: str | None
) -> list[tuple[str | None, Conversation]]:
    """Each item with its heading where the heading changes (the first item's unless it
    continues `previous`), else None."""
    rows = []
    for item in items:
        label = heading(item)
        rows.append((label if label != previous else None, item))
        previous = label
    return rows


def current_conversation_id(request: HttpRequest) -> int | None:
    """The conversation the page shows, for aria-current: this request's URL, or for an htmx
    request, the URL of the page that made it."""
    match = request.resolver_match
    if request.htmx and request.htmx.current_url_abs_path:
        try:
            match = resolve(request.htmx.current_url_abs_path.split("?", 1)[0])
        except Resolver404:
            return None
    if match is None or match.url_name != "conversation":
        return None
    return match.kwargs.get("conversation_id")
