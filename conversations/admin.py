from django.contrib import admin

from conversations.models import Budget, Conversation, ModelPrice


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "model", "updated_at"]
    list_filter = ["model"]
    search_fields = ["title"]
    # Transcripts are not browsable here: reading them is an audited action (see the review app).
    fields = ["title", "owner", "model"]
    readonly_fields = fields


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = [
        "model",
        "input",
        "output",
        "cache_write_5m",
        "cache_write_1h",
        "cache_read",
        "web_search",
        "long_context_input",
        "long_context_output",
    ]
    list_editable = list_display[1:]


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "team", "monthly_limit"]
    list_editable = ["monthly_limit"]
    autocomplete_fields = ["user", "team"]
