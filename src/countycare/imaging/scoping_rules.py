"""Readers see the studies of the orders routed to their centers (like the orders
themselves, telemed.scoping_rules) and, to reconcile them, the unmatched studies of their
centers' kind (an unmatched ultrasound study waits for the ultrasound center's readers)."""

from __future__ import annotations

from django.db.models import Q

from countycare.core.scoping import register_rule
from countycare.imaging.models import Instance, Series, Study, StudyStatus
from countycare.telemed.models import SharedCenter


def _centers(user):
    if not getattr(user, "is_authenticated", False):
        return SharedCenter.objects.none()
    return SharedCenter.objects.filter(readers=user, is_active=True)


def _rule(prefix: str = ""):
    def rule(user, scope) -> Q:
        centers = _centers(user)
        return Q(**{f"{prefix}order__center_id__in": centers.values("pk")}) | Q(
            **{
                f"{prefix}status": StudyStatus.UNMATCHED,
                f"{prefix}center_kind__in": centers.values("kind"),
            }
        )

    return rule


register_rule(Study, _rule())
register_rule(Series, _rule("study__"))
register_rule(Instance, _rule("series__study__"))
