"""Storing an upload: checked, re-encoded and kept once per owner and content."""

import hashlib

from django.db import IntegrityError, transaction

from conversations import attachments as files
from conversations import storage
from conversations.models import Attachment


def attachment_store(*, user, name: str, data: bytes) -> Attachment:
    """Check, re-encode and store an upload; the same content from the same user is stored once."""
    processed = files.process(name, data)
    digest = hashlib.sha256(processed.data).hexdigest()
    existing = Attachment.objects.filter(owner=user, sha256=digest).first()
    if existing is not None:
        return existing
    extension = processed.media_type.split("/")[1]
    key = f"attachments/{user.pk}/{digest[:2]}/{digest}.{extension}"
    storage.save(key, processed.data)
    try:
        with transaction.atomic():
            return Attachment.objects.create(owner=user, **files.stored_fields(name, processed, digest, key))
    except IntegrityError:  # the same file uploaded twice at once
        return Attachment.objects.get(owner=user, sha256=digest)
