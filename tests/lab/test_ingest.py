"""Parsing HL7 v2 results into observations and answering with ACKs (issue 5, SHC-03)."""

from decimal import Decimal

import hl7
import pytest

from countycare.lab.ingest import ingest
from countycare.lab.models import Hl7Message, ResidentIdentifier
from countycare.telemed.models import CriticalAlert, Observation
from tests.lab.conftest import oru


def ack_of(result):
    return hl7.parse(result.ack)


def msa(result):
    seg = ack_of(result).segment("MSA")
    return str(seg(1)), str(seg(2))


def err_text(result):
    return str(ack_of(result).segment("ERR")(8))


def test_cbc_lands_on_the_resident_and_the_order(make_oru, cbc_order, residents):
    result = ingest(make_oru().encode())

    assert msa(result) == ("AA", "BC5390-000123")
    ack = ack_of(result)
    msh = ack.segment("MSH")
    assert str(msh(9)) == "ACK^R01^ACK"
    assert str(msh(5)) == "BC-5390^MINDRAY"  # answered to the sender
    assert [str(seg(0)) for seg in ack] == ["MSH", "MSA"]  # no ERR when accepted
    row = result.message
    assert (row.status, row.order, row.resident) == ("accepted", cbc_order, residents["a1"])
    assert row.sender == "BC-5390^MINDRAY|ZSK-VC-A1"
    assert row.message_type == "ORU^R01"
    assert row.raw.startswith("MSH|") and "OBX|8|" in row.raw
    observations = {o.code: o for o in Observation.objects.filter(order=cbc_order)}
    assert len(observations) == 8
    hgb = observations["718-7"]
    assert hgb.resident == residents["a1"]
    assert hgb.value == Decimal("118")
    assert (hgb.unit, hgb.reference_low, hgb.reference_high) == ("g/L", 130, 175)
    assert hgb.flag == "L"
    assert hgb.source == "hl7"
    assert hgb.institution == cbc_order.center.institution
    assert hgb.name == "HGB 血红蛋白"
    assert observations["777-3"].flag == "H"  # no flag sent: computed from 125-350


def test_the_same_control_id_is_processed_once(make_oru, cbc_order):
    first = ingest(make_oru().encode())
    again = ingest(make_oru().encode())

    assert again.replayed and again.ack == first.ack
    assert Observation.objects.filter(order=cbc_order).count() == 8
    assert Hl7Message.objects.count() == 1


def test_the_same_control_id_from_another_sender_is_another_message(make_oru, cbc_order):
    ingest(make_oru().encode())
    other = ingest(make_oru(sender="URIT-5160^URIT").encode())

    assert msa(other)[0] == "AA" and not other.replayed
    assert Hl7Message.objects.count() == 2


def test_unknown_patient_is_a_dead_letter_and_AE(make_oru, cbc_order):
    result = ingest(make_oru(national_id="110101199003070013", mrn="NOPE").encode())

    assert msa(result) == ("AE", "BC5390-000123")
    err = ack_of(result).segment("ERR")
    assert str(err(3)(1)(1)) == "204"
    assert "Unknown patient" in err_text(result)
    assert str(err(2)) == "PID^1^3"
    row = result.message
    assert row.status == "dead_letter" and "Unknown patient" in row.reason
    assert row.raw == make_oru(national_id="110101199003070013", mrn="NOPE")
    assert not Observation.objects.exists()
    # A resend is tried again (nothing of it was stored): the same answer, still one message.
    again = ingest(make_oru(national_id="110101199003070013", mrn="NOPE"))
    assert msa(again) == ("AE", "BC5390-000123") and again.message.pk == row.pk
    assert Hl7Message.objects.count() == 1 and not Observation.objects.exists()


def test_medical_record_number_finds_the_resident(make_oru, cbc_order, residents):
    ResidentIdentifier.objects.create(
        authority="ZSK-VC-A1", value="MZ0001", resident=residents["a1"]
    )

    result = ingest(make_oru(national_id="").encode())

    assert msa(result)[0] == "AA"
    assert result.message.resident == residents["a1"]


def test_a_bad_value_stores_nothing_of_the_message(make_oru, cbc_order):
    rows = [
        ("6690-2", "WBC", "6.1", "10*9/L", "3.5-9.5", ""),
        ("718-7", "HGB", "溶血", "g/L", "130-175", ""),
    ]
    result = ingest(make_oru(obx=rows).encode())

    assert msa(result)[0] == "AE"
    assert str(ack_of(result).segment("ERR")(2)) == "OBX^2^5"
    assert "must be a number" in result.message.reason
    assert not Observation.objects.exists()  # the good WBC before it was rolled back too


def test_unknown_order_and_local_codes_are_dead_letters(make_oru, cbc_order):
    unknown_order = ingest(make_oru(placer="X999", control_id="A1").encode())
    local_code = ingest(
        make_oru(
            control_id="A2", obx=[("WBC", "白细胞", "6.1", "10*9/L", "3.5-9.5", "", "99MR")]
        ).encode()
    )
    assert (msa(unknown_order)[0], msa(local_code)[0]) == ("AE", "AE")
    assert "Unknown order" in unknown_order.message.reason
    assert "without a LOINC code" in local_code.message.reason
    assert Hl7Message.objects.filter(status="dead_letter").count() == 2


@pytest.mark.parametrize(
    "garbage",
    [b"", b"hello", b"\x00\xff\xfe" * 50, b"PID|1||123\rOBX|1|NM|x", b"MSH|^~\\&|A|B|C|D|2026"],
)
def test_garbage_is_rejected_AR_and_kept(db, garbage):
    result = ingest(garbage)

    assert msa(result)[0] == "AR"
    assert str(ack_of(result).segment("ERR")(3)(1)(1)) in {"100", "101"}
    assert result.message.status == "dead_letter"


def test_an_unsupported_message_type_is_rejected(make_oru, cbc_order):
    result = ingest(make_oru(msg_type="ADT^A01^ADT_A01").encode())
    assert msa(result)[0] == "AR"
    assert str(ack_of(result).segment("ERR")(3)(1)(1)) == "200"


def test_a_critical_value_raises_the_walking_hospital_alert(make_oru, cbc_order, village_doctor):
    rows = [("2339-0", "GLU 葡萄糖", "1.9", "mmol/L", "3.9-6.1", "")]
    result = ingest(make_oru(obx=rows).encode())

    assert msa(result)[0] == "AA"
    alert = CriticalAlert.objects.get()
    assert alert.notify == village_doctor and alert.order == cbc_order
    assert alert.observation.flag == "LL"


# The HL7 v2.4 standard's own example (chapter 7, "GHH LAB" ORU^R01 glucose result).
GHH_LAB = (
    "MSH|^~\\&|GHH LAB|ELAB-3|GHH OE|BLDG4|200202150930||ORU^R01|CNTRL-3456|P|2.4\r"
    "PID|||555-44-4444||EVERYWOMAN^EVE^E^^^^L|JONES|19620320|F|||153 FERNWOOD DR.^"
    "^STATESVILLE^OH^35292||(206)3345232|(206)752-121||||AC555444444||67-A4335^OH^20030520\r"
    "OBR|1|845439^GHH OE|1045813^GHH LAB|15545^GLUCOSE|||200202150730|||||||||"
    "555-55-5555^PRIMARY^PATRICIA P^^^^MD^^|||||||||F||||||444-44-4444^HIPPOCRATES^HOWARD H^^^^MD\r"
    "OBX|1|SN|1554-5^GLUCOSE^POST 12H CFST:MCNC:PT:SER/PLAS:QN||^182|mg/dl|70_105|H|||F\r"
)


def test_the_standards_ghh_lab_example(cbc_order, residents):
    ResidentIdentifier.objects.create(value="555-44-4444", resident=residents["a1"])
    cbc_order.accession_number = "845439"
    cbc_order.save(update_fields=["accession_number"])

    result = ingest(GHH_LAB.encode())

    assert msa(result) == ("AA", "CNTRL-3456")
    glucose = Observation.objects.get(order=cbc_order)
    assert (glucose.code, glucose.value, glucose.unit, glucose.flag) == (
        "1554-5",
        Decimal(182),
        "mg/dl",
        "H",
    )
    assert (glucose.reference_low, glucose.reference_high) == (70, 105)


def test_the_message_builder_yields_a_parseable_oru():
    # The message builder itself yields a parseable ORU (guards the fixtures).
    message = hl7.parse(oru(national_id="150602197003010011", placer="26000001"))
    assert len(list(message.segments("OBX"))) == 8


def test_oul_r22_specimen_oriented_results(cbc_order, residents):
    nid = residents["a1"].national_id
    message = "\r".join(
        [
            "MSH|^~\\&|LIS^ZSK-THC|ZSK-THC|COUNTYCARE|LAB|20261125101500||OUL^R22^OUL_R22|"
            "LIS-778|P|2.5.1",
            f"PID|1||{nid}^^^CHN^NNCHN||张^安民||19700301|M",
            "SPM|1|S778^LIS||BLD^Whole blood^HL70487|||||||||||||20261125090500|20261125091500",
            f"OBR|1|{cbc_order.accession_number}^COUNTYCARE|S778^LIS|58410-2^CBC^LN",
            "ORC|RE|" + cbc_order.accession_number,
            "OBX|1|NM|718-7^HGB^LN||62|g/L|130-175|LL|||F",
        ]
    )
    result = ingest(message)

    assert msa(result) == ("AA", "LIS-778")
    assert result.message.message_type == "OUL^R22"
    hgb = Observation.objects.get(order=cbc_order)
    assert (hgb.value, hgb.flag) == (Decimal(62), "LL")
