"""Scoping (architecture.md): a village doctor sees his village's contracts and follow-ups and
no other village's; the responsible family doctor of a contract also sees that resident (a
village served from a neighbouring clinic) — and nobody else of that village."""

import pytest

from countycare.core.scoping import forget, scoped
from countycare.familydoctor.models import Contract, FollowUp
from countycare.residents.models import Resident
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db


def test_village_doctor_sees_no_other_village(village_doctor, village_doctor_b1, township_doctor,
                                              residents, team_a, team_b, sign):  # fmt: skip
    a1 = sign(village_doctor, residents["a1"], team_a)
    a2 = sign(township_doctor, residents["a2"], team_a)
    b1 = sign(village_doctor_b1, residents["b1"], team_b)
    assert set(scoped(village_doctor, Contract)) == {a1}
    assert set(scoped(village_doctor_b1, Contract)) == {b1}
    assert set(scoped(township_doctor, Contract)) == {a1, a2}


def test_the_responsible_doctor_sees_his_contracted_resident(village_doctor, township_doctor,
                                                             residents, team_a, sign, web):  # fmt: skip
    neighbour = ResidentFactory(home_village=residents["a2"].home_village)
    contract = sign(township_doctor, residents["a2"], team_a, doctor=village_doctor.pk)
    forget(village_doctor)
    visible = set(scoped(village_doctor, Resident))
    assert residents["a2"] in visible and neighbour not in visible
    assert contract in set(scoped(village_doctor, Contract))
    client = web(village_doctor)
    assert client.get(f"/residents/{residents['a2'].pk}/").status_code == 200
    assert client.get(f"/residents/{neighbour.pk}/").status_code == 404
    assert client.get(f"/familydoctor/contracts/{contract.pk}/").status_code == 200


def test_the_rule_ends_with_the_contract(village_doctor, township_doctor, residents, team_a, sign):
    from countycare.familydoctor import services

    contract = sign(township_doctor, residents["a2"], team_a, doctor=village_doctor.pk)
    import datetime as dt

    from django.utils import timezone

    services.terminate_contract(township_doctor, contract.pk, reason="changed_team",
                                on=timezone.localdate() - dt.timedelta(days=0))  # fmt: skip
    contract.refresh_from_db()
    # In force through today; from tomorrow the doctor no longer sees the resident.
    from countycare.familydoctor.selectors import responsible_doctor_residents

    forget(village_doctor)
    assert responsible_doctor_residents(village_doctor) == [residents["a2"].pk]
    forget(village_doctor)
    assert (
        responsible_doctor_residents(village_doctor, timezone.localdate() + dt.timedelta(days=1))
        == []
    )
    assert FollowUp.objects.count() == 0
