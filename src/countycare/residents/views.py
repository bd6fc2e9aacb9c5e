"""Resident pages: search, registration, the resident page, edits, key-population tags,
revealing the national ID, and the CSV export.

Every read goes through ``residents.selectors`` (scoped); an object outside the user's scope
answers 404, before any permission check (a 403 would confirm it exists). Reads are audited
here (GOV-04): READ per resident page, SEARCH per filtered search, EXPORT per export, REVEAL
per revealed national ID. Writes are audited by the services."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from countycare.core import audit, idempotency, resident_page
from countycare.core import national_id as nid
from countycare.core.decorators import login_required
from countycare.core.errors import DomainError
from countycare.core.scoping import scoped
from countycare.core.timeline import for_resident
from countycare.organizations import policy
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import primary_institution
from countycare.residents import selectors, services
from countycare.residents.forms import (
    RegistrationForm,
    ResidentEditForm,
    ResidentSearchForm,
    TagAddForm,
    TagEndForm,
    add_domain_error,
)
from countycare.residents.models import KeyPopulation, KeyPopulationTag, Resident

SEARCH_PAGE_SIZE = selectors.SEARCH_LIMIT
EXPORT_CHUNK = 2000


# --- Helpers --------------------------------------------------------------------------------


def _require(user, perm: str) -> None:
    if not user.has_perm(f"countycare.{perm}"):
        raise PermissionDenied(_("Your role does not allow this action."))


def _is_htmx(request: HttpRequest) -> bool:
    # A history restore asks for the whole page even though htmx sends it.
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _get_resident(request: HttpRequest, pk: int) -> Resident:
    """The resident if the user may see it; 404 otherwise (never 403)."""
    return get_object_or_404(
        selectors.residents_for(request.user).select_related("home_village", "household"), pk=pk
    )


def _audit_query(raw: str) -> str:
    """What a SEARCH or EXPORT entry keeps of the query: a national ID only masked."""
    query = selectors.classify(raw)
    return nid.mask(query.text) if query.kind == "national_id" else query.text


def _key_population_labels(
    residents: Iterable[Resident], on: dt.date | None = None
) -> dict[int, list[str]]:
    """Key populations of many residents in one query (derived from the birth date, declared
    from current tags), for result tables and exports."""
    on = on or timezone.localdate()
    elderly_age = policy.value(policy.ELDERLY_AGE)
    child_max_age = policy.value(policy.CHILD_MAX_AGE)
    rows = list(residents)
    labels: dict[int, list[str]] = defaultdict(list)
    for r in rows:
        age = r.age_on(on)
        if age >= elderly_age:
            labels[r.pk].append(str(KeyPopulation.ELDERLY.label))
        if age <= child_max_age:
            labels[r.pk].append(str(KeyPopulation.CHILD.label))
    tags = (
        KeyPopulationTag.objects.current(on)
        .filter(resident_id__in=[r.pk for r in rows])
        .order_by("resident_id", "recorded_on")
        .values_list("resident_id", "tag")
    )
    for resident_id, tag in tags:
        labels[resident_id].append(str(KeyPopulation(tag).label))
    return labels


# --- Search ---------------------------------------------------------------------------------


@login_required
def search(request: HttpRequest) -> HttpResponse:
    user = request.user
    sees_records = user.has_perm(f"countycare.{Perm.VIEW_RESIDENT}")
    form = ResidentSearchForm(user, request.GET or None)
    filters = form.filters()
    active = sees_records and bool(filters["q"] or filters["village"] or filters["key_population"])
    results: list[Resident] = []
    more = False
    if active:
        results = list(
            selectors.search_residents(
                user,
                filters["q"],
                village_id=filters["village"],
                key_population=filters["key_population"] or None,
                limit=SEARCH_PAGE_SIZE + 1,
            )
        )
        more = len(results) > SEARCH_PAGE_SIZE
        results = results[:SEARCH_PAGE_SIZE]
        labels = _key_population_labels(results)
        for r in results:
            r.key_population_labels = labels.get(r.pk, [])
        audit.log(
            audit.Action.SEARCH,
            actor=user,
            object_type="residents.resident",
            institution=primary_institution(user),
            detail={
                "q": _audit_query(filters["q"]),
                "village": filters["village"],
                "key_population": filters["key_population"] or None,
                "results": len(results),
                "more": more,
            },
        )
    context = {
        "form": form,
        "filters": filters,
        "active": active,
        "results": results,
        "more": more,
        "page_size": SEARCH_PAGE_SIZE,
        "sees_records": sees_records,
        "can_register": user.has_perm(f"countycare.{Perm.REGISTER_RESIDENT}"),
        "can_export": user.has_perm(f"countycare.{Perm.EXPORT_RESIDENTS}"),
        "query_string": request.GET.urlencode(),
    }
    template = "residents/_results.html" if _is_htmx(request) else "residents/search.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- Registration ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, Perm.REGISTER_RESIDENT)
    if request.method != "POST":
        return render(request, "residents/register.html", {"form": RegistrationForm(user)})

    form = RegistrationForm(user, request.POST)
    existing_url = ""
    if form.is_valid():
        kwargs = form.service_kwargs()

        def create() -> tuple[int, Any]:
            resident = services.register_resident(actor=user, **kwargs)
            return 201, {"id": resident.pk}

        try:
            token = form.cleaned_data["token"]
            if token:
                outcome = idempotency.run(
                    user=user,
                    key=token,
                    operation="residents.register",
                    payload=form.payload(),
                    action=create,
                )
                resident_id, replayed = outcome.body["id"], outcome.replayed
            else:
                resident_id, replayed = create()[1]["id"], False
        except DomainError as exc:
            add_domain_error(form, exc, RegistrationForm.FIELD_MAP)
            existing_url = exc.extra.get("existing_url", "")
            if exc.code in ("idempotency_key_reused", "idempotency_key"):
                form.renew_token()
        else:
            if replayed:
                messages.info(request, _("This registration was already saved."))
            else:
                messages.success(request, _("Resident registered."))
            return redirect("residents:detail", pk=resident_id)
    return render(request, "residents/register.html", {"form": form, "existing_url": existing_url})


# --- The resident page ----------------------------------------------------------------------


def _detail_context(request: HttpRequest, resident: Resident) -> dict[str, Any]:
    user = request.user
    members: list[Resident] = []
    if resident.household_id:
        members = list(
            selectors.residents_for(user)
            .filter(household_id=resident.household_id)
            .exclude(pk=resident.pk)
            .order_by("birth_date")
        )
    return {
        "resident": resident,
        "township": resident.home_village.township,
        "members": members,
        "key_populations": selectors.key_populations_of(resident),
        "timeline": for_resident(resident, user),
        "sections": resident_page.sections_for(request, resident),
        "can_change": user.has_perm(f"countycare.{Perm.CHANGE_RESIDENT}"),
        "can_tag": user.has_perm(f"countycare.{Perm.TAG_RESIDENT}"),
        "can_reveal": user.has_perm(f"countycare.{Perm.VIEW_NATIONAL_ID}"),
    }


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _get_resident(request, pk)
    audit.log(audit.Action.READ, actor=request.user, obj=resident, detail={"view": "page"})
    context = _detail_context(request, resident)
    if context["can_tag"]:
        context["tag_form"] = TagAddForm(auto_id="tag_%s")
    return render(request, "residents/detail.html", context)


@login_required
@require_POST
def reveal_id(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _get_resident(request, pk)
    _require(request.user, Perm.VIEW_NATIONAL_ID)
    audit.log(
        audit.Action.REVEAL, actor=request.user, obj=resident, detail={"field": "national_id"}
    )
    context = {"resident": resident, "revealed": resident.national_id}
    if _is_htmx(request):
        return render(request, "residents/_national_id.html", context)
    return render(request, "residents/reveal_id.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _get_resident(request, pk)
    user = request.user
    _require(user, Perm.CHANGE_RESIDENT)
    if request.method != "POST":
        form = ResidentEditForm(user, resident)
        return render(request, "residents/edit.html", {"form": form, "resident": resident})
    form = ResidentEditForm(user, resident, request.POST)
    if form.is_valid():
        changes = form.changes()
        if not changes:
            messages.info(request, _("Nothing was changed."))
            return redirect("residents:detail", pk=resident.pk)
        try:
            services.update_resident(actor=user, resident=resident, **changes)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("residents:detail", pk=resident.pk)
    return render(request, "residents/edit.html", {"form": form, "resident": resident})


# --- Key-population tags --------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def tag_add(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _get_resident(request, pk)
    user = request.user
    _require(user, Perm.TAG_RESIDENT)
    if request.method != "POST":
        form = TagAddForm()
        return render(request, "residents/tag_add.html", {"form": form, "resident": resident})
    form = TagAddForm(request.POST)
    if form.is_valid():
        kwargs = form.service_kwargs()

        def declare() -> tuple[int, Any]:
            tag = services.declare_tag(actor=user, resident=resident, **kwargs)
            return 201, {"id": tag.pk}

        try:
            token = form.cleaned_data["token"]
            if token:
                outcome = idempotency.run(
                    user=user,
                    key=token,
                    operation="residents.tag-page",
                    payload={"resident": resident.pk, **form.payload()},
                    action=declare,
                )
                replayed = outcome.replayed
            else:
                declare()
                replayed = False
        except DomainError as exc:
            add_domain_error(form, exc)
            if exc.code in ("idempotency_key_reused", "idempotency_key"):
                form.renew_token()
        else:
            if not replayed:
                messages.success(
                    request,
                    _("Key population recorded: %(tag)s")
                    % {"tag": KeyPopulation(kwargs["tag"]).label},
                )
            return redirect(reverse("residents:detail", args=[resident.pk]) + "#key-populations")
    return render(request, "residents/tag_add.html", {"form": form, "resident": resident})


@login_required
@require_POST
def tag_end(request: HttpRequest, pk: int, tag_pk: int) -> HttpResponse:
    resident = _get_resident(request, pk)
    user = request.user
    tag = get_object_or_404(scoped(user, KeyPopulationTag).filter(resident=resident), pk=tag_pk)
    _require(user, Perm.TAG_RESIDENT)
    form = TagEndForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    else:
        try:
            data = form.cleaned_data
            services.end_tag(actor=user, tag=tag, reason=data["reason"], ended_on=data["ended_on"])
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(
                request, _("Key population ended: %(tag)s") % {"tag": tag.get_tag_display()}
            )
    return redirect("residents:detail", pk=resident.pk)


# --- Export ---------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell that starts like a formula is run by spreadsheet programs: keep it text.
    return "'" + text if text.startswith(_FORMULA_START) else text


def _export_rows(queryset, *, full_id: bool) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # BOM: Excel opens UTF-8 as UTF-8 only with it
    yield writer.writerow(
        [
            _("Name"),
            _("Sex"),
            _("Birth date"),
            _("Age"),
            _("National ID number"),
            _("Ethnicity"),
            _("Phone"),
            _("Home village"),
            _("Address"),
            _("Key populations"),
        ]
    )
    today = timezone.localdate()
    chunk: list[Resident] = []

    def flush(rows: list[Resident]) -> Iterator[str]:
        labels = _key_population_labels(rows, today)
        for r in rows:
            # The tab keeps Excel from turning an 18-digit number into 1.50627E+17.
            number = "\t" + r.national_id if full_id else r.national_id_masked
            yield writer.writerow(
                [
                    _cell(r.name),
                    r.get_sex_display(),
                    r.birth_date.isoformat(),
                    r.age_on(today),
                    number,
                    r.get_ethnicity_display(),
                    _cell(r.phone),
                    _cell(r.home_village.name),
                    _cell(r.address),
                    "、".join(labels.get(r.pk, [])),
                ]
            )

    for resident in queryset.iterator(chunk_size=EXPORT_CHUNK):
        chunk.append(resident)
        if len(chunk) >= EXPORT_CHUNK:
            yield from flush(chunk)
            chunk = []
    if chunk:
        yield from flush(chunk)


@login_required
def export(request: HttpRequest) -> StreamingHttpResponse:
    user = request.user
    _require(user, Perm.EXPORT_RESIDENTS)
    filters = ResidentSearchForm(user, request.GET or None).filters()
    full_id = user.has_perm(f"countycare.{Perm.VIEW_NATIONAL_ID}")
    queryset = selectors.search_residents(
        user,
        filters["q"],
        village_id=filters["village"],
        key_population=filters["key_population"] or None,
        limit=None,
    )
    if not full_id:
        queryset = queryset.defer("national_id")  # no decryption when only the mask is shown
    count = queryset.count()
    audit.log(
        audit.Action.EXPORT,
        actor=user,
        object_type="residents.resident",
        institution=primary_institution(user),
        detail={
            "q": _audit_query(filters["q"]),
            "village": filters["village"],
            "key_population": filters["key_population"] or None,
            "rows": count,
            "national_id": "full" if full_id else "masked",
        },
    )
    response = StreamingHttpResponse(
        _export_rows(queryset, full_id=full_id), content_type="text/csv; charset=utf-8"
    )
    filename = f"residents-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
