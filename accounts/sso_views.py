"""The two single sign-on pages: the start (to the provider, with state, nonce and PKCE) and the
callback (the code exchanged, the account found or created). Every failure is a page that says
what happened and offers to start again; none creates an account."""

import logging
import time

from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from . import oidc

log = logging.getLogger(__name__)


def refused(request: HttpRequest, reason: str, status: int = 403) -> HttpResponse:
    context = {"reason": reason, "provider": settings.CHAT_OIDC_PROVIDER_NAME}
    return render(request, "accounts/sso_failed.html", context, status=status)


class Start(OIDCAuthenticationRequestView):
    def __init__(self, *args, **kwargs) -> None:  # the parent reads the endpoint from settings
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.CHAT_OIDC_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404("Single sign-on is not configured")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc.discovery()["authorization_endpoint"]
        except oidc.ProviderUnavailable:
            reason = f"{settings.CHAT_OIDC_PROVIDER_NAME} is not answering. Try again in a few minutes."
            return refused(request, reason, status=503)
        if request.GET.get("reauth") and request.user.is_authenticated:
            # Proving it is you again before deleting the account: the provider must ask anew.
            request.session["oidc_reauth_user"] = request.user.pk
        return super().get(request)

    def get_extra_params(self, request: HttpRequest) -> dict:
        if request.GET.get("reauth") and request.user.is_authenticated:
            return {"prompt": settings.CHAT_OIDC_REAUTH_PROMPT, "max_age": "0"}
        return {}


class Callback(OIDCAuthenticationCallbackView):
    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404("Single sign-on is not configured")
        if request.GET.get("error"):
            log.info("provider answered the sign-in with %s", request.GET.get("error"))
        try:
            return super().get(request)
        except SuspiciousOperation as exc:  # a state this browser did not start
            log.warning("OIDC callback refused: %s", exc)
            return refused(
                request,
                "This sign-in was not started in this browser, or was already used. Start again.",
                400,
            )

    def login_success(self) -> HttpResponse:
        session = self.request.session
        if session.pop("oidc_reauth_user", None) == self.user.pk:
            session["reauth_at"] = time.time()
        return super().login_success()

    def login_failure(self) -> HttpResponse:
        request = self.request
        reason = getattr(request, "sign_in_refused", None)
        if reason is None and request.GET.get("error"):
            reason = f"{settings.CHAT_OIDC_PROVIDER_NAME} did not sign you in."
        if reason is None and "code" in request.GET:
            reason = "This sign-in was not started in this browser, or was already used. Start again."
        if request.user.is_authenticated:
            logout(request)
        return refused(request, reason or "The sign-in did not complete. Start again.")
