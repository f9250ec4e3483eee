"""Per-conversation request parameters: validated on the server against the model's capabilities,
so an invalid combination is a form error and never an API 400; and the options each reply keeps,
the ones it was generated with."""

from typing import Annotated, Literal, get_args
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from conversations.claude.capabilities import Capabilities

ZONES = available_timezones() | {"UTC"}


Effort = Literal["low", "medium", "high", "max"]
EFFORTS = get_args(Effort)
MAX_CHOSEN = 20  # connectors or skills one chat may have on
Chosen = list[Annotated[str, StringConstraints(min_length=1, max_length=120)]]


class ChatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(default=None, ge=1)
    thinking: bool = False
    effort: Effort | None = None
    stop_sequences: list[str] = Field(default_factory=list, max_length=4)
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1, le=500)
    tools: bool = True
    web: bool = False  # web search and fetch (web.py); off until the user turns it on
    code: bool = False  # code execution in Anthropic's sandbox (sandbox.py); off until turned on
    context_1m: bool = False  # the 1M-token window (a beta, for Sonnet 4 and 4.5); long-context rates
    connectors: Chosen = Field(default_factory=list, max_length=MAX_CHOSEN)  # their names (mcp.py)
    skills: Chosen = Field(default_factory=list, max_length=MAX_CHOSEN)  # their keys (skills/)
    timezone: str = "UTC"  # the user's, from the browser; used by the date-and-time tool

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in ZONES:
            raise ValueError("unknown time zone")
        return value

    @field_validator("stop_sequences")
    @classmethod
    def _sequences(cls, value: list[str]) -> list[str]:
        # No NUL: the parameters are stored as JSON, and PostgreSQL cannot store a NUL in text.
        if any(not s.strip() or len(s) > 100 or "\x00" in s for s in value):
            raise ValueError("each stop sequence must be 1 to 100 characters, not only spaces, no NUL")
        return value


class ToolChoice(BaseModel):
    """The composer's switches: Web search, Thinking (with its effort) and Code execution. Sent with
    a message, they apply from that message on; the user's last choice starts their next new chat.
    The rarely changed parameters stay in the Settings popover."""

    model_config = ConfigDict(extra="forbid")

    web: bool = False
    thinking: bool = False
    effort: Effort | None = None
    code: bool = False
    connectors: Chosen = Field(default_factory=list, max_length=MAX_CHOSEN)
    skills: Chosen = Field(default_factory=list, max_length=MAX_CHOSEN)

    def offers_needed(self) -> list[str]:
        """What the chat must offer for this choice: each switch on, each connector and skill."""
        flags = [name for name in ("web", "thinking", "effort", "code") if getattr(self, name)]
        return flags + [f"connector:{n}" for n in self.connectors] + [f"skill:{k}" for k in self.skills]

    def switched_on(self) -> dict:
        return self.model_dump(exclude_defaults=True)


SWITCHES = tuple(ToolChoice.model_fields)
SWITCH_NAMES = {"web": "Web search", "thinking": "Thinking", "effort": "Effort", "code": "Code execution"}


def switch_name(offer: str) -> str:
    """An offer (a switch, "connector:<name>" or "skill:<key>") in words for an error."""
    kind, _, item = offer.partition(":")
    return f"The {kind} {item}" if item else SWITCH_NAMES[offer]


def switches_taken(caps: Capabilities) -> frozenset[str]:
    """The composer switches a model takes (the instance or a team may offer fewer: sending.py)."""
    taken = {"web": caps.web, "thinking": caps.adaptive_thinking, "effort": caps.effort, "code": caps.code}
    return frozenset(name for name, on in taken.items() if on)


def problems(params: ChatParams, caps: Capabilities) -> list[str]:
    """What this model will not accept, in words for the settings form."""
    found = []
    if params.max_tokens is not None and params.max_tokens > caps.max_output:
        found.append(f"Max tokens can be at most {caps.max_output:,} for this model.")
    if params.thinking and not caps.adaptive_thinking:
        found.append("This model does not support adaptive thinking.")
    if params.effort and not caps.effort:
        found.append("This model does not take an effort level.")
    if params.web and not caps.web:
        found.append("This model does not offer web search.")
    if params.code and not caps.code:
        found.append("This model does not offer code execution.")
    if params.context_1m and not caps.context_1m:
        found.append("This model has no 1M context option.")
    sampling = [name for name in ("temperature", "top_p", "top_k") if getattr(params, name) is not None]
    if sampling and not caps.sampling:
        found.append(f"This model does not accept {', '.join(sampling)}.")
    elif sampling and params.thinking:
        found.append("Temperature, top_p and top_k cannot be combined with thinking.")
    elif params.temperature is not None and params.top_p is not None:
        found.append("Set temperature or top_p, not both.")
    return found


def parse(data: dict, caps: Capabilities) -> tuple[ChatParams | None, list[str]]:
    try:
        params = ChatParams.model_validate(data)
    except ValidationError as exc:
        return None, [f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()]
    errors = problems(params, caps)
    return (None, errors) if errors else (params, [])


def stored(raw: dict) -> ChatParams:
    """The conversation's saved parameters (defaults for anything missing or no longer valid)."""
    try:
        return ChatParams.model_validate(raw or {})
    except ValidationError:
        return ChatParams()


class ReplyOptions(BaseModel):
    """What a reply was generated with (Message.options): its model and the conversation's
    parameters at the time. Also what an import accepts, bounded; keys it does not know are dropped."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(max_length=100)
    thinking: bool = False
    effort: Effort | None = None
    tools: bool = True
    web: bool = False
    code: bool = False
    context_1m: bool = False
    connectors: Chosen = Field(default_factory=list, max_length=MAX_CHOSEN)
    skills: Chosen = Field(default_factory=list, max_length=MAX_CHOSEN)
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1, le=500)
    max_tokens: int | None = Field(default=None, ge=1, le=10_000_000)

    def stored(self) -> dict:
        """As Message.options keeps it: the switches always (the 1M window, connectors and skills
        only when on), the numbers and effort when set."""
        kept = self.model_dump(exclude_none=True)
        for name in ("context_1m", "connectors", "skills"):
            if not kept.get(name):
                kept.pop(name, None)
        return kept


def reply_options(model: str, chosen: ChatParams) -> dict:
    """The options a reply records when it is made (or runs again): `model` and `chosen`'s."""
    fields = set(ReplyOptions.model_fields) - {"model"}
    return ReplyOptions(model=model, **chosen.model_dump(include=fields)).stored()


def described(options: dict | None) -> str:
    """A reply's options in words, those that differ from a plain reply ("thinking on · effort
    high · web search"); "" for none. The model is left out: the usage badge names it already."""
    if not options:
        return ""
    parts = [
        "thinking on" if options.get("thinking") else "",
        f"effort {options['effort']}" if options.get("effort") else "",
        "web search" if options.get("web") else "",
        "code execution" if options.get("code") else "",
        "1M context" if options.get("context_1m") else "",
        f"connectors {', '.join(options['connectors'])}" if options.get("connectors") else "",
        f"skills {', '.join(map(_skill_label, options['skills']))}" if options.get("skills") else "",
        "tools off" if options.get("tools") is False else "",
    ]
    for name, label in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k")):
        if options.get(name) is not None:
            parts.append(f"{label} {options[name]:g}")
    if options.get("max_tokens"):
        parts.append(f"max tokens {options['max_tokens']:,}")
    return " · ".join(part for part in parts if part)


def _skill_label(key: str) -> str:
    """Anthropic's skills by name (pptx); a team's own by kind: its id says nothing to a reader."""
    kind, _, skill_id = key.partition(":")
    return skill_id if kind == "anthropic" else "a team skill"
