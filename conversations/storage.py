"""Where stored files live: attachments and projects' knowledge files, by their `storage_key`.

Everything reads and writes them here, through Django's `storages["chat"]`: local disk under
MEDIA_ROOT by default, or an S3-compatible bucket when CHAT_STORAGE_URL says so
(chatsite/storage_url.py), so any worker of several machines finds every file. The rest of the
code never knows which. Keys are content-addressed (the sha256 is in them), so writing a key again
writes the same bytes. Files are served only through the ownership-checked views (serving.py).
"""

import logging
from typing import IO

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

log = logging.getLogger(__name__)


def backend() -> Storage:
    return storages["chat"]


def save(key: str, data: bytes) -> None:
    """Store these bytes under this key (overwriting: the same key always holds the same bytes)."""
    stored = backend().save(key, ContentFile(data))
    if stored != key:  # a backend that renamed it would lose the file
        raise RuntimeError(f"storage saved {key} as {stored}")


def read(key: str) -> bytes:
    with backend().open(key, "rb") as file:
        return file.read()


def open_stream(key: str) -> IO[bytes]:
    """A file object to read from the start, for a response to stream. From a bucket it is the
    object's body as it arrives, never copied to this worker's disk first."""
    storage = backend()
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:  # S3Storage: its own open() downloads the whole object first
        return bucket.Object(storage._normalize_name(key)).get()["Body"]
    return storage.open(key, "rb")


def exists(key: str) -> bool:
    return backend().exists(key)


def delete(key: str) -> None:
    """Remove the file; nothing if it is already gone. Runs once a delete has committed, so a failure
    (the bucket unreachable) is logged and leaves the file behind rather than failing the request."""
    try:
        backend().delete(key)
    except Exception:
        log.exception("deleting stored file %s failed", key)
