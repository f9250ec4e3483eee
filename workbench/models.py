"""A team prompt's test cases (an input, optionally with files), and runs of two sides (a version and
a model each) over them: each case's output per side with its usage, cost and timing, and a
grader's score."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from conversations.models import StoredFile


class TestCase(models.Model):
    """One input to run a prompt's versions on, with what a good answer says (optional)."""

    prompt = models.ForeignKey("teams.SystemPrompt", on_delete=models.CASCADE, related_name="test_cases")
    input = models.TextField()
    expected = models.TextField(blank=True)
    tags = models.CharField(max_length=200, blank=True)  # comma-separated, as typed
    # The Bad response it was made from, so that suggestion is not offered again.
    from_feedback = models.OneToOneField(
        "conversations.ReplyFeedback", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    __test__ = False  # not a pytest class

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"case {self.pk} of prompt {self.prompt_id}"

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]


class CaseFile(StoredFile):
    """A file of a case's input (an image, a PDF or a text file), checked as a chat's upload is
    (conversations/attachments.py), stored once per case and content (conversations/storage.py) and
    sent before the input's text, as a chat sends its attachments. Its stored file goes with it."""

    case = models.ForeignKey(TestCase, on_delete=models.CASCADE, related_name="files")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]  # the order they go in the request
        constraints = [models.UniqueConstraint(fields=["case", "sha256"], name="one_copy_per_case")]

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


class Run(models.Model):
    """Side A against side B over the prompt's cases, live (streamed requests) or as one Message
    Batch at half price. Worked on by one worker at a time: the one holding its lease."""

    class Mode(models.TextChoices):
        LIVE = "live"
        BATCH = "batch"

    class Status(models.TextChoices):
        RUNNING = "running"  # requests out (live), or the batch open
        GRADING = "grading"
        COMPLETE = "complete"
        CANCELLED = "cancelled"
        FAILED = "failed"

    OPEN = (Status.RUNNING, Status.GRADING)

    prompt = models.ForeignKey("teams.SystemPrompt", on_delete=models.CASCADE, related_name="runs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    version_a = models.ForeignKey("teams.PromptVersion", on_delete=models.PROTECT, related_name="+")
    model_a = models.CharField(max_length=100)
    version_b = models.ForeignKey("teams.PromptVersion", on_delete=models.PROTECT, related_name="+")
    model_b = models.CharField(max_length=100)
    mode = models.CharField(max_length=5, choices=Mode.choices, default=Mode.LIVE)
    max_tokens = models.PositiveIntegerField()
    rubric = models.TextField(blank=True)
    grader_model = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)  # why it failed (the API's message), shown on the page
    cancel_requested = models.BooleanField(default=False)
    # The Message Batch (batch mode): its id, processing status and request counts as last polled.
    batch_id = models.CharField(max_length=100, blank=True)
    batch_status = models.CharField(max_length=20, blank=True)
    batch_counts = models.JSONField(default=dict, blank=True)
    # The grader's Message Batch (a batch run with a rubric), made once the outputs are in.
    grader_batch_id = models.CharField(max_length=100, blank=True)
    grader_batch_status = models.CharField(max_length=20, blank=True)
    grader_batch_counts = models.JSONField(default=dict, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_interval = models.FloatField(default=1.0)  # seconds; doubles up to 30 while the batch is open
    # Which worker works on it, until when; another takes it over once that has passed (a restart).
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [models.CheckConstraint(condition=Q(poll_interval__lte=30), name="poll_at_most_30_s")]
        indexes = [models.Index(fields=["status"], name="workbench_run_status")]

    def __str__(self) -> str:
        return f"run {self.pk} of prompt {self.prompt_id}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    def side(self, name: str) -> tuple:
        """(version, model) of side "a" or "b"."""
        return (self.version_a, self.model_a) if name == "a" else (self.version_b, self.model_b)


class Result(models.Model):
    """One case's output on one side of a run, with what it cost. The case's input and expected
    output are copied in: a run is a record, and its cases may be edited or deleted later."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        ERRORED = "errored"
        EXPIRED = "expired"
        CANCELED = "canceled"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results")
    position = models.PositiveIntegerField()  # the case's place in the run, from 1
    side = models.CharField(max_length=1, choices=[("a", "A"), ("b", "B")])
    case = models.ForeignKey(TestCase, null=True, on_delete=models.SET_NULL, related_name="+")
    input = models.TextField()
    expected = models.TextField(blank=True)
    files = models.JSONField(default=list, blank=True)  # the case's files then: [{"id", "name"}]
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    output = models.TextField(blank=True)
    stop_reason = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    request_id = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)  # live runs only
    # How often its live request (and its grader's) went out: a restart sends one out once more.
    attempts = models.PositiveSmallIntegerField(default=0)
    grade_attempts = models.PositiveSmallIntegerField(default=0)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    score_reason = models.CharField(max_length=300, blank=True)
    grader_cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)

    class Meta:
        ordering = ["position", "side"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position", "side"], name="one_result_per_case_and_side")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} case {self.position}{self.side}"

    @property
    def custom_id(self) -> str:
        """Its request's name in a Message Batch: the case and the side."""
        return f"case-{self.position}-{self.side}"

    @property
    def grade_custom_id(self) -> str:
        """Its grader's request's name in the grader's Message Batch."""
        return f"grade-{self.position}-{self.side}"


class BlindVote(models.Model):
    """An editor's pick between a finished run's two outputs of one case, made without knowing which
    side was which: side "a", side "b" or a tie. One per case and editor; voting again changes it."""

    class Choice(models.TextChoices):
        A = "a"
        B = "b"
        TIE = "tie"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="blind_votes")
    position = models.PositiveIntegerField()  # the case's place in the run
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=3, choices=Choice.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position", "user"], name="one_blind_vote_per_case_user")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} case {self.position}: {self.choice}"
