from django.contrib import admin
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from conversations.connectors.forms import ConnectorAdminForm
from conversations.models import Budget, Connector, Conversation, ModelPrice


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


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    """Staff register remote MCP servers and offer them to teams (conversations/connectors/forms.py).
    The shared token is write-only: never in the list, never rendered back."""

    form = ConnectorAdminForm
    list_display = ["title", "name", "url", "auth", "tool_count"]
    list_filter = ["auth"]
    search_fields = ["name", "title"]
    fields = ["name", "title", "url", "auth", "token", "clear_token", "tools_text", "teams"]
    filter_horizontal = ["teams"]

    @admin.display(description="Tools")
    def tool_count(self, connector: Connector) -> int:
        return len(connector.tools)

    @method_decorator(sensitive_post_parameters("token"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)
