from __future__ import annotations

import contextlib
import ipaddress

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from countycare.core import context


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    """The UI is Chinese unless the user switched language (the ``set_language`` cookie).
    Django's own middleware would follow the browser's Accept-Language, and a tablet bought
    with an English system would show a village doctor English pages."""

    def process_request(self, request):
        language = settings.LANGUAGE_CODE
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen:
            # A language we do not offer, or garbage, keeps the default.
            with contextlib.suppress(LookupError):
                language = translation.get_supported_language_variant(chosen)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


def client_ip(request) -> str | None:
    # REMOTE_ADDR is what the socket saw; behind our own proxy, gunicorn's forwarded-allow-ips
    # rewrites it. A client-supplied X-Forwarded-For is not trusted here.
    raw = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = context.set_current(
            context.RequestContext(ip=client_ip(request), path=request.path[:300])
        )
        try:
            return self.get_response(request)
        finally:
            context.reset(token)


class SecurityHeadersMiddleware:
    """Headers Django 5.2's SecurityMiddleware does not set. Scripts and styles are served
    from our own origin only (htmx and ECharts are vendored)."""

    CSP = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
        "form-action 'self'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/api/docs"):
            response.headers.setdefault("Content-Security-Policy", self.CSP)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(self), microphone=(), geolocation=(self)"
        )
        if request.user.is_authenticated if hasattr(request, "user") else False:
            response.headers.setdefault("Cache-Control", "no-store")
        return response
