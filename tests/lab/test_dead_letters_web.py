"""The dead-letter list in the web app (issue 5): for ``manage_interfaces``, with the reason,
the raw message and counts; the analyzer code mapping fixed inline and the message replayed.
A village clinic never sees a message nobody could match."""

import pytest

from countycare.core.errors import ValidationError
from countycare.core.models import AuditEntry
from countycare.lab import selectors, services
from countycare.lab.ingest import ingest
from countycare.lab.models import CodeMapping, Hl7Message
from countycare.telemed.models import Observation

LOCAL = [
    ("6690-2", "WBC", "6.52", "10*9/L", "3.5-9.5", "N"),
    ("HGB", "血红蛋白", "118", "g/L", "130-175", "L", "99MR"),  # the analyzer's own code
]


@pytest.fixture
def dead(make_oru, cbc_order):
    row = ingest(make_oru(obx=LOCAL, control_id="L1").encode()).message
    assert (row.status, row.error_code, row.error_location) == ("dead_letter", "103", "OBX^2^3")
    return row


@pytest.fixture
def unmatched(make_oru, cbc_order):
    return ingest(make_oru(national_id="", mrn="NOPE", control_id="U1").encode()).message


def test_the_list_shows_reasons_and_counts(dead, unmatched, web, community_admin):
    page = web(community_admin).get("/lab/dead-letters/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "L1" in html and "U1" in html and "HGB (99MR)" in html
    counts = page.context["counts"]
    assert counts["waiting"] == 2
    assert {c["error_code"]: c["n"] for c in counts["by_code"]} == {"103": 1, "204": 1}
    only = web(community_admin).get("/lab/dead-letters/", {"code": "204"})
    assert [m.control_id for m in only.context["page"]] == ["U1"]


def test_map_the_code_inline_and_replay(dead, web, community_admin, cbc_order):
    client = web(community_admin)
    page = client.get(f"/lab/dead-letters/{dead.pk}/")
    assert page.status_code == 200
    assert page.context["form"].initial["local_code"] == "HGB"  # prefilled from OBX-3
    assert "OBX|2|NM|HGB^" in page.content.decode()  # the raw message, whole
    assert AuditEntry.objects.filter(actor=community_admin, action="read",
                                     object_type="lab.hl7message").exists()  # fmt: skip

    bad = client.post(f"/lab/dead-letters/{dead.pk}/map/", {"local_code": "HGB", "loinc": "718-8"})
    assert bad.status_code == 400 and not CodeMapping.objects.exists()  # bad check digit

    done = client.post(
        f"/lab/dead-letters/{dead.pk}/map/",
        {"local_code": "HGB", "loinc": "718-7", "name": "血红蛋白", "unit": "g/L"},
    )
    assert done.status_code == 302
    dead.refresh_from_db()
    assert (dead.status, dead.ack_code) == ("accepted", "AA")
    mapping = CodeMapping.objects.get()
    assert (mapping.sender, mapping.loinc) == (dead.sender, "718-7")
    assert Observation.objects.filter(order=cbc_order, code="718-7").count() == 1


def test_replay_after_the_cause_is_fixed_elsewhere(unmatched, web, community_admin, residents):
    from countycare.lab.models import ResidentIdentifier

    client = web(community_admin)
    client.post(f"/lab/dead-letters/{unmatched.pk}/replay/")
    unmatched.refresh_from_db()
    assert unmatched.status == "dead_letter"
    ResidentIdentifier.objects.create(authority="ZSK-VC-A1", value="NOPE", resident=residents["a1"])
    client.post(f"/lab/dead-letters/{unmatched.pk}/replay/")
    unmatched.refresh_from_db()
    assert unmatched.status == "accepted"


def test_who_sees_dead_letters(dead, unmatched, web, village_doctor, institution_admin,
                               center_reader, community_admin):  # fmt: skip
    # Without manage_interfaces: 403 on the list and on a message.
    assert web(village_doctor).get("/lab/dead-letters/").status_code == 403
    assert web(village_doctor).get(f"/lab/dead-letters/{unmatched.pk}/").status_code == 403
    # The township's admin manages interfaces but sees no lab's institution: a message nobody
    # could match (its PID may name anyone in the county) stays with the lab's people.
    assert not selectors.dead_letters(institution_admin).exists()
    assert web(institution_admin).get(f"/lab/dead-letters/{unmatched.pk}/").status_code == 404
    assert set(selectors.dead_letters(community_admin).values_list("control_id", flat=True)) == {
        "L1", "U1"}  # fmt: skip


def test_only_a_dead_letter_is_mapped(make_oru, cbc_order, community_admin):
    ok = ingest(make_oru().encode()).message
    with pytest.raises(ValidationError) as exc:
        services.map_code_and_replay(community_admin, ok.pk, local_code="X", loinc="718-7")
    assert exc.value.code == "not_dead_letter"
    assert Hl7Message.objects.get(pk=ok.pk).status == "accepted"


def test_the_home_widget_counts_the_waiting(dead, web, community_admin):
    page = web(community_admin).get("/")
    assert "/lab/dead-letters/" in page.content.decode()
