"""Who sees an HL7 message nobody could match (no resident, no order): those whose scope
holds the institution of a lab center, where the analyzers and lab systems send from
(issue 5). Its raw text may name a patient, so a village clinic never sees it."""

from __future__ import annotations

from django.db.models import Q

from countycare.core.scoping import register_rule
from countycare.lab.models import Hl7Message


def _unmatched(user, scope) -> Q:
    from countycare.telemed.models import CenterKind, SharedCenter

    if scope.institution_ids is None:
        return Q(pk__in=[])
    sees_a_lab = SharedCenter.objects.filter(
        kind=CenterKind.LAB, institution_id__in=scope.institution_ids
    ).exists()
    if not sees_a_lab:
        return Q(pk__in=[])
    return Q(resident__isnull=True, order__isnull=True)


register_rule(Hl7Message, _unmatched)
