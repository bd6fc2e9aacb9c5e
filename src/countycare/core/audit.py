"""The audit trail: one function writes it. Services call :func:`log` inside their
transaction (so a rolled-back write leaves no entry and a written one always has its entry);
views call it for reads."""

from __future__ import annotations

from typing import Any

from django.db import models

from countycare.core import context
from countycare.core.models import AuditEntry

Action = AuditEntry.Action


def _label(obj: models.Model) -> str:
    return obj._meta.label_lower


def log(
    action: str,
    *,
    actor=None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: Any = "",
    resident_id: int | None = None,
    institution=None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. ``obj`` may declare ``audit_resident_id`` and
    ``audit_institution`` (properties) so callers need not repeat them."""
    if obj is not None:
        object_type = object_type or _label(obj)
        object_id = object_id or obj.pk
        if resident_id is None:
            resident_id = getattr(obj, "audit_resident_id", None)
        if institution is None:
            institution = getattr(obj, "audit_institution", None)
    ctx = context.current()
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEntry.objects.create(
        actor=actor if authenticated else None,
        actor_username=(actor.get_username() if authenticated else "")[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id or "")[:64],
        object_repr=(str(obj) if obj is not None else "")[:200],
        resident_id=resident_id,
        institution_id=getattr(institution, "pk", None),
        institution_name=(str(institution) if institution is not None else "")[:200],
        ip=ctx.ip,
        path=ctx.path,
        detail=detail or {},
    )


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{"field": [old, new]}`` for the fields that changed, for an update entry's detail."""
    return {
        k: [str(before.get(k)), str(after.get(k))]
        for k in after
        if str(before.get(k)) != str(after.get(k))
    }
