"""The demo county's referrals (issue 6, "Done means": a month of referrals in every state):
catalogs, departments, two weeks of sessions, referrals in every state with legal histories,
deterministic for a seed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from countycare.demo import loader
from countycare.demo import telemed as demo_telemed
from countycare.demo.generator import build_plan
from countycare.referrals import demo_seed, selectors
from countycare.referrals.models import (
    Appointment,
    ClinicSession,
    Referral,
    ReferralStatus,
    ReferralTransition,
)
from countycare.referrals.services import TRANSITIONS

SEED = 5


def _fingerprint():
    return sorted(
        Referral.objects.values_list(
            "direction", "status", "diagnosis_code", "resident__national_id_hash", "urgency"
        )
    )


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        loader.load(build_plan(seed=SEED, residents=2500))
        demo_telemed.load_traffic(SEED)
        summary = demo_seed.seed_referrals(SEED, traffic=True)
        first = _fingerprint()
        yield summary, first
        loader.reset()


@pytest.mark.django_db
def test_a_month_of_referrals_in_every_state(seeded):
    summary, _first = seeded
    states = set(Referral.objects.values_list("direction", "status").distinct())
    for direction, state in (
        ("up", "requested"), ("up", "accepted"), ("up", "declined"), ("up", "arrived"),
        ("up", "discharged"), ("up", "cancelled"), ("down", "requested"), ("down", "accepted"),
        ("down", "arrived"), ("out", "requested"), ("out", "approved"), ("out", "declined"),
    ):  # fmt: skip
        assert (direction, state) in states, (direction, state, summary)
    oldest = Referral.objects.order_by("requested_at").first().requested_at
    assert timezone.now() - oldest > dt.timedelta(days=25)
    # Every history is legal and ends in the referral's state.
    for referral in Referral.objects.prefetch_related("transitions"):
        moves = list(referral.transitions.all())
        assert moves[0].from_status == ""
        for move in moves[1:]:
            assert (move.from_status, move.to_status) in TRANSITIONS[referral.direction]
        assert moves[-1].to_status == referral.status
    assert ReferralTransition.objects.filter(actor__isnull=True).count() == 0
    # Sessions for the next two weeks, with the family doctors' share reserved (REF-03).
    ahead = ClinicSession.objects.filter(starts_at__gt=timezone.now())
    assert ahead.exists()
    assert max(ahead.values_list("starts_at", flat=True)) > timezone.now() + dt.timedelta(days=10)
    assert Appointment.objects.filter(status="no_show").exists()
    # Boards have overdue referrals to show; emergencies were accepted at once.
    lead = Referral.objects.filter(direction="up").first().to_institution
    from countycare.organizations.models import Staff

    admin = Staff.objects.filter(roles__role="community_admin").first()
    assert selectors.board(admin, lead)["overdue"] > 0
    for r in Referral.objects.filter(urgency="emergency", direction="up"):
        assert r.transitions.first().to_status == ReferralStatus.ACCEPTED


@pytest.mark.django_db
def test_deterministic_for_a_seed(seeded):
    _summary, first = seeded
    assert first == _fingerprint()
    assert len(first) > 100
