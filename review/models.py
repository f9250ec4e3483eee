"""The audit trail of staff reading and searching conversations. Rows are only ever added."""

from django.conf import settings
from django.db import models


class TranscriptView(models.Model):
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.SET_NULL, null=True, related_name="reviews"
    )
    # Kept when the conversation is deleted, so the trail still says what was read.
    conversation_title = models.CharField(max_length=200)
    conversation_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="reviews_of_mine"
    )
    reason = models.CharField(max_length=500, blank=True)
    viewed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-viewed_at"]

    def __str__(self) -> str:
        return f"{self.staff} read “{self.conversation_title}” at {self.viewed_at:%Y-%m-%d %H:%M}"


class SearchAudit(models.Model):
    """One staff search of message text (/review/?q=): who, when, what, and what it listed.

    The conversations listed (at most the 200 the page shows) are kept as ids, and their owners as a
    relation: "Reviews of my chats" shows each user the searches that listed any of their
    conversations, still after a conversation is deleted, with one indexed join.
    """

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    query = models.CharField(max_length=200)
    match_count = models.PositiveIntegerField()  # every match, also past the listed ones
    conversation_ids = models.JSONField(default=list)
    listed_owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="searches_listing_mine", blank=True
    )
    searched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-searched_at"]

    def __str__(self) -> str:
        return f"{self.staff} searched “{self.query}” at {self.searched_at:%Y-%m-%d %H:%M}"
