"""View decorators of the web pages."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required as django_login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url


def login_required(view):
    """Django's ``login_required``, and for htmx requests (a live search whose session ended
    on the tablet) an ``HX-Redirect`` to the login page instead of a 302 that htmx would
    follow and swap the whole login page into the results."""
    plain = django_login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated or request.headers.get("HX-Request") != "true":
            return plain(request, *args, **kwargs)
        current = urlsplit(request.headers.get("HX-Current-URL") or request.get_full_path())
        next_url = current.path + (f"?{current.query}" if current.query else "")
        login = redirect_to_login(next_url, resolve_url(settings.LOGIN_URL))
        response = HttpResponse(status=401)
        response["HX-Redirect"] = login["Location"]
        return response

    return wrapper
