"""A send, the same whether it arrives over the conversation's websocket or by POST (the fallback):
both make one SendCommand (the frame from its pydantic model, the POST from its form); here it is
checked, the user message and a streaming reply committed in one transaction, and the turn rendered.

Callers run these in one thread hop, then start the reply (`generation.start`) in their process,
after the turn's HTML is on its way, so the reply's first frame never precedes its element.
"""

from dataclasses import dataclass, replace

from django.conf import settings
from django.http import Http404
from django.template.loader import render_to_string
from django.utils.datastructures import MultiValueDict

from conversations import forms, selectors, services
from conversations.claude import catalog, mcp, sandbox, web
from conversations.claude.capabilities import capabilities
from conversations.claude.params import ToolChoice, switches_taken
from conversations.models import Attachment, Conversation, Message, Project
from conversations.projects.selectors import project_access
from conversations.services import ChatError
from conversations.skills import selectors as skill_selectors
from teams.models import PromptVersion
from teams.selectors import prompts_to_choose

NO_SUCH_PROMPT = "That system prompt is not available to you."


@dataclass(frozen=True)
class SendCommand:
    """One message from the composer, however it came. A new conversation's first message also
    carries what the new-chat page chose: the model, the system prompt and the browser's zone."""

    text: str
    attachment_ids: tuple[int, ...] = ()
    model: str = ""
    prompt_id: int | None = None
    timezone: str = ""
    tools: ToolChoice | None = None  # the composer's switches; None: as they were
    temporary: bool = False  # a Temporary chat (library/temporary.py)
    project_id: int | None = None  # started in a project (projects/): its instructions and knowledge
    links: tuple[str, ...] = ()  # images and PDFs by their http(s) link (blocks/files.py)


@dataclass(frozen=True)
class Sent:
    conversation: Conversation
    reply: Message
    html: str  # the turn (the user's message and the empty reply) as the page shows it


def command_from_post(data: MultiValueDict, *, start: bool = False) -> SendCommand:
    """The composer's POST as a command (`start`: the new-chat page's, with its choices). Http404
    for an attachment id that cannot exist; ChatError (shown in the composer) for anything else."""
    form = (forms.StartForm if start else forms.MessageForm)(data)
    if not form.is_valid():
        if "attachment" in form.errors:
            raise Http404("No such attachment")
        if "prompt" in form.errors:
            raise ChatError(NO_SUCH_PROMPT)
        if "project" in form.errors:
            raise Http404("No such project")
        raise ChatError(forms.first_error(form))
    fields = form.cleaned_data
    tools = ToolChoice(
        web=fields["web"],
        thinking=fields["thinking"],
        effort=fields["effort"] or None,
        code=fields["code"],
        connectors=fields["connector"],
        skills=fields["skill"],
    )
    command = SendCommand(
        fields["text"],
        tuple(fields["attachment"]),
        tools=tools if fields["switches"] else None,
        links=tuple(fields["link"]),
    )
    if start:
        chosen = {"model": fields["model"], "prompt_id": fields["prompt"], "timezone": fields["timezone"]}
        chosen["temporary"] = fields["temporary"]
        chosen["project_id"] = fields["project"]
        command = replace(command, **chosen)
    return command


def message_post(*, user, conversation_id: int, command: SendCommand) -> Sent:
    """A message in one of the user's conversations. Http404 for anything not theirs; ChatError
    (shown in the composer, the text kept) for anything refused."""
    conversation = selectors.owned_conversation(user, conversation_id)
    attachments = attachments_of(user, command.attachment_ids)
    user_message, reply = services.message_send(
        conversation=conversation,
        text=command.text,
        attachments=attachments,
        params=_params(conversation, command.tools),
        links=list(command.links),
    )
    return Sent(conversation, reply, _turn_html(user_message, reply))


def conversation_post(*, user, command: SendCommand) -> Sent:
    """A new conversation from the new-chat composer (model and system prompt chosen there)."""
    attachments = attachments_of(user, command.attachment_ids)
    model = command.model if command.model and catalog.is_available(command.model) else None
    model = model or settings.CHAT_DEFAULT_MODEL
    project = _chosen_project(user, command.project_id)
    version = project.instructions.latest if project else _chosen_prompt_version(user, command.prompt_id)
    conversation, reply = services.conversation_start(
        user=user,
        text=command.text,
        model=model,
        prompt_version=version,
        attachments=attachments,
        timezone=command.timezone,
        params=_params(
            Conversation(model=model, prompt_version=version, owner=user, project=project), command.tools
        ),
        temporary=command.temporary,
        links=list(command.links),
        project=project,
    )
    return Sent(conversation, reply, _turn_html(reply.parent, reply))


def switches_offered(conversation: Conversation, tools: dict | None = None) -> frozenset[str]:
    """The composer switches a chat offers: those its model takes, web search where the instance and
    the team of its prompt allow it, code execution where the instance does, and its connectors and
    skills (`tools`: composer_tools's, when the caller has them already)."""
    caps = capabilities(conversation.model)
    offered = set(switches_taken(caps))
    if not web.offered(conversation, caps):
        offered.discard("web")
    if not sandbox.offered(conversation, caps):
        offered.discard("code")
    if conversation.owner_id is not None:  # a chat's, not a model option's: its team's tools too
        extra = tools if tools is not None else composer_tools(conversation)
        offered |= {f"connector:{u.name}" for _, u in extra["connectors"] if not u.missing_token}
        offered |= {f"skill:{s.key}" for _, s in extra["skills"]}
    return frozenset(offered)


def composer_tools(conversation: Conversation, team_ids: list[int] | None = None) -> dict:
    """The connectors (some may want the person's token first) and skills the composer lists, each
    as (its team's id, it): the chat's team's (selectors.team_of); on the New chat page, those of
    every team in `team_ids` (chat.js shows the chosen prompt's). Skills where code execution is:
    Anthropic's (team None) and the team's own."""
    caps = capabilities(conversation.model)
    teams = [selectors.team_of(conversation)] if team_ids is None else team_ids
    connectors = [
        (t, use) for t in teams if t is not None for use in mcp.for_team(t, conversation.owner_id, caps)
    ]
    skills = []
    if sandbox.offered(conversation, caps):
        skills = [(None, s) for s in skill_selectors.for_team(None)]
        skills += [
            (t, s) for t in teams if t is not None for s in skill_selectors.for_team(t) if s.type == "custom"
        ]
    return {"connectors": connectors, "skills": skills}


def _params(conversation: Conversation, tools: ToolChoice | None) -> dict | None:
    """The conversation's parameters with the composer's switches; None if it sent none."""
    if tools is None:
        return None
    return services.tools_choose(
        params=conversation.params,
        model=conversation.model,
        choice=tools,
        offered=switches_offered(conversation),
    )


def attachments_of(user, ids: tuple[int, ...]) -> list[Attachment]:
    """The user's attachments with these ids; 404 if any is not the user's (forged ids included,
    and ids no database row can have)."""
    if any(not 0 < i <= forms.MAX_ID for i in ids):
        raise Http404("No such attachment")
    found = selectors.attachments_for_user(user, list(ids))
    if found is None:
        raise Http404("No such attachment")
    return found


def project_for_new_chat(user, project_id: str) -> Project:
    """The project a new-chat page was opened in (`?project=`); Http404 for anything else."""
    digits = project_id.isascii() and project_id.isdecimal() and len(project_id) <= 18
    project = _chosen_project(user, int(project_id) if digits else 0)
    if project is None:
        raise Http404("No such project")
    return project


def _chosen_project(user, project_id: int | None) -> Project | None:
    """A project the user may chat in (its instructions' latest version is pinned); Http404 for any
    other, alike."""
    if project_id is None:
        return None
    access = project_access(user.pk, project_id) if 0 < project_id <= forms.MAX_ID else None
    if access is None:
        raise Http404("No such project")
    return access.project


def _chosen_prompt_version(user, prompt_id: int | None) -> PromptVersion | None:
    """The latest version of a prompt the user may choose (a project's instructions are chosen by
    starting the chat in the project); ChatError for anything else."""
    if prompt_id is None:
        return None
    prompt = prompts_to_choose(user).filter(pk=prompt_id).first() if 0 < prompt_id <= forms.MAX_ID else None
    if prompt is None:
        raise ChatError(NO_SUCH_PROMPT)
    return prompt.latest


def _turn_html(user_message: Message, reply: Message) -> str:
    selectors.with_actions(user_message, is_leaf=False)
    selectors.with_actions(reply, is_leaf=True)
    blocks = getattr(user_message, "block_list", None)  # as the send wrote them (turns._add_turn)
    turn = [(user_message, user_message.blocks.all() if blocks is None else blocks), (reply, [])]
    return render_to_string("conversations/_turn.html", {"turn": turn})
