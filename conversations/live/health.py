"""Health checks for /healthz: the database and the channel layer."""

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection


def _database_ok() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def problems() -> list[str]:
    found = []
    try:
        await sync_to_async(_database_ok)()
    except Exception as exc:  # any failure means unhealthy; the type is in the message
        found.append(f"database: {type(exc).__name__}")
    try:
        layer = get_channel_layer()
        channel = await asyncio.wait_for(layer.new_channel(), timeout=2)
        await asyncio.wait_for(layer.send(channel, {"type": "health.check"}), timeout=2)
        await asyncio.wait_for(layer.receive(channel), timeout=2)
    except Exception as exc:
        found.append(f"channel layer: {type(exc).__name__}")
    return found
