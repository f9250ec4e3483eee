"""A person deletes their own account.

What goes: every conversation's text and files (scrubbed as retention does), uploads never sent,
personal projects and their knowledge files, personal prompts, team memberships, sign-in
identities, sessions, the budget, connector tokens, and anything kept remotely
(`lifecycle.user_remote_data_delete`).
What stays: the account row, anonymised (`deleted-<id>`, no email, no password, inactive), so the
reply rows that carry usage still have an owner and team totals stay right; the audit trail of
staff who read their chats.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q

from conversations.library.organising import attachments_remove_unreferenced, conversations_scrub
from conversations.models import Attachment, Budget, ConnectorToken, Conversation, Project
from conversations.projects.services import project_delete
from teams.models import Membership, SystemPrompt

from . import lifecycle
from .models import Identity, SignedInSession
from .retention import BATCH
from .signals import sessions_end


class DeletionRefused(Exception):
    """Shown to the person as it is."""


def sole_owner_of(user) -> list[str]:
    """Teams with other members where this user is the only owner: they must hand it over first."""
    teams = (
        Membership.objects.filter(user=user, role=Membership.Role.OWNER)
        .annotate(owners=Count("team__memberships", filter=Q(team__memberships__role="owner")))
        .annotate(members=Count("team__memberships"))
        .filter(owners=1, members__gt=1)
    )
    return sorted(teams.values_list("team__name", flat=True))


def account_delete(user) -> None:
    if teams := sole_owner_of(user):
        raise DeletionRefused(f"Make someone else an owner of {', '.join(teams)} first.")
    User = get_user_model()
    User.objects.filter(pk=user.pk).update(is_active=False)  # sockets close, replies stop
    sessions_end(user.pk)
    while ids := list(
        Conversation.objects.filter(owner=user, scrubbed_at__isnull=True).values_list("pk", flat=True)[:BATCH]
    ):
        conversations_scrub(ids, before_files_deleted=lifecycle.remote_data_delete)
    with transaction.atomic():
        unsent = set(Attachment.objects.filter(owner=user).values_list("pk", flat=True))
        attachments_remove_unreferenced(unsent, before_delete=lifecycle.remote_data_delete)
        for project in Project.objects.filter(owner=user):  # personal projects, with their files
            project_delete(project=project)
        personal = SystemPrompt.objects.filter(owner=user)
        Conversation.objects.filter(prompt_version__prompt__in=personal).update(prompt_version=None)
        personal.delete()
        Membership.objects.filter(user=user).delete()
        for model in (Identity, SignedInSession, Budget, ConnectorToken):
            model.objects.filter(user=user).delete()
        anonymous = f"deleted-{user.pk}"
        User.objects.filter(pk=user.pk).update(
            username=anonymous, email="", first_name="", last_name="", is_staff=False, is_superuser=False
        )
        user.refresh_from_db()
        user.set_unusable_password()
        user.save(update_fields=["password"])
    lifecycle.user_remote_data_delete(user)
