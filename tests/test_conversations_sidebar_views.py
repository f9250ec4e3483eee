"""The sidebar's views (conversations/sidebar_views.py) and the delete with Undo: who may call each
URL, inline rename, pin, archive, delete, Undo, and the purge of expired deletions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations import services
from conversations.library import organising
from conversations.models import Attachment, Conversation, Message
from tests.helpers import image_bytes

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}

# name -> (method, expected status for the owner)
CONVERSATION_URLS = {
    "sidebar_item": ("get", 200),
    "sidebar_rename": ("get", 200),
    "conversation_pin": ("post", 200),
    "conversation_unpin": ("post", 200),
    "conversation_archive": ("post", 200),
    "conversation_unarchive": ("post", 200),
    "delete_conversation": ("post", 302),
}


@pytest.fixture
def alices_chat(alice):
    conversation, reply = services.conversation_start(user=alice, text="Secret plans", model="m")
    Message.objects.filter(pk=reply.pk).update(status="complete")
    return conversation


def as_htmx_from(page: str) -> dict:
    return {**HTMX, "HX-Current-URL": f"http://testserver{page}"}


@pytest.mark.parametrize("name", CONVERSATION_URLS)
def test_each_url_is_the_owners_only(client, alice, bob, alices_chat, name):
    method, status = CONVERSATION_URLS[name]
    url = reverse(name, args=[alices_chat.pk])
    call = getattr(client, method)
    # Anonymous: to the login page.
    response = call(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    # Someone else: 404, and nothing changed.
    client.force_login(bob)
    assert call(url, {"title": "mine now"}).status_code == 404
    alices_chat.refresh_from_db()
    assert (alices_chat.title, alices_chat.pinned_at, alices_chat.archived_at, alices_chat.deleted_at) == (
        "Secret plans", None, None, None,
    )  # fmt: skip
    # The wrong method changes nothing either.
    other = client.post if method == "get" else client.get
    client.force_login(alice)
    if name != "sidebar_rename":  # GET shows the box, POST saves it
        assert other(url).status_code == 405
    assert call(url).status_code == status


def test_restore_is_the_owners_only(client, alice, bob, alices_chat):
    organising.conversation_trash(conversation=alices_chat)
    url = reverse("conversation_restore", args=[alices_chat.pk])
    assert client.post(url)["Location"].startswith("/accounts/login/")
    client.force_login(bob)
    assert client.post(url).status_code == 404
    client.force_login(alice)
    assert client.get(url).status_code == 405
    assert Conversation.objects.get(pk=alices_chat.pk).deleted_at is not None
    assert client.post(url).status_code == 302
    assert Conversation.objects.get(pk=alices_chat.pk).deleted_at is None


@pytest.mark.parametrize("name", ["conversation_search", "sidebar_list"])
def test_search_and_list_pages_need_a_login(client, name):
    response = client.get(reverse(name), {"q": "plans"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_search_view_finds_only_my_chats(client, alice, bob, alices_chat):
    client.force_login(bob)
    html = client.get(reverse("conversation_search"), {"q": "secret"}, headers=HTMX).content.decode()
    assert "No chats match" in html and "Secret" not in html
    client.force_login(alice)
    html = client.get(reverse("conversation_search"), {"q": "secret"}, headers=HTMX).content.decode()
    assert "<mark>Secret</mark> plans" in html and "1 chat" in html
    # Without JavaScript: a page of its own, with the box filled in.
    page = client.get(reverse("conversation_search"), {"q": "secret"}).content.decode()
    assert "<h1>Search: “secret”</h1>" in page and 'value="secret"' in page and "<mark>Secret</mark>" in page


def test_a_deleted_conversation_is_gone_from_every_url(client, alice, alices_chat):
    organising.conversation_trash(conversation=alices_chat)
    client.force_login(alice)
    reply = alices_chat.messages.get(role="assistant")
    assert client.get(reverse("conversation", args=[alices_chat.pk])).status_code == 404
    assert client.post(reverse("retry_reply", args=[reply.pk])).status_code == 404
    for name in CONVERSATION_URLS:
        assert (
            getattr(client, CONVERSATION_URLS[name][0])(reverse(name, args=[alices_chat.pk])).status_code
            == 404
        )
    assert "Secret plans" not in client.get(reverse("new_chat")).content.decode()
    assert client.get(reverse("home"))["Location"] == reverse("new_chat")


# --- rename inline -------------------------------------------------------------------------------


def test_rename_inline(client, alice, alices_chat):
    client.force_login(alice)
    url = reverse("sidebar_rename", args=[alices_chat.pk])
    box = client.get(url, headers=HTMX).content.decode()
    assert 'value="Secret plans"' in box and "autofocus" in box
    response = client.post(url, {"title": "  Better   plans "}, headers=HTMX)
    assert response.status_code == 200
    assert ">Better plans</a>" in response.content.decode()
    alices_chat.refresh_from_db()
    assert alices_chat.title == "Better plans"


@pytest.mark.parametrize(
    "title, error",
    [
        ("   ", "A title cannot be empty."),
        ("x" * 10_000, "at most 200 characters (it has 10000)"),
        ("a\x00b", "Null characters are not allowed."),
    ],
)
def test_rename_errors_are_shown_in_the_box_with_what_was_typed(client, alice, alices_chat, title, error):
    client.force_login(alice)
    response = client.post(reverse("sidebar_rename", args=[alices_chat.pk]), {"title": title}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert error in html and 'role="alert"' in html and 'aria-invalid="true"' in html
    alices_chat.refresh_from_db()
    assert alices_chat.title == "Secret plans"


def test_html_in_a_new_title_is_kept_as_text_and_escaped(client, alice, alices_chat):
    client.force_login(alice)
    evil = '<script>alert("x")</script><b>bold</b>'
    html = client.post(
        reverse("sidebar_rename", args=[alices_chat.pk]), {"title": evil}, headers=HTMX
    ).content.decode()
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;" in html
    alices_chat.refresh_from_db()
    assert alices_chat.title == evil


def test_renaming_does_not_move_a_conversation_between_date_groups(client, alice, alices_chat):
    old = timezone.now() - timedelta(days=90)
    Conversation.objects.filter(pk=alices_chat.pk).update(updated_at=old)
    client.force_login(alice)
    client.post(reverse("sidebar_rename", args=[alices_chat.pk]), {"title": "Renamed"}, headers=HTMX)
    assert Conversation.objects.get(pk=alices_chat.pk).updated_at == old


# --- pin, archive ----------------------------------------------------------------------------------


def test_pin_puts_it_first_under_pinned_and_unpin_puts_it_back(client, alice, alices_chat):
    services.conversation_start(user=alice, text="Newer chat", model="m")
    client.force_login(alice)
    html = client.post(reverse("conversation_pin", args=[alices_chat.pk]), headers=HTMX).content.decode()
    assert html.index("<h2>Pinned</h2>") < html.index("Secret plans") < html.index("<h2>Today</h2>")
    assert html.index("Today") < html.index("Newer chat")
    assert f'hx-post="/c/{alices_chat.pk}/unpin/"' in html
    html = client.post(reverse("conversation_unpin", args=[alices_chat.pk]), headers=HTMX).content.decode()
    assert "Pinned" not in html and html.index("Newer chat") < html.index("Secret plans")


def test_archive_hides_it_from_the_list_and_the_archive_lists_it(client, alice, alices_chat):
    client.force_login(alice)
    response = client.post(reverse("conversation_archive", args=[alices_chat.pk]), headers=HTMX)
    assert response.status_code == 200 and response.content == b""  # the item is swapped out
    assert "Secret plans" not in client.get(reverse("new_chat")).content.decode()
    archive = client.get(reverse("sidebar_list"), {"view": "archived"}, headers=HTMX).content.decode()
    assert "<h2>Archived</h2>" in archive and "Secret plans" in archive and "/unarchive/" in archive
    # Still opens, and unarchiving brings it back.
    assert client.get(reverse("conversation", args=[alices_chat.pk])).status_code == 200
    client.post(reverse("conversation_unarchive", args=[alices_chat.pk]), headers=HTMX)
    assert "Secret plans" in client.get(reverse("new_chat")).content.decode()


# --- delete and Undo -------------------------------------------------------------------------------


def test_delete_from_the_list_offers_undo_and_undo_brings_it_back(client, alice, alices_chat):
    client.force_login(alice)
    response = client.post(
        reverse("delete_conversation", args=[alices_chat.pk]), headers=as_htmx_from(reverse("new_chat"))
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="undo-toast" hx-swap-oob="innerHTML"' in html and "Deleted “Secret plans”." in html
    assert f'hx-post="/c/{alices_chat.pk}/restore/"' in html and ">Undo</button>" in html
    assert Conversation.objects.get(pk=alices_chat.pk).deleted_at is not None
    html = client.post(
        reverse("conversation_restore", args=[alices_chat.pk]), headers=as_htmx_from(reverse("new_chat"))
    ).content.decode()
    assert "Secret plans" in html and '<div id="undo-toast" hx-swap-oob="innerHTML"></div>' in html
    assert Conversation.objects.get(pk=alices_chat.pk).deleted_at is None


def test_deleting_the_conversation_on_screen_lands_on_a_new_chat_with_undo(client, alice, alices_chat):
    client.force_login(alice)
    here = reverse("conversation", args=[alices_chat.pk])
    response = client.post(reverse("delete_conversation", args=[alices_chat.pk]), headers=as_htmx_from(here))
    landing = f"{reverse('new_chat')}?deleted={alices_chat.pk}"
    assert response["HX-Redirect"] == landing
    page = client.get(landing).content.decode()
    assert "Deleted “Secret plans”." in page and '"open": "1"' in page
    response = client.post(
        reverse("conversation_restore", args=[alices_chat.pk]), {"open": "1"}, headers=as_htmx_from(landing)
    )
    assert response["HX-Redirect"] == here
    # Without JavaScript, the header's form: a redirect to the same place.
    response = client.post(reverse("delete_conversation", args=[alices_chat.pk]))
    assert response.status_code == 302 and response["Location"] == landing


def test_undo_expires(client, alice, alices_chat):
    client.force_login(alice)
    client.post(reverse("delete_conversation", args=[alices_chat.pk]), headers=HTMX)
    expired = timezone.now() - timedelta(seconds=organising.UNDO_SECONDS + organising.UNDO_GRACE_SECONDS + 1)
    Conversation.objects.filter(pk=alices_chat.pk).update(deleted_at=expired)
    assert (
        client.post(reverse("conversation_restore", args=[alices_chat.pk]), headers=HTMX).status_code == 404
    )
    landing = client.get(f"{reverse('new_chat')}?deleted={alices_chat.pk}").content.decode()
    assert "Undo" not in landing


def test_a_later_delete_purges_expired_ones_and_their_unshared_files(client, alice, media):
    photo = services.attachment_store(user=alice, name="a.png", data=image_bytes(20, 20, fmt="PNG"))
    shared = services.attachment_store(user=alice, name="b.png", data=image_bytes(30, 30, fmt="PNG"))
    gone, r1 = services.conversation_start(
        user=alice, text="With files", model="m", attachments=[photo, shared]
    )
    Message.objects.filter(pk=r1.pk).update(status="complete")
    kept, r2 = services.conversation_start(user=alice, text="Shares one", model="m", attachments=[shared])
    Message.objects.filter(pk=r2.pk).update(status="complete")
    other, r3 = services.conversation_start(user=alice, text="Deleted next", model="m")
    Message.objects.filter(pk=r3.pk).update(status="complete")
    expired = timezone.now() - timedelta(minutes=5)
    Conversation.objects.filter(pk=gone.pk).update(deleted_at=expired)
    client.force_login(alice)
    client.post(reverse("delete_conversation", args=[other.pk]), headers=HTMX)
    assert not Conversation.objects.filter(pk=gone.pk).exists()
    assert Conversation.objects.filter(pk=other.pk).exists()  # its Undo is still open
    assert not Attachment.objects.filter(pk=photo.pk).exists()
    assert not (media / photo.storage_key).exists()
    assert Attachment.objects.filter(pk=shared.pk).exists() and (media / shared.storage_key).exists()
    assert Conversation.objects.filter(pk=kept.pk).exists()


def test_purge_command(alice):
    from django.core.management import call_command

    conversation = Conversation.objects.create(owner=alice, title="Old", model="m")
    Conversation.objects.filter(pk=conversation.pk).update(deleted_at=timezone.now() - timedelta(minutes=1))
    call_command("purge_deleted", verbosity=0)
    assert not Conversation.objects.filter(pk=conversation.pk).exists()


def test_an_imported_chat_is_marked_in_the_list_and_after_a_rename(client, alice, alices_chat):
    from conversations.library import exporting

    exported = exporting.as_json(exporting.conversation_data(alices_chat)).encode()
    copy = exporting.conversation_import(user=alice, data=exporting.parse(exported), title="Brought back")
    client.force_login(alice)
    page = client.get(reverse("sidebar_list"), headers=HTMX).content.decode()
    items = {item.split('"', 1)[0]: item for item in page.split('data-conversation="')[1:]}
    assert '<span class="badge imported"' in items[str(copy.pk)]
    assert "badge imported" not in items[str(alices_chat.pk)]
    answer = client.post(reverse("sidebar_rename", args=[copy.pk]), {"title": "Renamed copy"}, headers=HTMX)
    assert "Renamed copy" in answer.content.decode() and "badge imported" in answer.content.decode()
