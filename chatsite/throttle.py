"""Sign-in lockout and the sign-up rate limit (README, "Security").

Sign-in: django-axes records each failed attempt in the database (AccessAttempt) and each success
(AccessLog). An account is locked after CHAT_LOGIN_FAILURES failures, and a client address after
CHAT_LOGIN_IP_FAILURES failures on any accounts, both counted over the last CHAT_LOGIN_COOLOFF_MINUTES;
the lock lifts that long after the last attempt. The address limit is the higher one because a whole
office may sign in from one address. Successful sign-ins are never counted.

Sign-up: at most CHAT_SIGNUPS_PER_HOUR POSTs per client address per clock hour, counted in Django's
cache (so per process unless the cache is shared).
"""

import ipaddress
import logging
import math
import time
from collections.abc import Callable
from functools import wraps

from asgiref.sync import sync_to_async
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.cache import cache
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

HOUR = 3600

log = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR when it is an IP address. Behind a proxy, daphne's --proxy-headers sets it from
    X-Forwarded-For, which the proxy must set rather than append to (deploy/nginx.conf)."""
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


def attempted_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the username a sign-in tried, cut to the 255 characters axes stores
    (as axes cuts the user agent and path itself). No account has a longer name, and PostgreSQL
    refuses a longer value."""
    username = (credentials or request.POST).get("username")
    return username[:255] if username else username


class LoginBackend(AxesStandaloneBackend, ModelBackend):
    """Django's ModelBackend behind axes' lockout check, for passwords (single sign-on has its own
    backend, accounts.oidc.Backend). Without a request there is no client to throttle:
    only code calls authenticate() so (the test client's login()); every login form passes one."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is not None:
            super().authenticate(request, username, password, **kwargs)  # raises when locked out
        return ModelBackend.authenticate(self, request, username, password, **kwargs)

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        return await sync_to_async(self.authenticate)(request, username, password, **kwargs)

    def user_can_authenticate(self, user) -> bool:
        """Active accounts; with CHAT_PASSWORD_LOGIN off, only superusers (the break-glass account).
        Also asked of each request's session, so turning passwords off ends password sessions."""
        return super().user_can_authenticate(user) and (settings.CHAT_PASSWORD_LOGIN or user.is_superuser)


class LoginFailureHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit per account and a higher one per client address."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        # One count per AXES_LOCKOUT_PARAMETERS entry: ["username", "ip_address"].
        by_account, by_address = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        # On the account's scale, so axes' one AXES_FAILURE_LIMIT is reached when either count
        # reaches its own limit.
        limit = get_failure_limit(request, credentials)
        return max(by_account, by_address * limit // settings.CHAT_LOGIN_IP_FAILURES)


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def lockout_response(request: HttpRequest, *_args) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the login page again, saying how long to wait. The attempt that got
    here restarted the wait, so it is the whole cool-off."""
    wait = _minutes(get_cool_off(request).total_seconds())
    context = {
        "form": AuthenticationForm(request, initial={"username": request.POST.get("username", "")}),
        "next": request.POST.get("next", ""),
        "lockout": f"Too many failed sign-in attempts. Try again in {wait}.",
    }
    return render(request, "registration/login.html", context, status=429)


def _cache_errors() -> type[BaseException]:
    """The shared cache's connection error. Imported when one is raised: every command's URL
    checks import this module, and redis takes a quarter of a second to import."""
    from redis.exceptions import RedisError

    return RedisError


def _seconds_over_limit(key: str, limit: int, window: int) -> float:
    """Counts one event in the current fixed window; the seconds until the window ends when the
    count is past `limit`, else 0."""
    now = time.time()
    window_index = int(now // window)
    bucket = f"throttle:{key}:{window_index}"
    try:
        cache.add(bucket, 0, timeout=window)
        count = cache.incr(bucket)
    except _cache_errors() as exc:  # the shared cache is down: let it through (sign-in lockout is in the DB)
        log.warning("rate limit not counted, the cache is unreachable: %s", exc)
        return 0
    if count <= limit:
        return 0
    return (window_index + 1) * window - now


def limit_signups(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wraps the sign-up view: past CHAT_SIGNUPS_PER_HOUR POSTs from one address, a 429 page that
    keeps the username typed and says when to try again."""

    @wraps(view)
    def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST":
            wait = _seconds_over_limit(f"signup:{client_ip(request)}", settings.CHAT_SIGNUPS_PER_HOUR, HOUR)
            if wait:
                context = {
                    "form": UserCreationForm(initial={"username": request.POST.get("username", "")}),
                    "error": f"Too many sign-ups from your address. Try again in {_minutes(wait)}.",
                }
                return render(request, "registration/signup.html", context, status=429)
        return view(request, *args, **kwargs)

    return limited
