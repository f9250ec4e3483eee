"""Ids in URLs: any number of digits that cannot be a database id is a 404, never a 500."""

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from chatsite.converters import IdConverter
from conversations.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db
HUGE = "1" + "0" * 29  # 30 digits: far past a 64-bit integer

URLS = [
    "/c/{n}/",
    "/c/{n}/send/",
    "/c/{n}/rename/",
    "/c/{n}/delete/",
    "/c/{n}/prompt/",
    "/c/{n}/settings/",
    "/m/{n}/retry/",
    "/m/{n}/continue/",
    "/m/{n}/regenerate/",
    "/m/{n}/edit/",
    "/attachments/{n}/",
    "/teams/{n}/",
    "/teams/{n}/members/",
    "/teams/{n}/members/{n}/",
    "/teams/1/members/{n}/",
    "/teams/{n}/usage/",
    "/prompts/{n}/",
    "/prompts/{n}/edit/",
    "/prompts/{n}/usage/",
    "/review/{n}/",
    "/review/{n}/transcript/",
    "/review/{n}/attachments/1/",
    "/review/1/attachments/{n}/",
]


@pytest.mark.parametrize("pattern", URLS)
def test_a_30_digit_id_is_404(client, pattern):
    staff = get_user_model().objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    url = pattern.format(n=HUGE)
    assert client.get(url).status_code == 404
    assert client.post(url, {"user": "x", "role": "member", "name": "x", "text": "x"}).status_code == 404


def test_the_largest_id_that_always_fits_still_resolves(client, alice):
    client.force_login(alice)
    assert client.get(f"/c/{'9' * 18}/").status_code == 404  # looked up, not found
    assert client.get(f"/c/{'9' * 19}/").status_code == 404  # not a route at all


def test_the_converter():
    converter = IdConverter()
    assert converter.to_python("000123") == 123
    assert converter.to_url(123) == "123"
    assert reverse("conversation", args=[10**18 - 1])
    with pytest.raises(NoReverseMatch):
        reverse("conversation", args=[10**18])


async def test_a_30_digit_websocket_id_matches_no_route(alice):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/c/{HUGE}/")
    communicator.scope["user"] = alice
    with pytest.raises(ValueError, match="No route found"):  # how Channels says 404; daphne closes the socket
        await communicator.connect()
