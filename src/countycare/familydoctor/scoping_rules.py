"""Family doctors see their contracted residents (architecture.md, "Scoping"): the responsible
doctor of a contract in force sees that resident and the resident's family-doctor and clinical
rows even where the doctor holds no role over the village (a village without a clinic served
from a neighbouring clinic). Nobody else gains anything: a village doctor still sees only his
village's other residents."""

from __future__ import annotations

from django.db.models import Q

from countycare.core.scoping import register_rule
from countycare.familydoctor.models import Contract, FollowUp, HealthCheck, LongPrescription
from countycare.familydoctor.selectors import responsible_doctor_residents
from countycare.residents.models import Resident
from countycare.telemed.models import Observation


def _ids(user) -> list[int]:
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return responsible_doctor_residents(user)


register_rule(Resident, lambda user, scope: Q(pk__in=_ids(user)))
for _model in (Contract, FollowUp, HealthCheck, LongPrescription, Observation):
    register_rule(_model, lambda user, scope: Q(resident_id__in=_ids(user)))
