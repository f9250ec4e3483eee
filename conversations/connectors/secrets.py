"""Connector tokens at rest: encrypted with Fernet under CHAT_SECRETS_KEY (README "Connectors").

Any string is a key: its SHA-256 digest is the Fernet key. Unset, the key is derived from
SECRET_KEY with a context string of its own, so it never equals another key made from SECRET_KEY.
A token stored under another key no longer decrypts: callers treat it as missing (`readable`).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

# Mixed into SECRET_KEY when CHAT_SECRETS_KEY is unset; changing it makes every token unreadable.
CONTEXT = "chat connector tokens v1\x00"


class Unreadable(ValueError):
    """The stored text does not decrypt under the current key (it changed, or the text is not ours)."""


def _fernet() -> Fernet:
    secret = settings.CHAT_SECRETS_KEY or CONTEXT + settings.SECRET_KEY
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode("ascii")


def decrypt(stored: str) -> str:
    """The plain text of `stored`; Unreadable when the key changed since it was encrypted."""
    try:
        return _fernet().decrypt(stored.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise Unreadable("The token does not decrypt under the current key.") from exc


def readable(stored: str) -> str | None:
    """The plain text of `stored`, or None when nothing is stored or it no longer decrypts."""
    if not stored:
        return None
    try:
        return decrypt(stored)
    except Unreadable:
        return None
