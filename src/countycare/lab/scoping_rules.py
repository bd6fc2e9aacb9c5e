"""Who sees an HL7 message nobody could match (no resident, no order): those whose scope
holds the institution of a lab center, where the analyzers and lab systems send from, and
those whose scope holds the institution of the sending analyzer (a township lab sees what its
own analyzer sent, issue 5). Its raw text may name a patient, so a village clinic without
an analyzer of its own never sees it."""

from __future__ import annotations

from django.db.models import Q

from countycare.core.scoping import register_rule
from countycare.lab.models import Analyzer, Hl7Message


def _unmatched(user, scope) -> Q:
    from countycare.telemed.models import CenterKind, SharedCenter

    if scope.institution_ids is None:
        return Q(pk__in=[])
    unmatched = Q(resident__isnull=True, order__isnull=True)
    sees_a_lab = SharedCenter.objects.filter(
        kind=CenterKind.LAB, institution_id__in=scope.institution_ids
    ).exists()
    if sees_a_lab:
        return unmatched
    own = Analyzer.objects.filter(institution_id__in=scope.institution_ids).values("sender")
    return unmatched & Q(sender__in=own)


register_rule(Hl7Message, _unmatched)
