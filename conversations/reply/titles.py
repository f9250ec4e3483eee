"""A conversation's title from a short model call after its first reply (the truncated first
message, `services.title_from_text`, stays as the fallback and for the embedded model).

It runs as its own task once the first reply's final write is done, so it never holds up a
stream. It asks the cheapest model in the catalog (by its price per token) for a few words, with
a small `max_tokens`, and stores them only while the title is still the truncated first message:
a title the user renamed is never overwritten, even one renamed while the call was out. Open tabs
on the conversation get the new title as a frame (`realtime.title_frame`); others show it on their
next load. Any failure (an API error, an empty answer) leaves the fallback title as it is.

The call is a real request: every answer, even one that makes no title, is recorded as an ApiCall
(overhead of the conversation) with its usage and cost, and paid from the budgets its replies are
paid from: the owner's, and the team's when the conversation is on a team prompt (spending.py).
"""

import logging
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings

from conversations import selectors, services
from conversations.claude import catalog, llm
from conversations.live import realtime
from conversations.models import ApiCall, Message

log = logging.getLogger(__name__)

MAX_TOKENS = 24
EXCERPT_CHARS = 2000  # of the question and of the answer: enough to title, cheap to send
SYSTEM = (
    "You name chat conversations. Answer with a title of at most six words that says what the "
    "conversation is about: no quotes, no final punctuation, nothing else."
)


@dataclass(frozen=True)
class TitleJob:
    conversation_id: int
    fallback: str  # the title now, which a generated one may replace
    request: dict
    user_id: int  # whose budgets pay for the call, as for the conversation's replies
    team_id: int | None


def wanted() -> bool:
    """Generated titles are on, and a Claude endpoint is configured (not the embedded model)."""
    return settings.CHAT_GENERATED_TITLES and not settings.CHAT_USE_LOCAL_MODEL


def title_request(*, model: str, question: str, answer: str) -> dict:
    """Pure: the Messages API request for a title."""
    text = (
        f"<question>\n{question[:EXCERPT_CHARS]}\n</question>\n"
        f"<answer>\n{answer[:EXCERPT_CHARS]}\n</answer>\n\nTitle this conversation."
    )
    return {
        "model": model,
        "max_tokens": MAX_TOKENS,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": text}],
    }


def cleaned(answer: str) -> str:
    """Pure: the model's answer as a title: its first line, without quotes, a "Title:" label or
    final punctuation, at most 60 characters; "" when nothing is left."""
    line = next((line for line in answer.splitlines() if line.strip()), "")
    line = line.strip().strip("#*").strip()
    if line.lower().startswith("title:"):
        line = line[len("title:") :]
    line = line.strip().strip("\"'“”‘’`").strip().rstrip(".!;:,").strip()
    return services.title_from_text(line) if line else ""


def cheapest_model(choices: list[str], prices: dict[str, object], default: str) -> str:
    """Pure: the model with the lowest input plus output price per token among those with a
    price; `default` when none has one."""
    priced = [(p.input + p.output, model) for model in choices if (p := prices.get(model)) is not None]
    return min(priced)[1] if priced else default


def plan(reply_id: int) -> TitleJob | None:
    """The title call for this reply, when it is the conversation's first reply, it completed,
    and the title is still the truncated first message. None otherwise."""
    reply = Message.objects.select_related("conversation__prompt_version__prompt").get(pk=reply_id)
    conversation = reply.conversation
    if reply.status != Message.Status.COMPLETE or reply.copied_at:
        return None
    if Message.objects.filter(conversation=conversation, role=Message.Role.ASSISTANT).count() != 1:
        return None
    question = _text(reply.parent) if reply.parent_id else ""
    if not question or conversation.title != services.title_from_text(question):
        return None
    models = [choice.id for choice in catalog.available()]
    prices = {model: selectors.price_for_model(model) for model in models}
    model = cheapest_model(models, prices, conversation.model)
    request = title_request(model=model, question=question, answer=_text(reply))
    version = conversation.prompt_version
    team_id = version.prompt.team_id if version else None
    return TitleJob(conversation.pk, conversation.title, request, conversation.owner_id, team_id)


def _text(message: Message) -> str:
    return "\n\n".join(b.payload["text"] for b in message.blocks.order_by("index") if b.type == "text")


def record(job: TitleJob, answer: llm.Completion) -> None:
    """The call's usage and cost, as overhead of the conversation, on the budgets that pay for it."""
    services.api_call_record(
        kind=ApiCall.Kind.TITLE,
        model=job.request["model"],
        usage=answer.usage,
        user_id=job.user_id,
        team_id=job.team_id,
        conversation_id=job.conversation_id,
        request_id=answer.request_id,
    )


async def _store(job: TitleJob, title: str) -> bool:
    """Replace the fallback title, unless it changed since (a rename)."""
    replace = sync_to_async(services.conversation_title_replace)
    return await replace(conversation_id=job.conversation_id, fallback=job.fallback, title=title)


async def title_conversation(reply_id: int) -> None:
    """The task started after a reply's final write (generation.py)."""
    try:
        job = await sync_to_async(plan)(reply_id)
        if job is None:
            return
        answer = await llm.complete_text(job.request)
        await sync_to_async(record)(job, answer)  # spent, whether or not it makes a title
        title = cleaned(answer.text)
        if title and title != job.fallback and await _store(job, title):
            realtime.publish(job.conversation_id, realtime.title_frame(job.conversation_id, title))
    except llm.STREAM_ERRORS as exc:
        log.warning("no generated title for reply %s: %s", reply_id, llm.describe_error(exc)[0])
    except Exception:
        log.exception("generating a title for reply %s failed", reply_id)
