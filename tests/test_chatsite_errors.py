"""The error pages (chatsite/errors.py): 400, 403, 404 and 500 are app pages with the navigation
and a way back, never Django's bare ones; the 500 page needs neither the database nor a user."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from chatsite import errors
from conversations import services
from conversations.library import organising

BARE = ["The requested resource was not found", "Server Error (500)", "Traceback", "DEBUG"]


def page_of(response) -> str:
    page = response.content.decode()
    assert not [text for text in BARE if text in page]
    return page


def has_a_way_back(page: str) -> bool:
    start = f'href="{reverse("new_chat")}">Start a new chat</a>'
    return ">New chat</a>" in page and start in page and "data-go-back" in page


@pytest.mark.django_db
def test_a_deleted_chat_is_the_apps_404_with_the_sidebar(client, alice):
    gone, _ = services.conversation_start(user=alice, text="Gone soon", model="m")
    kept, _ = services.conversation_start(user=alice, text="Still here", model="m")
    organising.conversation_trash(conversation=gone)
    client.force_login(alice)
    response = client.get(reverse("conversation", args=[gone.pk]))
    assert response.status_code == 404
    page = page_of(response)
    assert "<h1>Page not found</h1>" in page and has_a_way_back(page)
    assert "Content-Security-Policy" in response.headers
    assert 'aria-label="Conversations"' in page and "Still here" in page and "Gone soon" not in page


@pytest.mark.django_db
def test_an_anonymous_404_has_the_top_bar_and_no_signed_in_navigation(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    page = page_of(response)
    assert "<h1>Page not found</h1>" in page and has_a_way_back(page)
    assert 'class="error-nav"' in page
    assert 'aria-label="Conversations"' not in page and "Log out" not in page


@pytest.mark.django_db
def test_403_says_why_in_the_app(client, bob):
    client.force_login(bob)
    response = client.get(reverse("usage_dashboard"))
    assert response.status_code == 403
    page = page_of(response)
    assert "<h1>No access</h1>" in page and has_a_way_back(page)
    assert "You do not have access to this page. It is for staff." in page
    assert 'aria-label="Conversations"' in page


@pytest.mark.django_db
def test_400_is_an_app_page(client):
    response = client.get("/", headers={"host": "evil.example"})
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in page_of(response)


@pytest.mark.django_db
def test_500_is_an_app_page_with_the_request_id_and_no_user(alice, monkeypatch):
    def fail(user):
        raise RuntimeError("the database is on fire")

    monkeypatch.setattr("conversations.selectors.conversation_list_for_user", fail)
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.get(reverse("home"))
    assert response.status_code == 500
    page = page_of(response)
    assert "<h1>Something went wrong</h1>" in page and has_a_way_back(page)
    assert f"<code>{response['X-Request-ID']}</code>" in page
    assert "on fire" not in page and "alice" not in page and 'aria-label="Conversations"' not in page


def test_the_500_page_renders_without_the_database():
    """No django_db mark: a query here would fail the test."""
    response = errors.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert has_a_way_back(response.content.decode())
