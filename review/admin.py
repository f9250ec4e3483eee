from django.contrib import admin

from conversations.models import Share

from .models import SearchAudit, TranscriptView


class AuditLogAdmin(admin.ModelAdmin):
    """An audit log: superusers read it; nobody adds, edits or deletes it from the UI."""

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TranscriptView)
class TranscriptViewAdmin(AuditLogAdmin):
    list_display = ["viewed_at", "staff", "conversation_title", "conversation_owner", "reason"]
    list_filter = ["staff"]
    search_fields = ["conversation_title", "reason"]


@admin.register(SearchAudit)
class SearchAuditAdmin(AuditLogAdmin):
    list_display = ["searched_at", "staff", "query", "match_count"]
    list_filter = ["staff"]
    search_fields = ["query"]


@admin.register(Share)
class ShareAdmin(AuditLogAdmin):
    """Who shared which conversation with which team, and when it was revoked: part of the trail."""

    list_display = ["created_at", "shared_by", "title", "team", "revoked_at"]
    list_filter = ["team"]
    search_fields = ["title"]
    exclude = ["snapshot"]  # the trail says what was shared; reading it is a transcript opening
