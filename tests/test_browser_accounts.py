"""Single sign-on in Chromium: the whole authorization-code flow with PKCE against a real OpenID
Connect provider process (django-oauth-toolkit, tests/oidc_provider) on 127.0.0.1, and its bad
paths: a forged state, an expired code, an address outside the allowed domains, the provider down.
Each bad path is a page saying what happened, and none creates an account."""

from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from tests.live import LiveApp
from tests.oidc_provider.process import USERS, Provider

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def provider():
    idp = Provider().start()  # codes live 60 s: a slow run never expires one by accident
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="module")
def sso_app(provider):
    app = LiveApp(provider.app_settings(CHAT_PASSWORD_LOGIN="0", CHAT_SIGNUP="open")).start()
    provider.register_client(f"{app.url}/accounts/oidc/callback/")
    try:
        yield app
    finally:
        app.stop()


def accounts_with(app: LiveApp, email: str) -> int:
    code = f"from django.contrib.auth.models import User; print(User.objects.filter(email={email!r}).count())"
    return int(app.shell(code).splitlines()[-1])


def to_provider(page, app: LiveApp) -> str:
    """From the app's login page to the provider's; the authorization request's URL."""
    page.goto(f"{app.url}/accounts/login/")
    with page.expect_request("**/o/authorize/**") as request:
        page.get_by_role("link", name="Sign in with Test IdP").click()
    page.get_by_label("IdP username").wait_for()
    return request.value.url


def at_provider(page, username: str) -> None:
    page.get_by_label("IdP username").fill(username)
    page.get_by_label("IdP password").fill(USERS[username][1])
    page.get_by_role("button", name="Continue").click()


def held_callback(page, app: LiveApp, provider: Provider, username: str) -> str:
    """Sign in at the provider but hold its redirect back: the callback URL it carried. (A route
    sees only the first request of a navigation, so the login form's post is replayed here to
    follow the provider's redirects one by one; the browser gets a blank page.)"""
    held = []
    idp = f"http://127.0.0.1:{provider.port}/login/"

    def hold(route) -> None:
        login = route.fetch(max_redirects=0)
        cookies = [h["value"].split(";")[0] for h in login.headers_array if h["name"].lower() == "set-cookie"]
        authorize = urljoin(route.request.url, login.headers["location"])
        back = route.fetch(
            url=authorize, method="GET", headers={"cookie": "; ".join(cookies)}, max_redirects=0
        )
        held.append(urljoin(authorize, back.headers["location"]))
        route.fulfill(status=200, content_type="text/html", body="<title>held</title>")

    page.route(
        lambda url: url.startswith(idp),
        lambda route: hold(route) if route.request.method == "POST" else route.continue_(),
    )
    to_provider(page, app)
    at_provider(page, username)
    page.wait_for_function("document.title === 'held'")
    page.unroute_all()
    assert held[0].startswith(f"{app.url}/accounts/oidc/callback/?"), held
    return held[0]


def test_sign_in_with_the_provider_creates_the_account_with_pkce(page, sso_app):
    authorize = parse_qs(urlsplit(to_provider(page, sso_app)).query)
    assert authorize["code_challenge_method"] == ["S256"] and "code_verifier" not in authorize
    assert authorize["scope"] == ["openid email profile"] and authorize["state"] and authorize["nonce"]
    at_provider(page, "carol")
    page.wait_for_url(f"{sso_app.url}/new/")
    assert page.get_by_role("link", name="carol (your account)").is_visible()
    assert page.get_by_role("link", name="Admin").is_visible()  # chat-admins at the provider: staff
    assert accounts_with(sso_app, "carol@example.com") == 1


def test_a_forged_state_is_refused(page, sso_app, provider):
    url = held_callback(page, sso_app, provider, "erin")
    response = page.goto(url.replace("state=", "state=forged"))
    assert response.status == 400
    assert page.get_by_role("alert").inner_text().startswith("This sign-in was not started in this browser")
    assert accounts_with(sso_app, "erin@example.com") == 0


def test_an_expired_code_is_refused(page, sso_app, provider):
    url = held_callback(page, sso_app, provider, "erin")
    provider.expire_codes()
    assert page.goto(url).status == 403
    assert "took too long or was already used" in page.get_by_role("alert").inner_text()
    assert accounts_with(sso_app, "erin@example.com") == 0


def test_an_address_outside_the_allowed_domains_is_refused(page, sso_app):
    to_provider(page, sso_app)
    at_provider(page, "mallory")
    page.wait_for_url(f"{sso_app.url}/accounts/oidc/callback/**")
    assert page.get_by_role("alert").inner_text() == "Accounts at elsewhere.org cannot sign in here."
    assert page.get_by_role("link", name="Sign in with Test IdP").is_visible()
    assert accounts_with(sso_app, "mallory@elsewhere.org") == 0


def test_the_provider_going_down_mid_sign_in_is_a_clear_page(page, sso_app, provider):
    url = held_callback(page, sso_app, provider, "erin")
    provider.pause()
    try:
        assert page.goto(url).status == 403
        assert (
            page.get_by_role("alert").inner_text() == "Test IdP is not answering. Try again in a few minutes."
        )
    finally:
        provider.start()
    assert accounts_with(sso_app, "erin@example.com") == 0


def test_with_passwords_off_only_the_break_glass_form_remains(page, sso_app):
    page.goto(f"{sso_app.url}/accounts/login/")
    assert not page.get_by_label("Username").is_visible()
    page.get_by_text("Administrator sign-in").click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(sso_app.users["alice"])
    page.get_by_role("button", name="Log in").click()
    assert "did not match" in page.get_by_role("alert").inner_text()  # alice is no superuser
