"""Team, prompt and membership input: bad values are a 422 that says what is wrong, never a 500."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from teams import services
from teams.models import Membership, PromptVersion, SystemPrompt, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("owner", "owner@example.com", "owner-pass-123")


@pytest.fixture
def team(owner):
    return services.team_create(user=owner, name="Support")


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def new_prompt(client, **fields):
    data = {"name": "Tone", "text": "Be kind.", "cache_ttl": "5m", **fields}
    return client.post(reverse("prompt_new"), data)


@pytest.mark.parametrize("team_value", ["abc", "²", "١٢", "-1", "1.5", "9" * 30])
def test_a_team_that_is_not_an_id_is_422(signed_in, team, team_value):
    response = new_prompt(signed_in, team=team_value)
    assert response.status_code == 422
    assert "Team:" in response.content.decode()
    assert not SystemPrompt.objects.exists()


def test_names_over_the_limit_are_422_and_say_the_limit(signed_in, team):
    response = new_prompt(signed_in, name="n" * 101)
    assert response.status_code == 422
    assert "Name: at most 100 characters (this one has 101)." in response.content.decode()
    response = signed_in.post(reverse("team_list"), {"name": "t" * 101})
    assert response.status_code == 422
    assert "at most 100 characters (this one has 101)." in response.content.decode()
    assert not SystemPrompt.objects.exists() and Team.objects.count() == 1
    assert new_prompt(signed_in, name="n" * 100).status_code == 302


@pytest.mark.parametrize(
    ("url_name", "fields"),
    [
        ("prompt_new", {"name": "T\x00ne", "text": "x", "cache_ttl": "5m"}),
        ("prompt_new", {"name": "Tone", "text": "Be\x00kind", "cache_ttl": "5m"}),
        ("team_list", {"name": "Sup\x00port 2"}),
    ],
)
def test_nul_characters_are_refused(signed_in, team, url_name, fields):
    response = signed_in.post(reverse(url_name), fields)
    assert response.status_code == 422
    assert "Null characters are not allowed." in response.content.decode()
    assert not SystemPrompt.objects.exists() and Team.objects.count() == 1


def test_nul_characters_in_member_and_edit_forms_are_refused(signed_in, team, owner):
    response = signed_in.post(reverse("member_add", args=[team.pk]), {"user": "own\x00er", "role": "member"})
    assert response.status_code == 422 and "Null characters are not allowed." in response.content.decode()
    prompt = services.prompt_create(user=owner, name="Tone", text="Be kind.", team=team, cache_ttl="5m")
    edit = reverse("prompt_edit", args=[prompt.pk])
    response = signed_in.post(edit, {"name": "Tone", "text": "Be\x00kinder.", "cache_ttl": "5m"})
    assert response.status_code == 422 and "Null characters are not allowed." in response.content.decode()
    assert prompt.versions.count() == 1


def test_unknown_roles_and_ttls_are_422(signed_in, team, owner):
    response = signed_in.post(reverse("member_add", args=[team.pk]), {"user": "owner", "role": "king"})
    assert response.status_code == 422 and "Role:" in response.content.decode()
    mine = Membership.objects.get(team=team, user=owner)
    response = signed_in.post(reverse("member_update", args=[team.pk, mine.pk]), {"role": "king"})
    assert response.status_code == 422 and "Role:" in response.content.decode()
    mine.refresh_from_db()
    assert mine.role == "owner"
    response = new_prompt(signed_in, cache_ttl="forever")
    assert response.status_code == 422 and "Cache lifetime:" in response.content.decode()


def test_prompt_text_is_stored_with_unix_newlines(signed_in, team, owner):
    assert new_prompt(signed_in, team=team.pk, text="Be kind.\r\nBe brief.\rBe clear.\r\n").status_code == 302
    prompt = SystemPrompt.objects.get()
    assert prompt.latest.text == "Be kind.\nBe brief.\nBe clear."
    edit = reverse("prompt_edit", args=[prompt.pk])
    signed_in.post(edit, {"name": "Tone", "text": "Be kind.\r\nBe brief.\r\nBe clear.", "cache_ttl": "5m"})
    assert PromptVersion.objects.count() == 1  # the same text from another browser is not a new version


def test_what_was_typed_stays_in_the_form(signed_in, team):
    page = new_prompt(signed_in, name="n" * 101, text="My long prompt").content.decode()
    assert "My long prompt</textarea>" in page and 'value="' + "n" * 101 + '"' in page
