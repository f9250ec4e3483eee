"""Leavers: when an account is deactivated (in the admin, by the provider's claims at sign-in, or
by code), its sessions end at once. Its websockets close and its running replies stop within
CHAT_ACCOUNT_CHECK_INTERVAL seconds (each worker's check in conversations/consumers.py). Its
conversations and usage stay for review.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .models import SignedInSession

log = logging.getLogger(__name__)
User = get_user_model()


@receiver(user_logged_in)
def remember_session(sender, request, user, **kwargs) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        SignedInSession.objects.get_or_create(session_key=key, defaults={"user": user})


@receiver(user_logged_out)
def forget_session(sender, request, user, **kwargs) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        SignedInSession.objects.filter(session_key=key).delete()


def forget_expired_sessions() -> int:
    """Rows of sessions that ended by themselves (expired and cleared): run daily by the purge."""
    return SignedInSession.objects.exclude(session_key__in=Session.objects.values("session_key")).delete()[0]


@receiver(pre_save, sender=User)
def note_deactivation(sender, instance, update_fields=None, **kwargs) -> None:
    if instance.pk is None or instance.is_active or (update_fields and "is_active" not in update_fields):
        return
    instance._being_deactivated = User.objects.filter(pk=instance.pk, is_active=True).exists()


@receiver(post_save, sender=User)
def end_sessions_of_deactivated(sender, instance, **kwargs) -> None:
    if getattr(instance, "_being_deactivated", False):
        instance._being_deactivated = False
        user_id = instance.pk
        transaction.on_commit(lambda: sessions_end(user_id))


def sessions_end(user_id: int) -> int:
    """End every session this user signed in with. Returns how many."""
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    keys = list(SignedInSession.objects.filter(user_id=user_id).values_list("session_key", flat=True))
    for key in keys:
        store(key).delete()
    SignedInSession.objects.filter(user_id=user_id).delete()
    log.info("ended %d session(s) of deactivated user %s", len(keys), user_id)
    return len(keys)
