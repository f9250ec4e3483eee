"""A send, the same whether it arrives over the conversation's websocket or by POST (the fallback):
parse it, commit the user message and a streaming reply in one transaction, render the turn.

Callers run these in one thread hop, then start the reply (`generation.start`) in their process,
after the turn's HTML is on its way, so the reply's first frame never precedes its element.
"""

from dataclasses import dataclass

from django.conf import settings
from django.http import Http404
from django.template.loader import render_to_string
from django.utils.datastructures import MultiValueDict

from conversations import forms, selectors, services
from conversations.claude import catalog
from conversations.models import Attachment, Conversation, Message
from conversations.services import ChatError
from teams.models import PromptVersion
from teams.selectors import prompts_usable_by

NO_SUCH_PROMPT = "That system prompt is not available to you."


@dataclass(frozen=True)
class Sent:
    conversation: Conversation
    reply: Message
    html: str  # the turn (the user's message and the empty reply) as the page shows it


def message_post(*, user, conversation_id: int, data: MultiValueDict) -> Sent:
    """A message in one of the user's conversations. Http404 for anything not theirs; ChatError
    (shown in the composer, the text kept) for anything refused."""
    conversation = owned_conversation(user, conversation_id)
    fields = _parsed(data, forms.MessageForm)
    user_message, reply = services.message_send(
        conversation=conversation, text=fields["text"], attachments=_attachments(user, fields["attachment"])
    )
    return Sent(conversation, reply, _turn_html(user_message, reply))


def conversation_post(*, user, data: MultiValueDict) -> Sent:
    """A new conversation from the new-chat composer (model and system prompt chosen there)."""
    fields = _parsed(data, forms.StartForm)
    model = fields["model"] if fields["model"] and catalog.is_available(fields["model"]) else None
    conversation, reply = services.conversation_start(
        user=user,
        text=fields["text"],
        model=model or settings.CHAT_DEFAULT_MODEL,
        prompt_version=_chosen_prompt_version(user, fields["prompt"]),
        attachments=_attachments(user, fields["attachment"]),
        timezone=fields["timezone"],
    )
    user_message = conversation.messages.get(role=Message.Role.USER)
    return Sent(conversation, reply, _turn_html(user_message, reply))


def owned_conversation(user, conversation_id: int) -> Conversation:
    conversation = selectors.conversation_for_user(user, conversation_id)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _parsed(data: MultiValueDict, form_class) -> dict:
    form = form_class(data)
    if form.is_valid():
        return form.cleaned_data
    if "attachment" in form.errors:
        raise Http404("No such attachment")
    if "prompt" in form.errors:
        raise ChatError(NO_SUCH_PROMPT)
    raise ChatError(forms.first_error(form))


def _attachments(user, ids: list[int]) -> list[Attachment]:
    """The user's attachments with these ids; 404 if any is not the user's (forged ids included)."""
    found = selectors.attachments_for_user(user, ids)
    if found is None:
        raise Http404("No such attachment")
    return found


def _chosen_prompt_version(user, prompt_id: int | None) -> PromptVersion | None:
    """The latest version of a prompt the user may use; ChatError for anything else."""
    if prompt_id is None:
        return None
    prompt = prompts_usable_by(user).filter(pk=prompt_id).first()
    if prompt is None:
        raise ChatError(NO_SUCH_PROMPT)
    return prompt.latest


def _turn_html(user_message: Message, reply: Message) -> str:
    turn = [(user_message, user_message.blocks.all()), (reply, [])]
    return render_to_string("conversations/_turn.html", {"turn": turn})
