from django.contrib import admin

from .models import Conversation, ModelPrice


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "model", "updated_at"]
    list_filter = ["model"]
    search_fields = ["title"]
    # Transcripts are not browsable here: reading them is an audited action (a later feature).
    fields = ["title", "owner", "model"]
    readonly_fields = fields


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ["model", "input", "output", "cache_write_5m", "cache_write_1h", "cache_read"]
    list_editable = ["input", "output", "cache_write_5m", "cache_write_1h", "cache_read"]
