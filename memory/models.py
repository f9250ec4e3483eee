"""Each person's memory: the files Claude's `memory` tool keeps under /memories, one row per file.

Directories are not stored: a directory exists while a file's path runs through it (/memories
itself always exists). Nothing here knows about conversations; the conversations app calls in.
"""

from django.conf import settings
from django.db import models


class MemoryFile(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memory_files")
    path = models.CharField(max_length=255)  # "/memories/…", checked by store.clean_path
    content = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["owner", "path"], name="one_memory_file_per_path")]

    def __str__(self) -> str:
        return self.path


class MemorySetting(models.Model):
    """Whether the memory tool is offered in this person's chats (off until they turn it on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memory_setting"
    )
    enabled = models.BooleanField(default=False)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user}: memory {'on' if self.enabled else 'off'}"
