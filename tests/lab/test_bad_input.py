"""The issue's bad input (issue 5, SHC-03): wrong segment order, missing MSH fields, odd
encoding characters, unknown resident, a unit that contradicts the test, non-numeric values
for numeric tests, a 10 MB message — each answered AE or AR with a reason a person can act
on, kept whole in the dead-letter list, nothing of it stored. And what is *not* bad input
although it looks odd: an analyzer's instrument settings, histograms, "***", decimal commas,
custom delimiters, escapes, several patients in one message."""

import threading
from decimal import Decimal
from pathlib import Path

import hl7
import pytest
from django.db import connection
from django.utils import timezone

from countycare.lab.ingest import KEPT_IN_ROW, MAX_MESSAGE_BYTES, ingest, replay
from countycare.lab.models import Hl7Message, LabResult
from countycare.telemed import services as telemed
from countycare.telemed.models import CriticalAlert, Observation

CORPUS = Path(__file__).resolve().parents[1] / "data" / "lab"


def answer(result) -> tuple[str, str, str]:
    """(MSA-1, ERR-3 code, ERR-2 location) of the ACK."""
    ack = hl7.parse(result.ack)
    code = str(ack.segment("MSA")(1))
    if code == "AA":
        return code, "", ""
    err = ack.segment("ERR")
    return code, str(err(3)(1)(1)), str(err(2))


def nothing_stored():
    return not Observation.objects.exists() and not LabResult.objects.exists()


def segments(message: str) -> list[str]:
    return [s for s in message.split("\r") if s]


def rebuild(parts: list[str]) -> str:
    return "\r".join(parts) + "\r"


# --- wrong segment order --------------------------------------------------------------------------
def test_obx_before_its_obr(make_oru, cbc_order):
    msh, pid, pv1, obr, *obx = segments(make_oru())
    result = ingest(rebuild([msh, pid, pv1, obx[0], obr, *obx[1:]]))
    assert answer(result) == ("AE", "100", "OBX^1")
    assert "OBX before any OBR" in result.message.reason
    assert nothing_stored() and result.message.status == "dead_letter"


def test_obr_before_the_pid(make_oru, cbc_order):
    msh, pid, pv1, obr, *obx = segments(make_oru())
    result = ingest(rebuild([msh, obr, pid, pv1, *obx]))
    assert answer(result) == ("AE", "100", "OBR^1")
    assert nothing_stored()


def test_msh_not_first_is_rejected(make_oru, cbc_order):
    msh, pid, *rest = segments(make_oru())
    result = ingest(rebuild([pid, msh, *rest]))
    assert answer(result)[:2] == ("AR", "100")
    assert result.message.raw == rebuild([pid, msh, *rest]) and nothing_stored()


def test_two_messages_in_one_frame(make_oru, cbc_order):
    result = ingest(make_oru(control_id="A") + make_oru(control_id="B"))
    assert answer(result)[:2] == ("AE", "100")
    assert "one message per frame" in result.message.reason and nothing_stored()


@pytest.mark.parametrize("bad", ["OBX ", "obx", "OB", "O-X"])
def test_a_segment_name_that_is_not_hl7(make_oru, cbc_order, bad):
    message = make_oru().replace("\rOBX|2|", f"\r{bad}|2|")
    result = ingest(message)
    assert answer(result)[:2] == ("AE", "100")
    assert "not an HL7 segment name" in result.message.reason and nothing_stored()


# --- missing MSH fields ---------------------------------------------------------------------------
@pytest.mark.parametrize("field_no", [9, 10, 11, 12])
def test_missing_msh_fields_are_rejected(make_oru, cbc_order, field_no):
    msh, *rest = segments(make_oru())
    fields = msh.split("|")
    fields[field_no - 1] = ""  # MSH-1 is the separator itself: MSH-n is fields[n - 1]
    result = ingest(rebuild(["|".join(fields), *rest]))
    assert answer(result) == ("AR", "101", f"MSH^1^{field_no}")
    assert f"MSH-{field_no}" in result.message.reason and nothing_stored()
    # Answered to the sender's control ID whenever it sent one.
    control_id = "" if field_no == 10 else "BC5390-000123"
    assert str(hl7.parse(result.ack).segment("MSA")(2)) == control_id
    assert result.message.control_id == control_id


def test_unsupported_version_and_processing_id(make_oru, cbc_order):
    v3 = ingest(make_oru().replace("|P|2.5.1|", "|P|3.0|"))
    training = ingest(make_oru(control_id="T1").replace("|P|2.5.1|", "|T|2.5.1|"))
    assert answer(v3)[:2] == ("AR", "203")
    assert answer(training)[:2] == ("AR", "202")
    assert "production messages" in training.message.reason and nothing_stored()


# --- encoding characters ------------------------------------------------------------------------
def test_custom_delimiters_are_read_and_answered_in_standard_ones(residents, cbc_order):
    """MSH-1 ``#``, MSH-2 ``$%\\&``: components ``$``, repetitions ``%``; ``\\T\\`` escapes
    the subcomponent character in a name."""
    nid = residents["a1"].national_id
    message = "\r".join(
        [
            "MSH#$%\\&#URIT-5160$URIT#ZSK-VC-A1#COUNTYCARE#LAB#20261125093012##ORU$R01#"
            "U5160-77#P#2.3.1",
            f"PID#1##{nid}$$$CHN$NNCHN##张$安民##19700301#M",
            f"OBR#1#{cbc_order.accession_number}##58410-2$CBC$LN###20261125090500",
            "OBX#1#NM#718-7$HGB\\T\\HCT test$LN##118#g/L#130-175#L~A###F",
        ]
    )
    result = ingest(message.encode())
    assert answer(result)[0] == "AA"
    ack = hl7.parse(result.ack)
    assert str(ack.segment("MSA")(2)) == "U5160-77"
    assert str(ack.segment("MSH")(5)) == "URIT-5160"  # first component, in the ACK's own "^"
    hgb = Observation.objects.get(order=cbc_order)
    assert (hgb.name, hgb.value, hgb.flag) == ("HGB&HCT test", Decimal(118), "L")


def test_escapes_in_values_are_unescaped(make_oru, cbc_order):
    rows = [("5804-0", "PRO \\T\\ 蛋白", "1+ \\S\\ 30 mg/dL", "", "", "A")]
    message = make_oru(obx=rows).replace("|NM|5804-0", "|ST|5804-0")
    result = ingest(message)
    assert answer(result)[0] == "AA"
    protein = Observation.objects.get(order=cbc_order)
    assert (protein.name, protein.value_text) == ("PRO & 蛋白", "1+ ^ 30 mg/dL")


@pytest.mark.parametrize("chars", ["^^\\&", "ab\\&", "^", "^~ &"])
def test_broken_encoding_characters_are_rejected(make_oru, cbc_order, chars):
    message = make_oru().replace("MSH|^~\\&|", f"MSH|{chars}|", 1)
    result = ingest(message)
    assert answer(result) == ("AR", "102", "MSH^1^2")
    assert "encoding characters" in result.message.reason and nothing_stored()


# --- patients and orders --------------------------------------------------------------------------
def test_a_national_id_of_another_resident_than_the_orders(make_oru, cbc_order, residents):
    result = ingest(make_oru(national_id=residents["a2"].national_id, mrn=""))
    assert answer(result)[:2] == ("AE", "204")
    assert "another patient" in result.message.reason and nothing_stored()


def test_a_pid_without_identifiers_takes_the_orders_resident(make_oru, cbc_order, residents):
    """Analyzers that only read the tube's barcode send an empty PID-3 (``^^^^MR``)."""
    message = make_oru(national_id="", mrn="").replace("PID|1||", "PID|1||^^^^MR")
    result = ingest(message)
    assert answer(result)[0] == "AA"
    assert result.message.resident == residents["a1"]
    assert {o.resident_id for o in Observation.objects.all()} == {residents["a1"].pk}


def test_a_national_id_typed_as_chart_number(make_oru, cbc_order, residents):
    message = make_oru(national_id="", mrn=residents["a1"].national_id)
    assert answer(ingest(message))[0] == "AA"


def test_a_cancelled_order_takes_no_results(make_oru, cbc_order, village_doctor):
    telemed.cancel(village_doctor, cbc_order.pk, reason="重复申请")
    result = ingest(make_oru())
    assert answer(result)[:2] == ("AE", "204")
    assert "cancelled" in result.message.reason and nothing_stored()


def test_two_patients_in_one_message(make_oru, cbc_order, residents, township_doctor):
    other = telemed.create_order(township_doctor, resident=residents["a1"].pk, service="LAB-GLU")
    a2_order = telemed.create_order(township_doctor, resident=residents["a2"].pk, service="LAB-GLU")
    nid1, nid2 = residents["a1"].national_id, residents["a2"].national_id
    message = rebuild(
        [
            segments(make_oru())[0],
            f"PID|1||{nid1}^^^CHN^NNCHN||张^安民",
            f"OBR|1|{other.accession_number}||2345-7^GLU^LN|||20261125090500",
            "OBX|1|NM|2345-7^GLU^LN||5.1|mmol/L|3.9-6.1|N|||F",
            f"PID|2||{nid2}^^^CHN^NNCHN||张^安国",
            f"OBR|2|{a2_order.accession_number}||2345-7^GLU^LN|||20261125090700",
            "OBX|2|NM|2345-7^GLU^LN||9.4|mmol/L|3.9-6.1|H|||F",
        ]
    )
    result = ingest(message)
    assert answer(result)[0] == "AA"
    got = {o.order_id: (o.resident_id, o.value) for o in Observation.objects.all()}
    assert got == {
        other.pk: (residents["a1"].pk, Decimal("5.1")),
        a2_order.pk: (residents["a2"].pk, Decimal("9.4")),
    }


def test_the_second_order_unknown_stores_nothing_of_the_first(make_oru, cbc_order, residents):
    nid = residents["a1"].national_id
    message = rebuild(
        [
            *segments(make_oru())[:5],
            "OBR|2|NO-SUCH-ORDER||2345-7^GLU^LN|||20261125090500",
            "OBX|9|NM|2345-7^GLU^LN||5.1|mmol/L|3.9-6.1|N|||F",
        ]
    )
    assert nid
    result = ingest(message)
    assert answer(result)[:2] == ("AE", "204")
    assert "NO-SUCH-ORDER" in result.message.reason and nothing_stored()


# --- units and values -----------------------------------------------------------------------------
def test_a_unit_that_contradicts_the_test(make_oru, cbc_order):
    rows = [("6690-2", "WBC", "6.5", "10*9/L", "", ""), ("718-7", "HGB", "118", "10*9/L", "", "")]
    result = ingest(make_oru(obx=rows))
    assert answer(result) == ("AE", "103", "OBX^2^6")
    assert "'10*9/L' does not fit HGB 718-7 (g/L, g/dL)" in result.message.reason
    assert nothing_stored()


@pytest.mark.parametrize("value", ["阳性", "溶血", "12..5", "1e3", "NaN", "Infinity"])
def test_text_for_a_numeric_test(make_oru, cbc_order, value):
    """HGB is a number whatever OBX-2 says (ST from some LIS)."""
    message = make_oru(obx=[("718-7", "HGB", value, "g/L", "", "")]).replace("|NM|", "|ST|")
    result = ingest(message)
    assert answer(result) == ("AE", "102", "OBX^1^5")
    assert "must be a number" in result.message.reason and nothing_stored()


def test_numbers_sent_as_text_comparisons_commas_and_not_measured(make_oru, cbc_order):
    rows = [
        ("718-7", "HGB", "118", "g/L", "130-175", ""),  # ST but a number: a number
        ("6690-2", "WBC", "11,49", "10*9/L", "3,50-9,50", ""),  # a decimal comma
        ("777-3", "PLT", "***", "10*9/L", "125-350", ""),  # not measured (clumped)
        ("751-8", "NEUT#", "<0.1", "10*9/L", "", ""),  # below the measuring range
    ]
    message = make_oru(obx=rows).replace("|NM|", "|ST|")
    result = ingest(message)
    assert answer(result)[0] == "AA"
    got = {o.code: o for o in Observation.objects.all()}
    assert set(got) == {"718-7", "6690-2", "751-8"}
    assert (got["718-7"].value, got["718-7"].flag) == (Decimal(118), "L")
    assert (got["6690-2"].value, got["6690-2"].flag) == (Decimal("11.49"), "H")
    assert (got["751-8"].value, got["751-8"].value_text) == (None, "<0.1")
    assert "777-3 PLT: not measured (***)" in result.message.notes


# --- a 10 MB message --------------------------------------------------------------------------------
def test_a_10_mb_message(make_oru, cbc_order):
    big = (make_oru(control_id="BIG") + "NTE|1||" + "x" * (10 * 1024 * 1024) + "\r").encode()
    result = ingest(big)
    assert answer(result)[:2] == ("AR", "102")
    row = result.message
    assert (row.control_id, row.size, row.status) == ("BIG", len(big), "dead_letter")
    assert str(MAX_MESSAGE_BYTES) in row.reason and nothing_stored()
    assert row.raw_file.read() == big and len(row.raw) == KEPT_IN_ROW
    again = ingest(big)
    assert again.replayed and again.message.pk == row.pk  # the resend is not kept twice
    replayed = replay(row.pk, actor=None)
    assert replayed.status == "dead_letter" and nothing_stored()


# --- processed once, per sender and content ---------------------------------------------------------
def test_a_control_id_reused_with_other_content(make_oru, cbc_order, community_admin):
    """An analyzer that restarted its numbering: the second message is neither dropped nor
    stored silently; it waits for a person (AE 205), who replays it."""
    first = ingest(make_oru(control_id="7"))
    other = make_oru(control_id="7", obx=[("6690-2", "WBC", "7.7", "10*9/L", "3.5-9.5", "N")])
    second = ingest(other)
    assert answer(first)[0] == "AA"
    assert answer(second)[:2] == ("AE", "205")
    assert second.message.duplicate_of == first.message
    assert Observation.objects.count() == 8
    assert ingest(other).message.pk == second.message.pk  # its own resend: the same row
    assert ingest(make_oru(control_id="7")).replayed  # the first's resend: AA again

    accepted = replay(second.message.pk, actor=community_admin)
    assert accepted.status == "accepted" and Observation.objects.count() == 9
    assert "|AA|" in ingest(other).ack


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the in-memory test database of SQLite locks tables across connections; the "
    "listener on SQLite runs one worker",
)
@pytest.mark.django_db(transaction=True)
def test_the_same_message_at_once_on_four_connections(make_oru, cbc_order):
    message = make_oru(control_id="RACE-1")
    answers, errors = [], []

    def send():
        from django.db import connection

        try:
            answers.append(answer(ingest(message))[0])
        except Exception as exc:  # pragma: no cover - the assertion below names it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and answers == ["AA"] * 4
    assert Hl7Message.objects.filter(control_id="RACE-1").count() == 1
    assert Observation.objects.count() == 8


# --- critical values ---------------------------------------------------------------------------------
def test_lab_critical_values_raise_the_alert(make_oru, cbc_order, village_doctor):
    rows = [
        ("6690-2", "WBC", "1.2", "10*9/L", "3.5-9.5", "L"),  # rule: below 2.0
        ("777-3", "PLT", "18", "10^3/uL", "125-350", "L"),  # rule: below 30, equivalent unit
        ("718-7", "HGB", "118", "g/L", "130-175", "L"),  # low, not critical
    ]
    ingest(make_oru(obx=rows))
    alerts = {a.observation.code: a for a in CriticalAlert.objects.select_related("observation")}
    assert set(alerts) == {"6690-2", "777-3"}
    assert {a.observation.flag for a in alerts.values()} == {"LL"}
    assert all(a.notify == village_doctor and a.order == cbc_order for a in alerts.values())


def test_glucose_in_mg_dl_is_compared_in_mmol_l(make_oru, cbc_order):
    rows = [("2345-7", "GLU", "40", "mg/dL", "70-110", "L")]  # 2.2 mmol/L: critical low
    ingest(make_oru(obx=rows, control_id="G1"))
    rows = [("2345-7", "GLU", "300", "mg/dL", "70-110", "H")]  # 16.7 mmol/L: high only
    ingest(make_oru(obx=rows, control_id="G2"))
    alert = CriticalAlert.objects.get()
    assert (alert.observation.value, alert.observation.flag) == (Decimal(40), "LL")


def test_a_critical_flag_sent_by_the_lab_raises_the_alert(make_oru, cbc_order):
    rows = [("2823-3", "K 钾", "6.0", "mmol/L", "3.5-5.3", "HH")]  # below our rule's 6.2
    ingest(make_oru(obx=rows))
    alert = CriticalAlert.objects.get()
    assert alert.rule is None and "检验科报告" in alert.message
    assert alert.observation.is_critical and alert.observation.flag == "HH"


# --- a real analyzer's message -------------------------------------------------------------------------
def test_the_mindray_message_skips_settings_and_histograms(cbc_order, residents, tree):
    from tests.factories import ResidentFactory

    text = (CORPUS / "mindray-bc5390-cbc.hl7").read_text()
    resident = ResidentFactory(nid_number="150627195604120133", home_village=tree.village_a1)
    cbc_order.resident = resident
    cbc_order.accession_number = "WH2611250042"
    cbc_order.save(update_fields=["resident", "accession_number"])

    result = ingest(text.encode())

    assert answer(result)[0] == "AA"
    row = result.message
    assert row.observation_count == 22 and row.resident == resident
    for skipped in ("Take Mode: instrument setting", "30525-0 Age: patient data",
                    "WBC Histogram. BMP: ED data", "Neutrophilia: instrument setting"):  # fmt: skip
        assert skipped in row.notes
    got = {o.code: o for o in Observation.objects.filter(order=cbc_order)}
    assert (got["6690-2"].value, got["6690-2"].flag) == (Decimal("11.86"), "H")  # "H~A"
    assert got["704-7"].flag == "N"  # "~N"
    assert got["718-7"].reference_low == 130
    result = LabResult.objects.get(observation=got["718-7"])
    assert timezone.localtime(result.collected_at).strftime("%H%M") == "0905"  # OBR-7
    assert timezone.localtime(result.received_at).strftime("%H%M") == "0912"  # OBR-14
