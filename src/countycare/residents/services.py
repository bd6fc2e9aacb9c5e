"""Writes to the resident registry. Each service runs in one transaction, checks its rules,
writes its audit entry, and raises a domain error a person can act on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit, crypto
from countycare.core import national_id as nid
from countycare.core.errors import Conflict, PermissionDenied, ValidationError
from countycare.core.scoping import scoped
from countycare.organizations.models import Institution
from countycare.organizations.selectors import residence_choices
from countycare.residents import pinyin
from countycare.residents.ethnicity import ETHNICITIES
from countycare.residents.models import (
    DECLARED_KEY_POPULATIONS,
    Household,
    KeyPopulationTag,
    RelationToHead,
    Resident,
    Sex,
)

_ETHNICITY_CODES = {code for code, _label in ETHNICITIES}
EDITABLE_FIELDS = ("name", "phone", "ethnicity", "home_village", "address", "household",
                   "relation_to_head", "deceased_on")  # fmt: skip


def _require(actor, perm: str) -> None:
    if not actor.has_perm(f"countycare.{perm}"):
        raise PermissionDenied(_("Your role does not allow this action."))


def _check_village(actor, village: Institution | int | None) -> Institution:
    """The village must exist, be a place of residence, and lie in the actor's scope. All
    three failures answer the same (no hint that a village outside scope exists)."""
    pk = village.pk if isinstance(village, Institution) else village
    try:
        found = residence_choices(actor).filter(pk=pk).first() if pk else None
    except (TypeError, ValueError):  # not an id at all (e.g. "abc" from a form)
        found = None
    if found is None:
        raise ValidationError(
            _("Unknown village. Choose a village or community from the list of your area."),
            code="unknown_village",
            field="home_village",
        )
    return found


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Enter the resident's name."), code="required", field="name")
    if len(name) > 50:
        raise ValidationError(_("A name has at most 50 characters."), code="too_long", field="name")
    return name


def _check_phone(phone: str) -> str:
    phone = (phone or "").strip().replace(" ", "").replace("-", "")
    if phone and not (phone.isdigit() and 7 <= len(phone) <= 12):
        raise ValidationError(
            _("A phone number has 7 to 12 digits (mobile: 11 digits)."),
            code="phone",
            field="phone",
        )
    return phone


def _check_choice(value: str, allowed, field: str, message: str) -> str:
    if value not in allowed:
        raise ValidationError(message, code="invalid_choice", field=field)
    return value


def existing_resident_error(actor, existing: Resident) -> Conflict:
    """A duplicate national ID: link the existing resident when the actor may see it."""
    visible = scoped(actor, Resident).filter(pk=existing.pk).exists()
    if visible:
        return Conflict(
            _("This national ID is already registered: %(name)s. Open the existing record.")
            % {"name": existing.name},
            code="duplicate_national_id",
            field="national_id",
            extra={
                "existing_id": existing.pk,
                "existing_url": reverse("residents:detail", args=[existing.pk]),
            },
        )
    return Conflict(
        _(
            "This national ID is already registered in another village. Ask the community "
            "office to move the record to your village instead of registering it again."
        ),
        code="duplicate_national_id",
        field="national_id",
    )


@transaction.atomic
def register_resident(
    *,
    actor,
    national_id: str,
    name: str,
    home_village: Institution | int,
    sex: str | None = None,
    birth_date: dt.date | None = None,
    ethnicity: str = "01",
    phone: str = "",
    address: str = "",
    household: Household | None = None,
    relation_to_head: str = "",
    tags: list[dict[str, Any]] | None = None,
) -> Resident:
    """Register a resident. Sex and birth date come from the national ID; if given they must
    agree with it."""
    _require(actor, "register_resident")
    parsed = nid.parse(national_id)
    if sex and sex != parsed.sex:
        raise ValidationError(
            _("The sex does not match the national ID (the 17th digit says %(sex)s).")
            % {"sex": Sex(parsed.sex).label},
            code="sex_mismatch",
            field="sex",
        )
    if birth_date and birth_date != parsed.birth_date:
        raise ValidationError(
            _("The birth date does not match the national ID (which says %(date)s).")
            % {"date": parsed.birth_date.isoformat()},
            code="birth_date_mismatch",
            field="birth_date",
        )
    village = _check_village(actor, home_village)
    name = _check_name(name)
    phone = _check_phone(phone)
    _check_choice(ethnicity, _ETHNICITY_CODES, "ethnicity", _("Choose an ethnicity from the list."))
    if relation_to_head:
        _check_choice(
            relation_to_head,
            RelationToHead.values,
            "relation_to_head",
            _("Choose a relation from the list."),
        )
    lookup = crypto.lookup_hash(parsed.number)
    existing = Resident.objects.filter(national_id_hash=lookup).first()
    if existing is not None:
        raise existing_resident_error(actor, existing)
    resident = Resident(
        national_id=parsed.number,
        national_id_hash=lookup,
        national_id_masked=parsed.masked,
        name=name,
        name_pinyin=pinyin.full(name),
        name_initials=pinyin.initials(name),
        sex=parsed.sex,
        birth_date=parsed.birth_date,
        ethnicity=ethnicity,
        phone=phone,
        home_village=village,
        household=household,
        relation_to_head=relation_to_head,
        address=(address or "").strip()[:200],
        registered_by=actor,
    )
    try:
        with transaction.atomic():
            resident.save()
    except IntegrityError:
        # A concurrent registration of the same ID won the race.
        existing = Resident.objects.filter(national_id_hash=lookup).first()
        if existing is None:
            raise
        raise existing_resident_error(actor, existing) from None
    audit.log(audit.Action.CREATE, actor=actor, obj=resident)
    for tag in tags or []:
        declare_tag(actor=actor, resident=resident, **tag)
    return resident


@transaction.atomic
def update_resident(*, actor, resident: Resident, **changes: Any) -> Resident:
    """Change demographic fields. The national ID, sex and birth date are not edited here:
    they come from the ID, and a wrong ID is corrected by the community office."""
    _require(actor, "change_resident")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(
            _("These fields cannot be changed here: %(fields)s")
            % {"fields": ", ".join(sorted(unknown))},
            code="not_editable",
        )
    resident = scoped(actor, Resident).select_for_update().get(pk=resident.pk)
    before = {f: getattr(resident, f) for f in changes}
    if "name" in changes:
        resident.name = _check_name(changes["name"])
        resident.name_pinyin = pinyin.full(resident.name)
        resident.name_initials = pinyin.initials(resident.name)
    if "phone" in changes:
        resident.phone = _check_phone(changes["phone"])
    if "ethnicity" in changes:
        resident.ethnicity = _check_choice(
            changes["ethnicity"],
            _ETHNICITY_CODES,
            "ethnicity",
            _("Choose an ethnicity from the list."),
        )
    if "home_village" in changes:
        resident.home_village = _check_village(actor, changes["home_village"])
    if "address" in changes:
        resident.address = (changes["address"] or "").strip()[:200]
    if "household" in changes:
        resident.household = changes["household"]
    if "relation_to_head" in changes:
        value = changes["relation_to_head"] or ""
        if value:
            _check_choice(
                value,
                RelationToHead.values,
                "relation_to_head",
                _("Choose a relation from the list."),
            )
        resident.relation_to_head = value
    if "deceased_on" in changes:
        day = changes["deceased_on"]
        if day and (day > timezone.localdate() or day < resident.birth_date):
            raise ValidationError(
                _("The date of death must lie between birth and today."),
                code="deceased_on",
                field="deceased_on",
            )
        resident.deceased_on = day
    resident.save()
    after = {f: getattr(resident, f) for f in changes}
    audit.log(
        audit.Action.UPDATE,
        actor=actor,
        obj=resident,
        detail={"changed": audit.changed_fields(before, after)},
    )
    return resident


@transaction.atomic
def declare_tag(
    *,
    actor,
    resident: Resident,
    tag: str,
    source: str,
    recorded_on: dt.date | None = None,
    note: str = "",
) -> KeyPopulationTag:
    """Record that a resident belongs to a declared key population."""
    _require(actor, "tag_resident")
    if tag not in {k.value for k in DECLARED_KEY_POPULATIONS}:
        raise ValidationError(
            _(
                "'%(tag)s' is not a key population that can be declared; age groups are derived from the birth date."
            )
            % {"tag": tag},
            code="invalid_tag",
            field="tag",
        )
    source = (source or "").strip()
    if not source:
        raise ValidationError(
            _("Say where this comes from (e.g. screening, health check, hospital diagnosis)."),
            code="required",
            field="source",
        )
    recorded_on = recorded_on or timezone.localdate()
    if recorded_on > timezone.localdate():
        raise ValidationError(
            _("The date cannot be in the future."), code="future_date", field="recorded_on"
        )
    if not scoped(actor, Resident).filter(pk=resident.pk).exists():
        raise PermissionDenied(_("This resident is outside your area."))
    if KeyPopulationTag.objects.filter(resident=resident, tag=tag, ended_on__isnull=True).exists():
        raise Conflict(
            _("This key population is already recorded for the resident."),
            code="duplicate_tag",
            field="tag",
        )
    try:
        with transaction.atomic():
            record = KeyPopulationTag.objects.create(
                resident=resident,
                tag=tag,
                source=source[:100],
                note=(note or "")[:200],
                recorded_on=recorded_on,
                recorded_by=actor,
            )
    except IntegrityError:
        raise Conflict(
            _("This key population is already recorded for the resident."),
            code="duplicate_tag",
            field="tag",
        ) from None
    audit.log(
        audit.Action.CREATE, actor=actor, obj=record, detail={"tag": tag, "source": record.source}
    )
    return record


@transaction.atomic
def end_tag(
    *, actor, tag: KeyPopulationTag, reason: str, ended_on: dt.date | None = None
) -> KeyPopulationTag:
    _require(actor, "tag_resident")
    tag = scoped(actor, KeyPopulationTag).select_for_update().get(pk=tag.pk)
    if tag.ended_on is not None:
        raise Conflict(_("This tag has already ended."), code="already_ended")
    ended_on = ended_on or timezone.localdate()
    if ended_on > timezone.localdate():
        # An end in the future would leave the tag current and yet "ended", so a second
        # open tag of the same population could be declared beside it.
        raise ValidationError(
            _("The date cannot be in the future."), code="future_date", field="ended_on"
        )
    if ended_on < tag.recorded_on:
        raise ValidationError(
            _("The end date cannot be before the date it was recorded."),
            code="ended_on",
            field="ended_on",
        )
    tag.ended_on = ended_on
    tag.end_reason = (reason or "").strip()[:200]
    tag.save(update_fields=["ended_on", "end_reason"])
    audit.log(
        audit.Action.UPDATE,
        actor=actor,
        obj=tag,
        detail={"ended_on": ended_on.isoformat(), "reason": tag.end_reason},
    )
    return tag
