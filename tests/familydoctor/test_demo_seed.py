"""The family-doctor demo step (issue 7, "Done means"): teams with the demo logins, contracts
with coverage above the year's target in some townships and below in others, a year of
follow-ups classified by the rules, health checks — the same for the same seed."""

import datetime as dt

import pytest
from django.utils import timezone

from countycare.demo import loader
from countycare.demo.generator import build_plan
from countycare.familydoctor import coverage
from countycare.familydoctor.demo_seed import seed_familydoctor
from countycare.familydoctor.models import Contract, FollowUp, HealthCheck, Team, TeamMember
from countycare.organizations.models import Institution

pytestmark = pytest.mark.django_db


def run(seed=7, residents=1500):
    loader.load(build_plan(residents=residents, seed=seed))
    return seed_familydoctor(seed, traffic=True)


def test_demo_step_seeds_a_year():
    summary = run()
    # The summary in the active language (zh-Hans by default), with the figures it counts.
    assert "团队" in summary and "随访" in summary
    assert f"团队 {Team.objects.count()} 个" in summary
    assert Team.objects.count() >= 8
    leader = TeamMember.objects.get(staff__username="township_doctor", is_leader=True)
    assert TeamMember.objects.filter(team=leader.team, staff__username="village_doctor").exists()
    today = timezone.localdate()
    in_force = Contract.objects.filter(start_on__lte=today, end_on__gte=today)
    assert in_force.count() > 500
    assert Contract.objects.filter(status="renewed").exists()
    assert Contract.objects.filter(status="expired").exists()
    # One contract in force at a time per resident.
    assert in_force.values("resident").distinct().count() == in_force.count()
    follow_ups = FollowUp.objects.all()
    assert follow_ups.count() > 200
    assert follow_ups.filter(followed_on__lt=today - dt.timedelta(days=300)).exists()
    assert set(follow_ups.values_list("classification", flat=True)) >= {
        "controlled",
        "not_controlled",
    }
    assert follow_ups.exclude(referral_triggers=[]).exists()
    first = follow_ups.filter(systolic_bp__isnull=False).first()
    assert first.observations.filter(code="8480-6", value=first.systolic_bp).exists()
    assert HealthCheck.objects.exists()
    # Coverage below and above the year's target in different townships.
    county = Institution.objects.get(type="county")
    node = coverage.tree(county, today.replace(month=1, day=1), today)
    target = coverage.target_for("familydoctor_coverage_target", today.year)
    rates = [t.counts.rate for c in node.children for t in ([c] if c.counts.residents else [])]
    rates = [r for r in rates if r is not None]
    assert min(rates) < target < max(rates), rates


def _forget_traffic():
    from countycare.familydoctor.models import ContractPackage, ContractTransition, LongPrescription
    from countycare.telemed.models import Observation

    observations = list(
        Observation.objects.filter(family_doctor_follow_ups__isnull=False).values_list(
            "pk", flat=True
        )
    )
    FollowUp.observations.through.objects.all().delete()
    Observation.objects.filter(pk__in=observations).delete()
    for model in (LongPrescription, FollowUp, HealthCheck, ContractTransition, ContractPackage):
        model.objects.all().delete()
    Contract.objects.filter(renewed_from__isnull=False).delete()
    Contract.objects.all().delete()


def test_same_seed_same_contracts():
    run(seed=11, residents=400)
    first = list(
        Contract.objects.order_by("pk").values_list("resident", "start_on", "status", "fee_total")
    )
    follow = list(
        FollowUp.objects.order_by("pk").values_list("resident", "followed_on", "classification")
    )
    assert first and follow
    _forget_traffic()
    seed_familydoctor(11, traffic=True)
    again = list(
        Contract.objects.order_by("pk").values_list("resident", "start_on", "status", "fee_total")
    )
    assert again == first
    assert (
        list(
            FollowUp.objects.order_by("pk").values_list("resident", "followed_on", "classification")
        )
        == follow
    )
