"""Writes of the clinical app: importing encounter files (HIS exports, insurance settlement
data). All rows or none; an encounter imported again (same source system and number) is
updated in place, so importing a file twice — or a corrected one — never doubles a visit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import connection, transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _

from countycare.clinical import imports
from countycare.clinical.models import Encounter, EncounterImport
from countycare.core import audit
from countycare.core.errors import PermissionDenied, ValidationError
from countycare.organizations.roles import Perm

CHUNK = 5000
# Sent (inside the import's transaction) with ``days``: the dates of the encounters that were
# created or changed, so readers of encounters (the indicators) can refresh closed periods.
encounters_changed = Signal()

UPDATED_FIELDS = [
    "kind", "date", "institution", "institution_type", "provider", "resident", "residence",
    "tcm", "total_cost", "fund_paid", "batch",
]  # fmt: skip


def _upsert_sql() -> str:
    meta = Encounter._meta
    columns = ["source", "number", *UPDATED_FIELDS]
    names = [meta.get_field(c).column for c in columns]
    quote = connection.ops.quote_name
    updates = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in names[2:])
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(n) for n in names)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(names))}) "
        f"ON CONFLICT ({quote('source')}, {quote('number')}) DO UPDATE SET {updates}"
    )


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _residents(hashes: set[str]) -> dict[str, tuple[int, int]]:
    """national ID hash → (resident id, home village id), in chunks."""
    from countycare.residents.models import Resident

    found: dict[str, tuple[int, int]] = {}
    for part in _chunks(sorted(hashes)):
        for h, pk, village in Resident.objects.filter(national_id_hash__in=part).values_list(
            "national_id_hash", "pk", "home_village_id"
        ):
            found[h] = (pk, village)
    return found


def import_encounters(
    *, user, file_name: str, content: bytes, source: str, check_permission: bool = True
) -> EncounterImport:
    """Validate a file of encounters and store it (KPI-01, KPI-02, KPI-04). ``source`` names
    the sending system (the encounter numbers are its keys). An encounter already held keeps
    the residence and institution level it was recorded with unless the file now says
    otherwise: a correction imported after the patient moved does not move his old visits."""
    if check_permission and not (
        getattr(user, "is_authenticated", False)
        and user.has_perm(f"countycare.{Perm.MANAGE_MASTER_DATA}")
    ):
        raise PermissionDenied(_("Your role does not allow importing encounters."))
    source = (source or "").strip()
    if not source or len(source) > 40:
        raise ValidationError(
            _("Name the system the file comes from (at most 40 characters), e.g. H01-HIS or "
              "医保结算: the encounter numbers are that system's own."),
            code="source", field="source",
        )  # fmt: skip
    parsed = imports.parse(file_name, content)
    if parsed.errors:
        raise ValidationError(
            _("The file was not imported: %(n)d problem(s). Correct them and import it again.")
            % {"n": len(parsed.errors)},
            code="invalid_file",
            field="file",
            extra={"problems": parsed.errors},
        )
    return store_encounters(
        user=user, rows=parsed.rows, source=source, file_name=file_name,
        sha256=hashlib.sha256(content).hexdigest(),
    )  # fmt: skip


def store_encounters(
    *, user, rows: list[imports.Row], source: str, file_name: str, sha256: str = ""
) -> EncounterImport:
    """Write validated rows (:func:`imports.parse`, or a generator that builds them) as one
    import: all or nothing, upserted by (source, number), one audit entry, one signal."""
    residents = _residents({r.id_hash for r in rows if r.id_hash})
    digest = sha256
    # One INSERT … ON CONFLICT per row, sent in batches (SQLite ≥ 3.24 and PostgreSQL speak
    # the same upsert): the ORM's bulk_create costs ten times as much per row here.
    upsert = _upsert_sql()
    sqlite = connection.vendor == "sqlite"

    def text(value):
        return None if value is None else (str(value) if sqlite else value)

    changed_days: set = set()
    created = 0
    with transaction.atomic():
        batch = EncounterImport.objects.create(
            file_name=file_name[:255],
            sha256=digest,
            source=source,
            rows=len(rows),
            first_date=min(r.date for r in rows),
            last_date=max(r.date for r in rows),
            imported_by=user if getattr(user, "is_authenticated", False) else None,
        )
        for part in _chunks(rows):
            held = {
                e["number"]: e
                for e in Encounter.objects.filter(
                    source=source, number__in=[r.number for r in part]
                ).values("number", "date", "institution_id", "institution_type", "residence_id")
            }
            values = []
            for r in part:
                resident_id, home = (
                    residents.get(r.id_hash, (None, None)) if r.id_hash else (None, None)
                )
                residence_id = r.residence_id or home
                institution_type = r.institution_type
                before = held.get(r.number)
                if before is None:
                    created += 1
                else:
                    changed_days.add(before["date"])
                    if r.residence_id is None and before["residence_id"]:
                        residence_id = before["residence_id"]
                    if r.institution_id == before["institution_id"]:
                        institution_type = before["institution_type"]
                changed_days.add(r.date)
                values.append((
                    source, r.number, r.kind, text(r.date), r.institution_id, institution_type,
                    r.provider, resident_id, residence_id, r.tcm, text(r.total_cost),
                    text(r.fund_paid), batch.pk,
                ))  # fmt: skip
            with connection.cursor() as cursor:
                cursor.executemany(upsert, values)
        batch.created = created
        batch.save(update_fields=["created"])
        audit.log(
            "create",
            actor=user,
            obj=batch,
            detail={
                "rows": len(rows),
                "created": created,
                "updated": len(rows) - created,
                "residents_matched": sum(1 for r in rows if r.id_hash in residents),
                "source": source,
                "sha256": digest,
            },
        )
        encounters_changed.send(sender=Encounter, days=changed_days)
    return batch
