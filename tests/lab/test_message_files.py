"""Every HL7 v2 message file is ACKed correctly over MLLP (issue 5, SHC-03): the corpus in
``tests/data/lab`` (the HL7 v2.4 standard's GHH LAB example and the Chinese analyzer cases,
see its README) and, where it exists, ``../shared/data/hl7v2`` (real messages nobody here
wrote; sources and licenses in its README).

For each message the test registers what a county would have — a resident for each PID
(by the national ID in PID-3, else the identifier as a medical record number), a lab order
for each OBR under its placer or filler number — then sends it with python-hl7's
``MLLPClient`` (a client we did not write) to the real listener and checks the answer: the
ACK acknowledges that message (MSA-2 = MSH-10); AA stores the message's results as
observations on the right resident and order; AE/AR says why (ERR-3 code, ERR-8 text) and
stores nothing. For our own corpus the expected answer is known and checked exactly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import hl7
import pytest
from hl7.client import MLLPClient

from countycare.core import national_id
from countycare.lab.ingest import decode
from countycare.lab.models import Hl7Message, LabResult, ResidentIdentifier
from countycare.telemed import services as telemed
from countycare.telemed.models import ExamOrder, Observation
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db(transaction=True)

HERE = Path(__file__).resolve()
CORPUS = HERE.parents[1] / "data" / "lab"
SHARED = HERE.parents[2].parent / "shared" / "data" / "hl7v2"
SUFFIXES = {".hl7", ".txt", ".er7", ".msg"}

# Our corpus: file → (ACK code, results stored).
EXPECTED = {
    "ghh-lab-oru-r01-v2.4.hl7": ("AA", 1),
    "mindray-bc5390-cbc.hl7": ("AA", 22),
    "mindray-bc5390-cbc-local-code.hl7": ("AE", 0),
    "dirui-h500-urinalysis-gb18030.hl7": ("AA", 10),
    "county-lis-oul-r22.hl7": ("AA", 2),
}


def messages_in(path: Path) -> list[bytes]:
    """The messages of a file: one or several, MLLP-framed or not, any line ends."""
    data = path.read_bytes().replace(b"\x0b", b"").replace(b"\x1c", b"\n")
    data = data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    out, current = [], []
    for line in data.split(b"\r"):
        if line.startswith(b"MSH") and current:
            out.append(b"\r".join(current) + b"\r")
            current = []
        if line.strip():
            current.append(line)
    if current:
        out.append(b"\r".join(current) + b"\r")
    return out


def cases() -> list:
    found = []
    for folder in (CORPUS, SHARED):
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES):
            for i, _message in enumerate(messages_in(path)):
                found.append(pytest.param(path, i, id=f"{folder.name}/{path.name}#{i}"))
    return found


def test_the_corpus_is_there():
    assert {p.name for p in CORPUS.glob("*.hl7")} == set(EXPECTED)


def _birth(pid) -> dt.date | None:
    try:
        when = hl7.parse_datetime(str(pid(7))[:8]) if len(pid) > 7 and str(pid(7)) else None
    except (ValueError, TypeError):
        return None
    return when.date() if when else None


def register(message: bytes, requester, village) -> dict:
    """The resident and orders a county would have for this message: PID group → resident,
    OBR number → order."""
    msg = hl7.parse(decode(message))
    made = {"orders": {}, "residents": []}
    resident = None
    for seg in msg:
        name = str(seg(0))
        if name == "PID":
            resident = None
            ids = []
            for field_no in (3, 2, 4):
                if len(seg) > field_no and str(seg(field_no)):
                    for rep in range(1, len(seg(field_no)) + 1):
                        value = str(seg.extract_field(1, field_no, rep, 1, 1)).strip()
                        if value:
                            ids.append(value)
            sex = str(seg(8))[:1].upper() if len(seg) > 8 else ""
            kw = {"sex": sex if sex in {"M", "F"} else "M", "home_village": village}
            if _birth(seg):
                kw["birth_date"] = _birth(seg)
            number = next((v for v in ids if _valid_id(v)), None)
            if number:
                kw["nid_number"] = number
            resident = ResidentFactory(**kw)
            if ids and not number:
                ResidentIdentifier.objects.create(value=ids[0][:64], resident=resident)
            made["residents"].append(resident)
        elif name == "OBR":
            placer = str(seg.extract_field(1, 2, 1, 1, 1)).strip() if len(seg) > 2 else ""
            filler = str(seg.extract_field(1, 3, 1, 1, 1)).strip() if len(seg) > 3 else ""
            number = (placer or filler)[:32]
            if not number or number in made["orders"]:
                continue
            if resident is None:
                resident = ResidentFactory(home_village=village)
                made["residents"].append(resident)
            order = telemed.create_order(requester, resident=resident.pk, service="LAB-CBC")
            ExamOrder.objects.filter(pk=order.pk).update(accession_number=number)
            made["orders"][number] = (ExamOrder.objects.get(pk=order.pk), resident)
    return made


def _valid_id(value: str) -> bool:
    try:
        national_id.parse(value)
    except Exception:
        return False
    return True


@pytest.mark.parametrize(("path", "index"), cases())
def test_every_message_is_acked_and_lands(path, index, listener, lab_center, village_doctor,
                                           tree):  # fmt: skip
    message = messages_in(path)[index]
    # The requester works where the residents live (the factory's villages are in his tree).
    made = register(message, village_doctor, tree.village_a1)

    with MLLPClient(*listener) as client:
        reply = client.send(b"\x0b" + message + b"\x1c\x0d")

    assert reply.startswith(b"\x0b") and reply.endswith(b"\x1c\x0d")
    answer = hl7.parse(decode(reply[1:-2]))
    msa = answer.segment("MSA")
    code = str(msa(1))
    sent = hl7.parse(decode(message))
    assert str(msa(2)) == str(sent.segment("MSH")(10))
    assert code in {"AA", "AE", "AR"}
    row = Hl7Message.objects.get(control_id=str(sent.segment("MSH")(10)))
    stored = LabResult.objects.filter(message=row)
    if path.parent == CORPUS:
        expected_code, expected_count = EXPECTED[path.name]
        assert (code, stored.count()) == (expected_code, expected_count), row.reason
    if code == "AA":
        assert stored.exists() and row.status == "accepted"
        for result in stored.select_related("observation", "order"):
            order, resident = next(
                (o, r) for o, r in made["orders"].values() if o.pk == result.order_id
            )
            assert result.observation.resident_id == resident.pk
            assert result.observation.order_id == order.pk
    else:
        err = answer.segment("ERR")
        assert str(err(3)(1)(1)) and str(err(8)), "an AE/AR says why"
        assert row.status == "dead_letter" and row.reason
        assert not stored.exists() and not Observation.objects.filter(order__isnull=False).exists()
        assert row.raw.replace("\r", "") == decode(message).replace("\r", "")
