"""Sign-in lockout (django-axes: per account and per client address) and the sign-up rate limit."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.helpers import clear_cache

pytestmark = pytest.mark.django_db
LOCKED = "Too many failed sign-in attempts. Try again in 15 minutes."


@pytest.fixture(autouse=True)
def _fresh_counters():
    clear_cache()  # the sign-up counter lives in the cache; sign-in failures live in the database
    yield
    clear_cache()


def sign_in(username: str, password: str, ip: str = "10.0.0.1"):
    """A browser's login POST from `ip`, on a client of its own (no session carried over)."""
    return Client(REMOTE_ADDR=ip).post(reverse("login"), {"username": username, "password": password})


def signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def test_thirty_wrong_passwords_lock_the_account_and_the_page_says_for_how_long(alice):
    statuses = [sign_in("alice", f"wrong-{i}").status_code for i in range(30)]
    assert statuses == [200] * 4 + [429] * 26  # the fifth failure locks

    response = sign_in("alice", "alice-pass-123")
    page = response.content.decode()
    assert response.status_code == 429 and not signed_in(response)
    assert LOCKED in page
    assert 'name="username"' in page and 'value="alice"' in page  # the login page itself, in the app's style
    assert "Forbidden" not in page


def test_a_locked_account_is_locked_from_every_address(alice):
    for i in range(5):
        sign_in("alice", f"wrong-{i}", ip="10.0.0.1")
    response = sign_in("alice", "alice-pass-123", ip="10.0.0.2")
    assert response.status_code == 429 and LOCKED in response.content.decode()


def test_another_account_from_another_address_still_signs_in(alice, bob):
    for i in range(30):
        sign_in("alice", f"wrong-{i}", ip="10.0.0.1")
    assert signed_in(sign_in("bob", "bob-pass-123", ip="10.0.0.2"))


def test_one_address_trying_many_accounts_is_locked(settings, alice):
    settings.CHAT_LOGIN_IP_FAILURES = 20
    statuses = [sign_in(f"user{i}", "Summer2026!", ip="10.0.0.9").status_code for i in range(20)]
    assert statuses == [200] * 19 + [429]  # one guess per account, 20 from one address
    assert sign_in("alice", "alice-pass-123", ip="10.0.0.9").status_code == 429
    assert signed_in(sign_in("alice", "alice-pass-123", ip="10.0.0.10"))


def test_a_few_typos_from_a_shared_address_do_not_lock_it(alice, bob, django_user_model):
    """An office behind one address: one person's typos lock only their own account."""
    for i in range(5):
        sign_in("alice", f"typo-{i}", ip="10.0.0.1")
    assert signed_in(sign_in("bob", "bob-pass-123", ip="10.0.0.1"))


def test_the_lockout_expires(alice):
    for i in range(5):
        sign_in("alice", f"wrong-{i}")
    with time_machine.travel(timezone.now() + timedelta(minutes=14)):
        assert sign_in("alice", "alice-pass-123").status_code == 429  # and that try restarts the wait
    with time_machine.travel(timezone.now() + timedelta(minutes=14 + 16)):
        assert signed_in(sign_in("alice", "alice-pass-123"))


def test_successful_sign_ins_never_lock(alice, django_user_model):
    """The benchmark signs in hundreds of users from 127.0.0.1: successes are never counted."""
    for i in range(30):
        django_user_model.objects.create_user(f"user{i}", password=f"user{i}-pass-123")
    assert all(signed_in(sign_in(f"user{i}", f"user{i}-pass-123", ip="127.0.0.1")) for i in range(30))
    assert all(signed_in(sign_in("alice", "alice-pass-123", ip="127.0.0.1")) for _ in range(30))


def test_test_client_login_and_force_login_keep_working(client, alice):
    assert client.login(username="alice", password="alice-pass-123")
    assert client.get(reverse("new_chat")).status_code == 200
    assert not Client().login(username="alice", password="wrong")
    other = Client()
    other.force_login(alice)
    assert other.get(reverse("new_chat")).status_code == 200


def test_sign_in_failures_are_recorded_for_the_audit(alice):
    from axes.models import AccessAttempt, AccessLog

    sign_in("alice", "wrong", ip="10.0.0.1")
    sign_in("alice", "alice-pass-123", ip="10.0.0.1")
    assert AccessAttempt.objects.get().failures_since_start == 1
    assert AccessLog.objects.filter(username="alice", ip_address="10.0.0.1").count() == 1


# --- sign-up ---------------------------------------------------------------------------------


def sign_up(username: str, ip: str = "10.0.1.1"):
    password = "a-long-pass-123"
    return Client(REMOTE_ADDR=ip).post(
        reverse("signup"), {"username": username, "password1": password, "password2": password}
    )


def test_sign_up_is_rate_limited_per_address(settings):
    settings.CHAT_SIGNUP = "open"
    settings.CHAT_SIGNUPS_PER_HOUR = 3
    assert [sign_up(f"new{i}").status_code for i in range(3)] == [302, 302, 302]
    refused = sign_up("new3")
    page = refused.content.decode()
    assert refused.status_code == 429
    assert "Too many sign-ups from your address. Try again in" in page and "minute" in page
    assert 'value="new3"' in page  # what was typed stays
    assert not get_user_model().objects.filter(username="new3").exists()
    assert sign_up("other", ip="10.0.1.2").status_code == 302
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
        assert sign_up("new3").status_code == 302
