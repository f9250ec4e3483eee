"""Conversations, their messages, and each message's ordered content blocks.

A ContentBlock's `payload` is the block exactly as the Messages API sent or received it
(text, thinking with its signature, tool_use, tool_result, ...), so history replays verbatim.
"""

from django.conf import settings
from django.db import models


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

    class Meta:
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        STREAMING = "streaming"
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
    # Replaced by a regenerated reply or an edited message: still shown, never sent again.
    superseded = models.BooleanField(default=False)
    request_id = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    cache_creation_1h_input_tokens = models.PositiveIntegerField(default=0)  # part of the writes
    # US dollars at the prices in force when the reply ended; null when the model has no price.
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    cache_savings = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    # Which process runs a `streaming` reply, and when it last said it was alive.
    worker = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Set on the latest question and reply when a page is built (they can be edited/regenerated).
    is_latest = False

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


class ContentBlock(models.Model):
    class Type(models.TextChoices):
        TEXT = "text"
        THINKING = "thinking"
        REDACTED_THINKING = "redacted_thinking"
        TOOL_USE = "tool_use"
        TOOL_RESULT = "tool_result"
        IMAGE = "image"
        DOCUMENT = "document"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="blocks")
    index = models.PositiveIntegerField()
    type = models.CharField(max_length=24, choices=Type.choices)
    payload = models.JSONField()
    # Sanitized HTML for text blocks, rendered once when the block is complete.
    rendered = models.TextField(blank=True)

    class Meta:
        ordering = ["message_id", "index"]
        constraints = [models.UniqueConstraint(fields=["message", "index"], name="unique_block_index")]

    def __str__(self) -> str:
        return f"{self.type} block {self.index} of message {self.message_id}"

    @property
    def text(self) -> str:
        return self.payload.get("text") or self.payload.get("thinking") or ""


class ModelPrice(models.Model):
    """US dollars per million tokens. Admins edit these; a model id matches its longest prefix here."""

    model = models.CharField(max_length=100, unique=True, help_text="A model id or id prefix")
    input = models.DecimalField(max_digits=10, decimal_places=4)
    output = models.DecimalField(max_digits=10, decimal_places=4)
    cache_write_5m = models.DecimalField(max_digits=10, decimal_places=4)
    cache_write_1h = models.DecimalField(max_digits=10, decimal_places=4)
    cache_read = models.DecimalField(max_digits=10, decimal_places=4)

    def __str__(self) -> str:
        return self.model


class Attachment(models.Model):
    """An uploaded image or PDF, re-encoded and stored once per owner and content (sha256).

    Served only through an ownership-checked view; the file name on disk is generated.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments")
    name = models.CharField(max_length=255)  # as uploaded; only ever shown escaped
    media_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "sha256"], name="one_copy_per_owner")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")
