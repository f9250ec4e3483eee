"""The websocket origin check, through the real ASGI application (chatsite.asgi) with the session
cookie a browser would send: only the site's own scheme://host:port, or a CSRF trusted origin."""

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "127.0.0.1:8000"


@pytest.fixture
def application(transactional_db):
    from chatsite.asgi import application  # checks the database on import: only with one allowed

    return application


@pytest.fixture
async def cookie(alice) -> str:
    client = AsyncClient()
    await client.aforce_login(alice)
    return (
        f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"
    )


async def handshake(application, cookie, *, origin=None, host=HOST, scheme="ws", extra=()) -> bool:
    """Whether the socket opens and stays open for the signed-in person (anonymous: closed 4401)."""
    headers = [(b"host", host.encode()), (b"cookie", cookie.encode()), *extra]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    ws = WebsocketCommunicator(application, "/ws/new/", headers=headers)
    ws.scope["scheme"] = scheme
    connected, _ = await ws.connect(timeout=5)
    if connected:
        assert await ws.receive_nothing(timeout=0.3), "signed in through the cookie: stays open"
        await ws.disconnect()
    return connected


async def test_the_sites_own_origin_is_accepted(application, cookie):
    assert await handshake(application, cookie, origin=f"http://{HOST}")
    assert await handshake(application, cookie, origin="https://127.0.0.1:8000", scheme="wss")
    assert await handshake(application, cookie, origin="http://localhost", host="localhost")


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:8001",  # another port on the same host
        "http://127.0.0.1",  # the default port is another port
        "https://127.0.0.1:8000",  # https is another origin than http
        "http://localhost:8000",  # another allowed host is still another site
        "null",
        "",
    ],
)
async def test_any_other_scheme_host_or_port_is_refused(application, cookie, origin):
    assert not await handshake(application, cookie, origin=origin)


async def test_a_missing_origin_or_a_host_the_site_does_not_serve_is_refused(application, cookie):
    assert not await handshake(application, cookie, origin=None)
    # DNS rebinding: the page and the socket agree on a name that is not the site's.
    assert not await handshake(application, cookie, origin="http://evil.example", host="evil.example")


async def test_wss_needs_an_https_origin(application, cookie):
    assert not await handshake(application, cookie, origin=f"http://{HOST}", scheme="wss")


async def test_behind_a_tls_proxy_the_forwarded_scheme_decides(application, cookie, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    https = [(b"x-forwarded-proto", b"https")]
    settings.ALLOWED_HOSTS = ["chat.example"]
    assert await handshake(
        application, cookie, origin="https://chat.example", host="chat.example", extra=https
    )
    assert not await handshake(
        application, cookie, origin="http://chat.example", host="chat.example", extra=https
    )
    http = [(b"x-forwarded-proto", b"http")]
    assert not await handshake(
        application, cookie, origin="https://chat.example", host="chat.example", extra=http
    )


async def test_a_csrf_trusted_origin_is_accepted(application, cookie, settings):
    # docker-compose: nginx on localhost:8080 passes Host without the port.
    settings.CSRF_TRUSTED_ORIGINS = ["http://localhost:8080", "https://*.example.org"]
    assert await handshake(application, cookie, origin="http://localhost:8080", host="localhost")
    assert await handshake(application, cookie, origin="https://chat.example.org", host="localhost")
    assert not await handshake(application, cookie, origin="http://localhost:8081", host="localhost")
    assert not await handshake(application, cookie, origin="http://chat.example.org", host="localhost")
