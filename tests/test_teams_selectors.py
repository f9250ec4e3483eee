"""Which prompts a user may pick: their own and their teams', and none of a team they left."""

import pytest
from django.urls import reverse

from conversations import services as chat_services
from teams import selectors, services
from teams.models import Membership
from tests.helpers import as_user

pytestmark = pytest.mark.django_db


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
