from django.contrib import admin

from .models import MemorySetting


@admin.register(MemorySetting)
class MemorySettingAdmin(admin.ModelAdmin):
    """Who turned memory on. The files themselves are personal: they are not browsable here."""

    list_display = ["user", "enabled", "changed_at"]
    list_filter = ["enabled"]
    fields = ["user", "enabled"]
    readonly_fields = ["user"]
