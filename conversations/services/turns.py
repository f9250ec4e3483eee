"""A conversation's turns: start it, send, edit, retry, continue, regenerate, and choose a version.
Each commits the user's message (when there is one) and a streaming reply in one transaction."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone

from conversations import attachments as files
from conversations import selectors
from conversations.blocks.files import is_link, link_block, link_parts, link_problem
from conversations.budgets import BudgetExceeded, check_can_send
from conversations.claude import params as chat_params
from conversations.claude.capabilities import reads_files
from conversations.live import metrics
from conversations.models import Attachment, ContentBlock, Conversation, Message, Project, ReplyFeedback
from conversations.services.errors import ChatError, ReplyInProgress
from conversations.services.settings import tool_defaults_remember
from teams.models import PromptVersion

TITLE_LENGTH = 60
# A Temporary chat is scrubbed this long after it began, at the latest (library/temporary.py).
TEMPORARY_LIFETIME = timedelta(hours=24)


def check_message_text(text: str, *, attachments: list[Attachment] = ()) -> str:
    if "\x00" in text:  # PostgreSQL cannot store it; Django's forms refuse it with these words
        raise ChatError("Null characters are not allowed.")
    text = text.strip()
    if not text and not attachments:
        raise ChatError("Type a message first.")
    limit = settings.CHAT_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise ChatError(f"The message is {len(text):,} characters long; the limit is {limit:,}.")
    return text


def title_from_text(text: str) -> str:
    line = " ".join(text.split())
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[:TITLE_LENGTH].rsplit(" ", 1)[0] or line[:TITLE_LENGTH]
    return cut + "…"


def _check_attachments(model: str, attachments: list[Attachment], links: list[str] = ()) -> list[dict]:
    """The message's files are ones `model` reads, within the per-message limit (a link counts as
    a file); returns the links' blocks (blocks/files.py: checked for shape, never requested here)."""
    for link in links:
        if problem := link_problem(link):
            raise ChatError(problem)
    if len(attachments) + len(links) > files.MAX_FILES_PER_MESSAGE:
        raise ChatError(f"A message can carry at most {files.MAX_FILES_PER_MESSAGE} files.")
    if (attachments or links) and not reads_files(model):
        raise ChatError(
            f"The model {model} cannot read images or PDFs. Remove the files, or use a Claude model."
        )
    return [link_block(link) for link in links]


def conversation_start(
    *,
    user: AbstractBaseUser,
    text: str,
    model: str,
    prompt_version: PromptVersion | None = None,
    attachments: list[Attachment] = (),
    timezone: str = "",
    params: dict | None = None,
    temporary: bool = False,
    links: list[str] = (),
    project: Project | None = None,
) -> tuple[Conversation, Message]:
    """A new conversation (pinned to `prompt_version`, if any), its first message and a streaming
    reply. `params`: the composer's switches (tools_choose), which the user's next new chat starts
    with too; None when the composer sent none. `temporary`: a Temporary chat, scrubbed a day
    from now at the latest (library/temporary.py). `links`: images and PDFs by their http(s) link.
    `project`: started in a project (projects/), whose instructions are `prompt_version`."""
    text = check_message_text(text, attachments=[*attachments, *links])
    linked = _check_attachments(model, attachments, links)
    names = [a.name for a in attachments] + [link_parts(link).name or link_parts(link).host for link in links]
    title = title_from_text(text or ", ".join(names))
    conversation = Conversation(
        owner=user,
        model=model,
        title=title,
        prompt_version=prompt_version,
        project=project,
        temporary_until=dj_timezone.now() + TEMPORARY_LIFETIME if temporary else None,
        params=(params or {}) | ({"timezone": timezone} if timezone in chat_params.ZONES else {}),
    )
    with _opening_reply(conversation):
        conversation.save()
        _, reply = _add_turn(conversation, text, attachments, linked=linked)
        if params is not None:
            tool_defaults_remember(user_id=user.pk, params=params)
    return conversation, reply


def message_send(
    *,
    conversation: Conversation,
    text: str,
    attachments: list[Attachment] = (),
    params: dict | None = None,
    links: list[str] = (),
) -> tuple[Message, Message]:
    """The user's message and a streaming reply to it, committed together. `params`: new parameters
    from the composer's switches (tools_choose), saved with the turn and remembered for new chats.
    `links`: images and PDFs by their http(s) link."""
    text = check_message_text(text, attachments=[*attachments, *links])
    linked = _check_attachments(conversation.model, attachments, links)
    changed = params is not None and params != conversation.params
    if changed:
        conversation.params = params
    with _opening_reply(conversation):
        end = selectors.conversation_tree(conversation.pk).path()[-1:]
        turn = _add_turn(conversation, text, attachments, linked=linked, parent_id=end[0] if end else None)
        saved = {"params": params} if changed else {}
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=dj_timezone.now(), **saved)
        if changed:
            tool_defaults_remember(user_id=conversation.owner_id, params=params)
    return turn


@contextmanager
def _opening_reply(conversation: Conversation) -> Iterator[None]:
    """The one transaction that starts a streaming reply: the budget is checked inside it (so two
    sends are checked one after the other), and a reply already streaming in the conversation,
    which the database refuses, becomes ReplyInProgress."""
    try:
        with transaction.atomic():
            _check_budget(conversation)
            yield
    except IntegrityError as exc:
        raise ReplyInProgress() from exc
    metrics.DB_WRITES.labels("send").inc()


def _check_budget(conversation: Conversation) -> None:
    version = conversation.prompt_version
    try:
        check_can_send(user=conversation.owner_id, team_id=version.prompt.team_id if version else None)
    except BudgetExceeded as exc:
        raise ChatError(str(exc)) from exc


def _new_reply(conversation: Conversation, **fields) -> Message:
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model=conversation.model,
        options=_options(conversation, conversation.model),
        heartbeat_at=dj_timezone.now(),
        **fields,
    )


def _options(conversation: Conversation, model: str) -> dict:
    """What a reply keeps of how it is generated: `model` and the conversation's parameters now."""
    return chat_params.reply_options(model, chat_params.stored(conversation.params))


def _add_turn(
    conversation: Conversation,
    text: str,
    attachments: list[Attachment] = (),
    *,
    linked: list[dict] = (),
    **fields,
) -> tuple[Message, Message]:
    """The user's message (after `parent_id`, the end of the branch it continues) and a streaming
    reply to it. Files first (`linked`: the blocks of files by link, stored as sent), then the
    text: the order the API recommends for questions about them."""
    user_message = Message.objects.create(conversation=conversation, role=Message.Role.USER, **fields)
    payloads = [
        {
            "type": "image" if a.is_image else "document",
            "attachment_id": a.pk,
            "name": a.name,
            "pages": a.pages,
        }
        for a in attachments
    ]
    payloads += linked
    if text:
        payloads.append({"type": "text", "text": text})
    # Kept on the message: the send renders its turn from them without reading them back.
    user_message.block_list = ContentBlock.objects.bulk_create(
        ContentBlock(message=user_message, index=i, type=p["type"], payload=p) for i, p in enumerate(payloads)
    )
    return user_message, _new_reply(conversation, parent=user_message, chosen_at=user_message.chosen_at)


def _restart(reply: Message, **fields) -> Message:
    """The same reply streams again (Retry, Continue); its feedback rated text it no longer has."""
    with _opening_reply(reply.conversation):
        Message.objects.filter(pk=reply.pk).update(
            status=Message.Status.STREAMING, heartbeat_at=dj_timezone.now(), **fields
        )
        ReplyFeedback.objects.filter(message_id=reply.pk).delete()
    reply.refresh_from_db()
    return reply


def reply_retry(*, reply: Message) -> Message:
    """Run a failed, stopped or interrupted reply again, in place of its old partial output: only
    one that nothing follows yet, as the page offers it (selectors.message_actions)."""
    if not selectors.message_actions(reply).can_retry:
        raise ChatError("Only the last reply can be retried, once it failed or stopped; regenerate others.")
    with transaction.atomic():
        restarted = _restart(
            reply,
            stop_reason="",
            request_id="",
            error="",
            input_tokens=0,
            output_tokens=0,
            cache_creation_input_tokens=0,
            cache_read_input_tokens=0,
            trimmed=0,
            model=reply.conversation.model,
            options=_options(reply.conversation, reply.conversation.model),
        )
        restarted.blocks.all().delete()
    return restarted


def reply_continue(*, reply: Message) -> Message:
    """Resume a reply that hit max_tokens, the last of its branch: the same message streams on
    after its last block."""
    if not selectors.message_actions(reply).can_continue:
        if reply.stop_reason != "max_tokens" or reply.status != Message.Status.COMPLETE:
            raise ChatError("Only a reply that was cut off at its length limit can be continued.")
        raise ChatError("Only the last reply can be continued; regenerate others.")
    # It runs on with its own model, and the conversation's parameters as they are now.
    return _restart(reply, stop_reason="", options=_options(reply.conversation, reply.model))


def reply_regenerate(*, reply: Message) -> Message:
    """A new version of a finished reply, any reply: another answer to the same question. It is
    the chosen version now; the old one (and what followed it) stays one switch away. A failed
    last reply is retried instead, as the page offers it."""
    actions = selectors.message_actions(reply)
    if actions.can_retry:
        raise ChatError("This reply did not finish: retry it instead.")
    if not actions.can_regenerate:
        raise ChatError("Only a reply that has finished can be regenerated.")
    conversation = reply.conversation
    with _opening_reply(conversation):
        chosen_at = _choose_branch(conversation.pk, reply.parent_id)
        return _new_reply(conversation, parent_id=reply.parent_id, chosen_at=chosen_at)


def message_edit(*, message: Message, text: str) -> tuple[Message, Message]:
    """A new version of one of the user's messages, any of them, with the same files, and a reply
    to it. It is the chosen version now; the old one and what followed it stay one switch away."""
    if not selectors.message_actions(message).can_edit:
        raise ChatError("Only your own messages can be edited.")
    conversation = message.conversation
    stored = [b.payload for b in message.blocks.all()]
    ids = [p["attachment_id"] for p in stored if "attachment_id" in p]
    attachments = selectors.attachments_for_user(conversation.owner, ids)
    if attachments is None:
        raise ChatError("A file of this message is no longer stored, so it cannot be sent again.")
    linked = [p for p in stored if is_link(p)]  # sent again as they were
    text = check_message_text(text, attachments=[*attachments, *linked])
    _check_attachments(conversation.model, attachments, [p["source"]["url"] for p in linked])
    with _opening_reply(conversation):
        chosen_at = _choose_branch(conversation.pk, message.parent_id)
        return _add_turn(
            conversation, text, attachments, linked=linked, parent_id=message.parent_id, chosen_at=chosen_at
        )


def version_choose(*, message: Message) -> None:
    """Show this version of its turn: the branch through it (and, below it, the versions chosen
    there before) becomes the conversation's chosen branch."""
    with transaction.atomic():
        _choose_branch(message.conversation_id, message.pk)


def _choose_branch(conversation_id: int, message_id: int | None) -> datetime:
    """Choose the branch down to `message_id` (from a stale tab it may not be chosen now); return
    the `chosen_at` that makes a new child of it the chosen one too."""
    tree = selectors.conversation_tree(conversation_id)
    chosen_at = tree.choice_time(dj_timezone.now())
    if message_id is not None:
        branch = [*tree.ancestors(message_id), message_id]
        Message.objects.filter(pk__in=branch).update(chosen_at=chosen_at)
    return chosen_at
