"""Dead letters are replayed once their cause is fixed (issue 5)."""

import pytest

from countycare.core.errors import Conflict
from countycare.core.models import AuditEntry
from countycare.lab.ingest import ingest, replay
from countycare.lab.models import Hl7Message, ResidentIdentifier
from countycare.telemed.models import Observation


def test_a_dead_letter_replayed_after_the_mrn_is_registered(
    make_oru, cbc_order, residents, community_admin
):
    message = make_oru(national_id="", mrn="MZ0042")
    first = ingest(message)
    assert first.message.status == "dead_letter"

    still = replay(first.message.pk, actor=community_admin)
    assert still.status == "dead_letter" and "Unknown patient" in still.reason

    ResidentIdentifier.objects.create(
        authority="ZSK-VC-A1", value="MZ0042", resident=residents["a1"]
    )
    row = replay(first.message.pk, actor=community_admin)

    assert (row.status, row.ack_code, row.resident, row.order) == (
        "accepted",
        "AA",
        residents["a1"],
        cbc_order,
    )
    assert Observation.objects.filter(order=cbc_order).count() == 8
    assert "|AA|" in ingest(message).ack  # the sender's resend now hears AA
    assert (
        AuditEntry.objects.filter(
            object_type="lab.hl7message", object_id=str(row.pk), actor=community_admin
        ).count()
        == 2
    )
    with pytest.raises(Conflict):
        replay(row.pk, actor=community_admin)  # accepted: never processed twice


def test_replay_from_the_admin_list(make_oru, cbc_order, residents, superuser, web):
    dead = ingest(make_oru(national_id="", mrn="MZ0043")).message
    ResidentIdentifier.objects.create(value="MZ0043", resident=residents["a1"])

    client = web(superuser)
    listing = client.get("/admin/lab/hl7message/?status__exact=dead_letter")
    assert listing.status_code == 200 and dead.control_id in listing.content.decode()
    response = client.post(
        "/admin/lab/hl7message/",
        {"action": "replay", "_selected_action": [dead.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert Hl7Message.objects.get(pk=dead.pk).status == "accepted"
