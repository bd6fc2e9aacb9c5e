"""Core pages: login and logout, the home page (widgets registered by the apps, core.home),
the audit log, and the health check."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from countycare.core import audit
from countycare.core import home as home_widgets
from countycare.core.api_views import audit_entries_for
from countycare.core.decorators import login_required
from countycare.core.forms import AuditFilterForm
from countycare.core.models import AuditEntry

AUDIT_PAGE_SIZE = 50


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.log(audit.Action.LOGIN, actor=self.request.user, object_type="auth.session")
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            audit.log(audit.Action.LOGOUT, actor=request.user, object_type="auth.session")
        return super().post(request, *args, **kwargs)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"widgets": home_widgets.widgets_for(request)})


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """Search the audit trail (read-only). Institution admins see the entries of their
    institutions' subtree; community-office and system admins see all (audit_entries_for)."""
    if not request.user.has_perm("countycare.view_audit"):
        raise PermissionDenied(_("Your role does not allow this action."))
    form = AuditFilterForm(request.GET or None)
    f = form.filters()
    qs = audit_entries_for(request.user)
    if "user" in f:
        qs = qs.filter(actor_username=f["user"])
    if "action" in f:
        qs = qs.filter(action=f["action"])
    if "object_type" in f:
        qs = qs.filter(object_type=f["object_type"])
    if "resident" in f:
        qs = qs.filter(resident_id=f["resident"])
    if "date_from" in f:
        qs = qs.filter(at__gte=_day_start(f["date_from"]))
    if "date_to" in f:
        qs = qs.filter(at__lt=_day_start(f["date_to"] + dt.timedelta(days=1)))
    page = Paginator(qs.order_by("-at", "-id"), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "core/audit_log.html",
        {
            "form": form,
            "page": page,
            "object_types": ["residents.resident", "residents.keypopulationtag", "auth.session"],
            "actions": AuditEntry.Action,
        },
    )


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")
