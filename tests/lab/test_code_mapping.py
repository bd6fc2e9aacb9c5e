"""The analyzer code table (issue 5): an OBX with the analyzer's own code is dead-lettered
until the code is mapped to LOINC; the replay is then accepted."""

import pytest

from countycare.lab.ingest import ingest, replay
from countycare.lab.models import CodeMapping, LabResult
from countycare.telemed.models import Observation

pytestmark = pytest.mark.usefixtures("reference_ranges")

LOCAL = [  # URIT-style local codes (coding system 99URT), no LOINC
    ("WBC", "白细胞", "12.1", "", "", "", "99URT"),
    ("HGB", "血红蛋白", "141", "g/L", "", "", "99URT"),
]


def test_local_codes_dead_letter_then_replay_after_mapping(make_oru, cbc_order, community_admin):
    first = ingest(make_oru(obx=LOCAL, control_id="URIT-1"))
    row = first.message
    assert (row.status, row.ack_code) == ("dead_letter", "AE")
    assert "without a LOINC code and without a mapping" in row.reason
    assert not Observation.objects.filter(order=cbc_order).exists()

    # A mapping for another analyzer does not apply.
    CodeMapping.objects.create(sender="OTHER|X", local_code="WBC", loinc="6690-2")
    assert replay(row.pk, actor=community_admin).status == "dead_letter"

    CodeMapping.objects.create(
        sender=row.sender, local_code="WBC", loinc="6690-2", name="WBC", unit="10*9/L"
    )
    CodeMapping.objects.create(local_code="HGB", loinc="718-7", name="HGB")  # any sender
    row = replay(row.pk, actor=community_admin)

    assert row.status == "accepted"
    got = {o.code: o for o in Observation.objects.filter(order=cbc_order)}
    assert set(got) == {"6690-2", "718-7"}
    assert (got["6690-2"].unit, got["6690-2"].flag) == ("10*9/L", "H")  # WS/T 405: 3.5-9.5
    assert got["718-7"].flag == "N"
    assert LabResult.objects.filter(message=row).count() == 2


def test_the_code_table_in_admin(superuser, web):
    client = web(superuser)
    assert client.get("/admin/lab/codemapping/add/").status_code == 200
    assert client.get("/admin/lab/referencerange/").status_code == 200
    assert client.get("/admin/lab/labresult/").status_code == 200
