"""Reads, always scoped to the requesting user."""

from django.db.models import Count, F, Prefetch, Q, QuerySet, prefetch_related_objects
from django.http import Http404
from pydantic import ValidationError

from conversations import spending
from conversations.claude.params import ToolChoice
from conversations.claude.pricing import Price
from conversations.models import (
    Attachment,
    ContentBlock,
    Conversation,
    Message,
    ModelPrice,
    ProducedFile,
    ReplyFeedback,
    TeamPolicy,
    ToolDefaults,
)
from conversations.versions import Actions, Tree, offered
from teams.selectors import prompt_access, prompts_usable_by


def conversation_list_for_user(user) -> QuerySet[Conversation]:
    """Newest first, as the sidebar lists them (sidebar.py): not archived, not deleted."""
    mine = Conversation.objects.listed().filter(owner=user, archived_at__isnull=True)
    return mine.order_by("-updated_at").only("id", "title")


def conversation_for_user(user, conversation_id: int) -> Conversation | None:
    if not user.is_authenticated:
        return None
    return Conversation.objects.visible().filter(owner=user, pk=conversation_id).first()


def owned_conversation(user, conversation_id: int) -> Conversation:
    """One of the user's conversations; Http404 for anyone else's (and for none), alike."""
    conversation = conversation_for_user(user, conversation_id)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def listed_conversation(user, conversation_id: int) -> Conversation:
    """owned_conversation, except that a Temporary chat is a 404 too: what exports and shares take."""
    conversation = owned_conversation(user, conversation_id)
    if conversation.temporary:
        raise Http404("A temporary chat is not exported or shared")
    return conversation


def messages_with_blocks(conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.prefetch_related(
        Prefetch("blocks", queryset=ContentBlock.objects.order_by("index"))
    )


def conversation_tree(conversation_id: int) -> Tree:
    """The shape of a conversation (which message follows which), from one narrow query."""
    rows = Message.objects.filter(conversation_id=conversation_id).values_list("id", "parent_id", "chosen_at")
    return Tree(rows)


def _messages_and_tree(rows: QuerySet[Message]) -> tuple[dict[int, Message], Tree]:
    messages = {m.pk: m for m in rows}
    return messages, Tree((m.pk, m.parent_id, m.chosen_at) for m in messages.values())


def _with_blocks(messages: list[Message]) -> list[Message]:
    """Each message's blocks, in order, as its `block_list`: one query. A list rather than the
    `blocks` manager's cache, which would build a queryset per message (20 ms for 1,000)."""
    blocks = Prefetch("blocks", queryset=ContentBlock.objects.order_by("index"), to_attr="block_list")
    prefetch_related_objects(messages, blocks)
    return messages


def chosen_messages(conversation_id: int) -> list[Message]:
    """The page's messages: the chosen branch, first to last, each with its `versions`, its
    `actions`, its `feedback` (if any) and its `block_list`, and the last one marked `is_leaf`. Two
    queries, however many messages and branches."""
    rows = Message.objects.filter(conversation_id=conversation_id).select_related("feedback")
    messages, tree = _messages_and_tree(rows)
    branch = [messages[i] for i in tree.path()]
    for i, message in enumerate(branch):
        message.versions = tree.versions(message.pk)
        with_actions(message, is_leaf=i == len(branch) - 1)
    return _with_blocks(branch)


def with_versions(message: Message) -> Message:
    """`message` marked as the page shows it (its `versions`, `is_leaf`, `actions`) when it is
    rendered alone, as a reply that ended is: one query of its siblings and its children."""
    rows = Message.objects.filter(
        Q(parent_id=message.parent_id) | Q(parent_id=message.pk), conversation_id=message.conversation_id
    ).values_list("id", "parent_id", "chosen_at")
    tree = Tree(rows)
    message.versions = tree.versions(message.pk)
    return with_actions(message, is_leaf=tree.is_leaf(message.pk))


def with_actions(message: Message, *, is_leaf: bool) -> Message:
    """`message` marked with what it offers (Edit, Retry, Continue, Regenerate), which the page shows."""
    message.is_leaf = is_leaf
    message.actions = offered(
        role=message.role, status=message.status, stop_reason=message.stop_reason, is_leaf=is_leaf
    )
    return message


def message_actions(message: Message) -> Actions:
    """What `message` offers as it is stored now: the services check this before they act, so
    they accept exactly what the page offers (one query for a reply: does anything follow it)."""
    is_reply = message.role == Message.Role.ASSISTANT
    followed = is_reply and Message.objects.filter(parent_id=message.pk).exists()
    return offered(
        role=message.role, status=message.status, stop_reason=message.stop_reason, is_leaf=not followed
    )


def message_for_user(user, message_id: int) -> Message | None:
    return Message.objects.filter(
        pk=message_id, conversation__owner=user, conversation__deleted_at__isnull=True
    ).first()


def reply_for_owner(user, message_id: int) -> Message | None:
    """One of the replies in the user's own conversations (not deleted, not scrubbed), with its
    conversation; None for anyone else's."""
    if not user.is_authenticated:
        return None
    mine = Conversation.objects.visible().filter(owner=user)
    rows = Message.objects.select_related("conversation")
    return rows.filter(pk=message_id, role=Message.Role.ASSISTANT, conversation__in=mine).first()


def feedback_for_prompt(user, prompt_id: int, limit: int = 50) -> dict | None:
    """What a prompt's editors (a team prompt's editors and owners, a personal prompt's owner) see
    of the feedback on replies in chats on its versions: the count of each rating, and the latest
    `limit` ratings with their comment, version and time. Never the chat, its text, a link to it,
    or who gave it: a conversation stays its owner's, and a comment is given to improve the prompt,
    not to be traced back to a person. Feedback in deleted and scrubbed chats is left out. None for
    anyone who may not edit the prompt."""
    access = prompt_access(user, prompt_id)
    if access is None or not access[1]:
        return None
    rows = ReplyFeedback.objects.filter(
        prompt_version__prompt_id=prompt_id, message__conversation__in=Conversation.objects.visible()
    )
    counts = dict(rows.values_list("rating").annotate(n=Count("pk")).order_by())
    latest = rows.order_by("-updated_at", "-pk").values(
        "rating", "comment", "updated_at", version=F("prompt_version__number")
    )
    return {"prompt": access[0], "counts": counts, "latest": list(latest[:limit])}


def earlier_messages(reply: Message) -> list[Message]:
    """What `reply` follows on its branch, first to last, each with its `block_list`: the history
    its request sends. Other branches (older versions, and what follows them) are never sent."""
    messages, tree = _messages_and_tree(Message.objects.filter(conversation_id=reply.conversation_id))
    return _with_blocks([messages[i] for i in tree.ancestors(reply.pk)])


def attachments_for_user(user, ids: list[int]) -> list[Attachment] | None:
    """The user's attachments with these ids, in order; None if any is missing or someone else's."""
    found = Attachment.objects.filter(owner=user).in_bulk(ids) if ids else {}
    if len(found) != len(set(ids)):
        return None
    return [found[i] for i in ids]


def attachment_for_viewer(user, attachment_id: int) -> Attachment | None:
    """The owner's attachment, else None. Staff see others' files only inside an audited transcript
    opening (review.views.transcript_attachment), never here."""
    return Attachment.objects.filter(pk=attachment_id, owner_id=user.pk).first()


def produced_file_for_owner(user, conversation_id: int, file_id: str) -> ProducedFile | None:
    """A file code execution made in the user's own conversation (not one in the trash), else None.
    Staff reach others' files only inside an audited transcript opening (review.views)."""
    return ProducedFile.objects.filter(
        conversation_id=conversation_id,
        conversation__owner_id=user.pk,
        conversation__deleted_at__isnull=True,
        file_id=file_id,
    ).first()


def price_for_model(model: str) -> Price | None:
    """The price row whose id is the longest prefix of `model`, or None when there is none."""
    rows = [row for row in ModelPrice.objects.all() if model.startswith(row.model)]
    if not rows:
        return None
    row = max(rows, key=lambda r: len(r.model))
    return Price(
        row.input,
        row.output,
        row.cache_write_5m,
        row.cache_write_1h,
        row.cache_read,
        row.web_search,
        long_input=row.long_context_input,
        long_output=row.long_context_output,
    )


def conversation_totals(conversation: Conversation) -> dict:
    """What was spent in the conversation: its replies made here (a copy's figures are the original
    chat's), and its overhead (its title call)."""
    return spending.totals(spending.spent().of_conversation(conversation.pk))


def newer_prompt_version(user, conversation: Conversation):
    """The latest version of the conversation's prompt, when it is newer and the user may still use it."""
    pinned = conversation.prompt_version
    if pinned is None or not prompts_usable_by(user).filter(pk=pinned.prompt_id).exists():
        return None
    latest = pinned.prompt.latest
    return latest if latest.number > pinned.number else None


def owned_file_ids(user_id: int, file_ids: set[str]) -> set[str]:
    """Those of `file_ids` that are the user's: an attachment they uploaded, or a file code made
    in one of their conversations (no query when there are none to check)."""
    if not file_ids:
        return set()
    attachments = Attachment.objects.filter(owner_id=user_id, file_id__in=file_ids)
    produced = ProducedFile.objects.filter(conversation__owner_id=user_id, file_id__in=file_ids)
    return {*attachments.values_list("file_id", flat=True), *produced.values_list("file_id", flat=True)}


def tool_defaults(user) -> ToolChoice:
    """The composer switches the user's next new chat starts with: their last choice."""
    saved = ToolDefaults.objects.filter(user=user).values_list("switches", flat=True).first()
    try:
        return ToolChoice.model_validate(saved or {})
    except ValidationError:  # saved by an older version with other names: start plain
        return ToolChoice()


def teams_without_web(team_ids: list[int]) -> set[int]:
    """Those of these teams whose owners turned web access off (TeamPolicy)."""
    return set(
        TeamPolicy.objects.filter(team_id__in=team_ids, web_access=False).values_list("team_id", flat=True)
    )


def team_of(conversation: Conversation) -> int | None:
    """The chat's team: its project's, else its pinned prompt's; None for a personal chat. Its
    connectors and skills are the team's (claude/mcp.py, claude/sandbox.py)."""
    if conversation.project_id is not None:
        return conversation.project.team_id
    version = conversation.prompt_version
    return version.prompt.team_id if version is not None else None
