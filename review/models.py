"""The audit trail of staff reading conversations. Rows are only ever added."""

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
