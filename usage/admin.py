from django.contrib import admin

from .models import Budget


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "team", "monthly_limit"]
    list_editable = ["monthly_limit"]
    autocomplete_fields = ["user", "team"]
