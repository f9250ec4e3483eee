"""A chat with a connector of 100 tools, against the fake API: what the request costs with every
tool loaded and with deferred loading (the tool search finds them), through the app's own request
builder and reply loop.

    .venv/bin/python -m bench.connector_tools             # 100 tools
    .venv/bin/python -m bench.connector_tools --tools 300

Each tool has a one-line description and a small input schema (three properties), as MCP servers
list them. Reported for each way: the request's JSON bytes as the app sends it, and the input
tokens the fake counts (fakes/mcp.py: a loaded tool adds its name, description and schema / 4; a
deferred one only once a search found it).
"""

import argparse
import asyncio
import json

from bench.inprocess import setup_django

URL = "https://tools.example/mcp"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", type=int, default=100)
    args = parser.parse_args()
    setup_django("bench-connector-tools-")
    asyncio.run(run(args.tools))


def listing(count: int) -> list[dict]:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The record's id"},
            "fields": {"type": "array", "items": {"type": "string"}},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        "required": ["id"],
    }
    return [
        {
            "name": f"record_tool_{n:03}",
            "description": f"Reads records of kind {n} by id",
            "input_schema": schema,
        }
        for n in range(count)
    ]


async def run(count: int) -> None:
    from asgiref.sync import sync_to_async
    from django.conf import settings

    from fakes import FakeAnthropic, Reply

    tools = listing(count)
    with FakeAnthropic() as fake:
        settings.CHAT_USE_LOCAL_MODEL = False
        settings.ANTHROPIC_BASE_URL, settings.ANTHROPIC_API_KEY = fake.base_url, "bench"
        settings.CHAT_GENERATED_TITLES = False
        fake.mcp_server(URL, tools=tools)
        user, prompt = await sync_to_async(seed)(tools)
        print(f"{count} connector tools; one question in a new chat each way")
        for label, defer_over, connectors in (
            ("no connector", 0, []),
            ("all loaded", 10_000, ["records"]),
            ("deferred", 20, ["records"]),
        ):
            settings.CHAT_CONNECTOR_DEFER_OVER = defer_over
            fake.enqueue(Reply("Done."))
            await ask(await sync_to_async(new_chat)(user, prompt, connectors))
            request = fake.message_requests[-1]
            size = len(json.dumps(request.body).encode())
            used = fake.usages[-1]
            read = sum(
                used.get(k) or 0
                for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
            )
            print(f"  {label:12}  request {size:>6,} bytes   input tokens {read:>6,} (the fake's count)")


def seed(tools: list[dict]):
    from django.contrib.auth import get_user_model

    from conversations.models import Connector, TeamConnector
    from teams import services

    user = get_user_model().objects.create_user("ann", "ann@example.com", "x")
    team = services.team_create(user=user, name="Ops")
    prompt = services.prompt_create(user=user, name="Ops", text="Help.", team=team, cache_ttl="5m")
    connector = Connector.objects.create(name="records", title="Records", url=URL, tools=tools)
    connector.teams.add(team)
    TeamConnector.objects.create(team=team, connector=connector, tools=[t["name"] for t in tools])
    return user, prompt


def new_chat(user, prompt, connectors: list[str]):
    from conversations.models import Conversation

    return Conversation.objects.create(
        owner=user, model="claude-sonnet-4-6", prompt_version=prompt.latest, params={"connectors": connectors}
    )


async def ask(conversation) -> None:
    from asgiref.sync import sync_to_async

    from conversations import services
    from conversations.models import Message
    from conversations.reply import generation

    _, reply = await sync_to_async(services.message_send)(conversation=conversation, text="Find record 7")
    generation.start(reply)
    await generation.wait_all()
    done = await Message.objects.aget(pk=reply.pk)
    assert done.status == "complete", done.error


if __name__ == "__main__":
    main()
