"""The demo county's imaging step: the two devices and today's studies on the demo village's
orders, visible to the demo reader (issue 4)."""

import io

import pytest
from django.core.management import call_command

from countycare.imaging import selectors
from countycare.imaging.models import DeviceAE, Study, StudyStatus
from countycare.organizations.models import Staff


@pytest.mark.django_db(transaction=True)
def test_demo_registers_the_devices_and_seeds_studies_a_reader_sees():
    out = io.StringIO()
    call_command("demo", "--no-serve", "--residents", "400", stdout=out)
    assert "imaging:" in out.getvalue()
    devices = {d.ae_title: d for d in DeviceAE.objects.all()}
    assert set(devices) >= {"DEMO_US", "DEMO_DR"}
    assert "札萨克镇" in devices["DEMO_US"].institution.name
    matched = Study.objects.filter(status=StudyStatus.MATCHED)
    assert {s.modalities for s in matched} >= {"SR,US", "CR"}
    reader = Staff.objects.get(username="center_reader")
    doctor = Staff.objects.get(username="village_doctor")
    for study in matched:
        assert selectors.studies_for_order(reader, study.order).exists()
        assert selectors.studies_for_order(doctor, study.order).exists()
    assert selectors.unmatched(reader).count() == 1
