"""What the sign-in pages need on every page: the provider's name when single sign-on is on, and
whether password sign-in is offered to everyone."""

from django.conf import settings

from . import oidc


def accounts(request) -> dict:
    return {
        "sso_provider": settings.CHAT_OIDC_PROVIDER_NAME if oidc.enabled() else "",
        "password_login": settings.CHAT_PASSWORD_LOGIN,
        "allow_signup": settings.CHAT_SIGNUP == "open",
    }
