"""Versions of a turn: edits and regenerates are siblings in a tree, the page shows the chosen
branch with a switcher, requests send only the branch a reply is on, and the migration that turned
the old linear history (with `superseded` flags) into the tree."""

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import rendering, selectors, services
from conversations.models import Attachment, ContentBlock, Conversation, Message
from conversations.reply import generation
from conversations.versions import Tree, Versions
from fakes import Reply
from tests.helpers import connect, frames_until_end, image_bytes, run_reply, run_to_end, send

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# --- the tree (pure) ---------------------------------------------------------------------------


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_branch_goes_through_the_child_chosen_last_at_every_message():
    # 1 -> 2 -> 3, and 2 has a newer sibling 4 (an edit) with its reply 5.
    tree = Tree([(5, 4, at(5)), (1, None, at(1)), (2, 1, at(2)), (3, 2, at(3)), (4, 1, at(4))])
    assert tree.path() == [1, 4, 5]
    assert tree.ancestors(5) == [1, 4] and tree.ancestors(3) == [1, 2] and tree.ancestors(1) == []
    assert tree.versions(4) == Versions(position=2, count=2, previous=2, next=None)
    assert tree.versions(2) == Versions(position=1, count=2, previous=None, next=4)
    assert tree.versions(5) is None and tree.versions(1) is None
    assert tree.is_leaf(3) and not tree.is_leaf(2)
    # Choosing 2 again brings back what followed it.
    tree.chosen_at[2] = tree.choice_time(at(6))
    assert tree.path() == [1, 2, 3]


def test_a_tie_goes_to_the_newer_message_and_a_choice_is_later_than_any_clock():
    tree = Tree([(1, None, at(1)), (2, 1, at(2)), (3, 1, at(2))])
    assert tree.path() == [1, 3]
    assert tree.choice_time(at(0)) == at(2) + timedelta(microseconds=1)  # a clock behind the others
    assert tree.choice_time(at(9)) == at(9)
    assert Tree([]).path() == [] and Tree([]).choice_time(at(0)) == at(0)


# --- services ----------------------------------------------------------------------------------


def finished(reply: Message, text: str = "") -> Message:
    """Mark a (not started) streaming reply as complete, with `text` as its one block."""
    Message.objects.filter(pk=reply.pk).update(status="complete")
    if text:
        ContentBlock.objects.create(
            message=reply, index=0, type="text", payload={"type": "text", "text": text}
        )
    reply.refresh_from_db()
    return reply


def three_turns(user) -> tuple[Conversation, list[Message]]:
    """one, reply one, two, reply two, three, reply three: all finished."""
    conversation, reply = services.conversation_start(user=user, text="one", model="claude-sonnet-4-6")
    messages = [reply.parent, finished(reply, "reply one")]
    for text in ("two", "three"):
        question, reply = services.message_send(conversation=conversation, text=text)
        messages += [question, finished(reply, f"reply {text}")]
    return conversation, messages


def shown(conversation: Conversation) -> list[int]:
    return [m.pk for m in selectors.chosen_messages(conversation.pk)]


def test_editing_a_middle_message_starts_a_branch_and_switching_back_restores_the_old_one(alice):
    conversation, (u1, a1, u2, a2, u3, a3) = three_turns(alice)
    new_question, new_reply = services.message_edit(message=u2, text="two, better")
    assert new_question.parent_id == a1.pk and new_reply.parent_id == new_question.pk
    assert shown(conversation) == [u1.pk, a1.pk, new_question.pk, new_reply.pk]
    page = selectors.chosen_messages(conversation.pk)
    assert page[2].versions == Versions(position=2, count=2, previous=u2.pk, next=None)
    assert page[-1].is_leaf and not page[0].is_leaf

    finished(new_reply)
    services.version_choose(message=u2)
    assert shown(conversation) == [u1.pk, a1.pk, u2.pk, a2.pk, u3.pk, a3.pk]
    services.version_choose(message=new_question)
    assert shown(conversation) == [u1.pk, a1.pk, new_question.pk, new_reply.pk]


def test_a_send_continues_the_branch_shown(alice):
    conversation, (u1, a1, u2, a2, u3, a3) = three_turns(alice)
    edited, reply = services.message_edit(message=u2, text="two, better")
    finished(reply)
    services.version_choose(message=u2)
    question, reply = services.message_send(conversation=conversation, text="four")
    assert question.parent_id == a3.pk
    assert shown(conversation)[-2:] == [question.pk, reply.pk] and len(shown(conversation)) == 8


def test_regenerating_the_first_reply_hides_what_followed_it_until_switched_back(alice):
    conversation, (u1, a1, u2, a2, u3, a3) = three_turns(alice)
    again = services.reply_regenerate(reply=a1)
    assert again.parent_id == u1.pk and again.is_streaming
    assert shown(conversation) == [u1.pk, again.pk]
    finished(again)
    services.version_choose(message=a1)
    assert shown(conversation) == [u1.pk, a1.pk, u2.pk, a2.pk, u3.pk, a3.pk]


def test_editing_the_first_message_makes_a_second_first_message(alice):
    conversation, (u1, a1, *_rest) = three_turns(alice)
    edited, reply = services.message_edit(message=u1, text="one, again")
    assert edited.parent_id is None
    assert shown(conversation) == [edited.pk, reply.pk]
    assert selectors.chosen_messages(conversation.pk)[0].versions.position == 2


def test_a_version_chosen_in_a_stale_tab_brings_its_whole_branch(alice):
    conversation, (u1, a1, u2, a2, u3, a3) = three_turns(alice)
    finished(services.message_edit(message=u2, text="two, better")[1])
    # The other tab still shows the old branch; regenerating its last reply chooses that branch.
    again = services.reply_regenerate(reply=a3)
    assert shown(conversation) == [u1.pk, a1.pk, u2.pk, a2.pk, u3.pk, again.pk]


def test_nothing_changes_while_a_reply_streams(alice):
    conversation, (u1, a1, u2, a2, u3, a3) = three_turns(alice)
    services.message_send(conversation=conversation, text="four")  # its reply streams
    before = Message.objects.count()
    with pytest.raises(services.ReplyInProgress):
        services.message_edit(message=u2, text="two, better")
    with pytest.raises(services.ReplyInProgress):
        services.reply_regenerate(reply=a1)
    assert Message.objects.count() == before
    with pytest.raises(services.ChatError, match="has finished"):
        services.reply_regenerate(reply=Message.objects.get(status="streaming"))


def test_retry_and_continue_only_for_the_last_reply_of_a_branch(alice):
    conversation, (u1, a1, *_rest) = three_turns(alice)
    Message.objects.filter(pk=a1.pk).update(status="error")
    a1.refresh_from_db()
    with pytest.raises(services.ChatError, match="last reply"):
        services.reply_retry(reply=a1)
    assert services.reply_regenerate(reply=a1).parent_id == u1.pk  # its way to another answer


ACTIONS = {
    "Retry": services.reply_retry,
    "Continue": services.reply_continue,
    "Regenerate": services.reply_regenerate,
}


class _Undone(Exception):
    """Raised to roll back a service call that was accepted."""


def accepted(service, reply: Message) -> bool:
    try:
        with transaction.atomic():
            service(reply=Message.objects.get(pk=reply.pk))
            raise _Undone
    except _Undone:
        return True
    except services.ChatError:
        return False


@pytest.mark.parametrize("status", ["complete", "error", "stopped", "interrupted"])
@pytest.mark.parametrize("stop_reason", ["end_turn", "max_tokens"])
@pytest.mark.parametrize("last", [True, False])
def test_each_service_accepts_exactly_what_the_page_offers(alice, status, stop_reason, last):
    """One rule (versions.offered): before, the page offered Regenerate on a complete last reply
    while reply_retry accepted it too (wiping the answer), and reply_regenerate accepted a failed
    last reply, whose page offered only Retry."""
    conversation, reply = services.conversation_start(user=alice, text="one", model="claude-sonnet-4-6")
    finished(reply, "answer")
    Message.objects.filter(pk=reply.pk).update(status=status, stop_reason=stop_reason)
    if not last:
        finished(services.message_send(conversation=conversation, text="two")[1])
    html = rendering.message_html(selectors.chosen_messages(conversation.pk)[1])
    # A text button (Retry, Continue), or an icon button named by its visually hidden text.
    shown = {name for name in ACTIONS if f">{name}</button>" in html or f">{name}</span></button>" in html}
    assert shown == {name for name, service in ACTIONS.items() if accepted(service, reply)}


def test_a_complete_last_reply_is_regenerated_never_retried_in_place(client, alice):
    conversation, (*_, last) = three_turns(alice)
    client.force_login(alice)
    response = client.post(reverse("retry_reply", args=[last.pk]))
    assert response.status_code == 409 and "last reply" in response.content.decode()
    last.refresh_from_db()
    assert last.status == "complete" and [b.payload["text"] for b in last.blocks.all()] == ["reply three"]
    assert services.reply_regenerate(reply=last).parent_id == last.parent_id


def test_an_edit_keeps_the_files_of_the_message(alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    photo = services.attachment_store(user=alice, name="photo.png", data=image_bytes())
    conversation, reply = services.conversation_start(
        user=alice, text="What is this?", model="claude-sonnet-4-6", attachments=[photo]
    )
    finished(reply)
    edited, reply = services.message_edit(message=reply.parent, text="And the colour?")
    blocks = [b.payload for b in edited.blocks.order_by("index")]
    assert blocks[0]["attachment_id"] == photo.pk and blocks[1] == {"type": "text", "text": "And the colour?"}
    finished(reply)
    # The files alone are a message too: the text may go.
    edited, _ = services.message_edit(message=edited, text=" ")
    assert [b.type for b in edited.blocks.all()] == ["image"]
    assert Attachment.objects.count() == 1


# --- the request sends the reply's branch only --------------------------------------------------


def sent(fake_api) -> list[tuple[str, str]]:
    """The last request's messages as (role, text)."""
    return [
        (m["role"], " ".join(block.get("text", "") for block in m["content"]))
        for m in fake_api.message_requests[-1].body["messages"]
    ]


@pytest.mark.django_db(transaction=True)
async def test_a_request_holds_exactly_the_replys_ancestors(fake_api, alice):
    fake_api.enqueue(*(Reply(f"answer {n}") for n in range(1, 8)))
    conversation, a1 = await run_reply(alice, text="one")
    a2 = await send(conversation, "two")
    await send(conversation, "three")
    u2 = await Message.objects.aget(pk=a2.parent_id)

    _, reply = await sync_to_async(services.message_edit)(message=u2, text="two, better")
    await run_to_end(reply)
    assert sent(fake_api) == [("user", "one"), ("assistant", "answer 1"), ("user", "two, better")]

    # Back on the old branch, a send follows its last reply: the whole old branch is sent.
    await sync_to_async(services.version_choose)(message=u2)
    await send(conversation, "four")
    assert [text for _, text in sent(fake_api)] == [
        "one",
        "answer 1",
        "two",
        "answer 2",
        "three",
        "answer 3",
        "four",
    ]

    # Regenerating the first reply sends the first question alone.
    again = await sync_to_async(services.reply_regenerate)(reply=a1)
    await run_to_end(again)
    assert sent(fake_api) == [("user", "one")]


@pytest.mark.django_db(transaction=True)
async def test_a_regenerated_reply_ends_with_its_switcher(fake_api, alice):
    fake_api.enqueue(Reply("First try"), Reply("Second try"))
    conversation, reply = await run_reply(alice, text="Tell me a joke")
    communicator = await connect(alice, conversation.pk)
    try:
        again = await sync_to_async(services.reply_regenerate)(reply=reply)
        generation.start(again)
        frames = await frames_until_end(communicator, again.pk)
    finally:
        await communicator.disconnect()
    end = frames[-1][3]
    assert "2 / 2" in end and 'aria-label="Previous version"' in end and "Second try" in end
    assert 'class="reply-markdown">Second try</template>' in end


# --- views -------------------------------------------------------------------------------------


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_switching_answers_with_the_list_of_the_branch(client, alice):
    conversation, (u1, a1, u2, a2, u3, a3) = three_turns(alice)
    edited, reply = services.message_edit(message=u2, text="two, better")
    finished(reply, "better reply")
    client.force_login(alice)
    response = client.post(reverse("choose_version", args=[u2.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "1 / 2" in html and "reply three" in html and "better reply" not in html
    assert f'hx-post="{reverse("choose_version", args=[edited.pk])}"' in html
    assert html.count('aria-label="Next version"') == 1 and 'id="versions-' in html
    # Without htmx: back to the page, which shows the same branch.
    response = client.post(reverse("choose_version", args=[edited.pk]))
    assert response.status_code == 302
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert "2 / 2" in page and "better reply" in page and "reply three" not in page


def test_edit_and_regenerate_answer_with_the_list_and_the_new_reply_streams(client, alice, monkeypatch):
    started = []
    monkeypatch.setattr(generation, "start", lambda reply, **kw: started.append(reply.pk))
    conversation, (u1, a1, u2, a2, u3, a3) = three_turns(alice)
    client.force_login(alice)
    response = client.post(reverse("edit_message", args=[u2.pk]), {"text": "two, better"}, **HTMX)
    html = response.content.decode()
    new_reply = Message.objects.get(pk=started[-1])
    assert response.status_code == 200 and "<html" not in html
    assert f'id="message-{new_reply.pk}"' in html and 'data-seq="0"' in html and "reply two" not in html
    assert html.count('data-seq="0"') == 1 and "2 / 2" in html

    finished(new_reply)
    response = client.post(reverse("regenerate_reply", args=[a1.pk]), **HTMX)
    html = response.content.decode()
    assert started[-1] != new_reply.pk and f'id="message-{started[-1]}" data-message' in html
    assert 'data-seq="0"' in html and "2 / 2" in html and "two, better" not in html


def test_a_refusal_is_a_409_that_says_why(client, alice):
    conversation, (u1, a1, *_rest) = three_turns(alice)
    services.message_send(conversation=conversation, text="four")  # its reply streams
    client.force_login(alice)
    for response in [
        client.post(reverse("edit_message", args=[u1.pk]), {"text": "again"}, **HTMX),
        client.post(reverse("regenerate_reply", args=[a1.pk]), **HTMX),
    ]:
        assert response.status_code == 409 and response["Content-Type"].startswith("text/plain")
        assert "still streaming" in response.content.decode()


def test_the_edit_box_has_the_text_and_takes_the_focus(client, alice):
    conversation, (u1, a1, *_rest) = three_turns(alice)
    client.force_login(alice)
    html = client.get(reverse("edit_form", args=[u1.pk])).content.decode()
    assert 'aria-label="Edited text" autofocus>\none</textarea>' in html
    assert ">Send edited text</button>" in html and ">Cancel</button>" in html
    assert client.get(reverse("edit_form", args=[a1.pk])).status_code == 404  # replies are regenerated


def test_another_users_messages_are_404(client, alice, bob):
    conversation, (u1, a1, *_rest) = three_turns(alice)
    client.force_login(bob)
    assert client.get(reverse("edit_form", args=[u1.pk])).status_code == 404
    for url in [
        reverse("choose_version", args=[u1.pk]),
        reverse("edit_message", args=[u1.pk]),
        reverse("regenerate_reply", args=[a1.pk]),
    ]:
        assert client.post(url, {"text": "mine now"}, **HTMX).status_code == 404, url
    assert Message.objects.count() == 6


def test_each_reply_carries_its_markdown_source_for_copy(client, alice):
    conversation, reply = services.conversation_start(user=alice, text="code?", model="m")
    finished(reply, "Use `x < y`:\n\n```py\nprint(1)\n```")
    client.force_login(alice)
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    assert '<template class="reply-markdown">Use `x &lt; y`:\n\n```py\nprint(1)\n```</template>' in page, (
        "the markdown source, escaped once"
    )


# --- the page's queries ------------------------------------------------------------------------


def long_conversation(user, messages: int, edits: int = 0) -> Conversation:
    """`messages` messages on one branch, and `edits` edited versions of its first message."""
    conversation = Conversation.objects.create(owner=user, title="long", model="m")
    rows = Message.objects.bulk_create(
        Message(conversation=conversation, role="user" if i % 2 == 0 else "assistant")
        for i in range(messages)
    )
    for previous, message in zip(rows, rows[1:], strict=False):
        message.parent = previous
    Message.objects.bulk_update(rows, ["parent"])
    ContentBlock.objects.bulk_create(
        ContentBlock(message=m, index=0, type="text", payload={"type": "text", "text": f"m{m.pk}"})
        for m in rows
    )
    for _ in range(edits):
        version = Message.objects.create(conversation=conversation, role="user", chosen_at=T0)
        Message.objects.create(conversation=conversation, role="assistant", parent=version, chosen_at=T0)
    return conversation


def page_queries(client, conversation: Conversation) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("conversation", args=[conversation.pk]))
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_a_1000_message_page_takes_as_few_queries_as_a_short_one(client, alice):
    client.force_login(alice)
    page_queries(client, long_conversation(alice, 2))  # warm: the session, the price list
    short, _ = page_queries(client, long_conversation(alice, 10))
    long, html = page_queries(client, long_conversation(alice, 1000, edits=20))
    assert long == short and long <= 15, long
    assert html.count('data-role="') == 1000 and "1 / 21" in html


# --- the migration from the linear history -----------------------------------------------------


BEFORE = ("conversations", "0009_budget_running_totals")

# (role, superseded) in id order, as the old code left them; and what the tree makes of them: the
# index of each message's parent (None: a first message).
HISTORY = [
    ("user", False, None),  # 0: one
    ("assistant", True, 0),  # 1: its reply, regenerated
    ("assistant", False, 0),  # 2: the new reply
    ("user", True, 2),  # 3: two, then edited
    ("assistant", True, 3),  # 4
    ("user", False, 2),  # 5: two, edited: a sibling of 3
    ("assistant", True, 5),  # 6: regenerated
    ("assistant", False, 5),  # 7
    ("user", False, 7),  # 8: three
    ("assistant", False, 8),  # 9
]
FIRST_EDITED = [  # the first message edited twice
    ("user", True, None),
    ("assistant", True, 0),
    ("user", True, None),
    ("assistant", True, 2),
    ("user", False, None),
    ("assistant", False, 4),
]


def migrate(*targets: tuple[str, str]):
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets))
    executor.loader.build_graph()
    return executor.loader.project_state(list(targets)).apps


def old_conversation(apps, owner_id: int, history: list) -> list[int]:
    Conversation = apps.get_model("conversations", "Conversation")
    Message = apps.get_model("conversations", "Message")
    conversation = Conversation.objects.create(owner_id=owner_id, title="old", model="m")
    return [
        Message.objects.create(conversation=conversation, role=role, superseded=superseded).pk
        for role, superseded, _ in history
    ]


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_superseded_versions_into_siblings(alice):
    # Every app's latest: going back unapplies the apps that depend on conversations (workbench),
    # and the tests after this one need them again.
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old = migrate(BEFORE)
        conversations = [old_conversation(old, alice.pk, h) for h in (HISTORY, FIRST_EDITED)]
        migrate(*latest)
        for ids, history in zip(conversations, [HISTORY, FIRST_EDITED], strict=True):
            parents = dict(Message.objects.filter(pk__in=ids).values_list("pk", "parent_id"))
            assert [parents[pk] for pk in ids] == [None if p is None else ids[p] for *_, p in history]
            conversation_id = Message.objects.get(pk=ids[0]).conversation_id
            # What the old page showed unfolded is the chosen branch, and requests send it.
            current = [pk for pk, (_, superseded, _) in zip(ids, history, strict=True) if not superseded]
            assert [m.pk for m in selectors.chosen_messages(conversation_id)] == current
            assert [m.pk for m in selectors.earlier_messages(Message.objects.get(pk=current[-1]))] == current[
                :-1
            ]
        with connection.cursor() as cursor:
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, "conversations_message")
            ]
        assert "superseded" not in columns and "parent_id" in columns

        back = migrate(BEFORE)  # and back: what is off the chosen branch is superseded again
        flags = dict(back.get_model("conversations", "Message").objects.values_list("pk", "superseded"))
        assert [flags[pk] for pk in conversations[0]] == [superseded for _, superseded, _ in HISTORY]
    finally:
        migrate(*latest)
