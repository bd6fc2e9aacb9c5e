"""Result recognition on referrals (issue 6; SHC-01/SHC-02): the resident's recognized lab
results (lab.selectors) are offered on the referral form, ticked, and travel with the
referral by reference; the receiving hospital sees them with their validity instead of
repeating them; another resident's results are refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from countycare.core.errors import ValidationError
from countycare.core.scoping import scoped
from countycare.lab.ingest import ingest
from countycare.lab.models import LabResult
from countycare.referrals import selectors, services
from countycare.referrals.models import Referral
from countycare.telemed.models import Observation
from tests.lab.conftest import cbc_order, lab_center, make_oru  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def cbc(make_oru):  # noqa: F811 (the imported fixture)
    """A1's CBC from the county lab, final (recognized), collected two hours ago."""
    result = ingest(make_oru().encode())
    assert result.message.status == "accepted"
    LabResult.objects.update(collected_at=timezone.now() - dt.timedelta(hours=2))
    return list(Observation.objects.filter(lab_result__isnull=False).order_by("pk"))


def test_recognized_results_travel_with_the_referral(
    web, catalog, residents, departments, village_doctor, specialist, cbc
):
    client = web(village_doctor)
    page = client.get(f"/referrals/new/{residents['a1'].pk}/?direction=up")
    html = page.content.decode()
    panels = page.context["lab_panels"]
    assert len(panels) == 1 and panels[0]["value"] == ",".join(str(o.pk) for o in cbc)
    # Ticked by default: recognized results travel unless the doctor unticks them.
    assert f'value="{panels[0]["value"]}" checked' in html
    r = client.post(
        f"/referrals/new/{residents['a1'].pk}/",
        {"direction": "up", "department": departments["内分泌科"].pk, "reason": "贫血待查",
         "diagnosis_code": "D64.900", "diagnosis_name": "贫血",
         "lab_panels": panels[0]["value"]},
    )  # fmt: skip
    assert r.status_code == 302, r.content.decode()[:2000]
    referral = Referral.objects.get()
    assert sorted(referral.observations.values_list("pk", flat=True)) == [o.pk for o in cbc]
    # The hospital sees them through the referral, with the recognition window.
    assert scoped(specialist, Observation).filter(pk=cbc[0].pk).exists()
    results = selectors.travelling_results(referral)
    assert len(results.lab_panels) == 1 and results.lab_panels[0].still_valid
    assert results.observations == []
    detail = web(specialist).get(f"/referrals/{referral.pk}/").content.decode()
    assert "血常规" in detail or "LAB-CBC" in detail or results.lab_panels[0].name in detail
    assert "HGB" in detail


def test_unticked_or_foreign_results_do_not_travel(
    web, catalog, residents, departments, village_doctor, township_doctor, cbc
):
    r = web(village_doctor).post(
        f"/referrals/new/{residents['a1'].pk}/",
        {"direction": "up", "department": departments["内分泌科"].pk, "reason": "贫血待查",
         "diagnosis_code": "D64.900", "diagnosis_name": "贫血"},
    )  # fmt: skip
    assert r.status_code == 302
    assert not Referral.objects.get().observations.exists()
    # A1's results on A2's referral (the township doctor sees both): refused, nothing written.
    with pytest.raises(ValidationError) as caught:
        services.refer_up(
            township_doctor, resident=residents["a2"].pk, department=departments["内分泌科"].pk,
            reason="x", diagnosis_code="D64.900", diagnosis_name="贫血", observations=[cbc[0].pk],
        )  # fmt: skip
    assert caught.value.field == "observations"
    assert Referral.objects.count() == 1
