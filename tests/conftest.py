import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections

from conversations import llm
from tests.fakes import FakeAnthropic
from tests.live import browser, page  # noqa: F401 (one Playwright session for every browser test)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests last: sync Playwright keeps an event loop running in the main thread until the
    session ends, which would break later tests that run their own loop."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session", autouse=True)
def _close_connections_of_the_sync_thread(django_db_setup, django_db_blocker):
    """Replies write through asgiref's shared sync thread; close its connection before the test DB
    is dropped (PostgreSQL refuses to drop a database in use)."""
    yield
    with django_db_blocker.unblock():
        asyncio.run(sync_to_async(connections.close_all)())


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each async test has its own event loop; a Redis channel layer (and the tasks reading it)
    belong to one loop, so every test gets new ones."""
    yield
    from channels.layers import channel_layers

    from conversations import realtime

    for task in (realtime._listener, realtime._relay.task):
        if task is not None and not task.done():
            try:
                task.cancel()
            except RuntimeError:  # its loop is already closed
                pass
    realtime._listener = None
    realtime._relay = realtime._Relay()
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def _fake_server():
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake_api(_fake_server, settings):
    """The fake Messages API, with the app pointed at it and a fresh client for this test's loop."""
    _fake_server.reset()
    settings.CHAT_USE_LOCAL_MODEL = False
    settings.ANTHROPIC_BASE_URL = _fake_server.base_url
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.CHAT_DEFAULT_MODEL = "claude-sonnet-4-6"
    settings.CHAT_API_MAX_RETRIES = 2
    llm._client = None
    yield _fake_server
    llm._client = None


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "alice-pass-123")


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", "bob@example.com", "bob-pass-123")
