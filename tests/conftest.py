import asyncio
import os
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections

from conversations.claude import catalog
from conversations.live import runtime
from conversations.models import Conversation, ModelPrice
from fakes import FakeAnthropic
from teams import services as team_services
from tests.helpers import clear_cache, reply_with_usage
from tests.live import _live_pair, _spare_pair, browser, page  # noqa: F401 (one Playwright session, live apps)


def pytest_configure(config):
    """Under pytest-xdist (`make test` runs two workers) each worker has its own test database
    (pytest-django's _gw0/_gw1 suffix); on a shared Redis its keys, channel groups and watcher sets
    get their own prefix too, or one worker's conversation 1 would hear the other's."""
    from django.conf import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and settings.REDIS_URL:
        prefix = f"{settings.REDIS_PREFIX}-{worker}"
        settings.REDIS_PREFIX = prefix
        settings.CACHES["default"]["KEY_PREFIX"] = prefix
        settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = prefix


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests last: sync Playwright keeps an event loop running in the main thread until the
    session ends, which would break later tests that run their own loop. pytest-xdist hands files
    out in this order (`--no-loadscope-reorder` in the Makefile), so each worker's too."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session", autouse=True)
def _close_connections_of_the_sync_thread(django_db_setup, django_db_blocker):
    """Replies write through asgiref's shared sync thread; close its connection before the test DB
    is dropped (PostgreSQL refuses to drop a database in use)."""
    yield
    with django_db_blocker.unblock():
        asyncio.run(sync_to_async(connections.close_all)())
        connection = connections["default"]
        if connection.vendor == "postgresql":  # and any other thread's (an xdist worker has more)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connections.close_all()


@pytest.fixture(scope="session")
def _migrated_prices(django_db_setup, django_db_blocker):
    """The price rows the migrations seeded, read once from the new test database."""
    with django_db_blocker.unblock():
        return list(ModelPrice.objects.all())


@pytest.fixture(autouse=True)
def _seeded_rows_for_plain_db_tests(request):
    """A transactional test ends with a flush, which empties the seeded price table too. Alone,
    pytest-django runs every plain db test before the transactional ones, so those always see
    the migrations' rows; an xdist worker runs whole files one after another, so a plain test may
    follow another file's transactional ones: it gets the migrations' rows back. The rows are
    read at the session's first db test of either kind, before any flush (read at the first
    plain one, they could be read already flushed)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    rows = request.getfixturevalue("_migrated_prices")
    if marker.kwargs.get("transaction") or (marker.args and marker.args[0]):
        return
    request.getfixturevalue("db")
    if not ModelPrice.objects.exists():
        ModelPrice.objects.bulk_create(rows)


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Each async test has its own event loop; tasks, clients and channel layers belong to one.
    The cache (sessions, rate limits; Redis in the second pass) starts empty."""
    clear_cache()
    yield
    from channels.layers import channel_layers

    runtime.reset()
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_generated_titles(settings):
    """Off unless a test turns it on (test_conversations_titles.py): a title call after a first
    reply would take the next script from a fake's queue."""
    settings.CHAT_GENERATED_TITLES = False


@pytest.fixture(scope="session")
def _fake_server():
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake():
    """A fake API of the test's own, for tests of the fake itself (fake_api is shared and reset)."""
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def fake_api(_fake_server, settings):
    """The fake Messages API, with the app pointed at it and a fresh client for this test's loop."""
    _fake_server.reset()
    settings.CHAT_USE_LOCAL_MODEL = False
    settings.ANTHROPIC_BASE_URL = _fake_server.base_url
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.CHAT_DEFAULT_MODEL = "claude-sonnet-4-6"
    settings.CHAT_API_MAX_RETRIES = 2
    yield _fake_server


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "alice-pass-123")


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", "bob@example.com", "bob-pass-123")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("staff", "s@example.com", "staff-pass-123", is_staff=True)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def fresh_catalog():
    """The model list is cached per process: list it again in this test, and forget it after."""
    catalog.reset()
    yield
    catalog.reset()


# --- teams and prompts -------------------------------------------------------------------------


@pytest.fixture
def people(db):
    make = get_user_model().objects.create_user
    return {
        name: make(name, f"{name}@example.com", f"{name}-pass-123")
        for name in ["owner", "editor", "member", "outsider"]
    }


@pytest.fixture
def team(people):
    team = team_services.team_create(user=people["owner"], name="Support")
    team_services.member_add(team=team, identifier="editor", role="editor")
    team_services.member_add(team=team, identifier="member@example.com", role="member")
    return team


@pytest.fixture
def prompt(team, people):
    return team_services.prompt_create(
        user=people["editor"], name="Support tone", text="Be kind.", team=team, cache_ttl="5m"
    )


# --- usage -------------------------------------------------------------------------------------


@pytest.fixture
def usage_fixture(alice, bob):
    team = team_services.team_create(user=alice, name="Legal")
    prompt = team_services.prompt_create(user=alice, name="Reviewer", text="x", team=team, cache_ttl="5m")
    legal = Conversation.objects.create(
        owner=alice, title="Contract", model="claude-sonnet-4-6", prompt_version=prompt.latest
    )
    plain = Conversation.objects.create(owner=bob, title="=HYPERLINK(evil)", model="claude-haiku-4-5")
    reply_with_usage(
        legal,
        days_ago=1,
        input_tokens=100,
        cache_creation_input_tokens=1000,
        output_tokens=50,
        cost=Decimal("0.01"),
        cache_savings=Decimal("-0.0008"),
    )
    reply_with_usage(
        legal,
        input_tokens=100,
        cache_read_input_tokens=1000,
        output_tokens=50,
        cost=Decimal("0.002"),
        cache_savings=Decimal("0.0027"),
    )
    reply_with_usage(
        plain,
        model="claude-haiku-4-5",
        input_tokens=200,
        output_tokens=100,
        cost=Decimal("0.0007"),
        cache_savings=Decimal("0"),
    )
    reply_with_usage(plain, days_ago=90, input_tokens=999, cost=Decimal("9"))  # outside the default range
    return team
