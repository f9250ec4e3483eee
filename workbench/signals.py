"""A case's file leaves our storage once its row's delete commits, by whatever path it goes (the
file removed, its case deleted, its prompt or team deleted)."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from conversations import storage

from .models import CaseFile


@receiver(post_delete, sender=CaseFile, dispatch_uid="workbench_case_file_stored")
def _case_file_deleted(sender, instance: CaseFile, **kwargs) -> None:
    key = instance.storage_key
    transaction.on_commit(lambda: storage.delete(key))
