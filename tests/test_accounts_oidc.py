"""Single sign-on against a real OpenID Connect provider (django-oauth-toolkit in its own process,
tests/oidc_provider), driven with Django's test client: the code, PKCE verifier, ID token signature,
issuer and audience are all real. The same flow in Chromium: test_browser_accounts.py."""

from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts import oidc, signup
from accounts.models import Identity, Invitation
from conversations.models import Budget
from teams.models import Membership, Team
from tests.live import free_port
from tests.oidc_provider.process import Provider, sign_in_at_provider

User = get_user_model()
CALLBACK = "http://testserver/accounts/oidc/callback/"


@pytest.fixture(scope="module")
def provider():
    idp = Provider().start()
    idp.register_client(CALLBACK)
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture
def sso(provider, settings, db):
    settings.CHAT_OIDC_ISSUER = provider.issuer
    settings.CHAT_OIDC_CLIENT_ID = settings.OIDC_RP_CLIENT_ID = "chat-app"
    settings.CHAT_OIDC_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET = "chat-app-secret-0123456789"
    settings.CHAT_OIDC_PROVIDER_NAME = "Test IdP"
    settings.CHAT_OIDC_ALLOWED_DOMAINS = ["example.com"]
    settings.CHAT_OIDC_STAFF_VALUES = ["chat-admins"]
    settings.CHAT_SIGNUP = "open"
    oidc.forget_discovery()
    yield provider
    oidc.forget_discovery()


def start(client) -> str:
    response = client.get(reverse("oidc_authentication_init"))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    return response["Location"]


def callback(client, url: str):
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    return client.get(parts.path, parse_qs(parts.query))


def sign_in(client, username: str):
    return callback(client, sign_in_at_provider(start(client), username))


def signed_in_as(client):
    return client.get(reverse("home")).wsgi_request.user


def test_first_sign_in_creates_the_account_with_staff_from_groups_and_the_default_budget(
    sso, client, settings
):
    settings.CHAT_DEFAULT_USER_BUDGET = "5"
    response = sign_in(client, "carol")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    carol = User.objects.get(email="carol@example.com")
    assert (carol.username, carol.is_staff, carol.has_usable_password()) == ("carol", True, False)
    assert Identity.objects.get(user=carol).issuer == sso.issuer
    assert Budget.objects.get(user=carol).monthly_limit == Decimal("5.00")
    assert signed_in_as(client) == carol


def test_the_next_sign_in_finds_the_account_by_subject_and_refreshes_staff(sso, client):
    sign_in(client, "erin")
    erin = User.objects.get(email="erin@example.com")
    User.objects.filter(pk=erin.pk).update(is_staff=True, email="old@example.com")
    client.logout()
    sign_in(client, "erin")
    erin.refresh_from_db()
    assert (erin.is_staff, erin.email, User.objects.count()) == (False, "erin@example.com", 1)


def test_an_existing_account_with_the_verified_address_is_linked_not_duplicated(sso, client):
    local = User.objects.create_user("carol.local", "Carol@Example.com", "pw-123-local")
    sign_in(client, "carol")
    assert signed_in_as(client) == local and User.objects.count() == 1


def test_an_address_outside_the_allowed_domains_is_refused_without_an_account(sso, client):
    response = sign_in(client, "mallory")
    assert response.status_code == 403
    assert "Accounts at elsewhere.org cannot sign in here." in response.content.decode()
    assert not User.objects.exists() and not Identity.objects.exists()
    assert not signed_in_as(client).is_authenticated


def test_invitation_only_sign_up_needs_an_invitation_for_the_address(sso, client, settings, staff):
    settings.CHAT_SIGNUP = "invite"
    response = sign_in(client, "erin")
    assert response.status_code == 403 and "It needs an invitation." in response.content.decode()
    assert not User.objects.filter(email="erin@example.com").exists()
    team = Team.objects.create(name="Support")
    signup.invitation_create(email="ERIN@example.com", team=team, role="editor", invited_by=staff)
    sign_in(client, "erin")
    erin = User.objects.get(email="erin@example.com")
    assert Membership.objects.get(user=erin, team=team).role == "editor"
    assert Invitation.objects.get().accepted_by == erin


def test_single_sign_on_honours_an_invitation_only_while_its_inviter_may_still_send_it(
    sso, client, settings, staff
):
    settings.CHAT_SIGNUP = "invite"
    team = Team.objects.create(name="Support")
    signup.invitation_create(email="erin@example.com", team=team, role="owner", invited_by=staff)
    staff.is_active = False
    staff.save(update_fields=["is_active"])
    response = sign_in(client, "erin")
    assert response.status_code == 403
    assert (
        "This invitation is no longer valid: the person who sent it can no longer invite to Support as owner."
        in response.content.decode()
    )
    assert not User.objects.filter(email="erin@example.com").exists()
    settings.CHAT_SIGNUP = "open"  # an account of its own, but not the team the void invitation names
    sign_in(client, "erin")
    assert User.objects.filter(email="erin@example.com").exists()
    assert not Membership.objects.filter(team=team).exists()
    assert Invitation.objects.get().accepted_at is None


def test_closed_sign_up_refuses_new_accounts_but_signs_in_existing_ones(sso, client, settings):
    settings.CHAT_SIGNUP = "closed"
    response = sign_in(client, "erin")
    assert response.status_code == 403 and "administrator" in response.content.decode()
    assert not User.objects.exists()
    User.objects.create_user("erin", "erin@example.com")
    assert sign_in(client, "erin").status_code == 302


def test_a_deactivated_account_cannot_sign_in(sso, client):
    User.objects.create_user("erin", "erin@example.com", is_active=False)
    response = sign_in(client, "erin")
    assert response.status_code == 403 and "deactivated" in response.content.decode()
    assert not signed_in_as(client).is_authenticated


def test_a_state_this_browser_did_not_start_is_refused(sso, client):
    url = sign_in_at_provider(start(client), "carol")
    forged = url.replace("state=", "state=x")
    response = callback(client, forged)
    assert response.status_code == 400 and "not started in this browser" in response.content.decode()
    assert not User.objects.exists()


def test_a_code_used_twice_is_refused_the_second_time(sso, client):
    url = sign_in_at_provider(start(client), "carol")
    assert callback(client, url).status_code == 302
    client.logout()
    response = callback(client, url)
    assert response.status_code == 403 and not signed_in_as(client).is_authenticated


def test_an_expired_code_is_refused_without_an_account(sso, client):
    url = sign_in_at_provider(start(client), "carol")
    sso.expire_codes()
    response = callback(client, url)
    assert response.status_code == 403 and "took too long or was already used" in response.content.decode()
    assert not User.objects.exists()


def test_the_provider_refusing_is_a_clear_page(sso, client):
    start(client)
    response = client.get(reverse("oidc_authentication_callback"), {"error": "access_denied", "state": "s"})
    assert response.status_code == 403 and "Test IdP did not sign you in." in response.content.decode()


def test_a_provider_that_does_not_answer_is_a_clear_page(sso, client, settings):
    settings.CHAT_OIDC_ISSUER = f"http://127.0.0.1:{free_port()}/o"
    response = client.get(reverse("oidc_authentication_init"))
    assert response.status_code == 503 and "Test IdP is not answering." in response.content.decode()


def test_a_provider_going_down_during_the_sign_in_is_a_clear_page(sso, client):
    url = sign_in_at_provider(start(client), "carol")
    sso.pause()
    try:
        response = callback(client, url)
    finally:
        sso.start()
    assert response.status_code == 403 and "Test IdP is not answering." in response.content.decode()
    assert not User.objects.exists()


def test_the_login_page_offers_the_provider_and_hides_passwords_when_they_are_off(sso, client, settings):
    settings.CHAT_PASSWORD_LOGIN = False
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with Test IdP" in page and '<details class="break-glass"' in page
    User.objects.create_user("erin", password="erin-pass-123")
    User.objects.create_superuser("root", password="root-pass-123")
    refused = client.post(reverse("login"), {"username": "erin", "password": "erin-pass-123"})
    assert refused.status_code == 200 and not signed_in_as(client).is_authenticated
    client.post(reverse("login"), {"username": "root", "password": "root-pass-123"})
    assert signed_in_as(client).username == "root"


def test_turning_passwords_off_ends_existing_password_sessions(client, settings, alice):
    client.force_login(alice, backend="chatsite.throttle.LoginBackend")
    assert signed_in_as(client) == alice
    settings.CHAT_PASSWORD_LOGIN = False
    assert not signed_in_as(client).is_authenticated


def test_without_single_sign_on_there_is_no_sign_in_button(client, db):
    assert "Sign in with" not in client.get(reverse("login")).content.decode()
    assert client.get(reverse("oidc_authentication_init") + "?" + urlencode({"next": "/"})).status_code == 404


def test_a_sign_in_without_the_required_group_deactivates_the_leaver(sso, client, settings):
    sign_in(client, "erin")
    erin = User.objects.get(email="erin@example.com")
    client.logout()
    settings.CHAT_OIDC_REQUIRED_VALUES = ["chat-admins"]  # erin has left that group at the provider
    response = sign_in(client, "erin")
    assert response.status_code == 403 and "no longer gives you access" in response.content.decode()
    erin.refresh_from_db()
    assert not erin.is_active and not signed_in_as(client).is_authenticated
    assert sign_in(client, "carol").status_code == 302  # who has it still signs in


def test_deleting_an_account_is_confirmed_by_signing_in_at_the_provider_again(sso, client):
    sign_in(client, "erin")
    assert client.post(reverse("account_delete")).status_code == 422
    again = client.get(reverse("oidc_authentication_init"), {"reauth": "1", "next": reverse("account")})
    assert {"prompt": ["login"], "max_age": ["0"]}.items() <= parse_qs(
        urlsplit(again["Location"]).query
    ).items()
    assert callback(client, sign_in_at_provider(again["Location"], "erin"))["Location"] == reverse("account")
    assert client.post(reverse("account_delete")).status_code == 200
    assert not User.objects.get(identities__isnull=True, username__startswith="deleted-").is_active


def test_the_break_glass_superuser_is_never_linked_to_a_provider_account(sso, client):
    User.objects.create_superuser("root", "carol@example.com", "root-pass-123")
    response = sign_in(client, "carol")
    assert response.status_code == 403 and "could not be linked" in response.content.decode()
    assert not Identity.objects.exists() and not signed_in_as(client).is_authenticated


def test_an_invitation_link_followed_through_the_provider_lands_in_the_team(sso, client, settings, staff):
    settings.CHAT_SIGNUP = "invite"
    team = Team.objects.create(name="Support")
    _, token = signup.invitation_create(email="erin@example.com", team=team, role="member", invited_by=staff)
    link = reverse("invitation", args=[token])
    assert "Sign in with Test IdP" in client.get(link).content.decode()
    start_url = client.get(reverse("oidc_authentication_init"), {"next": link})["Location"]
    assert callback(client, sign_in_at_provider(start_url, "erin"))["Location"] == link
    assert client.get(link)["Location"] == reverse("team_detail", args=[team.pk])
    assert Membership.objects.filter(team=team, user__email="erin@example.com").exists()
