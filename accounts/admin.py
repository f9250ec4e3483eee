from django.contrib import admin

from .models import Identity, Invitation, TeamRetention


@admin.register(TeamRetention)
class TeamRetentionAdmin(admin.ModelAdmin):
    list_display = ["team", "days"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "team", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    exclude = ["token_hash"]
    readonly_fields = ["invited_by", "accepted_at", "accepted_by"]

    def has_add_permission(self, request) -> bool:  # invitations are sent from /accounts/invite/
        return False


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ["user", "issuer", "subject", "created_at", "last_sign_in"]
    readonly_fields = ["user", "issuer", "subject", "created_at", "last_sign_in"]
