"""Teams and versioned prompts: permissions, bad input, pinning."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from conversations import services as chat_services
from conversations.models import Conversation
from teams import selectors, services
from teams.models import Membership, SystemPrompt
from teams.services import TeamError

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    make = get_user_model().objects.create_user
    return {
        name: make(name, f"{name}@example.com", f"{name}-pass-123")
        for name in ["owner", "editor", "member", "outsider"]
    }


@pytest.fixture
def team(people):
    team = services.team_create(user=people["owner"], name="Support")
    services.member_add(team=team, identifier="editor", role="editor")
    services.member_add(team=team, identifier="member@example.com", role="member")
    return team


@pytest.fixture
def prompt(team, people):
    return services.prompt_create(
        user=people["editor"], name="Support tone", text="Be kind.", team=team, cache_ttl="5m"
    )


def as_user(client, people, who):
    if who != "anonymous":
        client.force_login(people[who])
    return client


# who -> expected status for: view team, add member, view prompt, edit prompt (GET), edit prompt (POST)
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


def test_editing_publishes_a_version_with_author_and_diff(client, people, prompt):
    services.prompt_edit(
        user=people["owner"], prompt=prompt, name="Support tone", text="Be kind.\nBe brief.", cache_ttl="1h"
    )
    assert (
        services.prompt_edit(
            user=people["owner"],
            prompt=prompt,
            name="Support tone",
            text="Be kind.\nBe brief.",
            cache_ttl="1h",
        )
        is None
    )
    versions = list(prompt.versions.order_by("number"))
    assert [(v.number, v.text, v.author.username, v.cache_ttl) for v in versions] == [
        (1, "Be kind.", "editor", "5m"),
        (2, "Be kind.\nBe brief.", "owner", "1h"),
    ]
    (latest, diff), _ = selectors.versions_with_diffs(prompt)
    assert latest.number == 2 and ("added", "+Be brief.") in diff
    client.force_login(people["member"])
    page = client.get(reverse("prompt_detail", args=[prompt.pk])).content.decode()
    assert "v2" in page and "v1" in page and "+Be brief." in page
    assert "Caching, per version" not in page  # analytics are for editors


def test_conversation_pins_its_version_and_switches_only_when_asked(client, people, prompt):
    client.force_login(people["member"])
    response = client.post(reverse("start_chat"), {"text": "Hello", "prompt": prompt.pk})
    conversation = Conversation.objects.get(owner=people["member"])
    assert response.status_code == 302 and conversation.prompt_version.number == 1
    services.prompt_edit(
        user=people["editor"], prompt=prompt, name="Support tone", text="Be kinder.", cache_ttl="5m"
    )
    conversation.messages.filter(status="streaming").update(status="complete")

    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert "Support tone · v1" in page and "v2 available" in page
    conversation.refresh_from_db()
    assert conversation.prompt_version.number == 1
    client.post(reverse("switch_prompt", args=[conversation.pk]))
    conversation.refresh_from_db()
    assert conversation.prompt_version.number == 2


def test_losing_membership_hides_the_prompt_but_old_chats_keep_their_text(client, people, team, prompt):
    conversation, reply = chat_services.conversation_start(
        user=people["member"], text="Hi", model="m", prompt_version=prompt.latest
    )
    Membership.objects.filter(team=team, user=people["member"]).delete()
    assert not selectors.prompts_usable_by(people["member"]).exists()
    client.force_login(people["member"])
    assert "Support tone" not in client.get(reverse("new_chat")).content.decode()
    response = client.post(reverse("start_chat"), {"text": "Hello again", "prompt": prompt.pk})
    assert response.status_code == 422 and "not available to you" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.prompt_version.text == "Be kind."
    # No switching to a prompt you lost.
    assert client.post(reverse("switch_prompt", args=[conversation.pk])).status_code == 404


def test_picker_lists_own_and_team_prompts_only(client, people, team, prompt):
    services.prompt_create(user=people["member"], name="Mine", text="m", team=None, cache_ttl="5m")
    services.prompt_create(user=people["outsider"], name="Theirs", text="t", team=None, cache_ttl="5m")
    names = set(selectors.prompts_usable_by(people["member"]).values_list("name", flat=True))
    assert names == {"Support tone", "Mine"}
    page = as_user(client, people, "member").get(reverse("new_chat")).content.decode()
    assert 'aria-label="System prompt"' in page and "Theirs" not in page
