""" "Add to test set" on a user message in a chat: the button under one's own messages, a small form
listing the team prompts one edits, and the message's text added as a case of the chosen one; 404
for someone else's message, a reply, or a prompt one does not edit."""

import pytest
from django.urls import reverse

from conversations.models import ContentBlock, Conversation, Message
from tests.helpers import as_user
from workbench.models import TestCase

pytestmark = pytest.mark.django_db


def chat_of(owner, prompt, text="How do I reset my password?"):
    chat = Conversation.objects.create(owner=owner, title="Chat", model="m", prompt_version=prompt.latest)
    asked = Message.objects.create(conversation=chat, role="user")
    ContentBlock.objects.create(message=asked, index=0, type="text", payload={"type": "text", "text": text})
    ContentBlock.objects.create(
        message=asked, index=1, type="text", payload={"type": "text", "text": "Thanks"}
    )
    reply = Message.objects.create(conversation=chat, role="assistant", parent=asked)
    return chat, asked, reply


def add_url(message) -> str:
    return reverse("workbench_message_add", args=[message.pk])


def test_the_button_is_under_ones_own_user_messages(client, people, prompt):
    chat, asked, reply = chat_of(people["editor"], prompt)
    as_user(client, people, "editor")
    page = client.get(reverse("conversation", args=[chat.pk])).content.decode()
    assert f'hx-get="{add_url(asked)}"' in page and 'title="Add to test set"' in page
    assert add_url(reply) not in page


def test_the_form_lists_the_team_prompts_one_edits(client, people, prompt):
    from teams import services as team_services

    team_services.prompt_create(user=people["editor"], name="Mine alone", text="x", team=None, cache_ttl="5m")
    _, asked, _ = chat_of(people["editor"], prompt)
    as_user(client, people, "editor")
    form = client.get(add_url(asked), HTTP_HX_REQUEST="true").content.decode()
    assert f'<option value="{prompt.pk}">Support · Support tone</option>' in form
    assert "Mine alone" not in form  # a personal prompt has no team test set
    _, asked, _ = chat_of(people["member"], prompt)
    as_user(client, people, "member")
    form = client.get(add_url(asked)).content.decode()
    assert "Support tone" not in form and "You edit no team prompt" in form


def test_the_messages_text_becomes_a_case_of_the_chosen_prompt(client, people, prompt):
    _, asked, _ = chat_of(people["editor"], prompt)
    as_user(client, people, "editor")
    response = client.post(add_url(asked), {"prompt": prompt.pk}, HTTP_HX_REQUEST="true")
    assert (
        response.status_code == 200 and "Added to “Support tone” as a test case" in response.content.decode()
    )
    case = TestCase.objects.get()
    assert (case.prompt, case.input, case.created_by) == (
        prompt,
        "How do I reset my password?\n\nThanks",
        people["editor"],
    )
    # Without htmx, to the new case on the workbench.
    response = client.post(add_url(asked), {"prompt": prompt.pk})
    assert response.status_code == 302 and response["Location"].endswith(
        f"#case-{TestCase.objects.last().pk}"
    )


def test_404_for_anothers_message_a_reply_or_a_prompt_one_does_not_edit(client, people, prompt):
    _, editors, reply = chat_of(people["editor"], prompt)
    _, members, _ = chat_of(people["member"], prompt)
    as_user(client, people, "member")
    assert client.get(add_url(editors)).status_code == 404
    assert client.post(add_url(editors), {"prompt": prompt.pk}).status_code == 404
    assert (
        client.post(add_url(members), {"prompt": prompt.pk}).status_code == 404
    )  # a member does not edit it
    as_user(client, people, "editor")
    assert client.get(add_url(reply)).status_code == 404
    assert client.post(add_url(reply), {"prompt": prompt.pk}).status_code == 404
    assert client.post(add_url(editors), {"prompt": 999999}).status_code == 404
    as_user(client, people, "outsider")
    assert client.post(add_url(editors), {"prompt": prompt.pk}).status_code == 404
    assert not TestCase.objects.exists()
