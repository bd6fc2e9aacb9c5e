"""The outreach demo step (issue 8): current points, a siting run, teams, dispatches and,
with traffic, a season of schedules, visits and check-ins."""

from __future__ import annotations

import pytest

from countycare.demo import loader
from countycare.demo.generator import build_plan
from countycare.outreach.compliance import figures
from countycare.outreach.demo_seed import seed_outreach
from countycare.outreach.models import (
    CircuitTeam,
    CircuitVisit,
    Dispatch,
    DispatchCheckIn,
    ServicePoint,
    SitingRun,
    VisitStatus,
)


@pytest.mark.django_db
def test_demo_step_seeds_a_season():
    from django.utils import translation

    loader.load(build_plan(residents=60))
    with translation.override("zh-hans"):  # the demo prints in Chinese, like the rest of it
        summary = seed_outreach(2024, traffic=True)
    assert summary.startswith("巡诊服务点 50 个，选址计算 #")
    assert "已记录巡诊" in summary and "派驻签到" in summary
    assert not any(word in summary for word in ("visits", "teams", "dispatches", "service"))
    assert ServicePoint.objects.count() == 50
    run = SitingRun.objects.get()
    assert run.status == "done" and run.gap == 0
    # The optimum beats the by-hand choice of the 50 largest villages.
    compare = run.result["compare"]
    assert compare["chosen"]["person_km"] < compare["current"]["person_km"]
    kinds = set(CircuitTeam.objects.values_list("kind", flat=True))
    assert kinds == {"service_point", "village_circuit", "elderly_care"}
    assert Dispatch.objects.filter(kind="lead_attending").count() >= 3
    assert CircuitVisit.objects.filter(status=VisitStatus.DONE).count() > 50
    assert CircuitVisit.objects.filter(status=VisitStatus.PLANNED).exists()
    assert DispatchCheckIn.objects.count() > 100
    import datetime as dt

    from django.utils import timezone

    today = timezone.localdate()
    numbers = figures(None, today - dt.timedelta(days=60), today)
    assert 0 < numbers["village_circuits"]["rate"] <= 1
    assert numbers["activity"]["visits"] > 0
