from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "conversations"

    def ready(self) -> None:
        from django.urls import register_converter

        from chatsite.converters import IdConverter

        # Before any URLconf or the websocket routing is imported: every app's `<id:...>` uses it.
        register_converter(IdConverter, "id")

        from conversations.claude import attachment_files, sandbox  # noqa: F401  (connect their post_delete receivers)
