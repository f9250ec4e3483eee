"""Single sign-on with the company's OpenID Connect provider (mozilla-django-oidc, with PKCE).

The provider is configured by its issuer URL; its endpoints come from the issuer's discovery
document (`/.well-known/openid-configuration`), read when first needed and kept for an hour.
An account is found by the provider's (issuer, subject); the first sign-in links an existing
account with the same email address (when the provider says the address is verified) or creates
one, as CHAT_SIGNUP allows. Each sign-in refreshes the email and the staff flag from the claims.

Every refusal says why on the sign-in failure page (`SignInRefused`), and none creates an account.
"""

import logging
import time

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .models import Identity
from .signup import SignupRefused, signup_allowed_for

log = logging.getLogger(__name__)
DISCOVERY_TTL = 3600
_discovery: dict = {}  # {"issuer": str, "document": dict, "at": float}


class ProviderUnavailable(Exception):
    """The provider did not answer, or not with a usable document."""


class SignInRefused(SignupRefused):
    """Shown to the person as it is."""


def enabled() -> bool:
    return bool(settings.CHAT_OIDC_ISSUER and settings.CHAT_OIDC_CLIENT_ID)


def discovery() -> dict:
    """The issuer's discovery document, cached for DISCOVERY_TTL seconds."""
    issuer = settings.CHAT_OIDC_ISSUER.rstrip("/")
    if _discovery.get("issuer") == issuer and time.monotonic() - _discovery["at"] < DISCOVERY_TTL:
        return _discovery["document"]
    try:
        response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
            if not isinstance(document.get(key), str):
                raise ValueError(f"no {key}")
    except (requests.RequestException, ValueError) as exc:
        log.warning("OIDC discovery at %s failed: %s", issuer, exc)
        raise ProviderUnavailable(str(exc)) from exc
    _discovery.update(issuer=issuer, document=document, at=time.monotonic())
    return document


def forget_discovery() -> None:
    _discovery.clear()


def email_domain_allowed(email: str) -> bool:
    domains = settings.CHAT_OIDC_ALLOWED_DOMAINS
    return not domains or email.rpartition("@")[2].lower() in domains


def is_staff_by_claims(claims: dict) -> bool | None:
    """True or False from the configured claim, or None when no staff mapping is configured."""
    if not settings.CHAT_OIDC_STAFF_VALUES:
        return None
    return bool(_claim_values(claims) & set(settings.CHAT_OIDC_STAFF_VALUES))


def _claim_values(claims: dict) -> set[str]:
    value = claims.get(settings.CHAT_OIDC_GROUPS_CLAIM)
    if isinstance(value, list):
        return {str(v) for v in value}
    return set() if value is None else {str(value)}


def has_required_claim(claims: dict) -> bool:
    """With CHAT_OIDC_REQUIRED_VALUES set, the claim (CHAT_OIDC_GROUPS_CLAIM) must hold one of them."""
    required = settings.CHAT_OIDC_REQUIRED_VALUES
    return not required or bool(_claim_values(claims) & set(required))


class Backend(OIDCAuthenticationBackend):
    """Endpoints from discovery; the ID token's issuer and audience checked; claims checked against
    the allowed domains and CHAT_SIGNUP. A refusal is left on the request for the callback page."""

    def __init__(self, *args, **kwargs) -> None:  # the parent reads endpoints from settings
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.CHAT_OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.CHAT_OIDC_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request, **kwargs):
        if request is None or not enabled() or "code" not in request.GET or "nonce" not in kwargs:
            return None
        try:
            document = discovery()
            self.OIDC_OP_TOKEN_ENDPOINT = document["token_endpoint"]
            self.OIDC_OP_USER_ENDPOINT = document["userinfo_endpoint"]
            self.OIDC_OP_JWKS_ENDPOINT = document["jwks_uri"]
            self.issuer = document["issuer"]
            return super().authenticate(request, **kwargs)
        except SignupRefused as exc:
            request.sign_in_refused = str(exc)
        except ProviderUnavailable:
            request.sign_in_refused = (
                f"{settings.CHAT_OIDC_PROVIDER_NAME} is not answering. Try again in a few minutes."
            )
        except requests.HTTPError as exc:
            log.warning("OIDC token or userinfo request refused: %s", exc)
            request.sign_in_refused = (
                "The sign-in was not accepted: it took too long or was already used. Start again."
            )
        except requests.RequestException as exc:
            log.warning("OIDC provider unreachable: %s", exc)
            request.sign_in_refused = (
                f"{settings.CHAT_OIDC_PROVIDER_NAME} is not answering. Try again in a few minutes."
            )
        except (SuspiciousOperation, jwt.InvalidTokenError) as exc:
            log.warning("OIDC token rejected: %s", exc)
            request.sign_in_refused = "The provider's answer could not be verified. Start again."
        return None

    def get_user(self, user_id):
        """Django's check, not the parent's: a deactivated account's session ends at its next request."""
        return ModelBackend.get_user(self, user_id)

    def _verify_jws(self, payload, key):
        """The parent checks the signature and expiry only; the issuer and audience matter too."""
        alg = jwt.get_unverified_header(payload).get("alg")
        if alg != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"unexpected algorithm {alg!r}")
        return jwt.decode(payload, key, algorithms=[alg], audience=self.OIDC_RP_CLIENT_ID, issuer=self.issuer)

    def get_or_create_user(self, access_token, id_token, payload):
        claims = {**payload, **self.get_userinfo(access_token, id_token, payload)}
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("userinfo is about someone else")
        email = str(claims.get("email") or "").strip()
        if not email or "@" not in email:
            raise SignInRefused("Your account at the provider has no email address, which this chat needs.")
        if not email_domain_allowed(email):
            raise SignInRefused(f"Accounts at {email.rpartition('@')[2]} cannot sign in here.")
        if not has_required_claim(claims):
            self._deactivate_leaver(str(claims["sub"]))
            raise SignInRefused(
                f"{settings.CHAT_OIDC_PROVIDER_NAME} no longer gives you access to this chat."
            )
        with transaction.atomic():
            user = self._find_or_create(claims, email)
            if not user.is_active:
                raise SignInRefused("This account has been deactivated. Ask an administrator.")
            self._update(user, claims, email)
        return user

    def _deactivate_leaver(self, subject: str) -> None:
        """The provider says this person may no longer use the chat: their account (if any) is
        deactivated, which ends its sessions, sockets and replies (accounts/signals.py)."""
        found = Identity.objects.filter(issuer=self.issuer, subject=subject).select_related("user").first()
        if found and found.user.is_active:
            found.user.is_active = False
            found.user.save(update_fields=["is_active"])
            log.info("deactivated user %s: the provider no longer grants access", found.user_id)

    def _find_or_create(self, claims: dict, email: str):
        identity = Identity.objects.filter(issuer=self.issuer, subject=str(claims["sub"])).select_related(
            "user"
        )
        if found := identity.first():
            return found.user
        user = self._linkable(claims, email)
        if user is None:
            user = signup_allowed_for(email, username_hint=claims.get("preferred_username") or email)
        Identity.objects.create(user=user, issuer=self.issuer, subject=str(claims["sub"]))
        return user

    def _linkable(self, claims: dict, email: str):
        """An existing account with this address, linked only when the provider verified it."""
        matches = list(self.UserModel.objects.filter(email__iexact=email)[:2])
        if not matches:
            return None
        # Never a superuser: the break-glass account must not be reachable through the provider.
        if len(matches) > 1 or claims.get("email_verified") is False or matches[0].is_superuser:
            raise SignInRefused(
                "An account with your email address exists but could not be linked. Ask an administrator."
            )
        return matches[0]

    def _update(self, user, claims: dict, email: str) -> None:
        fields = {"email": email}
        staff = is_staff_by_claims(claims)
        if staff is not None and not user.is_superuser:
            fields["is_staff"] = staff
        for name in ("given_name", "family_name"):
            if isinstance(claims.get(name), str):
                fields["first_name" if name == "given_name" else "last_name"] = claims[name][:150]
        self.UserModel.objects.filter(pk=user.pk).update(**fields)
        for name, value in fields.items():
            setattr(user, name, value)
        Identity.objects.filter(issuer=self.issuer, subject=str(claims["sub"])).update(
            last_sign_in=timezone.now()
        )
