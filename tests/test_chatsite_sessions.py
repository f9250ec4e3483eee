"""chatsite/sessions.py: cookies that cannot be session keys are not looked up."""

import warnings

import pytest
from django.conf import settings
from django.core.cache.backends.base import CacheKeyWarning
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("cookie", ["x" * 300, "<script>", "ab", "A" * 32])
def test_a_cookie_that_is_not_a_session_key_is_an_anonymous_visit(cookie):
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not [w for w in caught if issubclass(w.category, CacheKeyWarning)]


def test_a_real_session_still_signs_in(django_user_model):
    user = django_user_model.objects.create_user("sam", password="pw-sam-12345")
    client = Client()
    client.force_login(user)
    assert client.session.session_key and len(client.session.session_key) == 32
    assert client.get("/").status_code in (200, 302)
    assert client.get("/new/").status_code == 200
