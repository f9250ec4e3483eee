"""Fitting a request into the model's context window: how many of the oldest messages to leave out;
and the composer's gauge of how much of the window a chat uses.

Each message is counted once (count_tokens) and its count kept on the row. A message is left out
whole, so a tool call stays with its result, and what remains starts with a user turn.

The gauge (`gauge`) reads the last finished reply's usage: what that request read (input, cache
reads and writes) plus what it wrote is what the next send starts from; files attached to a draft
are counted with count_tokens (the composer asks once its uploads settle, never per keystroke).
The next send's estimated cost prices that much input at the cache-read rate (the prefix was
just cached) and the new tokens at the input rate, before any output. The limit is the API's
model list's `max_input_tokens` when it gives it (catalog.input_limit); amber from WARN_AT.
"""

import json
from dataclasses import dataclass
from decimal import Decimal

from asgiref.sync import sync_to_async

from conversations import selectors, services
from conversations.claude import catalog, llm, params, pricing
from conversations.models import Attachment, Conversation, Message
from conversations.reply import reply_request
from conversations.reply.anthropic_request import Turn, build_messages


async def messages_to_leave_out(reply: Message, request: dict) -> int:
    """How many of the oldest messages to leave out so `request` fits with room for max_tokens."""
    context_1m = params.stored(reply.conversation.params).context_1m
    budget = catalog.input_limit(reply.model, context_1m) - request["max_tokens"]
    if len(json.dumps(request, ensure_ascii=False).encode()) <= budget:
        return 0  # a token is at least one byte: it fits without asking the API
    total = await llm.count_tokens(request)
    if total <= budget:
        return 0
    messages = await sync_to_async(selectors.earlier_messages)(reply)
    skip = 0
    while total > budget and skip < len(messages) - 1:
        total -= await _message_tokens(reply, messages[skip])
        skip += 1
        while skip < len(messages) - 1 and messages[skip].role != Message.Role.USER:
            total -= await _message_tokens(reply, messages[skip])  # start with a user turn
            skip += 1
    return skip


async def _message_tokens(reply: Message, message: Message) -> int:
    if message.token_count is None:
        # Counted alone; a reply gets a one-character user turn before it so the order is valid.
        owner_id = reply.conversation.owner_id
        turns = await sync_to_async(reply_request.stored_turns)([message], owner_id=owner_id)
        is_reply = message.role == Message.Role.ASSISTANT
        lead = [Turn("user", [{"type": "text", "text": "."}])] if is_reply else []
        # Counted without tools: a tool's calls and results count as the text they become.
        counted = {"model": reply.model, "messages": build_messages(lead + turns, offered=set())}
        message.token_count = await llm.count_tokens(counted)
        await sync_to_async(services.message_token_count_set)(
            message_id=message.pk, token_count=message.token_count
        )
    return message.token_count


WARN_AT = 0.8  # of the input limit: the gauge turns amber


@dataclass(frozen=True)
class Gauge:
    used: int  # input tokens the next send starts from
    limit: int
    next_cost: Decimal | None  # None: the model has no price

    @property
    def share(self) -> float:
        return min(1.0, self.used / self.limit) if self.limit else 0.0

    @property
    def warn(self) -> bool:
        return self.share >= WARN_AT

    @property
    def percent(self) -> int:
        return round(self.share * 100)

    @property
    def warn_from(self) -> int:
        return int(self.limit * WARN_AT)


def gauge(conversation: Conversation, draft_tokens: int = 0) -> Gauge:
    """How much of the model's input window the chat's next send uses (see the module docstring)."""
    last = (
        Message.objects.filter(conversation=conversation, role=Message.Role.ASSISTANT)
        .exclude(status=Message.Status.STREAMING)
        .exclude(input_tokens=0, cache_read_input_tokens=0, cache_creation_input_tokens=0)
        .order_by("-id")
        .first()
    )
    read = (
        (last.input_tokens + last.cache_read_input_tokens + last.cache_creation_input_tokens) if last else 0
    )
    new = (last.output_tokens if last else 0) + draft_tokens
    price = selectors.price_for_model(conversation.model)
    usage = pricing.Usage(cache_read_input_tokens=read, input_tokens=new)
    cost = pricing.cost(usage, price) if price else None
    limit = catalog.input_limit(conversation.model, params.stored(conversation.params).context_1m)
    return Gauge(used=read + new, limit=limit, next_cost=cost)


async def draft_tokens(conversation: Conversation, attachments: list[Attachment]) -> int:
    """What files attached to a draft add to the next request, by count_tokens (0 without files)."""
    if not attachments:
        return 0
    stored = {a.pk: a for a in attachments}
    kinds = [("image" if a.media_type.startswith("image/") else "document", a.pk) for a in attachments]
    read = sync_to_async(
        lambda: [reply_request.api_block({"type": k, "attachment_id": pk}, stored) for k, pk in kinds]
    )
    content = await read()  # the files are read from storage
    request = {"model": conversation.model, "messages": [{"role": "user", "content": content}]}
    return await llm.count_tokens(request)
