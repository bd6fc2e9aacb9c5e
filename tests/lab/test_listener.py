"""The MLLP listener end to end: a real TCP exchange with python-hl7's MLLPClient, a client
we did not write (issue 5, SHC-03). One message's failure never stops the listener."""

import socket

import hl7
import pytest
from hl7.client import MLLPClient

from countycare.lab import ingest
from countycare.lab.models import Hl7Message
from countycare.telemed.models import Observation

pytestmark = pytest.mark.django_db(transaction=True)


def unframe(reply: bytes) -> hl7.Message:
    assert reply.startswith(b"\x0b") and reply.endswith(b"\x1c\x0d")
    return hl7.parse(ingest.decode(reply[1:-2]))  # the ACK comes in the sender's charset


def msa(ack) -> tuple[str, str]:
    return str(ack.segment("MSA")(1)), str(ack.segment("MSA")(2))


def test_a_cbc_over_mllp_is_acked_and_stored(listener, make_oru, cbc_order):
    with MLLPClient(*listener) as client:
        ack = unframe(client.send_message(make_oru()))
        again = unframe(client.send_message(make_oru()))

    assert msa(ack) == ("AA", "BC5390-000123")
    assert str(again) == str(ack)  # the resend gets the original ACK back
    assert Observation.objects.filter(order=cbc_order, source="hl7").count() == 8
    assert Hl7Message.objects.get().status == "accepted"


def test_bad_messages_do_not_stop_the_listener(listener, make_oru, cbc_order):
    with MLLPClient(*listener) as client:
        garbage = unframe(client.send_message("this is not HL7"))
        unknown = unframe(
            client.send_message(make_oru(national_id="", mrn="NOPE", control_id="X1"))
        )
        binary = unframe(client.send(b"\x0bMSH|\xff\xfe\x00\x01|\x00\x1c\x0d"))
        good = unframe(client.send_message(make_oru(control_id="X2")))

    assert msa(garbage)[0] == "AR"
    assert msa(unknown) == ("AE", "X1")
    assert str(unknown.segment("ERR")(3)(1)(1)) == "204"
    assert msa(binary)[0] == "AR"
    assert msa(good) == ("AA", "X2")
    assert Hl7Message.objects.filter(status="dead_letter").count() == 3
    assert Observation.objects.filter(order=cbc_order).count() == 8


def test_a_10_mb_message_is_rejected_and_kept_whole(listener, make_oru, cbc_order):
    """The issue's 10 MB message: AR with the reason, answered with its control ID, kept
    whole as a file for a person to look at, nothing of it stored; the next message on the
    same connection is accepted."""
    head = make_oru(control_id="BIG-1")
    filler = "".join(f"NTE|{i}||{'样本备注' * 60}\r" for i in range(15_000))
    big = (head + filler).encode()
    assert len(big) > 10 * 1024 * 1024

    with MLLPClient(*listener) as client:
        reply = unframe(client.send(b"\x0b" + big + b"\x1c\x0d"))
        after = unframe(client.send_message(make_oru(control_id="AFTER-BIG")))

    assert msa(reply) == ("AR", "BIG-1")
    assert "bytes" in str(reply.segment("ERR")(8))
    row = Hl7Message.objects.get(control_id="BIG-1")
    assert (row.status, row.size) == ("dead_letter", len(big))
    assert row.raw_file.read() == big and len(row.raw) <= ingest.KEPT_IN_ROW
    assert msa(after) == ("AA", "AFTER-BIG")
    assert Observation.objects.filter(order=cbc_order).count() == 8  # only AFTER-BIG's


def test_noise_split_frames_and_dropped_connections(listener, make_oru, cbc_order):
    """Bytes outside a frame are skipped, a frame may arrive in pieces, two frames may come
    in one write, and a connection dropped mid-frame harms nobody."""
    host, port = listener
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"\x0bMSH|^~\\&|HALF")  # then the analyzer is switched off
    first = make_oru(control_id="S1").encode()
    second = make_oru(control_id="S2").encode()
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"noise\r\n\x0b" + first[:50])
        sock.sendall(first[50:] + b"\x1c")
        sock.sendall(b"\x0d\x0b" + second + b"\x1c\x0d")
        replies = b""
        while replies.count(b"\x1c\x0d") < 2:
            chunk = sock.recv(65536)
            assert chunk, "the listener closed the connection"
            replies += chunk
    one, two = (
        hl7.parse(r.strip(b"\x0b\x1c\x0d").decode()) for r in replies.split(b"\x1c\x0d")[:2]
    )
    assert msa(one) == ("AA", "S1") and msa(two) == ("AA", "S2")
    assert not Hl7Message.objects.filter(control_id="").exists()
