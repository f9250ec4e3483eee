"""Daphne's `manage.py runserver` (ASGI: websockets too), without daphne's own AppConfig.

That one imports Twisted's reactor when Django starts, half a second for every command (check,
migrate). The server imports it itself when it runs (`python -m daphne`, runserver).
"""

from django.apps import AppConfig


class DaphneCommands(AppConfig):
    name = "daphne"
    verbose_name = "Daphne"
