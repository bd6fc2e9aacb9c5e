"""Writes of family-doctor contracts, chronic follow-ups, long prescriptions and health checks
(issue 7; FD-03 … FD-08).

Each service is one transaction: it checks permission and scope, the rule it implements, writes
the record, its transition (contracts) and the audit entry — or raises a domain error and writes
nothing (a file stored for a failed contract is removed again). The contract machine::

    active ──renew──▶ renewed        (the renewal starts the day after it ends)
       │  └─terminate─▶ terminated ◀─terminate── renewed
       └──expire (system, after end_on)──▶ expired
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.errors import Conflict, IllegalTransition, PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.familydoctor import followup as rules
from countycare.familydoctor import policy as fd_policy
from countycare.familydoctor import signals
from countycare.familydoctor.models import (
    FACE_TO_FACE,
    Adherence,
    CheckKind,
    ConsentMethod,
    Contract,
    ContractPackage,
    ContractStatus,
    ContractTransition,
    FollowUp,
    FootPulse,
    HealthCheck,
    Hypoglycemia,
    Insight,
    Level3,
    LongPrescription,
    Method,
    PackageKind,
    PhysicalDisease,
    Program,
    ServicePackage,
    Severity,
    Symptoms,
    Team,
    TerminationReason,
)
from countycare.organizations import policy
from countycare.organizations.models import Institution, InstitutionType
from countycare.organizations.roles import ROLE_PERMISSIONS, Perm
from countycare.organizations.selectors import active_roles
from countycare.residents.models import KeyPopulationTag, Resident

S = ContractStatus
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.ACTIVE, S.RENEWED): "renew",
    (S.ACTIVE, S.TERMINATED): "terminate",
    (S.RENEWED, S.TERMINATED): "terminate",
    (S.ACTIVE, S.EXPIRED): "expire",
}
CONSENT_MAX_BYTES = 10 * 1024 * 1024
MAX_MEDICATIONS = 20


# --- helpers ----------------------------------------------------------------------------------
def _require(actor, perm: str) -> None:
    if not actor.has_perm(f"countycare.{perm}"):
        raise PermissionDenied(_("Your role does not allow this action."))


def _pk(value) -> int | None:
    try:
        pk = int(getattr(value, "pk", value))
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk < 2**63 else None


def _text(value: Any, field: str, max_length: int, *, required: bool = False) -> str:
    text = ("" if value is None else str(value)).strip()
    if required and not text:
        raise ValidationError(_("This field is required."), code="required", field=field)
    if len(text) > max_length:
        raise ValidationError(
            _("At most %(n)d characters.") % {"n": max_length}, code="too_long", field=field
        )
    return text


def _date(value: Any, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(
            _("Enter a date as YYYY-MM-DD."), code="invalid_date", field=field
        ) from None


def _resident(actor, resident) -> Resident:
    pk = _pk(resident)
    found = (
        scoped(actor, Resident).select_related("home_village").filter(pk=pk).first() if pk else None
    )
    if found is None:
        raise ValidationError(
            _("Unknown resident. Search the resident in your area first."),
            code="unknown_resident",
            field="resident",
        )
    return found


def _alive(resident: Resident, on: dt.date) -> None:
    if resident.deceased_on and resident.deceased_on <= on:
        raise ValidationError(
            _("This resident is recorded as deceased (%(day)s).")
            % {"day": resident.deceased_on.isoformat()},
            code="deceased",
            field="resident",
        )


def roles_with(actor, perm: str) -> list[tuple[str, int, str]]:
    return [
        (role, inst, path)
        for role, inst, path in active_roles(actor)
        if perm in ROLE_PERMISSIONS.get(role, frozenset())
    ]


def institution_for(actor, perm: str, *, serving: Institution | None = None) -> Institution:
    """Where the actor works for ``perm``: the deepest institution of a role carrying it whose
    subtree holds ``serving`` (the resident's village), else the first one."""
    candidates = roles_with(actor, perm)
    best = None
    for _role, inst, path in candidates:
        if serving is not None and not serving.path.startswith(path):
            continue
        if best is None or path.count("/") > best[1].count("/"):
            best = (inst, path)
    if best is None and candidates:
        best = (candidates[0][1], candidates[0][2])
    if best is None:
        if actor.is_superuser and serving is not None:
            return serving
        raise PermissionDenied(_("You hold no role at an institution of the medical community."))
    return Institution.objects.get(pk=best[0])


def community_of(institution: Institution) -> int | None:
    """The medical community an institution belongs to (FD-03: one contract for all of it)."""
    ids = [int(p) for p in institution.path.strip("/").split("/") if p]
    return (
        Institution.objects.filter(pk__in=ids, type=InstitutionType.MEDICAL_COMMUNITY)
        .order_by("-depth")
        .values_list("pk", flat=True)
        .first()
    )


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def contract_end(start: dt.date) -> dt.date:
    """The last day of a contract signed on ``start`` (12 months, policy FD-03)."""
    return add_months(start, int(policy.value(fd_policy.CONTRACT_MONTHS))) - dt.timedelta(days=1)


def new_number(now=None) -> str:
    now = timezone.localtime(now or timezone.now())
    return f"FD{now:%y%m%d}{secrets.token_hex(4).upper()}"


def _move(contract: Contract, to: str, actor, *, reason: str = "", now=None, **fields) -> None:
    frm = contract.status
    if (frm, to) not in TRANSITIONS:
        raise IllegalTransition(
            _("A contract that is “%(frm)s” cannot become “%(to)s”.")
            % {"frm": S(frm).label, "to": S(to).label},
            extra={"status": frm},
        )
    contract.status = to
    for name, value in fields.items():
        setattr(contract, name, value)
    contract.save(update_fields=["status", "updated_at", *fields])
    ContractTransition.objects.create(
        contract=contract,
        from_status=frm,
        to_status=to,
        actor=actor,
        at=now or timezone.now(),
        reason=reason[:500],
    )
    audit.log(
        "update",
        actor=actor,
        obj=contract,
        detail={"from": frm, "to": to, **({"reason": reason[:200]} if reason else {})},
    )


# --- consent ----------------------------------------------------------------------------------
def _consent_file(method: str, consent) -> tuple[File, str, str]:
    """The consent as a file (an upload, or the tablet signature as a PNG data URL), checked
    by content: a paper scan is a PDF, JPEG or PNG; a tablet signature a PNG. Returns (file,
    sha256, extension)."""
    from countycare.telemed.attachments import detect

    if method not in ConsentMethod.values:
        raise ValidationError(
            _("Say how the resident consented: on paper or on the tablet."),
            code="invalid_choice",
            field="consent_method",
        )
    if consent in (None, ""):
        raise ValidationError(
            _("Attach the signed consent: a scan of the paper or the signature on the tablet."),
            code="required",
            field="consent",
        )
    if isinstance(consent, str):
        text = consent.strip()
        if not text.startswith("data:image/png;base64,"):
            raise ValidationError(
                _("The signature must be a PNG image from the signature pad."),
                code="bad_file",
                field="consent",
            )
        try:
            raw = base64.b64decode(text.split(",", 1)[1], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(
                _("The signature could not be read. Sign again."), code="bad_file", field="consent"
            ) from None
        fileobj: Any = ContentFile(raw, name="signature.png")
    else:
        fileobj = consent
    digest, size = hashlib.sha256(), 0
    fileobj.seek(0)
    while chunk := fileobj.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    if size == 0:
        raise ValidationError(_("The consent file is empty."), code="empty", field="consent")
    if size > CONSENT_MAX_BYTES:
        raise ValidationError(
            _("The consent file is %(size).1f MB; at most %(limit)d MB are accepted.")
            % {"size": size / 1048576, "limit": CONSENT_MAX_BYTES // 1048576},
            code="too_large",
            field="consent",
        )
    try:
        kind, _uid = detect(fileobj)
    except ValidationError as exc:
        raise ValidationError(exc.message, code=exc.code, field="consent") from None
    allowed = ("png",) if method == ConsentMethod.TABLET else ("pdf", "jpeg", "png")
    if kind not in allowed:
        raise ValidationError(
            _("Send the consent as a PDF, JPEG or PNG (a signature: PNG)."),
            code="unsupported_type",
            field="consent",
        )
    return fileobj, digest.hexdigest(), {"jpeg": "jpg"}.get(kind, kind)


# --- contracts --------------------------------------------------------------------------------
def _team(team) -> Team:
    pk = _pk(team)
    found = (
        Team.objects.select_related("institution").filter(pk=pk, is_active=True).first()
        if pk
        else None
    )
    if found is None:
        raise ValidationError(
            _("Choose the family-doctor team."), code="unknown_team", field="team"
        )
    return found


def _doctor(team: Team, doctor, on: dt.date):
    pk = _pk(doctor)
    members = team.members.select_related("staff").filter(staff__is_active=True)
    if pk is None:
        leader = next((m for m in members if m.is_leader and m.serves_on(on)), None)
        if leader is None:
            raise ValidationError(
                _("Choose the family doctor of the team responsible for this resident."),
                code="required",
                field="doctor",
            )
        return leader.staff
    member = next((m for m in members if m.staff_id == pk and m.serves_on(on)), None)
    if member is None:
        raise ValidationError(
            _("The family doctor must be a member of %(team)s on %(day)s.")
            % {"team": team, "day": on.isoformat()},
            code="not_a_member",
            field="doctor",
        )
    return member.staff


def _packages(packages: Iterable, resident: Resident, on: dt.date) -> list[ServicePackage]:
    ids = [p for p in (_pk(x) for x in (packages or ())) if p]
    if not ids:
        raise ValidationError(
            _("Choose the service package (a basic package, and any paid ones)."),
            code="required",
            field="packages",
        )
    found = list(ServicePackage.objects.filter(pk__in=ids, is_active=True))
    if len(found) != len(set(ids)):
        raise ValidationError(
            _("Choose only active service packages."), code="unknown_package", field="packages"
        )
    basics = [p for p in found if p.kind == PackageKind.BASIC]
    if len(basics) != 1:
        raise ValidationError(
            _("A contract holds exactly one basic package (paid packages come on top)."),
            code="one_basic_package",
            field="packages",
        )
    from countycare.residents.selectors import key_populations_of

    mine = {kp["key"] for kp in key_populations_of(resident, on)}
    for package in found:
        targets = set(package.target_populations or ())
        if targets and not targets & mine:
            raise ValidationError(
                _("“%(package)s” is for %(who)s; this resident is not among them.")
                % {"package": package.name, "who": "、".join(_population_labels(targets))},
                code="package_not_for_resident",
                field="packages",
            )
    return sorted(found, key=lambda p: (p.kind != PackageKind.BASIC, p.pk))


def _population_labels(keys: Iterable[str]) -> list[str]:
    from countycare.residents.models import KeyPopulation

    return [str(KeyPopulation(k).label) if k in KeyPopulation.values else k for k in sorted(keys)]


def _expire_lapsed(resident: Resident, today: dt.date, now) -> None:
    for old in Contract.objects.select_for_update().filter(
        resident=resident, status=S.ACTIVE, end_on__lt=today
    ):
        _move(old, S.EXPIRED, None, reason=_("Ended without renewal"), now=now)


def _overlapping(resident: Resident, start: dt.date, end: dt.date, exclude=None) -> Contract | None:
    qs = Contract.objects.filter(resident=resident, start_on__lte=end, end_on__gte=start)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.select_related("team").order_by("start_on").first()


def _create_contract(
    actor, *, resident: Resident, team: Team, doctor, packages: list[ServicePackage],
    start: dt.date, consent_method: str, consent, channel: str, renewed_from=None, now,
) -> Contract:  # fmt: skip
    end = contract_end(start)
    existing = _overlapping(resident, start, end)
    if existing is not None:
        raise Conflict(
            _(
                "%(resident)s already has a contract with %(team)s (%(number)s, until %(end)s). "
                "Renew it or terminate it first."
            )
            % {
                "resident": resident.name,
                "team": existing.team,
                "number": existing.number,
                "end": existing.end_on.isoformat(),
            },
            code="contract_exists",
            field="resident",
            extra={"existing": existing.pk},
        )
    fileobj, sha, ext = _consent_file(consent_method, consent)
    signing = institution_for(actor, Perm.SIGN_CONTRACT, serving=resident.home_village)
    if community_of(signing) != community_of(team.institution):
        raise ValidationError(
            _("%(team)s belongs to another medical community.") % {"team": team},
            code="other_community",
            field="team",
        )
    contract = Contract(
        number=new_number(now),
        resident=resident,
        team=team,
        doctor=doctor,
        signing_institution=signing,
        fee_total=sum((p.fee for p in packages), Decimal("0")),
        start_on=start,
        end_on=end,
        planned_end_on=end,
        channel=channel,
        consent_method=consent_method,
        consent_sha256=sha,
        renewed_from=renewed_from,
        signed_by=actor,
        signed_at=now,
    )
    contract.consent_file.save(f"{contract.number}.{ext}", File(fileobj), save=False)
    stored = contract.consent_file.name
    try:
        with transaction.atomic():
            contract.save()
    except IntegrityError:
        default_storage.delete(stored)
        raise Conflict(
            _("%(resident)s already has an active contract. Renew it or terminate it first.")
            % {"resident": resident.name},
            code="contract_exists",
            field="resident",
        ) from None
    try:
        ContractPackage.objects.bulk_create(
            ContractPackage(contract=contract, package=p, fee=p.fee) for p in packages
        )
        ContractTransition.objects.create(
            contract=contract, from_status="", to_status=S.ACTIVE, actor=actor, at=now,
            reason=_("Renewal of %(n)s") % {"n": renewed_from.number} if renewed_from else "",
        )  # fmt: skip
        audit.log(
            "create",
            actor=actor,
            obj=contract,
            detail={"team": team.pk, "packages": [p.code for p in packages], "start": str(start)},
        )
    except Exception:
        default_storage.delete(stored)
        raise
    return contract


@transaction.atomic
def sign_contract(
    actor,
    *,
    resident,
    team,
    packages: Iterable,
    consent_method: str,
    consent,
    doctor=None,
    start_on=None,
    channel: str = "in_person",
    now: dt.datetime | None = None,
) -> Contract:
    """Sign a resident with a team for a year (FD-03). Signing at any member institution binds
    the whole medical community; the resident must live in a village the team serves; one
    contract in force at a time; the consent is attached (paper scan or tablet signature)."""
    _require(actor, Perm.SIGN_CONTRACT)
    now = now or timezone.now()
    today = timezone.localdate(now)
    resident = _resident(actor, resident)
    team = _team(team)
    start = _date(start_on, "start_on") or today
    if start > today:
        raise ValidationError(
            _("A contract cannot start in the future (renewals start themselves)."),
            code="future",
            field="start_on",
        )
    if start < today - dt.timedelta(days=31):
        raise ValidationError(
            _("A contract can be entered at most a month after it was signed."),
            code="too_old",
            field="start_on",
        )
    _alive(resident, start)
    if not team.villages.filter(pk=resident.home_village_id).exists():
        raise ValidationError(
            _("%(team)s does not serve %(village)s, where %(resident)s lives. Choose a team that serves it.")
            % {"team": team, "village": resident.home_village, "resident": resident.name},
            code="outside_team_villages",
            field="team",
        )  # fmt: skip
    if channel not in ("in_person", "online"):
        raise ValidationError(_("Unknown channel."), code="invalid_choice", field="channel")
    chosen = _packages(packages, resident, start)
    doc = _doctor(team, doctor, start)
    _expire_lapsed(resident, today, now)
    return _create_contract(
        actor, resident=resident, team=team, doctor=doc, packages=chosen, start=start,
        consent_method=consent_method, consent=consent, channel=channel, now=now,
    )  # fmt: skip


def _contract_for_update(actor, contract_id) -> Contract:
    pk = _pk(contract_id)
    contract = (
        scoped(actor, Contract)
        .select_for_update(of=("self",))
        .select_related("resident", "resident__home_village", "team")
        .filter(pk=pk)
        .first()
        if pk
        else None
    )
    if contract is None:
        raise PermissionDenied(_("No such contract in your area."), code="not_found")
    return contract


@transaction.atomic
def renew_contract(
    actor,
    contract_id,
    *,
    consent_method: str,
    consent,
    packages: Iterable | None = None,
    doctor=None,
    now: dt.datetime | None = None,
) -> Contract:
    """Renew for another year: from the day after the contract ends (or today, once it has
    lapsed), with the same team, its packages unless others are chosen, and fresh consent.
    Allowed from ``familydoctor_renewal_window_days`` before the end."""
    _require(actor, Perm.SIGN_CONTRACT)
    now = now or timezone.now()
    today = timezone.localdate(now)
    old = _contract_for_update(actor, contract_id)
    if old.status not in (S.ACTIVE, S.EXPIRED) or hasattr(old, "renewal"):
        raise IllegalTransition(
            _("Only an active or expired contract that was not renewed yet can be renewed."),
            extra={"status": old.status},
        )
    window = int(policy.value(fd_policy.RENEWAL_WINDOW_DAYS))
    if old.end_on - dt.timedelta(days=window) > today:
        raise ValidationError(
            _("This contract runs until %(end)s; it can be renewed from %(from)s.")
            % {
                "end": old.end_on.isoformat(),
                "from": (old.end_on - dt.timedelta(days=window)).isoformat(),
            },
            code="too_early",
        )
    team = _team(old.team_id)
    resident = old.resident
    start = max(old.end_on + dt.timedelta(days=1), today)
    _alive(resident, start)
    if not team.villages.filter(pk=resident.home_village_id).exists():
        raise ValidationError(
            _("%(team)s no longer serves %(village)s. Sign with a team that serves it.")
            % {"team": team, "village": resident.home_village},
            code="outside_team_villages",
            field="team",
        )
    if packages is None:
        packages = list(old.lines.values_list("package_id", flat=True))
    chosen = _packages(packages, resident, start)
    doc = _doctor(team, doctor if doctor is not None else old.doctor_id, start)
    if old.status == S.ACTIVE and old.end_on < today:
        _move(old, S.EXPIRED, None, reason=_("Ended without renewal"), now=now)
    elif old.status == S.ACTIVE:
        _move(old, S.RENEWED, actor, reason=_("Renewed"), now=now)
    return _create_contract(
        actor, resident=resident, team=team, doctor=doc, packages=chosen, start=start,
        consent_method=consent_method, consent=consent, channel=old.channel, renewed_from=old,
        now=now,
    )  # fmt: skip


@transaction.atomic
def terminate_contract(
    actor, contract_id, *, reason: str, note: str = "", on=None, now: dt.datetime | None = None
) -> Contract:
    """End a contract early (moved away, deceased, at the resident's request, changed team):
    it is in force until ``on`` (today by default); a renewal not yet begun ends with it."""
    _require(actor, Perm.SIGN_CONTRACT)
    now = now or timezone.now()
    today = timezone.localdate(now)
    contract = _contract_for_update(actor, contract_id)
    if reason not in TerminationReason.values:
        raise ValidationError(
            _("Choose the reason for ending the contract."), code="required", field="reason"
        )
    note = _text(note, "note", 500, required=reason == TerminationReason.OTHER)
    day = _date(on, "on") or today
    if day > today:
        raise ValidationError(
            _("A contract is terminated on the day it ends, not ahead."),
            code="future",
            field="on",
        )
    if contract.status not in (S.ACTIVE, S.RENEWED):
        raise IllegalTransition(
            _("A contract that is “%(status)s” cannot be terminated.")
            % {"status": contract.get_status_display()},
            extra={"status": contract.status},
        )
    if day > contract.end_on:
        raise ValidationError(
            _("The contract already ended on %(end)s.") % {"end": contract.end_on.isoformat()},
            code="after_end",
            field="on",
        )
    end = max(day, contract.start_on - dt.timedelta(days=1))
    text = TerminationReason(reason).label + (f": {note}" if note else "")
    _move(
        contract, S.TERMINATED, actor, reason=str(text), now=now,
        end_on=end, termination_reason=reason, termination_note=note,
    )  # fmt: skip
    renewal = Contract.objects.select_for_update().filter(renewed_from=contract).first()
    if renewal is not None and renewal.status == S.ACTIVE:
        _move(
            renewal, S.TERMINATED, actor, reason=str(text), now=now,
            end_on=max(day, renewal.start_on - dt.timedelta(days=1)),
            termination_reason=reason, termination_note=note,
        )  # fmt: skip
    return contract


def expire_contracts(now: dt.datetime | None = None) -> int:
    """Move contracts past their end to *expired* (periodic task; coverage reads the dates, so
    this only keeps the states true). Returns how many."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    count = 0
    with transaction.atomic():
        for contract in Contract.objects.select_for_update(skip_locked=True).filter(
            status=S.ACTIVE, end_on__lt=today
        ):
            _move(contract, S.EXPIRED, None, reason=_("Ended without renewal"), now=now)
            count += 1
    return count


# --- follow-ups -------------------------------------------------------------------------------
# Form field → telemed.vitals key (the platform's one check of what a person can measure).
VITAL_KEYS = {
    "systolic_bp": "systolic_bp",
    "diastolic_bp": "diastolic_bp",
    "heart_rate": "pulse",
    "temperature": "temperature",
    "height": "height",
    "weight": "weight",
    "bmi": "bmi",
    "fasting_glucose": "glucose_fasting",
    "random_glucose": "glucose_random",
}
# Measured values that are not vitals of the kit: (low, high) possible, inclusive.
OTHER_MEASURES = {"waist": (Decimal(40), Decimal(200)), "hba1c": (Decimal(3), Decimal(20))}
HBA1C_CODE = "4548-4"
# LOINC codes of lab results that stand for the follow-up's glucose.
LAB_GLUCOSE = {"1558-6": "fasting_glucose", "2345-7": "fasting_glucose", "2339-0": "random_glucose"}


def _number(raw: Any, field: str) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(_("Enter a number."), code="not_a_number", field=field) from None
    if not value.is_finite():
        raise ValidationError(_("Enter a number."), code="not_a_number", field=field)
    return value


def _validate_measures(data: dict[str, Any]) -> tuple[dict[str, Decimal], dict[str, list[str]]]:
    """Typed measurements checked like the kit's (telemed.vitals): every error at once."""
    from countycare.telemed import vitals

    errors: dict[str, list[str]] = {}
    vital_data = {VITAL_KEYS[k]: data.get(k) for k in VITAL_KEYS if data.get(k) not in (None, "")}
    values: dict[str, Decimal] = {}
    back = {v: k for k, v in VITAL_KEYS.items()}
    try:
        measured = vitals.validate(vital_data)
    except ValidationError as exc:
        for key, messages in (exc.extra.get("errors") or {}).items():
            errors[back.get(key, key)] = messages
        # The values that are fine on their own are kept (so no "measure it" on top).
        measured = []
        for key, raw in vital_data.items():
            if back[key] in errors:
                continue
            try:
                measured.append(vitals.measure(key, vitals.parse(key, raw)))
            except ValidationError:
                continue
    for m in measured:
        values[back[m.vital.key]] = m.value
    for key, (low, high) in OTHER_MEASURES.items():
        try:
            value = _number(data.get(key), key)
        except ValidationError as exc:
            errors[key] = [str(exc.message)]
            continue
        if value is None:
            continue
        if not low <= value <= high:
            errors[key] = [
                _("%(value)s is not possible here (%(low)s–%(high)s). Measure again.")
                % {"value": value, "low": low, "high": high}
            ]
        else:
            values[key] = value
    return values, errors


def _codes(value: Any, allowed: list[tuple[str, Any]], field: str) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else ([value] if value else [])
    known = {code for code, _label in allowed}
    out: list[str] = []
    for item in items:
        code = str(item).strip()
        if code and code not in known:
            raise ValidationError(
                _("Unknown choice “%(code)s”.") % {"code": code[:40]},
                code="invalid_choice",
                field=field,
            )
        if code and code not in out:
            out.append(code)
    if "none" in out and len(out) > 1:
        raise ValidationError(
            _("“No symptoms” cannot go with other symptoms."), code="inconsistent", field=field
        )
    return out


def _choice(value: Any, choices, field: str, *, required: bool = False, default: str = "") -> str:
    text = ("" if value is None else str(value)).strip() or default
    if not text:
        if required:
            raise ValidationError(_("This field is required."), code="required", field=field)
        return ""
    if text not in choices.values:
        raise ValidationError(
            _("Unknown choice “%(code)s”.") % {"code": text[:40]},
            code="invalid_choice",
            field=field,
        )
    return text


def _lifestyle(value: Any) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError(_("Lifestyle must be a set of items."), field="lifestyle")
    out: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in rules.LIFESTYLE:
            raise ValidationError(
                _("Unknown lifestyle item “%(key)s”.") % {"key": str(key)[:40]},
                code="invalid_choice",
                field="lifestyle",
            )
        if raw in (None, ""):
            continue
        label, kind, bounds = rules.LIFESTYLE[key]
        if kind == "int":
            try:
                number = int(str(raw).strip())
            except ValueError:
                raise ValidationError(
                    _("%(item)s: enter a whole number.") % {"item": label},
                    code="not_a_number",
                    field=f"lifestyle.{key}",
                ) from None
            if not bounds[0] <= number <= bounds[1]:
                raise ValidationError(
                    _("%(item)s: %(value)s is not plausible (%(low)s–%(high)s).")
                    % {"item": label, "value": number, "low": bounds[0], "high": bounds[1]},
                    code="out_of_range",
                    field=f"lifestyle.{key}",
                )
            out[key] = number
        else:
            if str(raw) not in bounds:
                raise ValidationError(
                    _("%(item)s: unknown choice.") % {"item": label},
                    code="invalid_choice",
                    field=f"lifestyle.{key}",
                )
            out[key] = str(raw)
    return out


def _medications(value: Any, field: str = "medications") -> list[dict[str, str]]:
    if value in (None, ""):
        return []
    if not isinstance(value, (list, tuple)):
        raise ValidationError(_("List the medicines one by one."), field=field)
    if len(value) > MAX_MEDICATIONS:
        raise ValidationError(
            _("At most %(n)d medicines.") % {"n": MAX_MEDICATIONS}, code="too_many", field=field
        )
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise ValidationError(_("Each medicine needs a name."), field=field)
        name = _text(item.get("name"), field, 100)
        if not name:
            raise ValidationError(_("Each medicine needs a name."), code="required", field=field)
        row = {"name": name}
        for key in ("dose", "frequency", "quantity"):
            text = _text(item.get(key), field, 50)
            if text:
                row[key] = text
        out.append(row)
    return out


def contract_on(resident: Resident, day: dt.date) -> Contract | None:
    return (
        Contract.objects.filter(resident=resident, start_on__lte=day, end_on__gte=day)
        .select_related("team")
        .order_by("-start_on")
        .first()
    )


def _contract_for_day(resident: Resident, day: dt.date, field: str) -> Contract:
    found = contract_on(resident, day)
    if found is not None:
        return found
    later = (
        Contract.objects.filter(resident=resident, start_on__gt=day).order_by("start_on").first()
    )
    if later is not None:
        raise ValidationError(
            _("%(day)s is before the contract, which begins on %(start)s.")
            % {"day": day.isoformat(), "start": later.start_on.isoformat()},
            code="before_contract",
            field="followed_on",
        )
    raise ValidationError(
        _("%(resident)s has no family-doctor contract in force on %(day)s. Sign one first.")
        % {"resident": resident.name, "day": day.isoformat()},
        code="no_contract",
        field="followed_on",
    )


def _in_program(resident: Resident, program: str, day: dt.date) -> None:
    if not KeyPopulationTag.objects.current(day).filter(resident=resident, tag=program).exists():
        raise ValidationError(
            _(
                "%(resident)s is not recorded with %(program)s on %(day)s. Record the key "
                "population on the resident's page first."
            )
            % {
                "resident": resident.name,
                "program": Program(program).label,
                "day": day.isoformat(),
            },
            code="not_in_program",
            field="program",
        )


def visit_observations(actor, resident: Resident, visit) -> tuple[Any, list]:
    """The Walking Hospital visit (scoped, of this resident) and the observations that count
    toward a follow-up: the visit's vitals, the lab results of specimens taken that day, and
    the latest recognized HbA1c (result recognition, lab_recognition_days)."""
    from countycare.telemed.models import Observation, Visit

    pk = _pk(visit)
    found = (
        scoped(actor, Visit).filter(pk=pk, resident=resident).select_related("institution").first()
        if pk
        else None
    )
    if found is None:
        raise ValidationError(
            _("No such Walking Hospital visit of this resident in your area."),
            code="unknown_visit",
            field="visit",
        )
    day = timezone.localdate(found.visited_at)
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    end = start + dt.timedelta(days=1)
    codes = set(vital_codes()) | set(LAB_GLUCOSE) | {HBA1C_CODE}
    rows = list(
        scoped(actor, Observation)
        .filter(resident=resident, code__in=codes, value__isnull=False)
        .filter(visit=found)
        .order_by("observed_at", "pk")
    ) + list(
        scoped(actor, Observation)
        .filter(
            resident=resident,
            code__in=LAB_GLUCOSE,
            value__isnull=False,
            visit__isnull=True,
            observed_at__gte=start,
            observed_at__lt=end,
        )
        .order_by("observed_at", "pk")
    )
    try:
        from countycare.lab import selectors as lab_selectors

        hba1c = (
            lab_selectors.recognized_results(actor, resident, at=end, codes=[HBA1C_CODE])
            .select_related("observation")
            .first()
        )
        if hba1c is not None:
            rows.append(hba1c.observation)
    except ImportError:  # pragma: no cover — the lab app is not installed
        pass
    return found, rows


@functools.cache
def vital_codes() -> dict[str, str]:
    """LOINC code of each kit vital → the follow-up field it fills."""
    from countycare.telemed import vitals

    return {vitals.BY_KEY[key].code: field for field, key in VITAL_KEYS.items()}


def measures_of(observations: Iterable) -> dict[str, Decimal]:
    """Follow-up fields from observations (the latest of each code wins)."""
    codes = vital_codes()
    out: dict[str, Decimal] = {}
    for obs in sorted(observations, key=lambda o: (o.observed_at, o.pk)):
        field = codes.get(obs.code) or LAB_GLUCOSE.get(obs.code)
        if obs.code == HBA1C_CODE:
            field = "hba1c"
        if field and obs.value is not None:
            out[field] = obs.value
    return out


def _observed_at(day: dt.date, now: dt.datetime) -> dt.datetime:
    if day == timezone.localdate(now):
        return now
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


MEASURE_FIELDS = (*VITAL_KEYS, *OTHER_MEASURES)


@transaction.atomic
def record_follow_up(
    actor,
    *,
    resident,
    program: str,
    followed_on=None,
    method: str = Method.CLINIC,
    visit=None,
    measurements: dict[str, Any] | None = None,
    symptoms: Iterable = (),
    danger_signs: Iterable = (),
    other_symptoms: str = "",
    foot_pulse: str = "",
    lifestyle: dict | None = None,
    adherence: str = "",
    adverse_reaction: str = Severity.NONE,
    adverse_reaction_note: str = "",
    hypoglycemia: str = "",
    new_complication: bool = False,
    complication_note: str = "",
    risk_level=None,
    psychotic_symptoms: str = "",
    insight: str = "",
    social_function: str = "",
    physical_disease: str = "",
    medications: Iterable = (),
    advice: str = "",
    note: str = "",
    long_prescription: dict | None = None,
    now: dt.datetime | None = None,
) -> FollowUp:
    """Record a chronic follow-up (FD-08) under the resident's contract in force that day.

    Measurements come from a Walking Hospital visit the doctor confirms (``visit``: its vitals
    and that day's lab results, never typed again) and/or are typed here; typed ones are stored
    as telemed Observations (checked like the kit's; critical values raise their alert). The
    class, the next date and the referral triggers follow from ``followup.assess``. Every error
    at once for the measurements; nothing is saved on any error."""
    _require(actor, Perm.FOLLOW_UP)
    now = now or timezone.now()
    today = timezone.localdate(now)
    resident = _resident(actor, resident)
    if program not in Program.values:
        raise ValidationError(_("Choose the program."), code="invalid_choice", field="program")
    if method not in Method.values:
        raise ValidationError(_("Say how the follow-up was done."), field="method")
    visit_row, visit_obs = (None, [])
    if visit not in (None, ""):
        visit_row, visit_obs = visit_observations(actor, resident, visit)
        if method not in FACE_TO_FACE:
            raise ValidationError(
                _("A Walking Hospital visit is face to face: choose clinic or home visit."),
                code="inconsistent",
                field="method",
            )
    day = _date(followed_on, "followed_on")
    if day is None:
        day = timezone.localdate(visit_row.visited_at) if visit_row else today
    if day > today:
        raise ValidationError(
            _("A follow-up cannot be dated in the future."), code="future", field="followed_on"
        )
    if visit_row is not None and timezone.localdate(visit_row.visited_at) != day:
        raise ValidationError(
            _("The visit was on %(day)s; date the follow-up that day.")
            % {"day": timezone.localdate(visit_row.visited_at).isoformat()},
            code="inconsistent",
            field="followed_on",
        )
    _alive(resident, day)
    contract = _contract_for_day(resident, day, "followed_on")
    _in_program(resident, program, day)
    if FollowUp.objects.filter(resident=resident, program=program, followed_on=day).exists():
        raise Conflict(
            _("A %(program)s follow-up of %(resident)s on %(day)s is already recorded.")
            % {"program": Program(program).label, "resident": resident.name, "day": day},
            code="duplicate_follow_up",
            field="followed_on",
        )
    # Measurements: the visit's, then what was typed (the same measurement never twice).
    from_visit = measures_of(visit_obs)
    typed = {k: v for k, v in (measurements or {}).items() if v not in (None, "")}
    unknown = set(typed) - set(MEASURE_FIELDS)
    if unknown:
        raise ValidationError(
            _("Unknown measurement “%(name)s”.") % {"name": sorted(unknown)[0][:40]},
            field="measurements",
        )
    values, errors = _validate_measures(typed)
    for key in list(values):
        if key in from_visit:
            if values[key] != from_visit[key]:
                errors[key] = [
                    _("The visit measured %(value)s; measured values are not typed again.")
                    % {"value": from_visit[key]}
                ]
            values.pop(key)
    merged = {**from_visit, **values}
    if "bmi" not in merged and "height" in merged and "weight" in merged:
        metres = merged["height"] / 100
        merged["bmi"] = (merged["weight"] / (metres * metres)).quantize(Decimal("0.1"))
    # What each program needs (the specification's 随访评估).
    if program in (Program.HYPERTENSION, Program.TYPE2_DIABETES):
        if program == Program.HYPERTENSION or method in FACE_TO_FACE:
            for key in ("systolic_bp", "diastolic_bp"):
                if key not in merged and key not in errors:
                    errors[key] = [_("Measure the blood pressure.")]
        if program == Program.TYPE2_DIABETES and "fasting_glucose" not in merged:
            errors.setdefault("fasting_glucose", [_("Measure the fasting glucose.")])
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationError(first, code="invalid_measurements", extra={"errors": errors})
    sym = _codes(symptoms, rules.SYMPTOMS[program], "symptoms")
    danger = _codes(danger_signs, rules.DANGER_SIGNS[program], "danger_signs")
    adverse = _choice(adverse_reaction, Severity, "adverse_reaction", default=Severity.NONE)
    adherence = _choice(adherence, Adherence, "adherence", required=True)
    smd: dict[str, Any] = {}
    if program == Program.SEVERE_MENTAL_DISORDER:
        level = _number(risk_level, "risk_level")
        if level is None or level != level.to_integral() or not 0 <= level <= 5:
            raise ValidationError(
                _("Assess the risk level: a whole number from 0 to 5."),
                code="required",
                field="risk_level",
            )
        smd = {
            "risk_level": int(level),
            "psychotic_symptoms": _choice(psychotic_symptoms, Symptoms, "psychotic_symptoms",
                                          required=True),
            "insight": _choice(insight, Insight, "insight", required=True),
            "social_function": _choice(social_function, Level3, "social_function", required=True),
            "physical_disease": _choice(physical_disease, PhysicalDisease, "physical_disease",
                                        default=PhysicalDisease.NONE),
        }  # fmt: skip
    complication = bool(new_complication)
    meds = _medications(list(medications or ()))
    previous = list(
        FollowUp.objects.filter(resident=resident, program=program, followed_on__lt=day)
        .order_by("-followed_on", "-pk")
        .values_list("classification", flat=True)[:5]
    )
    community = community_of(resident.home_village)
    outcome = rules.assess(
        program=program,
        followed_on=day,
        age=resident.age_on(day),
        m=rules.Measurements(
            **{k: merged.get(k) for k in ("systolic_bp", "diastolic_bp", "heart_rate",
                                          "temperature", "fasting_glucose", "random_glucose")}
        ),
        danger_signs=danger,
        adverse_reaction=adverse,
        new_complication=complication,
        previous_classes=previous,
        rules=rules.Rules.current(community),
        **smd,
    )  # fmt: skip
    institution = institution_for(actor, Perm.FOLLOW_UP, serving=resident.home_village)
    follow_up = FollowUp(
        resident=resident,
        contract=contract,
        program=program,
        followed_on=day,
        method=method,
        institution=institution,
        performed_by=actor,
        visit=visit_row,
        symptoms=sym,
        danger_signs=danger,
        other_symptoms=_text(other_symptoms, "other_symptoms", 200),
        foot_pulse=_choice(foot_pulse, FootPulse, "foot_pulse"),
        lifestyle=_lifestyle(lifestyle),
        adherence=adherence,
        adverse_reaction=adverse,
        adverse_reaction_note=_text(adverse_reaction_note, "adverse_reaction_note", 200),
        hypoglycemia=_choice(hypoglycemia, Hypoglycemia, "hypoglycemia"),
        new_complication=complication,
        complication_note=_text(complication_note, "complication_note", 200),
        medications=meds,
        advice=_text(advice, "advice", 2000),
        note=_text(note, "note", 2000),
        classification=outcome.classification,
        next_due_on=outcome.next_due_on,
        referral_triggers=outcome.triggers,
        referral_urgency=outcome.urgency,
        recorded_by=actor,
        **smd,
    )
    for key in ("systolic_bp", "diastolic_bp", "heart_rate"):
        if key in merged:
            setattr(follow_up, key, int(merged[key]))
    for key in ("temperature", "height", "weight", "bmi", "waist", "fasting_glucose",
                "random_glucose", "hba1c"):  # fmt: skip
        if key in merged:
            setattr(follow_up, key, merged[key])
    prescription = None
    if long_prescription:
        prescription = _long_prescription(long_prescription, meds, outcome)
    follow_up.save()
    new_obs = []
    vital_data = {VITAL_KEYS[k]: values[k] for k in VITAL_KEYS if k in values}
    if vital_data:
        from countycare.telemed import services as telemed_services

        new_obs = telemed_services.record_observations(
            actor,
            resident=resident,
            institution=institution,
            data=vital_data,
            observed_at=_observed_at(day, now),
        )
    follow_up.observations.add(*visit_obs, *new_obs)
    audit.log(
        "create",
        actor=actor,
        obj=follow_up,
        detail={
            "program": program,
            "class": outcome.classification,
            "triggers": outcome.triggers,
            **({"visit": visit_row.pk} if visit_row else {}),
        },
    )
    if prescription is not None:
        rx = LongPrescription.objects.create(
            follow_up=follow_up,
            resident=resident,
            institution=institution,
            prescribed_by=actor,
            issued_on=day,
            **prescription,
        )
        audit.log("create", actor=actor, obj=rx, detail={"weeks": rx.weeks})
        transaction.on_commit(
            lambda: signals.long_prescription_issued.send(sender=LongPrescription, prescription=rx)
        )
    return follow_up


def _long_prescription(data: dict, meds: list, outcome: rules.Assessment) -> dict[str, Any]:
    """FD-05: a long prescription only for a stable patient (controlled / stable, no referral
    trigger), for at most the policy's weeks, of the follow-up's medicines unless others are
    listed."""
    max_weeks = int(policy.value(fd_policy.LONG_PRESCRIPTION_MAX_WEEKS))
    weeks = _number(data.get("weeks"), "long_prescription.weeks")
    if weeks is None or weeks != weeks.to_integral() or not 1 <= weeks <= max_weeks:
        raise ValidationError(
            _("A long prescription covers 1 to %(n)d weeks.") % {"n": max_weeks},
            code="out_of_range",
            field="long_prescription.weeks",
        )
    if outcome.classification not in rules.STABLE_CLASSES or outcome.triggers:
        raise ValidationError(
            _(
                "Long prescriptions are for stable patients; this follow-up is “%(class)s”. "
                "Adjust the treatment and follow up again."
            )
            % {"class": rules.C(outcome.classification).label},
            code="not_stable",
            field="long_prescription",
        )
    items = _medications(data.get("items"), "long_prescription.items") or meds
    if not items:
        raise ValidationError(
            _("List the medicines of the long prescription."),
            code="required",
            field="long_prescription.items",
        )
    return {"weeks": int(weeks), "items": items}


@transaction.atomic
def link_referral(actor, follow_up_id, referral) -> FollowUp:
    """Note the upward referral made for a follow-up's triggers (set by :func:`refer_from`)."""
    pk = _pk(follow_up_id)
    follow_up = scoped(actor, FollowUp).select_for_update(of=("self",)).filter(pk=pk).first()
    if follow_up is None:
        raise PermissionDenied(_("No such follow-up in your area."), code="not_found")
    follow_up.referral = referral
    follow_up.save(update_fields=["referral"])
    audit.log("update", actor=actor, obj=follow_up, detail={"referral": referral.pk})
    return follow_up


# ICD-10 of the programs, for the referral a trigger suggests.
PROGRAM_DIAGNOSIS = {
    Program.HYPERTENSION: ("I10", "原发性高血压"),
    Program.TYPE2_DIABETES: ("E11.9", "2型糖尿病"),
    Program.SEVERE_MENTAL_DISORDER: ("F20.9", "精神分裂症"),
}


@transaction.atomic
def refer_from(
    actor,
    follow_up_id,
    *,
    department,
    reason: str = "",
    diagnosis_code: str = "",
    diagnosis_name: str = "",
    urgency: str = "",
    now: dt.datetime | None = None,
):
    """Open the upward referral a follow-up's triggers suggest, through the referrals app's own
    service (``referrals.services.refer_up``): the follow-up's measurements and the critical
    value they raised travel with it; the follow-up is linked to the referral."""
    from countycare.referrals import services as referral_services
    from countycare.telemed.models import CriticalAlert

    _require(actor, Perm.FOLLOW_UP)
    pk = _pk(follow_up_id)
    follow_up = (
        scoped(actor, FollowUp).select_for_update(of=("self",)).filter(pk=pk).first()
        if pk
        else None
    )
    if follow_up is None:
        raise PermissionDenied(_("No such follow-up in your area."), code="not_found")
    if follow_up.referral_id:
        raise Conflict(
            _("This follow-up was already referred (%(n)s).") % {"n": follow_up.referral.number},
            code="already_referred",
        )
    obs_ids = list(follow_up.observations.values_list("pk", flat=True))
    alert = (
        CriticalAlert.objects.filter(observation_id__in=obs_ids).order_by("-raised_at").first()
        if obs_ids
        else None
    )
    code, name = PROGRAM_DIAGNOSIS[follow_up.program]
    referral = referral_services.refer_up(
        actor,
        resident=follow_up.resident_id,
        department=department,
        reason=reason or suggested_reason(follow_up),
        diagnosis_code=diagnosis_code or code,
        diagnosis_name=diagnosis_name or ("" if diagnosis_code else name),
        urgency=urgency or ("urgent" if follow_up.referral_urgency == "urgent" else "routine"),
        visit=follow_up.visit_id,
        critical_alert=alert.pk if alert else None,
        observations=[o for o in obs_ids if not alert or o != alert.observation_id],
        now=now,
    )
    follow_up.referral = referral
    follow_up.save(update_fields=["referral"])
    audit.log("update", actor=actor, obj=follow_up, detail={"referral": referral.pk})
    return referral


def suggested_reason(follow_up: FollowUp) -> str:
    """The referral reason a follow-up's triggers give (Chinese by default, the UI language)."""
    rule_set = rules.Rules.current(community_of(follow_up.institution))
    parts = [rule_set.trigger_text(code) for code in follow_up.referral_triggers]
    shown = []
    if follow_up.systolic_bp:
        shown.append(f"BP {follow_up.systolic_bp}/{follow_up.diastolic_bp} mmHg")
    if follow_up.fasting_glucose is not None:
        shown.append(f"FPG {follow_up.fasting_glucose} mmol/L")
    text = _("%(program)s follow-up %(day)s: %(why)s") % {
        "program": follow_up.get_program_display(),
        "day": follow_up.followed_on.isoformat(),
        "why": "；".join(parts) or follow_up.get_classification_display(),
    }
    return text + (f"（{', '.join(shown)}）" if shown else "")


# --- health checks --------------------------------------------------------------------------
@transaction.atomic
def record_health_check(
    actor,
    *,
    resident,
    kind: str = CheckKind.ELDERLY,
    checked_on=None,
    visit=None,
    measurements: dict[str, Any] | None = None,
    self_care_score=None,
    items_done: Iterable = (),
    reports: Iterable = (),
    abnormal: bool = False,
    findings: str = "",
    advice: str = "",
    now: dt.datetime | None = None,
) -> HealthCheck:
    """The annual health check (FD-07, FD-08): residents 65+ (``elderly``, with the self-care
    assessment) and chronic patients (``chronic``). Measurements as for a follow-up (from a
    visit, or typed and stored as Observations); the examinations done are linked (signed
    reports, lab results) or confirmed by code."""
    from countycare.telemed.models import Report, ReportStatus

    _require(actor, Perm.FOLLOW_UP)
    now = now or timezone.now()
    today = timezone.localdate(now)
    resident = _resident(actor, resident)
    if kind not in CheckKind.values:
        raise ValidationError(_("Choose the kind of check."), code="invalid_choice", field="kind")
    visit_row, visit_obs = (None, [])
    if visit not in (None, ""):
        visit_row, visit_obs = visit_observations(actor, resident, visit)
    day = _date(checked_on, "checked_on") or (
        timezone.localdate(visit_row.visited_at) if visit_row else today
    )
    if day > today:
        raise ValidationError(
            _("A health check cannot be dated in the future."), code="future", field="checked_on"
        )
    _alive(resident, day)
    elderly_age = int(policy.value(policy.ELDERLY_AGE))
    if kind == CheckKind.ELDERLY and resident.age_on(day) < elderly_age:
        raise ValidationError(
            _("The annual elderly check is for residents %(age)d and older.")
            % {"age": elderly_age},
            code="not_elderly",
            field="kind",
        )
    if (
        kind == CheckKind.CHRONIC
        and not KeyPopulationTag.objects.current(day)
        .filter(resident=resident, tag__in=Program.values)
        .exists()
    ):
        raise ValidationError(
            _("The chronic patients' check is for hypertension, diabetes or severe mental disorder patients."),
            code="not_in_program",
            field="kind",
        )  # fmt: skip
    if HealthCheck.objects.filter(resident=resident, kind=kind, checked_on=day).exists():
        raise Conflict(
            _("This health check is already recorded for %(day)s.") % {"day": day.isoformat()},
            code="duplicate_check",
            field="checked_on",
        )
    from_visit = measures_of(visit_obs)
    values, errors = _validate_measures(
        {k: v for k, v in (measurements or {}).items() if v not in (None, "")}
    )
    for key in list(values):
        if key in from_visit:
            if values[key] != from_visit[key]:
                errors[key] = [
                    _("The visit measured %(value)s; measured values are not typed again.")
                    % {"value": from_visit[key]}
                ]
            values.pop(key)
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationError(first, code="invalid_measurements", extra={"errors": errors})
    merged = {**from_visit, **values}
    score = _number(self_care_score, "self_care_score")
    if score is not None and (score != score.to_integral() or not 0 <= score <= 100):
        raise ValidationError(
            _("The self-care score is a whole number from 0 to 100."),
            code="out_of_range",
            field="self_care_score",
        )
    if kind == CheckKind.ELDERLY and score is None:
        raise ValidationError(
            _("Assess the elderly resident's self-care (score 0 when fully independent)."),
            code="required",
            field="self_care_score",
        )
    items = []
    for code in items_done or ():
        if code not in rules.CHECK_ITEMS:
            raise ValidationError(
                _("Unknown examination “%(code)s”.") % {"code": str(code)[:40]},
                code="invalid_choice",
                field="items_done",
            )
        if code not in items:
            items.append(code)
    report_ids = [p for p in (_pk(r) for r in reports or ()) if p]
    found_reports = list(
        scoped(actor, Report).filter(
            pk__in=report_ids, order__resident=resident, status=ReportStatus.SIGNED
        )
    )
    if len(found_reports) != len(set(report_ids)):
        raise ValidationError(
            _("Attach only signed reports of this resident from your area."),
            code="unknown_report",
            field="reports",
        )
    institution = institution_for(actor, Perm.FOLLOW_UP, serving=resident.home_village)
    check = HealthCheck(
        resident=resident,
        contract=contract_on(resident, day),
        kind=kind,
        checked_on=day,
        institution=institution,
        performed_by=actor,
        visit=visit_row,
        self_care_score=int(score) if score is not None else None,
        self_care=rules.self_care_level(int(score)) if score is not None else "",
        items_done=items,
        abnormal=bool(abnormal),
        findings=_text(findings, "findings", 4000),
        advice=_text(advice, "advice", 4000),
        recorded_by=actor,
    )
    for key in ("systolic_bp", "diastolic_bp", "heart_rate"):
        if key in merged:
            setattr(check, key, int(merged[key]))
    for key in ("weight", "bmi", "waist", "fasting_glucose"):
        if key in merged:
            setattr(check, key, merged[key])
    check.save()
    new_obs = []
    vital_data = {VITAL_KEYS[k]: values[k] for k in VITAL_KEYS if k in values}
    if vital_data:
        from countycare.telemed import services as telemed_services

        new_obs = telemed_services.record_observations(
            actor, resident=resident, institution=institution, data=vital_data,
            observed_at=_observed_at(day, now),
        )  # fmt: skip
    check.observations.add(*visit_obs, *new_obs)
    check.reports.add(*found_reports)
    audit.log("create", actor=actor, obj=check, detail={"kind": kind, "items": items})
    return check


# --- teams (FD-04) ----------------------------------------------------------------------------
def validate_staff_share(value) -> None:
    """A team's staff share is at least the policy minimum (FD-04) and at most 1."""
    if value is None:
        return
    minimum = Decimal(str(policy.value(fd_policy.TEAM_FEE_SHARE_MIN)))
    share = Decimal(str(value))
    if share < minimum or share > 1:
        raise ValidationError(
            _("At least %(min)s %% of contract fees go to the team's staff (FD-04), at most 100 %%.")
            % {"min": f"{minimum * 100:.0f}"},
            code="share_too_low",
            field="staff_share",
        )  # fmt: skip


@transaction.atomic
def hand_over(prescription_id: int, *, reference: str, now: dt.datetime | None = None):
    """The pharmacy took a long prescription over (called by the pharmacy app, FD-05)."""
    rx = LongPrescription.objects.select_for_update().filter(pk=prescription_id).first()
    if rx is None:
        raise PermissionDenied(_("No such long prescription."), code="not_found")
    if rx.status != "issued":
        raise IllegalTransition(
            _("This long prescription is “%(status)s”.") % {"status": rx.get_status_display()}
        )
    rx.status = "handed_over"
    rx.handed_over_at = now or timezone.now()
    rx.pharmacy_reference = _text(reference, "reference", 64, required=True)
    rx.save(update_fields=["status", "handed_over_at", "pharmacy_reference"])
    audit.log("update", obj=rx, detail={"status": "handed_over", "reference": reference[:64]})
    return rx
