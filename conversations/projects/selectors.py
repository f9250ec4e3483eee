"""Reads about projects, always scoped to the requesting user: someone who may not open a project
sees none of it (None, or an empty list, never a different error)."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.urls import Resolver404, resolve

from conversations import spending
from conversations.models import Conversation, Message, Project, ProjectFile
from teams.models import Membership


@dataclass(frozen=True)
class Access:
    project: Project
    can_edit: bool  # change its instructions and files
    can_delete: bool = False  # the person of a personal project, a team's owners


def projects_for_user(user) -> QuerySet[Project]:
    """The user's own projects and their teams', by name."""
    return (
        Project.objects.filter(Q(owner=user) | Q(team__memberships__user=user))
        .select_related("team")
        .distinct()
        .order_by("name", "pk")
    )


def project_access(user_id: int | None, project_id: int) -> Access | None:
    """What the user may do with the project, or None when they may not open it (two queries)."""
    if user_id is None:
        return None
    project = Project.objects.select_related("team", "instructions").filter(pk=project_id).first()
    if project is None:
        return None
    if project.owner_id is not None:
        return Access(project, True, True) if project.owner_id == user_id else None
    role = Membership.objects.filter(team_id=project.team_id, user_id=user_id).values_list("role", flat=True)
    role = role.first()
    if role is None:
        return None
    return Access(
        project, role in (Membership.Role.OWNER, Membership.Role.EDITOR), role == Membership.Role.OWNER
    )


def project_files(project: Project) -> list[ProjectFile]:
    return list(project.files.order_by("pk"))


def project_conversations(user, project: Project) -> QuerySet[Conversation]:
    """The user's own chats in the project (a teammate's chats stay theirs), newest first."""
    return Conversation.objects.listed().filter(owner=user, project=project).order_by("-updated_at")


def knowledge_gone(conversation: Conversation) -> int:
    """How many of the knowledge files the chat's latest reply was sent with are gone since (removed
    from the project, or the project deleted): its next request goes without them, and the page
    says so. A reply's documents are kept as their view's path (Message.cited_documents)."""
    latest = Message.objects.filter(conversation=conversation, role=Message.Role.ASSISTANT).order_by("-pk")
    documents = latest.values_list("cited_documents", flat=True).first() or []
    sent = set()
    for document in documents:
        try:
            match = resolve(document) if isinstance(document, str) and document.startswith("/") else None
        except Resolver404:
            match = None
        if match is not None and match.url_name == "project_file":
            sent.add(match.kwargs["file_id"])
    if not sent or conversation.project_id is None:
        return len(sent)
    return len(sent) - ProjectFile.objects.filter(project_id=conversation.project_id, pk__in=sent).count()


def project_spending(project: Project) -> dict:
    """Everyone's replies and overhead in the project's chats: tokens, cost, savings, hit rate."""
    return spending.totals(spending.spent().of_project(project.pk))
