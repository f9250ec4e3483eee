from django.apps import AppConfig


class WorkbenchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "workbench"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connect its post_delete receiver)
