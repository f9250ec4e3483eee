"""A new chat that starts from a summary of this one: the way on when a reply stopped because the
conversation filled the model's context window (stop reason `model_context_window_exceeded`), or
whenever the person wants a fresh start.

One click (Continue in a new chat) asks the chat's model for a summary of the chosen branch's text
(its start and as much of its end as TRANSCRIPT_CHARS allows), and opens the New chat page with the
summary in the message box, the same model and system prompt chosen: the person edits it, then
sends. The call is a real request: recorded as an ApiCall (kind summary, overhead of the old chat)
and paid from the budgets its replies are paid from.
"""

from asgiref.sync import sync_to_async

from conversations import selectors, services
from conversations.claude import llm
from conversations.models import ApiCall, Conversation, Message
from conversations.services import ChatError

TRANSCRIPT_CHARS = 200_000  # about 50,000 tokens: room in any model's window for the summary
MAX_TOKENS = 1500
TIMEOUT = 120  # seconds: a long transcript takes a while to read
SYSTEM = (
    "You summarize a conversation so that a new conversation can continue from it. Write, in plain "
    "prose under 400 words: what the person is trying to do, the facts, decisions and results so "
    "far, and what was being worked on last. Do not address the reader; write nothing else."
)
INTRO = "We are continuing an earlier conversation. A summary of it:\n\n"


def transcript(conversation: Conversation) -> str:
    """The chosen branch's text, turn by turn; its middle left out past TRANSCRIPT_CHARS."""
    parts = []
    for message in selectors.chosen_messages(conversation.pk):
        text = "\n".join(b.payload.get("text") or "" for b in message.block_list if b.type == "text").strip()
        if text:
            parts.append(f"{'Person' if message.role == Message.Role.USER else 'Claude'}: {text}")
    whole = "\n\n".join(parts)
    if len(whole) <= TRANSCRIPT_CHARS:
        return whole
    head, tail = TRANSCRIPT_CHARS // 4, TRANSCRIPT_CHARS * 3 // 4
    return f"{whole[:head]}\n\n[… the middle of the conversation is left out …]\n\n{whole[-tail:]}"


def summary_request(conversation: Conversation) -> dict:
    text = f"<conversation>\n{transcript(conversation)}\n</conversation>\n\nSummarize this conversation."
    return {
        "model": conversation.model,
        "max_tokens": MAX_TOKENS,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": text}],
    }


def _planned(conversation: Conversation) -> tuple[dict, int | None]:
    """The request, and the team whose budget pays too (the chat's prompt's team)."""
    version = conversation.prompt_version
    return summary_request(conversation), version.prompt.team_id if version else None


async def summarize(conversation: Conversation) -> str:
    """The summary to start a new chat from (INTRO first); ChatError, in words, when the call fails."""
    request, team_id = await sync_to_async(_planned)(conversation)
    try:
        answer = await llm.complete_text(request, timeout=TIMEOUT)
    except llm.STREAM_ERRORS as exc:
        error, _ = llm.describe_error(exc)
        raise ChatError(f"The summary could not be made: {error}.") from exc
    await sync_to_async(services.api_call_record)(
        kind=ApiCall.Kind.SUMMARY,
        model=conversation.model,
        usage=answer.usage,
        user_id=conversation.owner_id,
        team_id=team_id,
        conversation_id=conversation.pk,
        request_id=answer.request_id,
    )
    if not answer.text.strip():
        raise ChatError("The summary came back empty; try again.")
    return INTRO + answer.text.strip()
