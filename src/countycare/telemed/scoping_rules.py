"""Readers see the orders routed to their centers (architecture.md, "Scoping"), with what
belongs to those orders, and the residents of those orders (prior results: result
recognition, SHC-01)."""

from __future__ import annotations

from django.db.models import Q

from countycare.core.scoping import register_rule
from countycare.residents.models import Resident
from countycare.telemed.models import Attachment, ExamOrder, Observation, Report, SharedCenter


def _centers(user):
    if not getattr(user, "is_authenticated", False):
        return SharedCenter.objects.none().values("pk")
    return SharedCenter.objects.filter(readers=user, is_active=True).values("pk")


def _orders_q(prefix: str = ""):
    def rule(user, scope) -> Q:
        return Q(**{f"{prefix}center_id__in": _centers(user)})

    return rule


register_rule(ExamOrder, _orders_q())
register_rule(Attachment, _orders_q("order__"))
register_rule(Report, _orders_q("order__"))
register_rule(Observation, _orders_q("order__"))
register_rule(
    Resident,
    lambda user, scope: Q(
        pk__in=ExamOrder.objects.filter(center_id__in=_centers(user)).values("resident_id")
    ),
)
