"""Lab data is scoped and its reads are audited (issue 5; guide non-negotiable 4): a village
doctor never reaches another village's results — not through the results page, the
selectors, the observations, the timeline, the entry page or the dead-letter list — and
every page that shows a resident's lab record writes an audit entry."""

import pytest

from countycare.core.models import AuditEntry
from countycare.core.scoping import scoped
from countycare.core.timeline import for_resident
from countycare.lab import selectors
from countycare.lab.ingest import ingest
from countycare.lab.models import Analyzer, Hl7Message, LabResult
from countycare.telemed.models import Observation
from tests.factories import StaffFactory, with_role


@pytest.fixture
def a1_cbc(make_oru, cbc_order):
    result = ingest(make_oru())
    assert result.message.status == "accepted"
    return result.message


def test_a_village_doctor_cannot_see_another_villages_results(
    a1_cbc, web, village_doctor, village_doctor_b1, residents
):
    a1 = residents["a1"]
    own = web(village_doctor).get(f"/lab/residents/{a1.pk}/results/")
    other = web(village_doctor_b1).get(f"/lab/residents/{a1.pk}/results/")
    assert own.status_code == 200 and other.status_code == 404
    assert web(village_doctor_b1).get(f"/lab/entry/{a1.pk}/").status_code == 404

    assert selectors.resident_results(village_doctor, a1).count() == 8
    assert not selectors.resident_results(village_doctor_b1, a1).exists()
    assert not scoped(village_doctor_b1, LabResult).exists()
    assert not scoped(village_doctor_b1, Observation).filter(resident=a1).exists()
    assert not scoped(village_doctor_b1, Hl7Message).exists()
    assert not [e for e in for_resident(a1, village_doctor_b1) if e.kind == "lab_result"]
    # The search of the entry page finds nobody outside the doctor's village.
    found = web(village_doctor_b1).get("/lab/entry/", {"q": a1.name})
    assert found.status_code == 200 and not found.context["found"]


def test_reads_of_a_residents_lab_record_are_audited(a1_cbc, web, village_doctor, residents):
    a1 = residents["a1"]
    before = AuditEntry.objects.filter(actor=village_doctor, action="read").count()
    web(village_doctor).get(f"/lab/residents/{a1.pk}/results/")
    web(village_doctor).get(f"/lab/entry/{a1.pk}/")
    reads = AuditEntry.objects.filter(actor=village_doctor, action="read", resident_id=a1.pk)
    assert reads.count() == before + 2
    assert {e.detail["view"] for e in reads} >= {"lab-results", "lab-entry"}


def test_dead_letter_pages_are_audited_and_scoped(make_oru, cbc_order, web, community_admin,
                                                   institution_admin, tree):  # fmt: skip
    unmatched = ingest(make_oru(national_id="", mrn="NOPE", control_id="U9")).message
    page = web(community_admin).get(f"/lab/dead-letters/{unmatched.pk}/")
    assert page.status_code == 200
    assert AuditEntry.objects.filter(
        actor=community_admin, action="read", object_type="lab.hl7message",
        object_id=str(unmatched.pk),
    ).exists()  # fmt: skip
    # The township's admin sees the unmatched messages of the township's own analyzer only.
    assert web(institution_admin).get(f"/lab/dead-letters/{unmatched.pk}/").status_code == 404
    Analyzer.objects.filter(sender=unmatched.sender).update(institution=tree.township_a)
    assert web(institution_admin).get(f"/lab/dead-letters/{unmatched.pk}/").status_code == 200


def test_the_raw_message_masks_the_national_id_without_the_permission(
    make_oru, cbc_order, residents, web, tree, lab_center
):
    """A lab reader who also looks after the interfaces (system admin) may see the message but
    not read national IDs."""
    admin = StaffFactory(username="lab_sysadmin", employer=tree.lead_hospital)
    with_role(admin, "center_reader", tree.lead_hospital)
    with_role(admin, "system_admin", tree.lead_hospital)
    nid = residents["a1"].national_id
    dead = ingest(make_oru(mrn="", placer="NO-SUCH", control_id="M1")).message
    assert nid in dead.raw

    html = web(admin).get(f"/lab/dead-letters/{dead.pk}/").content.decode()

    assert nid not in html and f"{nid[:4]}**********{nid[-4:]}" in html
