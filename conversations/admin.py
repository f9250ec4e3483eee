from django.contrib import admin

from .models import Conversation


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "model", "updated_at"]
    list_filter = ["model"]
    search_fields = ["title"]
    # Transcripts are not browsable here: reading them is an audited action (a later feature).
    fields = ["title", "owner", "model"]
    readonly_fields = fields
