"""The demo's guarantee of every referral state (issue 6, "a month of referrals in every
state"), whatever the random draw of a seed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from countycare.referrals import demo_seed
from countycare.referrals.models import Referral
from countycare.referrals.services import TRANSITIONS


@pytest.mark.django_db
def test_every_state_whatever_the_draw(catalog, tree, residents, departments, village_doctor,
                                       specialist, community_admin):  # fmt: skip
    """A draw without, say, a withdrawn or a declined referral gets one made from the oldest
    referral that can move there, through the services (so its history stays legal)."""
    from types import SimpleNamespace

    from countycare.referrals import services

    now = timezone.now()
    for hours in (30, 20):
        services.refer_up(
            village_doctor, resident=residents["a1"].pk, department=departments["心血管内科"].pk,
            reason="胸闷", diagnosis_code="I20.000", now=now - dt.timedelta(hours=hours),
        )  # fmt: skip
    services.refer_out(
        village_doctor, resident=residents["a1"].pk, destination="北京天坛医院", reason="手术",
        diagnosis_code="C71.900", diagnosis_name="脑恶性肿瘤", now=now - dt.timedelta(hours=9),
    )  # fmt: skip
    dept = departments["心血管内科"]
    t = SimpleNamespace(now=now, depts={str(dept.pk): [dept, [specialist]]}, doctor_at={},
                        approver=community_admin)  # fmt: skip
    demo_seed._every_state(t)
    states = set(Referral.objects.values_list("direction", "status"))
    assert {("up", "cancelled"), ("up", "declined"), ("out", "approved")} <= states
    for referral in Referral.objects.prefetch_related("transitions"):
        moves = list(referral.transitions.all())
        assert all(
            (m.from_status, m.to_status) in TRANSITIONS[referral.direction] for m in moves[1:]
        )
        assert moves[-1].at <= now
