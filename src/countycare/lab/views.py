"""Lab pages (issue 5; SHC-01/02/03): turnaround per lab and per test with the breaches,
typed-in results of devices without HL7 (tablet-first), a resident's lab results with result
recognition, and the dead-letter list where a person fixes a mapping and replays.

Reads go through ``lab.selectors`` and ``scoped()`` (outside the user's scope: 404); every
write is one POST calling one service; a DomainError is a message on the page, never a 500.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from countycare.core import audit, idempotency, national_id
from countycare.core.decorators import login_required
from countycare.core.errors import DomainError
from countycare.core.scoping import scoped
from countycare.lab import devices, selectors, services, stats, units
from countycare.lab.forms import EntryForm, MappingForm
from countycare.lab.models import Analyzer, Hl7Message, MessageStatus
from countycare.organizations.roles import Perm
from countycare.organizations.selectors import primary_institution
from countycare.residents import selectors as resident_selectors
from countycare.residents.models import Resident
from countycare.residents.views import _audit_query
from countycare.telemed.models import ExamOrder, Modality, OrderStatus

DEFAULT_DAYS = 30
NATIONAL_ID = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
BREACHES_SHOWN = 50


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@login_required
def turnaround(request: HttpRequest) -> HttpResponse:
    """The share of lab results reported within the target, per lab and per test."""
    if not request.user.has_perm("countycare.view_aggregates"):
        raise PermissionDenied(_("Your role does not allow this action."))
    today = timezone.localdate()
    date_to = _date(request.GET.get("to"), today)
    date_from = _date(request.GET.get("from"), date_to - dt.timedelta(days=DEFAULT_DAYS - 1))
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    start, end = _aware(date_from), _aware(date_to + dt.timedelta(days=1))
    by_lab = stats.turnaround(request.user, start, end, by="lab")
    by_service = stats.turnaround(request.user, start, end, by="service")
    by_test = stats.turnaround(request.user, start, end, by="test")
    late = selectors.breaches(request.user, start, end)
    names = Analyzer.labels()
    for b in late[:BREACHES_SHOWN]:
        b["lab"] = names.get(b["sender"], b["sender"])
    return render(
        request,
        "lab/turnaround.html",
        {
            "by_lab": by_lab,
            "by_service": by_service,
            "by_test": by_test,
            "target": stats.targets().get("routine"),
            "date_from": date_from,
            "date_to": date_to,
            "breaches": late[:BREACHES_SHOWN],
            "breach_count": len(late),
            "summary": stats.summary(by_lab),
            "can_open": request.user.has_perm(f"countycare.{Perm.VIEW_RESIDENT}"),
        },
    )


# HL7 table 0357 (ack.ERR_TEXT), for people.
ERROR_TEXT = {
    "100": gettext_lazy("Segment sequence error"),
    "101": gettext_lazy("Required field missing"),
    "102": gettext_lazy("Data type error"),
    "103": gettext_lazy("Table value not found"),
    "200": gettext_lazy("Unsupported message type"),
    "202": gettext_lazy("Unsupported processing ID"),
    "203": gettext_lazy("Unsupported version ID"),
    "204": gettext_lazy("Unknown key identifier"),
    "205": gettext_lazy("Duplicate key identifier"),
    "207": gettext_lazy("Application internal error"),
}


def error_label(message: Hl7Message) -> str:
    """What went wrong, in a few words, for people (the HL7 code's name, made specific)."""
    location = message.error_location or ""
    msgid = (message.reason_args or {}).get("msgid", "")
    if "belongs to another patient" in msgid:
        return str(gettext_lazy("Patient and order do not match"))
    if "cancelled" in msgid:
        return str(gettext_lazy("Order cancelled"))
    if message.error_code == "103" and location.endswith("^6"):
        return str(gettext_lazy("Unit does not fit the test"))
    if message.error_code == "103":
        return str(gettext_lazy("Test code not in the code table"))
    if message.error_code == "204" and location.startswith("PID"):
        return str(gettext_lazy("Unknown patient"))
    if message.error_code == "204":
        return str(gettext_lazy("Unknown order"))
    return str(ERROR_TEXT.get(message.error_code, ""))


# --- shared helpers ---------------------------------------------------------------------------
def _require(user, perm: str) -> None:
    if not user.has_perm(f"countycare.{perm}"):
        raise PermissionDenied(_("Your role does not allow this action."))


def _resident(request: HttpRequest, pk: int) -> Resident:
    qs = resident_selectors.residents_for(request.user).select_related("home_village")
    return get_object_or_404(qs, pk=pk)


# --- typed-in results of devices without HL7 ---------------------------------------------------
@login_required
@require_GET
def entry(request: HttpRequest) -> HttpResponse:
    """Find the resident whose device reading is typed in (tablet-first)."""
    _require(request.user, Perm.ENTER_RESULTS)
    q = (request.GET.get("q") or "").strip()[:100]
    found = list(resident_selectors.search_residents(request.user, q, limit=30)) if q else []
    if q:
        audit.log(
            audit.Action.SEARCH,
            actor=request.user,
            object_type="residents.resident",
            institution=primary_institution(request.user),
            detail={"view": "lab-entry", "q": _audit_query(q), "results": len(found)},
        )
    return render(request, "lab/entry_search.html", {"q": q, "found": found})


def _open_lab_orders(user, person: Resident):
    return (
        scoped(user, ExamOrder)
        .filter(resident=person, service__modality=Modality.LAB)
        .exclude(
            status__in=[
                OrderStatus.CANCELLED,
                OrderStatus.DRAFT,
                OrderStatus.SIGNED,
                OrderStatus.ACKNOWLEDGED,
            ]
        )
        .select_related("service")
        .order_by("-created_at")[:20]
    )


@login_required
@require_http_methods(["GET", "POST"])
def entry_resident(request: HttpRequest, resident: int) -> HttpResponse:
    """Type in one reading of a glucose meter or a urine strip for a resident; validated like
    an analyzer's result (services.enter_results), saved once however often it is sent."""
    user = request.user
    _require(user, Perm.ENTER_RESULTS)
    person = _resident(request, resident)
    if request.method == "GET":
        audit.log(audit.Action.READ, actor=user, obj=person, detail={"view": "lab-entry"})
    kit = devices.device(request.GET.get("device") or request.POST.get("device") or "")
    kit = kit or devices.DEVICES["glucose_meter"]
    orders = list(_open_lab_orders(user, person))
    form = EntryForm(
        kit, request.POST or None, orders=orders, initial={"order": request.GET.get("order")}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data

            def create() -> tuple[int, Any]:
                made = services.enter_results(
                    user,
                    resident=person.pk,
                    device=kit.key,
                    values=form.values(),
                    observed_at=data.get("observed_at"),
                    order=data.get("order"),
                )
                return 201, {
                    "ids": [o.pk for o in made],
                    "critical": sum(o.is_critical for o in made),
                }

            try:
                token = data.get("token")
                if token:
                    outcome = idempotency.run(user=user, key=token, operation="lab.enter_results",
                                              payload=form.payload(), action=create)  # fmt: skip
                    body, replayed = outcome.body, outcome.replayed
                else:
                    body, replayed = create()[1], False
            except DomainError as exc:
                form.add_error(form.field_for(exc.field), str(exc.message))
                if exc.code in ("idempotency_key_reused", "idempotency_key"):
                    form.renew_token()
            else:
                if replayed:
                    messages.info(request, _("These results were already saved."))
                else:
                    messages.success(request, _("%(n)d results saved.") % {"n": len(body["ids"])})
                if body.get("critical"):
                    messages.warning(
                        request,
                        _("Critical value: the alert was raised. Act now and acknowledge it."),
                    )
                return redirect("lab:resident-results", pk=person.pk)
        status = 400
    return render(
        request,
        "lab/entry.html",
        {"form": form, "resident": person, "device": kit, "devices": devices.DEVICES.values()},
        status=status,
    )


# --- a resident's lab results, with result recognition ------------------------------------------
@login_required
@require_GET
def resident_results(request: HttpRequest, pk: int) -> HttpResponse:
    """The resident's lab results across the community (in scope), newest first, marked when
    recognized and with the day their recognition ends (SHC-01/02)."""
    person = _resident(request, pk)
    audit.log(audit.Action.READ, actor=request.user, obj=person, detail={"view": "lab-results"})
    now = timezone.now()
    rows = list(selectors.resident_results(request.user, person)[:300])
    groups: list[dict] = []
    index: dict[tuple, dict] = {}
    for r in rows:
        key = (r.order_id, r.message_id, r.taken_at)
        group = index.get(key)
        if group is None:
            kit = devices.device(r.device)
            group = index[key] = {
                "order": r.order,
                "title": r.order.service.name if r.order_id else (kit.label if kit else r.name),
                "lab": str(r.order.center.institution) if r.order_id and r.message_id
                else str(r.observation.institution),
                "taken_at": r.taken_at,
                "reported_at": r.reported_at,
                "manual": r.message_id is None,
                "entered_by": r.entered_by,
                "recognized": r.recognized,
                "valid_until": r.valid_until,
                "valid": r.recognized and r.valid_until >= now,
                "rows": [],
            }  # fmt: skip
            groups.append(group)
        group["rows"].append(r)
        if r.recognized:
            group["valid_until"] = min(group["valid_until"], r.valid_until)
            group["valid"] = group["valid_until"] >= now
    return render(
        request,
        "lab/resident_results.html",
        {
            "resident": person,
            "groups": groups,
            "recognition_days": selectors.recognition_days(),
            "can_enter": request.user.has_perm(f"countycare.{Perm.ENTER_RESULTS}"),
        },
    )


# --- dead letters --------------------------------------------------------------------------------
DEAD_LETTERS_PAGE = 50


@login_required
@require_GET
def dead_letters(request: HttpRequest) -> HttpResponse:
    """HL7 messages that could not be matched or parsed, with the reason and counts; a person
    with ``manage_interfaces`` opens one, fixes the mapping and replays it (issue 5)."""
    _require(request.user, Perm.MANAGE_INTERFACES)
    sender = (request.GET.get("sender") or "").strip()[:200]
    code = (request.GET.get("code") or "").strip()[:10]
    qs = selectors.dead_letters(request.user, sender=sender, error_code=code)
    page = Paginator(qs, DEAD_LETTERS_PAGE).get_page(request.GET.get("page"))
    counts = selectors.dead_letter_counts(request.user)
    names = Analyzer.labels()
    for c in counts["by_code"]:
        c["label"] = ERROR_TEXT.get(c["error_code"], "")
    for c in counts["by_sender"]:
        c["label"] = names.get(c["sender"], "")
    for m in page:
        m.analyzer = names.get(m.sender, "")
        m.error_text = error_label(m)
    return render(
        request,
        "lab/dead_letters.html",
        {
            "page": page,
            "counts": counts,
            "sender": sender,
            "code": code,
        },
    )


def _dead_letter(request: HttpRequest, pk: int) -> Hl7Message:
    _require(request.user, Perm.MANAGE_INTERFACES)
    return get_object_or_404(selectors.messages_for(request.user), pk=pk)


@login_required
@require_GET
def dead_letter(request: HttpRequest, pk: int) -> HttpResponse:
    row = _dead_letter(request, pk)
    audit.log(audit.Action.READ, actor=request.user, obj=row, detail={"view": "dead-letter"})
    missing = selectors.missing_codes(row)
    first = missing[0] if missing else None
    form = MappingForm(
        initial={
            "local_code": first.local_code,
            "name": first.text,
            "unit": first.unit,
            "loinc": units.suggest_loinc(first.local_code, first.text),
        }
        if first
        else None
    )
    return _dead_letter_page(request, row, form, missing)


def _dead_letter_page(request, row, form, missing, status=200) -> HttpResponse:
    segments = [s for s in row.raw.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s]
    error_segment = row.error_location.split("^")[0] if row.error_location else ""
    try:
        error_seq = int(row.error_location.split("^")[1]) if error_segment else 0
    except (IndexError, ValueError):
        error_seq = 0
    if not request.user.has_perm(f"countycare.{Perm.VIEW_NATIONAL_ID}"):
        # The raw message names the patient; the national ID is shown masked, as everywhere.
        segments = [NATIONAL_ID.sub(lambda m: national_id.mask(m[0]), t) for t in segments]
    lines, seen = [], {}
    for text in segments[:500]:
        name = text[:3]
        seen[name] = seen.get(name, 0) + 1
        at_error = name == error_segment and (error_seq in (0, seen[name]) or name == "MSH")
        lines.append({"text": text, "error": at_error})
    return render(
        request,
        "lab/dead_letter.html",
        {
            "row": row,
            "analyzer": Analyzer.labels().get(row.sender, ""),
            "lines": lines,
            "more_segments": max(0, len(segments) - 500),
            "missing": missing,
            "form": form,
            "error_text": error_label(row),
            "is_dead": row.status != MessageStatus.ACCEPTED,
            "notes": [n for n in row.notes.splitlines() if n.strip()],
            "loinc_names": sorted(units.NAMES.items(), key=lambda item: item[1]),
        },
        status=status,
    )


@login_required
@require_POST
def dead_letter_replay(request: HttpRequest, pk: int) -> HttpResponse:
    row = _dead_letter(request, pk)
    try:
        done = services.replay(request.user, row.pk)
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("lab:dead-letter", pk=row.pk)
    if done.status == MessageStatus.ACCEPTED:
        messages.success(
            request,
            _("Accepted: %(n)d results stored on the resident and the order.")
            % {"n": done.observation_count},
        )
    else:
        messages.warning(request, _("Still failing: %(reason)s") % {"reason": done.reason_display})
    return redirect("lab:dead-letter", pk=row.pk)


@login_required
@require_POST
def dead_letter_map(request: HttpRequest, pk: int) -> HttpResponse:
    row = _dead_letter(request, pk)
    form = MappingForm(request.POST)
    missing = selectors.missing_codes(row)
    if form.is_valid():
        try:
            mapping, accepted, failed = services.map_code_and_replay(
                request.user, row.pk, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            messages.success(
                request,
                (
                    _(
                        "%(local)s is now read as LOINC %(loinc)s. Replayed: %(ok)d accepted, "
                        "%(failed)d still failing."
                    )
                    if not mapping.ignore
                    else _(
                        "%(local)s is now received as not a result. Replayed: %(ok)d accepted, "
                        "%(failed)d still failing."
                    )
                )
                % {
                    "local": mapping.local_code,
                    "loinc": mapping.loinc,
                    "ok": accepted,
                    "failed": failed,
                },
            )
            return redirect("lab:dead-letter", pk=row.pk)
    return _dead_letter_page(request, row, form, missing, status=400)
