"""CHAT_STORAGE_URL as a STORAGES entry (conversations/storage.py uses it as storages["chat"]).

- empty (the default): local disk under MEDIA_ROOT;
- `s3://bucket[/prefix][?endpoint_url=...&region_name=...&addressing_style=path]`: an
  S3-compatible bucket through django-storages. Credentials come the usual AWS ways (the
  AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables, a profile, an instance role).
"""

from urllib.parse import parse_qsl, urlsplit

S3_OPTIONS = {"endpoint_url", "region_name", "addressing_style", "signature_version"}


def chat_storage(url: str) -> dict:
    if not url:
        # MEDIA_ROOT read when first used, so a test's MEDIA_ROOT applies.
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"allow_overwrite": True},
        }
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"CHAT_STORAGE_URL must be empty or s3://bucket[/prefix]?..., not {url!r}")
    query = dict(parse_qsl(parts.query))
    unknown = set(query) - S3_OPTIONS
    if unknown:
        raise ValueError(f"CHAT_STORAGE_URL: unknown option(s) {', '.join(sorted(unknown))}")
    options = {
        "bucket_name": parts.netloc,
        "location": parts.path.strip("/"),
        "file_overwrite": True,  # keys are content-addressed
        "default_acl": None,  # private: only ever read through the app's views
        "querystring_auth": True,
        **query,
    }
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
