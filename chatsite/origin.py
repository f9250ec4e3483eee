"""Websocket origin check: the site's own scheme://host[:port] exactly, or CSRF_TRUSTED_ORIGINS."""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host


def _header(scope, name: bytes) -> str | None:
    """The header's value; None when missing or sent more than once (ambiguous: refused)."""
    values = [value for key, value in scope.get("headers", []) if key.lower() == name]
    return values[0].decode("latin1") if len(values) == 1 else None


def _scheme(scope) -> str:
    """http or https, as Django's request.scheme: SECURE_PROXY_SSL_HEADER when set and sent."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        sent = _header(scope, meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        if sent is not None:
            return "https" if sent.split(",", 1)[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme", "ws") in ("wss", "https") else "http"


def _own_host(scope) -> str | None:
    """The Host header, when ALLOWED_HOSTS allows it (what Django's request.get_host() checks)."""
    host = _header(scope, b"host")
    if not host:
        return None
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    return host if domain and validate_host(domain, allowed) else None


def origin_allowed(scope) -> bool:
    """Django's CSRF origin rule (CsrfViewMiddleware._origin_verified) for a websocket handshake.

    Accepted: an Origin equal to scheme://Host of the request itself (the Host in ALLOWED_HOSTS,
    ws -> http and wss -> https), or listed in CSRF_TRUSTED_ORIGINS (exactly, or a
    scheme://*.domain pattern). Refused: any other scheme, host or port, and a missing, repeated
    or "null" Origin (browsers always send one; channels' own validator refuses a missing one too).
    """
    origin = _header(scope, b"origin")
    if not origin or origin == "null":
        return False
    host = _own_host(scope)
    if host is None:
        return False
    if origin.lower() == f"{_scheme(scope)}://{host}".lower():
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in [o for o in trusted if "*" not in o]:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        parsed.scheme == pattern.scheme and is_same_domain(parsed.netloc, pattern.netloc.lstrip("*"))
        for pattern in (urlsplit(o) for o in trusted if "*" in o)
    )


class SameOriginValidator:
    """ASGI middleware for websockets: refuses the handshake (403) unless origin_allowed()."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator is for websocket connections only")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
