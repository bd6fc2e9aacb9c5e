"""The MLLP listener end to end: a real TCP exchange with python-hl7's MLLPClient, a client
we did not write (issue 5, SHC-03)."""

import hl7
import pytest
from hl7.client import MLLPClient

from countycare.lab import mllp
from countycare.lab.models import Hl7Message
from countycare.telemed.models import Observation

pytestmark = pytest.mark.django_db(transaction=True)


def unframe(reply: bytes) -> hl7.Message:
    assert reply.startswith(b"\x0b") and reply.endswith(b"\x1c\x0d")
    return hl7.parse(reply[1:-2].decode())


def test_a_cbc_over_mllp_is_acked_and_stored(listener, make_oru, cbc_order):
    with MLLPClient(*listener) as client:
        ack = unframe(client.send_message(make_oru()))
        again = unframe(client.send_message(make_oru()))

    assert str(ack.segment("MSA")(1)) == "AA"
    assert str(ack.segment("MSA")(2)) == "BC5390-000123"
    assert str(again) == str(ack)  # the resend gets the original ACK back
    assert Observation.objects.filter(order=cbc_order, source="hl7").count() == 8
    assert Hl7Message.objects.get().status == "accepted"


def test_bad_messages_do_not_stop_the_listener(listener, make_oru, cbc_order):
    with MLLPClient(*listener) as client:
        garbage = unframe(client.send_message("this is not HL7"))
        unknown = unframe(
            client.send_message(make_oru(national_id="", mrn="NOPE", control_id="X1"))
        )
        oversized = unframe(
            client.send(b"\x0bMSH|" + b"A" * (mllp.MAX_MESSAGE_BYTES + 10) + b"\x1c\x0d")
        )
        good = unframe(client.send_message(make_oru(control_id="X2")))

    assert str(garbage.segment("MSA")(1)) == "AR"
    assert str(unknown.segment("MSA")(1)) == "AE"
    assert str(unknown.segment("ERR")(3)(1)(1)) == "204"
    assert str(oversized.segment("MSA")(1)) == "AR"
    assert "bytes" in str(oversized.segment("ERR")(8))
    assert str(good.segment("MSA")(1)) == "AA"
    assert Hl7Message.objects.filter(status="dead_letter").count() == 3
    assert Observation.objects.filter(order=cbc_order).count() == 8
