"""Where data kept outside this database is deleted along with ours."""

from memory.models import MemoryFile, MemorySetting


def remote_data_delete(attachments) -> None:
    """Called with the attachment rows (a queryset) about to be deleted by retention or account
    deletion, inside the deleting transaction. Their copies in the API's Files storage need nothing
    here: deleting an Attachment row queues its remote file (conversations/attachment_files.py),
    which each worker's sweep deletes."""
    return None


def user_remote_data_delete(user) -> None:
    """Called when a user deletes their account, after their conversations are scrubbed: their
    memory notes and memory switch go (the account row stays, anonymised, so nothing cascades)."""
    MemoryFile.objects.filter(owner=user).delete()
    MemorySetting.objects.filter(user=user).delete()
