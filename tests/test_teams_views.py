"""Team and prompt pages: the permission matrix, membership changes, bad prompt input."""

import pytest
from django.urls import reverse

from teams import services
from teams.models import Membership, SystemPrompt
from teams.services import TeamError
from tests.helpers import as_user

pytestmark = pytest.mark.django_db


MATRIX = {
    "owner": (200, 302, 200, 200, 302),
    "editor": (200, 403, 200, 200, 302),
    "member": (200, 403, 200, 403, 403),
    "outsider": (404, 404, 404, 404, 404),
    "anonymous": (302, 302, 302, 302, 302),
}


@pytest.mark.parametrize("who", MATRIX)
def test_permission_matrix(client, people, team, prompt, who):
    client = as_user(client, people, who)
    edit = reverse("prompt_edit", args=[prompt.pk])
    got = (
        client.get(reverse("team_detail", args=[team.pk])).status_code,
        client.post(
            reverse("member_add", args=[team.pk]), {"user": "outsider", "role": "member"}
        ).status_code,
        client.get(reverse("prompt_detail", args=[prompt.pk])).status_code,
        client.get(edit).status_code,
        client.post(
            edit, {"name": "Support tone", "text": f"Be kind, says {who}.", "cache_ttl": "5m"}
        ).status_code,
    )
    assert got == MATRIX[who]
    versions = prompt.versions.count()
    assert versions == (2 if who in ("owner", "editor") else 1)


@pytest.mark.parametrize("who", ["editor", "member", "outsider"])
def test_only_owners_change_roles_or_remove_members(client, people, team, who):
    client.force_login(people[who])
    target = Membership.objects.get(team=team, user=people["member"])
    url = reverse("member_update", args=[team.pk, target.pk])
    assert client.post(url, {"role": "owner"}).status_code == (404 if who == "outsider" else 403)
    assert client.post(url, {"action": "remove"}).status_code == (404 if who == "outsider" else 403)
    target.refresh_from_db()
    assert target.role == "member"


def test_owner_changes_roles_and_removes_members(client, people, team):
    client.force_login(people["owner"])
    target = Membership.objects.get(team=team, user=people["member"])
    client.post(reverse("member_update", args=[team.pk, target.pk]), {"role": "editor"})
    target.refresh_from_db()
    assert target.role == "editor"
    client.post(reverse("member_update", args=[team.pk, target.pk]), {"action": "remove"})
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_the_last_owner_cannot_be_removed_or_demoted(client, people, team):
    client.force_login(people["owner"])
    mine = Membership.objects.get(team=team, user=people["owner"])
    for data in ({"action": "remove"}, {"role": "member"}):
        response = client.post(reverse("member_update", args=[team.pk, mine.pk]), data)
        assert response.status_code == 422 and "at least one owner" in response.content.decode()
    mine.refresh_from_db()
    assert mine.role == "owner"


def test_adding_a_user_who_does_not_exist_is_a_clear_error(client, people, team):
    client.force_login(people["owner"])
    response = client.post(reverse("member_add", args=[team.pk]), {"user": "nobody", "role": "member"})
    assert response.status_code == 422
    assert "No user has the username or email “nobody”" in response.content.decode()
    with pytest.raises(TeamError, match="already in this team"):
        services.member_add(team=team, identifier="editor", role="member")


def test_prompt_bad_input(client, people, team, prompt):
    client.force_login(people["editor"])
    new = reverse("prompt_new")
    cases = [
        ({"name": "Support tone", "text": "x", "team": team.pk}, "already a prompt named"),
        ({"name": "  ", "text": "x", "team": team.pk}, "needs a name"),
        ({"name": "Long", "text": "x" * 50_001, "team": team.pk}, "the limit is 50,000"),
    ]
    for data, error in cases:
        response = client.post(new, {**data, "cache_ttl": "5m"})
        assert response.status_code == 422 and error in response.content.decode()
    assert SystemPrompt.objects.count() == 1
    # The same name is fine for a personal prompt.
    assert (
        client.post(new, {"name": "Support tone", "text": "mine", "team": "", "cache_ttl": "1h"}).status_code
        == 302
    )


def test_members_cannot_publish_to_a_team(client, people, team):
    client.force_login(people["member"])
    response = client.post(
        reverse("prompt_new"), {"name": "Sneaky", "text": "x", "team": team.pk, "cache_ttl": "5m"}
    )
    assert response.status_code == 404
    assert not SystemPrompt.objects.filter(name="Sneaky").exists()
