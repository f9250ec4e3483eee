"""What every page's template gets: the sidebar's list (every page has the sidebar), the Undo of
a delete that landed here, and whether sign-up is open."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from conversations.forms import parse_id
from conversations.library import organising, sidebar


def chat(request) -> dict:
    user = getattr(request, "user", None)
    context = {"allow_signup": settings.CHAT_ALLOW_SIGNUP}
    if user is None or not user.is_authenticated:
        return context
    # Lazy: pages without the sidebar (login, sign-up) never run its queries.
    context["sidebar_page"] = SimpleLazyObject(lambda: sidebar.page_for(user, zone=sidebar.zone_of(request)))
    context["current_id"] = sidebar.current_conversation_id(request)
    # After deleting the conversation on screen, the new chat it lands on offers the Undo.
    if (deleted := parse_id(request.GET.get("deleted", ""))) is not None:
        context["sidebar_undo"] = organising.deleted_conversation_for_user(user, deleted)
    if request.resolver_match and request.resolver_match.url_name == "conversation_search":
        context["sidebar_query"] = request.GET.get("q", "")
    return context
