"""Conversations, their messages, and each message's ordered content blocks.

A ContentBlock's `payload` is the block exactly as the Messages API sent or received it
(text, thinking with its signature, tool_use, tool_result, ...), so history replays verbatim.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone


class ConversationQuerySet(models.QuerySet):
    def visible(self) -> "ConversationQuerySet":
        """Not deleted: a deleted conversation is hidden everywhere until it is purged (organising.py).
        Not scrubbed by retention or account deletion either (only its usage rows remain)."""
        return self.filter(deleted_at__isnull=True, scrubbed_at__isnull=True)

    def listed(self) -> "ConversationQuerySet":
        """Visible, and not a temporary chat: what the sidebar, search, exports and sharing offer."""
        return self.visible().filter(temporary_until__isnull=True)


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, default="New chat")
    model = models.CharField(max_length=100)
    # Per-conversation request parameters, validated by params.ChatParams against the model.
    params = models.JSONField(default=dict, blank=True)
    # The exact system prompt version it started with; changed only when the user switches.
    prompt_version = models.ForeignKey(
        "teams.PromptVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="conversations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The sidebar: pinned ones first (newest pin on top); archived ones only in search and the
    # archive; deleted ones nowhere, and purged once the Undo has expired (organising.py).
    pinned_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Set when retention or the owner's account deletion removed its text and files: the row and
    # its replies' usage rows stay so usage totals and budgets still add up (organising.py).
    scrubbed_at = models.DateTimeField(null=True, blank=True)
    # Set for a temporary chat (library/temporary.py), to when it is scrubbed at the latest (a day
    # after it began); it is never listed, searched, exported or shared, and is scrubbed sooner when
    # its owner leaves it (`left_at`, set as its last tab closes). Nullable: SQLite adds these in place.
    temporary_until = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    # Code execution's sandbox (sandbox.py): later requests reuse it until it expires. Null
    # when there is none: SQLite then adds the column without rebuilding the table (and its triggers).
    container_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    container_expires_at = models.DateTimeField(null=True, blank=True)
    # The project it was started in (projects/): its instructions are `prompt_version`, its
    # knowledge goes with every request. Nullable: SQLite adds it in place.
    project = models.ForeignKey(
        "Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )

    objects = ConversationQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-updated_at"]),
            # The sidebar's pages (sidebar.py), newest first.
            models.Index(
                fields=["owner", "-updated_at", "-id"],
                condition=Q(deleted_at__isnull=True, archived_at__isnull=True, pinned_at__isnull=True),
                name="conversation_sidebar",
            ),
            models.Index(
                fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="conversation_deleted"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def temporary(self) -> bool:
        return self.temporary_until is not None


class MessageQuerySet(models.QuerySet):
    def spending(self) -> "MessageQuerySet":
        """Replies whose tokens were spent here: what usage, budgets and costs add up. Not a copy
        (imported, or continued from a share), whose figures are the original chat's."""
        return self.filter(role=Message.Role.ASSISTANT, copied_at__isnull=True)


class RequestUsage(models.Model):
    """What requests to the Messages API used and cost, as the API reported it: the columns a reply
    and an ApiCall share, so one set of sums reads both (spending.py)."""

    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    cache_creation_1h_input_tokens = models.PositiveIntegerField(default=0)  # part of the writes
    # The usage's server tool counts: searches are billed per 1,000 (pricing.py); fetches only as tokens.
    web_search_requests = models.PositiveIntegerField(default=0)
    web_fetch_requests = models.PositiveIntegerField(default=0)
    # US dollars at the prices in force when the request ended; null when the model has no price.
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    cache_savings = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)

    class Meta:
        abstract = True


class Message(RequestUsage):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        STREAMING = "streaming"
        # How it ended:
        COMPLETE = "complete"
        STOPPED = "stopped"
        ERROR = "error"
        INTERRUPTED = "interrupted"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    model = models.CharField(max_length=100, blank=True)
    stop_reason = models.CharField(max_length=40, blank=True)
    stop_sequence = models.CharField(max_length=200, blank=True)
    # Its size in tokens, counted once (count_tokens) when the context budget needs it.
    token_count = models.PositiveIntegerField(null=True, blank=True)
    # How many of the oldest messages were left out of this reply's request to fit the context.
    trimmed = models.PositiveIntegerField(default=0)
    # The message this one follows (null for a conversation's first message). Messages form a
    # tree: an edited message or a regenerated reply is a new sibling, a version of its turn.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    # At each message the page follows the child chosen last (versions.py); a new version is chosen.
    chosen_at = models.DateTimeField(default=dj_timezone.now)
    request_id = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    # The attachment ids of the documents its request sent, in order: a citation's document_index.
    cited_documents = models.JSONField(default=list, blank=True)
    # A reply's options when it was made (or last ran again): its model and the conversation's
    # parameters then (params.reply_options). Null for a user's message and for replies made before
    # options were kept (only their model is known). Nullable: SQLite adds it without a rebuild.
    options = models.JSONField(null=True, blank=True)
    # Which process runs a `streaming` reply, and when it last said it was alive.
    worker = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # When it was imported from an export or copied from a team share (null: made here). Its tokens
    # and cost were spent before, elsewhere or by someone else, so usage totals leave it out; it
    # keeps them for the export. Nullable: adding it leaves SQLite's search triggers in place.
    copied_at = models.DateTimeField(null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    # Set when a page is built (selectors.py): where it sits among the versions of its turn (None
    # when it has no siblings), whether it is the last message of its branch, and so what it offers
    # (versions.Actions: Edit, Retry, Continue, Regenerate; None: nothing).
    versions = None
    is_leaf = False
    actions = None

    class Meta:
        ordering = ["id"]
        constraints = [
            # One reply streams at a time per conversation, even across workers.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(status="streaming"),
                name="one_streaming_reply_per_conversation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} message {self.pk}"

    @property
    def is_streaming(self) -> bool:
        return self.status == self.Status.STREAMING


class ApiCall(RequestUsage):
    """A request to the Messages API that is not a reply: overhead, such as a conversation's
    generated title (titles.py); graders and batches are to be recorded the same way. A reply keeps
    its usage on its own row; these rows hold every other request, so that the usage pages and the
    budgets count them all (spending.py).

    It names whose budgets paid (the user, and the team whose prompt the conversation uses), so it
    needs no conversation to be counted: when its conversation is purged it stays, with its money,
    in the usage history and in the month's budget sums.
    """

    class Kind(models.TextChoices):
        TITLE = "title"
        WORKBENCH = "workbench"  # a test case run on a prompt version (workbench/), live or batched
        GRADER = "grader"  # a workbench output scored against its rubric
        SUMMARY = "summary"  # a full chat summarized to start a new one from (reply/handover.py)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_calls")
    team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="api_calls"
    )
    # The conversation it is overhead of; null when it belongs to none (or that one was purged).
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="api_calls"
    )
    model = models.CharField(max_length=100)
    request_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} call {self.pk}"


class ContentBlock(models.Model):
    class Type(models.TextChoices):
        # As the API sends them:
        TEXT = "text"
        THINKING = "thinking"
        REDACTED_THINKING = "redacted_thinking"
        TOOL_USE = "tool_use"
        SERVER_TOOL_USE = "server_tool_use"  # run by the API: web.py, sandbox.py
        WEB_SEARCH_TOOL_RESULT = "web_search_tool_result"
        WEB_FETCH_TOOL_RESULT = "web_fetch_tool_result"
        CODE_EXECUTION_TOOL_RESULT = "code_execution_tool_result"
        BASH_CODE_EXECUTION_TOOL_RESULT = "bash_code_execution_tool_result"
        TEXT_EDITOR_CODE_EXECUTION_TOOL_RESULT = "text_editor_code_execution_tool_result"
        # Made here: a tool's answer, and uploads (they reference an Attachment).
        TOOL_RESULT = "tool_result"
        IMAGE = "image"
        DOCUMENT = "document"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="blocks")
    index = models.PositiveIntegerField()
    type = models.CharField(max_length=48, choices=Type.choices)
    payload = models.JSONField()
    # Sanitized HTML for text blocks, rendered once when the block is complete.
    rendered = models.TextField(blank=True)
    # The rendering.RENDERER_VERSION that made `rendered`: `manage.py rerender` renders again what
    # an older renderer made. Null: stored before versions were kept, by version 1. Nullable, so
    # SQLite adds the column without rebuilding the table (and its search triggers).
    rendered_version = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["message_id", "index"]
        constraints = [models.UniqueConstraint(fields=["message", "index"], name="unique_block_index")]

    def __str__(self) -> str:
        return f"{self.type} block {self.index} of message {self.message_id}"

    # While a text block streams: its end not rendered yet (`rendered` holds the blocks before it).
    tail: str | None = None
    # A block still streaming, rendered on the event loop: nothing may be read from the database.
    streaming: bool = False

    @property
    def text(self) -> str:
        return self.payload.get("text") or self.payload.get("thinking") or ""


class Share(models.Model):
    """A conversation shared by its owner with one of their teams: the members read a snapshot
    taken at share time (the export format, exporting.py), never the live conversation.

    Rows are kept as the audit trail: revoking sets `revoked_at`; purging the conversation revokes
    its shares and drops their snapshots, keeping who shared what title with which team, and when.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.SET_NULL, null=True, related_name="shares"
    )
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="shares")
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares_made"
    )
    title = models.CharField(max_length=200)  # the snapshot's, kept for the audit trail
    snapshot = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Sharing again with the same team replaces the snapshot (sharing.py).
            models.UniqueConstraint(
                fields=["conversation", "team"],
                condition=Q(revoked_at__isnull=True),
                name="one_live_share_per_team",
            )
        ]

    def __str__(self) -> str:
        return f"“{self.title}” shared with {self.team}"


class ModelPrice(models.Model):
    """US dollars per million tokens. Admins edit these; a model id matches its longest prefix here."""

    model = models.CharField(max_length=100, unique=True, help_text="A model id or id prefix")
    input = models.DecimalField(max_digits=10, decimal_places=4)
    output = models.DecimalField(max_digits=10, decimal_places=4)
    cache_write_5m = models.DecimalField(max_digits=10, decimal_places=4)
    cache_write_1h = models.DecimalField(max_digits=10, decimal_places=4)
    cache_read = models.DecimalField(max_digits=10, decimal_places=4)
    web_search = models.DecimalField(
        max_digits=10, decimal_places=4, default=10, help_text="US dollars per 1,000 web searches"
    )
    # A request over 200k input tokens with the 1M context window (pricing.py): these replace input
    # and output, and the cache rates keep their ratio to input. Empty: the model has no such rates.
    long_context_input = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True, help_text="Input over 200k tokens"
    )
    long_context_output = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True, help_text="Output when the input is over 200k"
    )

    def __str__(self) -> str:
        return self.model


class StoredFile(models.Model):
    """A file checked as a chat's upload is (attachments.py) and kept in storage (storage.py) under a
    generated key: a chat's attachment, a project's knowledge file, a workbench case's file."""

    name = models.CharField(max_length=255)  # as uploaded; only ever shown escaped
    media_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=200)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


class Attachment(StoredFile):
    """An uploaded image or PDF, re-encoded and stored once per owner and content (sha256).

    Served only through an ownership-checked view; the file name on disk is generated.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments")
    # Its id in the endpoint's Files API, once uploaded there (attachment_files.py); empty before.
    file_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "sha256"], name="one_copy_per_owner")]


class RemoteFileDeletion(models.Model):
    """A file in the endpoint's Files API whose attachment is gone: deleted there by the sweep
    (attachment_files.py), retried until the API confirms it (or says it is already gone)."""

    file_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.file_id


class ProducedFile(models.Model):
    """A file code execution made in a conversation (sandbox.py). The bytes stay in the
    endpoint's Files API; its owner downloads them through the ownership-checked view, and the
    file there is deleted with this row (its conversation purged, its owner deleted)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="produced_files")
    file_id = models.CharField(max_length=200)
    filename = models.CharField(max_length=255)
    mime_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "file_id"], name="unique_produced_file")
        ]

    def __str__(self) -> str:
        return self.filename


class Budget(models.Model):
    """A monthly spending limit for one user or one team (US dollars, calendar month in UTC)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    team = models.OneToOneField(
        "teams.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    monthly_limit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="US dollars per month",
    )
    # This month's spending so far, kept up to date by each reply's final write (budgets.py).
    month_start = models.DateField(null=True, blank=True, editable=False)
    month_spent = models.DecimalField(max_digits=14, decimal_places=8, default=0, editable=False)
    month_biggest = models.DecimalField(max_digits=14, decimal_places=8, default=0, editable=False)

    class Meta:
        db_table = "usage_budget"  # created by the usage app, before budgets moved beside the send
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True, team__isnull=False) | Q(user__isnull=False, team__isnull=True),
                name="budget_for_user_or_team",
            ),
            models.CheckConstraint(condition=Q(monthly_limit__gte=0), name="budget_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.team}: ${self.monthly_limit}/month"


class TeamPolicy(models.Model):
    """What a team's owners decided for conversations on the team's prompts (web.py)."""

    team = models.OneToOneField("teams.Team", on_delete=models.CASCADE, related_name="chat_policy")
    web_access = models.BooleanField(default=True, help_text="Web search and fetch may be turned on")

    def __str__(self) -> str:
        return f"{self.team}: web access {'on' if self.web_access else 'off'}"


class ReplyFeedback(models.Model):
    """A reply's rating (Good response or Bad response) and an optional comment, by the owner of its
    conversation: one per reply (services/feedback.py). The owner sees it on the reply; the editors of
    the prompt version the chat was pinned to when it was given see the rating, the comment, the
    version and when, never the chat or who gave it (selectors.feedback_for_prompt)."""

    class Rating(models.TextChoices):
        GOOD = "good", "Good response"
        BAD = "bad", "Bad response"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rating = models.CharField(max_length=4, choices=Rating.choices)
    comment = models.TextField(blank=True)
    prompt_version = models.ForeignKey(
        "teams.PromptVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(rating__in=["good", "bad"]), name="feedback_rating_known")
        ]
        indexes = [models.Index(fields=["prompt_version", "-updated_at"], name="feedback_by_prompt_version")]

    def __str__(self) -> str:
        return f"{self.rating} for message {self.message_id}"


class ToolDefaults(models.Model):
    """The composer switches (params.ToolChoice) a user last sent with: their next new chat starts
    with them. Written only when a send changes them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="tool_defaults"
    )
    switches = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"tool defaults of user {self.user_id}"


class Project(models.Model):
    """A team's (or one person's) instructions and knowledge files, sent with every chat started in
    it (projects/). The instructions are a SystemPrompt the project owns, so they are versioned
    and diffed like a team prompt, and each chat pins its version."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="projects"
    )
    team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="projects"
    )
    instructions = models.OneToOneField(
        "teams.SystemPrompt", on_delete=models.PROTECT, related_name="project"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=True, team__isnull=False)
                | Q(owner__isnull=False, team__isnull=True),
                name="project_has_one_owner",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ProjectFile(StoredFile):
    """A knowledge file of a project: checked like a chat's upload (attachments.py), stored once per
    project and content, sent by Files API file_id (attachment_files.py) and counted once."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="files")
    file_id = models.CharField(max_length=200, blank=True)  # in the Files API, once uploaded
    token_count = models.PositiveIntegerField(null=True, blank=True)  # count_tokens, once
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]  # the knowledge's order in every request: the cached prefix's bytes
        constraints = [models.UniqueConstraint(fields=["project", "sha256"], name="one_copy_per_project")]


class ProjectPassage(models.Model):
    """About 1,000 characters of a knowledge file's text (a PDF's within one page), stored when the
    file is added: what retrieval finds when the knowledge is too big to send whole
    (projects/retrieval.py). Indexed by the database's full text search (migration 0027)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    file = models.ForeignKey(ProjectFile, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField()  # its order in the file
    page = models.PositiveIntegerField(null=True, blank=True)  # a PDF's page, from 1
    text = models.TextField()

    class Meta:
        ordering = ["file", "position"]
        constraints = [models.UniqueConstraint(fields=["file", "position"], name="one_passage_per_position")]

    def __str__(self) -> str:
        return f"{self.file_id}:{self.position}"


# --- Connectors and skills (connectors/, skills/): what a team's chats may use beyond chat ---------


class Connector(models.Model):
    """A remote MCP server staff registered. The API connects to it (the MCP connector); this app
    runs no MCP client. Offered to teams, whose owners choose which of its tools their chats use."""

    class Auth(models.TextChoices):
        NONE = "none", "No token"
        SHARED = "shared", "One shared token"
        PERSONAL = "personal", "Each person's own token"

    name = models.SlugField(max_length=64, unique=True)  # the API's server name
    title = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    auth = models.CharField(max_length=10, choices=Auth.choices, default=Auth.NONE)
    shared_token = models.TextField(blank=True)  # encrypted (connectors/secrets.py), never shown again
    tools = models.JSONField(default=list, blank=True)  # [{"name", "description"}], as its server lists them
    teams = models.ManyToManyField("teams.Team", blank=True, related_name="connectors_offered")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class TeamConnector(models.Model):
    """A team owner's choice: the connector in the team's chats and projects, with these tools;
    `writes` (some of them) change things, so each call waits for the person's approval."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="team_connectors")
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="team_choices")
    tools = models.JSONField(default=list, blank=True)
    writes = models.JSONField(default=list, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "connector"], name="one_choice_per_team")]

    def __str__(self) -> str:
        return f"{self.connector} in {self.team}"


class ConnectorToken(models.Model):
    """A person's own token for a connector: encrypted at rest, never shown again, never exported,
    deleted with the account."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connector_tokens"
    )
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="tokens")
    token = models.TextField()  # encrypted
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "connector"], name="one_token_per_connector")]

    def __str__(self) -> str:
        return f"{self.connector} token of user {self.user_id}"


class TeamSkill(models.Model):
    """A team's own skill (a folder with a SKILL.md), uploaded to the API's skills: versioned like a
    team prompt, each version saying who changed what."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="skills")
    title = models.CharField(max_length=100)
    skill_id = models.CharField(max_length=100, unique=True)  # the API's
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class TeamSkillVersion(models.Model):
    skill = models.ForeignKey(TeamSkill, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=50)  # the API's
    files = models.JSONField(default=list, blank=True)  # [{"path", "size"}] as uploaded
    note = models.CharField(max_length=200, blank=True)  # what changed, in the author's words
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.skill} {self.version}"


class ToolApproval(models.Model):
    """A person's answer to a connector tool call that writes: the reply waits for it
    (claude/mcp.py). `approved` is None while it waits."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="approvals")
    call_id = models.CharField(max_length=100)
    approved = models.BooleanField(null=True)
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "call_id"], name="one_answer_per_call")]

    def __str__(self) -> str:
        return f"approval {self.call_id}: {self.approved}"
