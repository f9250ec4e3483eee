"""Hostile input to every URL the app serves: the resolver is walked (Django's admin aside), each
route gets real and hostile ids, and each field its view reads gets hostile values, as the owner of
the objects, another signed-in user, a staff member and an anonymous visitor. No answer is a 500,
and nothing logs an error, except Django's security log of a request it refused with 400.

A route added later is covered without editing this file: it gets the generic field set and the
same corpus. FIELDS only narrows the corpus to what a known view reads.

The walk's routes are dealt round-robin to SHARDS tests, one in each of the files
tests/test_chatsite_hostile_input.py and _1.py, _2.py, ...: `make test` runs a file to a pytest-xdist
worker, so the two workers share the corpus (alone in one file it was the PostgreSQL pass's floor).

Every request runs in a savepoint that is rolled back (and the client's cookies are put back), so
each one meets the same data: a delete or a sign-up cannot change what the next request finds.
Replies are not generated (`generation.start` is replaced): generation runs detached from the
request, after the response exists, so it cannot turn a request into a 500.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import oidc
from accounts.signup import invitation_create
from conversations import services
from conversations.library import sharing
from conversations.models import ContentBlock, Message
from conversations.reply import generation
from memory.models import MemoryFile
from review.models import TranscriptView
from teams import services as team_services
from teams.models import Membership
from tests.helpers import image_bytes

MODEL = "claude-sonnet-4-6"
IDENTITIES = ["owner", "other", "staff", "anonymous"]
MIN_REQUESTS = 200

# --- what is sent ------------------------------------------------------------------------------

HOSTILE: dict[str, str | list[str]] = {
    "10**30": "1" + "0" * 30,
    "negative": "-1",
    "zero": "0",
    "superscript ²": "²",
    "arabic-indic ١٢": "١٢",
    "math digits 𝟏𝟐": "𝟏𝟐",
    "float overflow": "1e309",
    "nan": "nan",
    "nul": "a\x00b",
    "empty": "",
    "whitespace": " \t\r\n ",
    "html": '"><script>alert(1)</script><img src=x onerror=alert(1)>',
    "1 MB": "x" * 2**20,
    "array": ["1", "2"],
    "bad date": "2026-13-45",
    "first day": "0001-01-01",
    "last day": "9999-12-31",
    "bidi, zero-width": "\u202e\u200b\ufeffabc",
    "format string": "%s%n{0}{{}}",
    "path": "../../../etc/passwd",
}
# Where a request is refused before its view reads anything (404, 403, login, 405), the fields
# only reach the middleware and the parsers: these values, every field at once, are enough.
PARSER_STRESS = ["nul", "1 MB", "array", "arabic-indic ١٢", "10**30", "html"]

# Path parameters: each replaced in turn (the others real). Most match no route; "0" reaches views.
HOSTILE_IDS = ["0", "-1", "1" + "0" * 29, "²", "١٢", "\x00", "x" * 4000]

# Sent with a GET and a valid POST per route and identity: non-ASCII where ASCII is expected (a
# server decodes header bytes as Latin-1), a user agent past axes' 255 characters, an oversized
# request id. No NUL, CR or LF: daphne (Twisted) answers 400 to those before Django sees them.
HOSTILE_HEADERS = {
    "Authorization": "Bearer ²\xff",
    "User-Agent": "é" * 300,
    "X-Request-ID": "é" * 10000,
    "HX-Request": "true",
    "HX-Target": "\xa0",
    "HX-Current-URL": "javascript:alert(1)",
    "Accept-Language": "xx-\xe9;q=abc, *;q=2",
}
# Replaces the client's own cookies, so it is sent as the anonymous visitor only.
HOSTILE_COOKIE = {"Cookie": "sessionid=\xff\xfe" + "x" * 5000 + "; csrftoken=%00; messages=\xe9"}

GENERIC_FIELDS = ("text", "title", "name", "q", "id", "model", "prompt", "team", "role", "reason")

# The fields each known view reads (views, forms, sending.py, throttle.py, Django's auth forms),
# per method. A route missing here gets GENERIC_FIELDS for GET and POST.
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "favicon.ico": {"GET": ()},
    "home": {"GET": ()},
    "new_chat": {"GET": ("prompt",)},
    "start_chat": {"POST": ("text", "attachment", "model", "prompt", "timezone")},
    "conversation": {"GET": ()},
    "send_message": {"POST": ("text", "attachment")},
    "rename_conversation": {"POST": ("title",)},
    "delete_conversation": {"POST": ()},
    "switch_prompt": {"POST": ()},
    "conversation_settings": {
        "POST": (
            "model",
            "thinking",
            "tools",
            "web",
            "max_tokens",
            "temperature",
            "top_p",
            "top_k",
            "effort",
            "stop_sequences",
        )
    },
    "retry_reply": {"POST": ()},
    "continue_reply": {"POST": ()},
    "regenerate_reply": {"POST": ()},
    "edit_message": {"POST": ("text",)},
    "edit_form": {"GET": ()},
    "choose_version": {"POST": ()},
    "rate_reply": {"POST": ("rating",)},
    "comment_reply": {"POST": ("comment",)},
    "prompt_feedback": {"GET": ()},
    "signup": {"GET": (), "POST": ("username", "password1", "password2")},
    "healthz": {"GET": ()},
    "metrics": {"GET": ()},
    "upload_attachment": {"POST": ("file",)},
    "export_json": {"GET": ()},
    "export_markdown": {"GET": ()},
    "export_all": {"GET": ()},
    "import_conversation": {"GET": (), "POST": ("file",)},
    "share_conversation": {"POST": ("team",)},
    "shared_with_me": {"GET": ()},
    "shared_conversation": {"GET": ()},
    "share_continue": {"POST": ()},
    "share_revoke": {"POST": ()},
    "attachment_file": {"GET": ()},
    "team_web_access": {"GET": (), "POST": ("web_access",)},
    "team_list": {"GET": (), "POST": ("name",)},
    "team_detail": {"GET": ()},
    "member_add": {"POST": ("user", "role")},
    "member_update": {"POST": ("action", "role")},
    "prompt_list": {"GET": ()},
    "prompt_new": {"GET": (), "POST": ("name", "text", "team", "cache_ttl")},
    "prompt_detail": {"GET": ()},
    "prompt_edit": {"GET": (), "POST": ("name", "text", "cache_ttl")},
    "usage_dashboard": {"GET": ("since", "until", "export")},
    "team_usage": {"GET": ("since", "until")},
    "prompt_usage": {"GET": ()},
    "review_list": {
        "GET": (
            "user",
            "team",
            "model",
            "since",
            "until",
            "status",
            "attachments",
            "shared",
            "prompt_version",
            "q",
        )
    },
    "review_open": {"GET": ()},
    "review_transcript": {"POST": ("reason",)},
    "review_attachment": {"GET": ()},
    "review_produced_file": {"GET": ()},
    "produced_file": {"GET": ()},
    "my_reviews": {"GET": ()},
    "login": {"GET": ("next",), "POST": ("username", "password", "next")},
    "logout": {"POST": ("next",)},
    "password_change": {"GET": (), "POST": ("old_password", "new_password1", "new_password2")},
    "password_change_done": {"GET": ()},
    "password_reset": {"GET": (), "POST": ("email",)},
    "password_reset_done": {"GET": ()},
    "password_reset_confirm": {"GET": (), "POST": ("new_password1", "new_password2")},
    "password_reset_complete": {"GET": ()},
    "memory": {"GET": ()},
    "memory_settings": {"POST": ("enabled",)},
    "memory_file": {"POST": ("content",)},
    "memory_file_delete": {"POST": ()},
    "memory_clear": {"POST": ()},
    "oidc_authentication_init": {"GET": ("next",)},
    "oidc_authentication_callback": {"GET": ("code", "state", "error")},
    "invite": {"GET": ("team",), "POST": ("email", "team", "role")},
    "invitation": {"GET": (), "POST": ("username", "password1", "password2")},
    "account": {"GET": ()},
    "account_delete": {"POST": ("password",)},
}


@dataclass(frozen=True)
class World:
    """The owner's objects, and the values a valid request would send."""

    users: dict[str, object]
    path_values: dict[str, list[str]]  # path parameter -> real values (the first is the default)
    valid: dict[str, str]  # field -> a valid value


@pytest.fixture
def world(fake_api, media, settings, monkeypatch) -> World:
    settings.CHAT_SIGNUPS_PER_HOUR = 10**6  # let every sign-up reach the form
    settings.CHAT_METRICS_TOKEN = "metrics-secret"  # so the bearer token is compared
    # Single sign-on on: the start redirects to a provider (never reached), the callback checks.
    settings.CHAT_OIDC_ISSUER, settings.CHAT_OIDC_CLIENT_ID = "http://127.0.0.1:9/o", "chat"
    endpoints = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
    monkeypatch.setattr(oidc, "discovery", lambda: {key: "http://127.0.0.1:9/o/x" for key in endpoints})
    make = get_user_model().objects.create_user
    owner = make("owner", "owner@example.com", "owner-pass-123")
    users = {
        "owner": owner,
        "other": make("other", "other@example.com", "other-pass-123"),
        "staff": make("staff", "staff@example.com", "staff-pass-123", is_staff=True),
    }
    carol = make("carol", "carol@example.com", "carol-pass-123")
    team = team_services.team_create(user=owner, name="Support")
    team_services.member_add(team=team, identifier=carol.username, role="member")
    prompt = team_services.prompt_create(user=owner, name="Tone", text="Be kind.", team=team, cache_ttl="5m")
    first_version = prompt.latest
    team_services.prompt_edit(user=owner, prompt=prompt, name="Tone", text="Be kinder.", cache_ttl="1h")
    attachment = services.attachment_store(user=owner, name="dot.png", data=image_bytes(8, 8))
    conversation, reply = services.conversation_start(
        user=owner, text="Hello", model=MODEL, prompt_version=first_version, attachments=[attachment]
    )
    ContentBlock.objects.create(message=reply, index=0, type="text", payload={"type": "text", "text": "Hi"})
    Message.objects.filter(pk=reply.pk).update(status="complete")
    question = conversation.messages.get(role="user")
    _, invitation_token = invitation_create(
        email="new@example.com", team=team, role="member", invited_by=owner
    )
    share = sharing.share_create(conversation=conversation, team=team)
    note = MemoryFile.objects.create(owner=owner, path="/memories/notes.md", content="Likes tea.")
    TranscriptView.objects.create(
        staff=users["staff"], conversation=conversation, conversation_title=conversation.title,
        conversation_owner=owner, reason="setup",
    )  # fmt: skip
    path_values = {
        "conversation_id": [str(conversation.pk)],
        "message_id": [str(question.pk), str(reply.pk)],
        "attachment_id": [str(attachment.pk)],
        "team_id": [str(team.pk)],
        "membership_id": [str(Membership.objects.get(team=team, user=carol).pk)],
        "prompt_id": [str(prompt.pk)],
        "share_id": [str(share.pk)],
        "file_id": [str(note.pk)],
        "uidb64": [urlsafe_base64_encode(force_bytes(owner.pk))],
        "token": [default_token_generator.make_token(owner), invitation_token],
    }
    valid = {
        "text": "Hello again",
        "attachment": str(attachment.pk),
        "model": MODEL,
        "prompt": str(prompt.pk),
        "timezone": "Europe/Paris",
        "title": "Renamed",
        "max_tokens": "100",
        "temperature": "0.5",
        "thinking": "",
        "tools": "",
        "top_p": "",
        "top_k": "",
        "effort": "",
        "stop_sequences": "",
        "username": "newcomer",
        "password1": "a-long-pass-phrase-42",
        "password2": "a-long-pass-phrase-42",
        "name": "A name",
        "user": "other",
        "role": "editor",
        "action": "",
        "team": str(team.pk),
        "cache_ttl": "5m",
        "since": "2026-01-01",
        "until": "2026-01-31",
        "export": "",
        "status": "",
        "attachments": "",
        "shared": "1",
        "prompt_version": str(first_version.pk),
        "q": "Hello",
        "reason": "A complaint",
        "password": "owner-pass-123",
        "next": "/",
        "old_password": "owner-pass-123",
        "new_password1": "another-long-pass-99",
        "new_password2": "another-long-pass-99",
        "email": "owner@example.com",
        "enabled": "on",
        "content": "Likes coffee.",
        "rating": "good",
        "comment": "Clear and short.",
        "code": "a-code",
        "state": "a-state",
        "error": "access_denied",
    }
    return World(users, path_values, valid)


# --- the routes --------------------------------------------------------------------------------

PARAM = re.compile(r"<(?:[^>:]+:)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    name: str  # the URL name, or the route itself when unnamed
    route: str  # "c/<id:conversation_id>/"

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.route)

    def path(self, values: dict[str, str]) -> str:
        return "/" + PARAM.sub(lambda m: quote(values[m["name"]], safe=""), self.route)


def walk(patterns=None, prefix: str = "") -> Iterator[Route]:
    """Every route of the URLconf, through includes; Django's own admin is left out."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        assert isinstance(entry.pattern, RoutePattern), f"{prefix}{entry.pattern}: teach walk() re_path"
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.app_name != "admin":
                yield from walk(entry.url_patterns, route)
        else:
            yield Route(entry.name or route, route)


def path_variants(route: Route, world: World) -> tuple[list[str], list[tuple[str, str]]]:
    """(real paths, [(hostile path, hostile value)]): each parameter through its real values, then
    each parameter hostile with the others real. An unknown parameter's real value is 1."""
    default = {p: world.path_values.get(p, ["1"])[0] for p in route.params}
    real = [route.path(default)]
    for param in route.params:
        real += [route.path({**default, param: v}) for v in world.path_values.get(param, ["1"])[1:]]
    hostile = [(route.path({**default, param: v}), v) for param in route.params for v in HOSTILE_IDS]
    return real, hostile


# --- raw bodies --------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
BOUNDARY = "hostileBoundary7MA4YWxk"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, str], files: list[tuple[str, bytes, bytes]] = ()) -> bytes:
    """A multipart body built by hand, so a file name can be any bytes: (field, filename, data)."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for name, filename, data in files:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="'.encode()
        parts.append(head + filename + b'"\r\nContent-Type: image/png\r\n\r\n' + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def raw_bodies(fields: tuple[str, ...], valid: dict[str, str]) -> list[tuple[str, bytes, str]]:
    """(case, body, content type) for a POST: invalid UTF-8, JSON where a form belongs, multipart
    with a file whose name is invalid UTF-8, and malformed multipart."""
    fields = fields or GENERIC_FIELDS
    invalid_utf8 = "&".join(f"{f}=%FF%FE%ED%A0%80" for f in fields).encode() + b"&%FF%FE=1"
    as_json = json.dumps({f: ["1" + "0" * 30, {"$gt": ""}, None] for f in fields}).encode()
    png = image_bytes(8, 8)
    with_file = multipart({f: valid.get(f, "x") for f in fields}, [("file", b"\xff\xfe\x00.png", png)])
    truncated = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="'.encode()
    return [
        ("invalid UTF-8", invalid_utf8, FORM),
        ("unknown charset", invalid_utf8, f"{FORM}; charset=no-such-charset"),
        ("JSON body, form type", as_json, FORM),
        ("JSON body", as_json, "application/json"),
        ("file named in invalid UTF-8", with_file, MULTIPART),
        ("multipart, no boundary", b"--x\r\n", "multipart/form-data"),
        ("multipart, truncated", truncated, MULTIPART),
    ]


COMPACT_BODIES = {"invalid UTF-8", "JSON body", "multipart, truncated"}


def uploads() -> list[tuple[str, bytes]]:
    """(case, multipart body) for the upload view: real and hostile files."""
    png = image_bytes(8, 8)
    return [
        ("a real PNG", multipart({}, [("file", b"dot.png", png)])),
        ("invalid UTF-8 name", multipart({}, [("file", b"\xff\xfe\xfd.png", png)])),
        ("NUL in the name", multipart({}, [("file", b"a\x00b.png", png)])),
        ("a 10,000-character name", multipart({}, [("file", b"n" * 10000 + b".png", png)])),
        ("a traversing name", multipart({}, [("file", b"../../../etc/passwd", png)])),
        ("an empty name", multipart({}, [("file", b"", png)])),
        ("an empty file", multipart({}, [("file", b"empty.png", b"")])),
        ("text named .png", multipart({}, [("file", b"note.png", b"<svg onload=alert(1)>")])),
        ("a truncated PNG", multipart({}, [("file", b"cut.png", png[: len(png) // 2])])),
        ("a broken PDF", multipart({}, [("file", b"doc.pdf", b"%PDF-1.7\n\x00\xff garbage")])),
        ("two files", multipart({}, [("file", b"a.png", png), ("file", b"b.png", png)])),
        ("no file", multipart({"file": "not a file"})),
        ("no parts", multipart({})),
    ]


COMPACT_UPLOADS = {"invalid UTF-8 name", "no file"}


# --- sending -----------------------------------------------------------------------------------


@dataclass
class Tally:
    caplog: pytest.LogCaptureFixture
    per_identity: Counter = field(default_factory=Counter)
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)  # answers >= 500 and ERROR records
    suspicious: Counter = field(default_factory=Counter)  # django.security records of 400 answers
    thorough: list[str] = field(default_factory=list)  # "route METHOD identity" given the whole corpus


def send(tally: Tally, client: Client, who: str, case: str, method: str, url: str, **kwargs) -> HttpResponse:
    """One request in a savepoint that is rolled back, with the client's cookies put back."""
    cookies, logged = client.cookies, len(tally.caplog.records)
    client.cookies = type(cookies)(cookies)
    with transaction.atomic():
        if "body" in kwargs:
            response = client.generic(
                method, url, data=kwargs["body"], content_type=kwargs["content_type"],
                headers=kwargs.get("headers"),
            )  # fmt: skip
        else:
            call = getattr(client, method.lower())
            response = call(url, kwargs.get("data"), headers=kwargs.get("headers"))
        transaction.set_rollback(True)
    client.cookies = cookies
    status = response.status_code
    tally.per_identity[who] += 1
    tally.statuses[who][status] += 1
    request = f"{who} {method} {url[:100]} [{case}]"
    if status >= 500:
        tally.failures.append(f"{status} {request}")
    for record in tally.caplog.records[logged:]:
        if record.levelno < logging.ERROR:
            continue
        # Django answers a SuspiciousOperation (a body past DATA_UPLOAD_MAX_MEMORY_SIZE, a redirect
        # past 16,384 characters) with 400 and reports it to its security logger, by design.
        if record.name.startswith("django.security.") and status == 400:
            tally.suspicious[record.name] += 1
        else:
            tally.failures.append(f"ERROR {record.name}: {record.getMessage()[:120]} <- {request}")
    return response


def refused(response: HttpResponse) -> bool:
    """Turned away before the view reads any field: not found, forbidden, wrong method, sign in."""
    to_login = response.status_code == 302 and response["Location"].startswith(f"{reverse('login')}?")
    return response.status_code in (403, 404, 405) or to_login


def fields_for(route: Route, method: str) -> tuple[str, ...]:
    """What the view reads with this method: FIELDS for a known view, the generic set for a new one."""
    known = FIELDS.get(route.name)
    return GENERIC_FIELDS if known is None else known.get(method, ())


def as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def every_field_at_once(fields: tuple[str, ...]) -> list[tuple[str, dict]]:
    """(case, data) with every field hostile at once, for requests refused before the view reads
    them: only middleware and parsers see these. 128 KB per field keeps ten fields under Django's
    2.5 MB body limit."""
    fields = fields or GENERIC_FIELDS
    numbers = ["1" + "0" * 30, "١٢", "-1", "²"]
    return [
        ("every field NUL and HTML", {f: "a\x00b<script>alert(1)</script>" for f in fields}),
        ("every field an array of hostile numbers", {f: numbers for f in fields}),
        ("every field 128 KB", {f: "x" * 2**17 for f in fields}),
    ]


def hostile_form(
    tally: Tally, clients: dict[str, Client], route: Route, url: str, world: World, thorough_done: set[str]
) -> None:
    """GET and POST what the view reads. A valid request first, as each identity; the first
    identity the view answers (on the route's first path that it answers) gets the whole corpus
    one field at a time (the others valid), the raw bodies and the uploads; every other identity
    gets every field hostile at once."""
    for method in ("GET", "POST"):
        fields = fields_for(route, method)
        valid = {f: world.valid.get(f, "x") for f in fields}
        for who, client in clients.items():
            response = send(tally, client, who, "valid", method, url, data=valid)
            thorough = bool(fields) and method not in thorough_done and not refused(response)
            if thorough:
                thorough_done.add(method)
                tally.thorough.append(f"{route.name} {method} {who}")
                for i, (case, value) in enumerate(HOSTILE.items()):
                    headers = {"HX-Request": "true"} if i % 2 else None  # both branches of htmx views
                    for name in fields:
                        data = {**valid, name: as_list(value)}
                        send(tally, client, who, f"{name}={case}", method, url, data=data, headers=headers)
            else:
                for case, data in every_field_at_once(fields):
                    send(tally, client, who, case, method, url, data=data)
            if method == "POST":
                bodies = raw_bodies(fields, world.valid)
                for case, body, content_type in (b for b in bodies if thorough or b[0] in COMPACT_BODIES):
                    send(tally, client, who, case, "POST", url, body=body, content_type=content_type)
                if "file" in fields:
                    for case, body in (u for u in uploads() if thorough or u[0] in COMPACT_UPLOADS):
                        send(tally, client, who, case, "POST", url, body=body, content_type=MULTIPART)


def hostile_requests(tally: Tally, clients: dict[str, Client], route: Route, url: str, world: World) -> None:
    """As each identity: another method (PUT, PATCH or DELETE), hostile headers (GET and POST) and
    a hostile query string; and a hostile session cookie."""
    body = "&".join(f"{f}=%00" for f in GENERIC_FIELDS).encode()
    valid = {f: world.valid.get(f, "x") for f in fields_for(route, "POST")}
    query = "since=garbage&until=2026-13-45&prompt_version=abc&export=%00&%FF%FE=%FF&q=%ED%A0%80"
    for i, (who, client) in enumerate(clients.items()):
        method = ("PUT", "PATCH", "DELETE")[i % 3]
        send(tally, client, who, "wrong method", method, url, body=body, content_type=FORM)
        send(tally, client, who, "hostile headers", "GET", url, headers=HOSTILE_HEADERS)
        send(tally, client, who, "hostile headers", "POST", url, data=valid, headers=HOSTILE_HEADERS)
        send(tally, client, who, "hostile query string", "GET", f"{url}?{query}")
    send(tally, clients["anonymous"], "anonymous", "hostile cookie", "GET", url, headers=HOSTILE_COOKIE)


# --- a shard of the walk ---------------------------------------------------------------------------

SHARDS = 6


def shard_routes(shard: int) -> list[Route]:
    """The routes this shard walks: every SHARDS-th of the walk, from the shard's own index."""
    return [route for i, route in enumerate(walk()) if i % SHARDS == shard]


def signed_in_clients(world: World) -> dict[str, Client]:
    clients = {who: Client(raise_request_exception=False) for who in IDENTITIES}
    for who, client in clients.items():
        if who != "anonymous":
            client.force_login(world.users[who])
    return clients


def walk_routes(tally: Tally, clients: dict[str, Client], routes: list[Route], world: World) -> None:
    for route in routes:
        real, hostile = path_variants(route, world)
        thorough_done: set[str] = set()  # methods that had the whole corpus on this route
        for url in real:
            hostile_form(tally, clients, route, url, world, thorough_done)
            hostile_requests(tally, clients, route, url, world)
        for url, value in hostile:
            # Most hostile ids match no route, whatever the method; 0 reaches the view.
            for who, client in clients.items():
                send(tally, client, who, "hostile id", "GET", url)
                if value == "0":
                    send(tally, client, who, "hostile id", "POST", url, data={"text": "x"})


def report(tally: Tally, routes: list[Route], seconds: float) -> int:
    total = sum(tally.per_identity.values())
    print(f"\n{total} hostile requests to {len(routes)} routes in {seconds:.1f} s")
    print(f"{'identity':<10} {'requests':>8}  statuses")
    for who in IDENTITIES:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses[who].items()))
        print(f"{who:<10} {tally.per_identity[who]:>8}  {statuses}")
    print(f"the whole corpus, field by field ({len(tally.thorough)}): {', '.join(tally.thorough)}")
    print(f"refused as suspicious (400, Django's security log): {dict(tally.suspicious) or 0}")
    print(f"{len(tally.failures)} server errors and ERROR log records")
    for failure in tally.failures[:60]:
        print("  ", failure)
    return total


def no_hostile_input_makes_a_server_error(shard: int, world: World, caplog, monkeypatch) -> None:
    """The test of one shard: its routes get the whole treatment; none answers 500 or logs an error."""
    monkeypatch.setattr(generation, "start", lambda *args, **kwargs: None)
    unknown = set(FIELDS) - {r.name for r in walk()}
    assert not unknown, f"FIELDS names routes that no longer exist: {unknown}"
    routes = shard_routes(shard)
    assert routes, f"shard {shard} of {SHARDS} has no routes"
    clients, tally = signed_in_clients(world), Tally(caplog)
    started = time.perf_counter()

    django_logger = logging.getLogger("django")  # does not propagate to the root, where caplog listens
    django_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING):
            walk_routes(tally, clients, routes, world)
    finally:
        django_logger.removeHandler(caplog.handler)

    total = report(tally, routes, time.perf_counter() - started)
    assert total >= MIN_REQUESTS
    assert not tally.failures, "\n".join(tally.failures[:60])
