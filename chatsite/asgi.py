"""ASGI entry point: HTTP through Django, websockets through Channels (auth; origin: chatsite.origin)."""

import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django_asgi_app = get_asgi_application()


def _require_database() -> None:
    """Fail fast with one clear line (no traceback storm) when the database is unreachable."""
    from django.db import connection

    try:
        connection.ensure_connection()
    except Exception as exc:
        settings = connection.settings_dict
        where = f"{settings['ENGINE'].rsplit('.', 1)[-1]} {settings.get('HOST') or ''} {settings['NAME']}"
        sys.exit(f"Cannot connect to the database ({where.strip()}): {str(exc).strip().splitlines()[0]}")
    finally:
        connection.close()


_require_database()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatsite.origin import SameOriginValidator  # noqa: E402
from conversations.claude import llm  # noqa: E402
from conversations.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
# Servers import this module and commands never do: load the SDK in the background (llm.py imports
# it on first use) while the server starts listening, so that the first reply does not wait for it.
llm.warm_up()
