"""The receiving side of a referral sees the patient and what travels with the referral
(result recognition, SHC-01): a county department receiving an upward referral sees the
resident and the linked reports and results; a township receiving a downward one already
holds its villages' residents by scope."""

from __future__ import annotations

from django.db.models import Q

from countycare.core.scoping import register_rule
from countycare.referrals.models import Referral
from countycare.residents.models import Resident
from countycare.telemed.models import Observation, Report


def _received(scope):
    if scope.institution_ids is None:
        return Referral.objects.none()
    return Referral.objects.filter(to_institution_id__in=scope.institution_ids)


register_rule(Resident, lambda user, scope: Q(pk__in=_received(scope).values("resident_id")))
register_rule(Report, lambda user, scope: Q(pk__in=_received(scope).values("reports__id")))
register_rule(
    Observation, lambda user, scope: Q(pk__in=_received(scope).values("observations__id"))
)
