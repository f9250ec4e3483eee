"""Fitting a request into the model's context window: how many of the oldest messages to leave out.

Each message is counted once (count_tokens) and its count kept on the row. A message is left out
whole, so a tool call stays with its result, and what remains starts with a user turn.
"""

import json

from asgiref.sync import sync_to_async

from conversations import selectors, services
from conversations.claude import llm
from conversations.claude.capabilities import capabilities
from conversations.models import Message
from conversations.reply import reply_request
from conversations.reply.anthropic_request import Turn, build_messages


async def messages_to_leave_out(reply: Message, request: dict) -> int:
    """How many of the oldest messages to leave out so `request` fits with room for max_tokens."""
    budget = capabilities(reply.model).context_window - request["max_tokens"]
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
