"""Staff and team pages: anonymous visitors go to the login page; signed-in users without the
role get 403, never a redirect to another login."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from conversations import services as chat
from teams import services as teams

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice):
    conversation, _ = chat.conversation_start(user=alice, text="Hello", model="m")
    return conversation


def staff_pages(conversation) -> list[tuple[str, str, dict]]:
    """(method, url, data) for every staff-only page."""
    exports = ["daily", "users", "teams", "models", "prompts", "conversations"]
    return [
        ("get", reverse("usage_dashboard"), {}),
        *[("get", reverse("usage_dashboard"), {"export": table}) for table in exports],
        ("get", reverse("review_list"), {}),
        ("get", reverse("review_list"), {"q": "Hello"}),
        ("get", reverse("review_open", args=[conversation.pk]), {}),
        ("post", reverse("review_transcript", args=[conversation.pk]), {"reason": "curious"}),
        ("get", reverse("review_attachment", args=[conversation.pk, 1]), {}),
        ("get", reverse("review_produced_file", args=[conversation.pk, "file_1"]), {}),
    ]


def test_signed_in_users_without_the_staff_role_get_403(client, bob, conversation):
    client.force_login(bob)
    for method, url, data in staff_pages(conversation):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, url, data)
        assert "You do not have access to this page." in response.content.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(client, conversation):
    for method, url, data in staff_pages(conversation):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, (method, url, data)
        assert response["Location"].startswith(f"{reverse('login')}?next=")


def test_staff_get_in(client, conversation):
    staff = get_user_model().objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("usage_dashboard")).status_code == 200
    assert client.get(reverse("review_list")).status_code == 200
    assert client.get(reverse("review_open", args=[conversation.pk])).status_code == 200


def test_team_usage_is_404_outside_the_team_and_403_for_members_who_are_not_owners(client, alice, bob):
    team = teams.team_create(user=alice, name="Legal")
    url = reverse("team_usage", args=[team.pk])
    client.force_login(bob)
    assert client.get(url).status_code == 404
    teams.member_add(team=team, identifier="bob", role="editor")
    assert client.get(url).status_code == 403
    client.force_login(alice)
    assert client.get(url).status_code == 200
    client.logout()
    assert client.get(url)["Location"].startswith(f"{reverse('login')}?next=")
