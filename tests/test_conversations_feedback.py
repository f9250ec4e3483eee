"""Feedback on a reply: Good response and Bad response (pressing the pressed one clears it) and a
comment, by the conversation's owner only; shown on the reply, and to the editors of the prompt the
chat is on (the rating, the comment, the version, when: never the chat or who gave it); dropped
when the reply runs again or its chat is scrubbed; in the owner's export, never in a share."""

import json
import zipfile

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conversations import rendering, selectors, services
from conversations.library import exporting, organising, sharing
from conversations.models import Conversation, Message, ReplyFeedback
from conversations.services.feedback import COMMENT_LENGTH
from teams import services as team_services
from tests.helpers import finish

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_catalog")]

MODEL = "claude-sonnet-4-6"
SECRET = "The launch code is swordfish."


@pytest.fixture
def chat(fake_api, people, prompt) -> tuple[Conversation, Message]:
    """The member's chat on the team prompt, its reply complete."""
    conversation, reply = services.conversation_start(
        user=people["member"], text="Private question", model=MODEL, prompt_version=prompt.latest
    )
    finish(reply, {"type": "text", "text": SECRET})
    return conversation, Message.objects.get(pk=reply.pk)


def rate(client: Client, reply: Message, rating: str, **headers):
    return client.post(reverse("rate_reply", args=[reply.pk]), {"rating": rating}, headers=headers)


def comment(client: Client, reply: Message, text: str):
    return client.post(reverse("comment_reply", args=[reply.pk]), {"comment": text}, headers=HTMX)


HTMX = {"HX-Request": "true"}


def pressed(html: str) -> dict[str, str]:
    """Each button's aria-pressed, by its accessible name."""
    found = {}
    for name in ("Good response", "Bad response"):
        button = html.split(f'aria-label="{name}"')[1].split(">")[0]
        found[name] = button.split('aria-pressed="')[1].split('"')[0]
    return found


# --- rating and commenting: the owner ----------------------------------------------------------


def test_the_owner_rates_changes_the_rating_and_pressing_it_again_clears_it(client, people, chat):
    _, reply = chat
    client.force_login(people["member"])

    response = rate(client, reply, "good", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert pressed(html) == {"Good response": "true", "Bad response": "false"}
    assert f'id="feedback-{reply.pk}"' in html and "Add a comment" in html and " open>" in html
    feedback = ReplyFeedback.objects.get(message=reply)
    assert (feedback.rating, feedback.user, feedback.prompt_version) == (
        "good",
        people["member"],
        reply.conversation.prompt_version,
    )

    assert comment(client, reply, "Clear,\r\nand short.  ").status_code == 200
    response = rate(client, reply, "bad", **HTMX)  # the other one: changed, the comment kept
    assert pressed(response.content.decode()) == {"Good response": "false", "Bad response": "true"}
    assert ReplyFeedback.objects.values_list("rating", "comment").get() == ("bad", "Clear,\nand short.")

    response = rate(client, reply, "bad", **HTMX)  # the pressed one again: cleared
    html = response.content.decode()
    assert pressed(html) == {"Good response": "false", "Bad response": "false"}
    assert "Add a comment" not in html
    assert not ReplyFeedback.objects.exists()


def test_the_pressed_state_and_the_comment_are_on_the_page_after_a_reload(client, people, chat):
    conversation, reply = chat
    client.force_login(people["member"])
    rate(client, reply, "good", **HTMX)
    comment(client, reply, "Spot <b>on</b>")
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert pressed(page) == {"Good response": "true", "Bad response": "false"}
    assert "Spot &lt;b&gt;on&lt;/b&gt;</textarea>" in page and "Edit comment" in page
    assert " open>" not in page.split(f'id="feedback-{reply.pk}"')[1]  # the form folded away


def test_the_page_reads_feedback_in_the_same_two_queries(people, chat, django_assert_num_queries):
    conversation, reply = chat
    services.feedback_rate(reply=reply, rating="bad")
    with django_assert_num_queries(2):
        messages = selectors.chosen_messages(conversation.pk)
        assert messages[1].feedback.rating == "bad"
        assert not hasattr(messages[0], "feedback")  # no row: None, and no query to find out


def test_a_comment_past_the_limit_is_refused_with_a_clear_error_and_the_text_kept(client, people, chat):
    _, reply = chat
    client.force_login(people["member"])
    rate(client, reply, "good", **HTMX)
    comment(client, reply, "Kept.")
    too_long = "x" * (COMMENT_LENGTH + 1)
    response = comment(client, reply, too_long)
    html = response.content.decode()
    assert response.status_code == 422
    assert f"A comment can be up to {COMMENT_LENGTH:,} characters; this one has 2,001." in html
    assert f">{too_long}</textarea>" in html and 'aria-invalid="true"' in html
    assert ReplyFeedback.objects.get().comment == "Kept."
    response = comment(client, reply, "x" * COMMENT_LENGTH)  # the limit itself is fine
    assert response.status_code == 200 and "Saved." in response.content.decode()


def test_a_comment_needs_a_rating_and_a_nul_is_refused(client, people, chat):
    _, reply = chat
    client.force_login(people["member"])
    response = comment(client, reply, "No rating yet")
    assert response.status_code == 422 and b"Choose Good response or Bad response first." in response.content
    rate(client, reply, "good", **HTMX)
    assert comment(client, reply, "a\x00b").status_code == 422
    assert rate(client, reply, "meh", **HTMX).status_code == 422
    assert ReplyFeedback.objects.values_list("rating", "comment").get() == ("good", "")


def test_without_htmx_a_press_goes_back_to_the_reply(client, people, chat):
    conversation, reply = chat
    client.force_login(people["member"])
    response = rate(client, reply, "good")
    assert response.status_code == 302
    assert response["Location"] == f"/c/{conversation.pk}/#message-{reply.pk}"


# --- who may: ownership, sign-in, method, CSRF ---------------------------------------------------


@pytest.mark.parametrize("who", ["editor", "owner", "outsider"])
def test_anyone_but_the_owner_gets_404_and_nothing_is_stored(client, people, chat, who):
    _, reply = chat
    services.feedback_rate(reply=reply, rating="good")
    client.force_login(people[who])  # the prompt's editors too: the chat is not theirs
    assert rate(client, reply, "bad", **HTMX).status_code == 404
    assert rate(client, reply, "good", **HTMX).status_code == 404  # would clear it
    assert comment(client, reply, "Mine now").status_code == 404
    assert ReplyFeedback.objects.values_list("rating", "comment").get() == ("good", "")


def test_anonymous_visitors_are_sent_to_sign_in_and_nothing_is_stored(client, chat):
    _, reply = chat
    response = rate(client, reply, "good", **HTMX)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert comment(client, reply, "Hi").status_code == 302
    assert not ReplyFeedback.objects.exists()


def test_post_only_with_a_csrf_token_and_never_on_a_user_message(people, chat):
    conversation, reply = chat
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["member"])
    assert client.get(reverse("rate_reply", args=[reply.pk])).status_code == 405
    assert rate(client, reply, "good", **HTMX).status_code == 403  # no CSRF token
    question = conversation.messages.get(role="user")
    client = Client()
    client.force_login(people["member"])
    assert rate(client, question, "good", **HTMX).status_code == 404
    assert not ReplyFeedback.objects.exists()


def test_a_deleted_chats_replies_cannot_be_rated(client, people, chat):
    conversation, reply = chat
    Conversation.objects.filter(pk=conversation.pk).update(deleted_at=timezone.now())
    client.force_login(people["member"])
    assert rate(client, reply, "good", **HTMX).status_code == 404


# --- which replies offer it --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text", "offered"),
    [
        ("complete", "", True),
        ("stopped", "Half an answer", True),
        ("error", "Half an answer", True),
        ("interrupted", "Half", True),
        ("error", "", False),
        ("interrupted", "  ", False),
        ("stopped", "", False),
        ("streaming", "So far", False),
    ],
)
def test_finished_replies_with_something_to_rate_offer_it(people, fake_api, status, text, offered):
    conversation, reply = services.conversation_start(user=people["member"], text="Q", model=MODEL)
    if text:
        finish(reply, {"type": "text", "text": text})
    Message.objects.filter(pk=reply.pk).update(status=status)
    reply = selectors.with_versions(Message.objects.get(pk=reply.pk))
    html = rendering.message_html(reply)
    assert ('aria-label="Good response"' in html) is offered
    assert ('aria-label="Bad response"' in html) is offered
    if not offered:
        with pytest.raises(services.ChatError, match="Only a reply that has finished can be rated."):
            services.feedback_rate(reply=reply, rating="good")
    question = rendering.message_html(selectors.with_versions(conversation.messages.get(role="user")))
    assert "Good response" not in question


def test_a_reply_that_runs_again_loses_its_feedback(people, fake_api):
    _, reply = services.conversation_start(user=people["member"], text="Q", model=MODEL)
    finish(reply, {"type": "text", "text": "Half"})
    Message.objects.filter(pk=reply.pk).update(status="error")
    services.feedback_rate(reply=Message.objects.get(pk=reply.pk), rating="bad")
    services.reply_retry(reply=Message.objects.get(pk=reply.pk))
    assert not ReplyFeedback.objects.exists()


# --- what the prompt's editors see -------------------------------------------------------------


def test_the_prompts_editors_see_rating_comment_and_version_never_the_chat(client, people, chat, prompt):
    conversation, reply = chat
    services.feedback_rate(reply=reply, rating="bad")
    services.feedback_comment(reply=reply, comment="Too <i>curt</i>.")
    url = reverse("prompt_feedback", args=[prompt.pk])
    for who in ("editor", "owner"):  # the team's editors and owners
        client.force_login(people[who])
        page = client.get(reverse("prompt_detail", args=[prompt.pk])).content.decode()
        assert url in page
        html = client.get(url).content.decode()
        assert "0 good, 1 bad." in html and "Bad response" in html and "v1" in html
        assert "Too &lt;i&gt;curt&lt;/i&gt;." in html
        for private in (
            SECRET,
            conversation.title,
            f"/c/{conversation.pk}/",
            "member",
            f"#message-{reply.pk}",
        ):
            assert private not in html, private
    client.force_login(people["member"])  # uses the prompt, may not edit it
    assert url not in client.get(reverse("prompt_detail", args=[prompt.pk])).content.decode()
    assert client.get(url).status_code == 404
    client.force_login(people["outsider"])
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302


def test_the_editors_list_leaves_out_other_prompts_and_deleted_chats(people, chat, prompt, team):
    conversation, reply = chat
    services.feedback_rate(reply=reply, rating="good")
    other = team_services.prompt_create(
        user=people["editor"], name="Other", text="x", team=team, cache_ttl="5m"
    )
    assert selectors.feedback_for_prompt(people["editor"], other.pk)["latest"] == []
    seen = selectors.feedback_for_prompt(people["editor"], prompt.pk)
    assert [(row["rating"], row["version"]) for row in seen["latest"]] == [("good", 1)]
    assert seen["counts"] == {"good": 1}
    assert selectors.feedback_for_prompt(people["member"], prompt.pk) is None
    Conversation.objects.filter(pk=conversation.pk).update(deleted_at=timezone.now())
    assert selectors.feedback_for_prompt(people["editor"], prompt.pk)["latest"] == []


def test_scrubbing_a_chat_removes_its_feedback(people, chat):
    conversation, reply = chat
    services.feedback_rate(reply=reply, rating="good")
    services.feedback_comment(reply=reply, comment="Personal detail")
    organising.conversations_scrub([conversation.pk])
    assert not ReplyFeedback.objects.exists()


# --- export and import -------------------------------------------------------------------------


def test_the_owners_export_has_the_feedback_a_share_and_an_import_do_not(client, people, chat, team):
    conversation, reply = chat
    services.feedback_rate(reply=reply, rating="good")
    services.feedback_comment(reply=reply, comment="Helpful")
    client.force_login(people["member"])
    exported = json.loads(client.get(reverse("export_json", args=[conversation.pk])).content)
    assert [m["feedback"] and m["feedback"]["rating"] for m in exported["messages"]] == [None, "good"]
    assert exported["messages"][1]["feedback"]["comment"] == "Helpful"
    with zipfile.ZipFile(exporting.user_zip(people["member"])) as archive:
        body = archive.read(f"conversations/{exporting.filename(conversation, 'json')}")
    assert json.loads(body)["messages"][1]["feedback"]["comment"] == "Helpful"

    share = sharing.share_create(conversation=conversation, team=team)
    assert "feedback" not in json.dumps(share.snapshot)
    copy = exporting.conversation_import(
        user=people["member"], data=exporting.parse(json.dumps(exported).encode())
    )
    assert not ReplyFeedback.objects.filter(message__conversation=copy).exists()
    assert ReplyFeedback.objects.count() == 1
