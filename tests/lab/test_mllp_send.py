"""Peers we did not write (issue 5, SHC-03): python-hl7's own command-line client
``mllp_send`` sends a file of real-shaped messages to ``countycare``'s MLLP listener over TCP
— the standard's GHH LAB example, a CBC and a urinalysis written after Chinese analyzer
documentation (LOINC codes, the national ID in PID-3), and an unknown patient — and the test
checks every ACK it prints and what was stored."""

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from countycare.lab.models import Hl7Message, ResidentIdentifier
from countycare.telemed import services as telemed
from countycare.telemed.models import Observation
from tests.lab.test_ingest import GHH_LAB

pytestmark = pytest.mark.django_db(transaction=True)

MLLP_SEND = shutil.which("mllp_send", path=str(Path(sys.executable).parent)) or shutil.which(
    "mllp_send"
)


def urinalysis(national_id: str, placer: str) -> str:
    """A dry-chemistry urinalysis as a URIT-500B / Dirui H-500 style analyzer's LIS bridge
    sends it (HL7 v2.3.1 ORU^R01, GB 18030 declared as UTF-8 here): ordinal results as ST
    with the strip's blocks, SG and pH as NM, LOINC test-strip codes, flags A/N."""
    rows = [
        ("NM", "5811-5", "SG 比重", "1.025", "", "1.003-1.030", "N"),
        ("NM", "5803-2", "PH 酸碱度", "6.0", "", "4.5-8.0", "N"),
        ("ST", "5804-0", "PRO 蛋白质", "++", "", "-", "A"),
        ("ST", "5792-7", "GLU 葡萄糖", "-", "", "-", "N"),
        ("ST", "5799-2", "LEU 白细胞", "+", "", "-", "A"),
        ("ST", "5802-4", "NIT 亚硝酸盐", "+", "", "-", "A"),
    ]
    segments = [
        "MSH|^~\\&|URIT-500B^URIT|ZSK-VC-A1|COUNTYCARE|LAB|20261125101000||ORU^R01|"
        "U500-000077|P|2.3.1|||AL|NE|CHN|UNICODE UTF-8",
        f"PID|1||{national_id}^^^CHN^NNCHN||张^安民||19700301|M",
        f"OBR|1|{placer}^COUNTYCARE|U20261125-0007^URIT-500B|24357-6^Urinalysis macro panel^LN"
        "|||20261125093000|||||||20261125094000||||||||20261125100500|||F",
    ]
    for i, (vt, code, name, value, unit, ref, flag) in enumerate(rows, start=1):
        segments.append(f"OBX|{i}|{vt}|{code}^{name}^LN||{value}|{unit}|{ref}|{flag}|||F")
    return "\n".join(segments)


@pytest.fixture
def ua_order(village_doctor, residents, lab_center):
    return telemed.create_order(village_doctor, resident=residents["a1"].pk, service="LAB-UA")


def test_mllp_send_gets_an_ack_for_every_message(
    listener, tmp_path, make_oru, cbc_order, ua_order, residents
):
    assert MLLP_SEND, "python-hl7's mllp_send is installed with the hl7 package"
    ResidentIdentifier.objects.create(value="555-44-4444", resident=residents["a1"])
    ghh_order = telemed.create_order(
        cbc_order.requested_by, resident=residents["a1"].pk, service="LAB-GLU"
    )
    ghh = GHH_LAB.replace("845439^GHH OE", f"{ghh_order.accession_number}^GHH OE")
    unknown = make_oru(national_id="", mrn="NOBODY", control_id="BC5390-000999")
    batch = "\n".join(
        [
            ghh.replace("\r", "\n"),
            make_oru().replace("\r", "\n"),
            urinalysis(residents["a1"].national_id, ua_order.accession_number),
            unknown.replace("\r", "\n"),
        ]
    )
    path = tmp_path / "batch.hl7"
    path.write_text(batch, encoding="utf-8")
    host, port = listener

    done = subprocess.run(
        [MLLP_SEND, "--loose", "-f", str(path), "-p", str(port), host],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode("utf-8")
    acks = list(out.split("MSH|")[1:])
    assert len(acks) == 4
    assert "MSA|AA|CNTRL-3456" in acks[0]
    assert "MSA|AA|BC5390-000123" in acks[1]
    assert "MSA|AA|U500-000077" in acks[2]
    assert "MSA|AE|BC5390-000999" in acks[3] and "ERR|" in acks[3] and "204^" in acks[3]

    glucose = Observation.objects.get(order=ghh_order)
    assert (glucose.code, glucose.value, glucose.flag) == ("1554-5", Decimal(182), "H")
    assert Observation.objects.filter(order=cbc_order).count() == 8
    strip = {o.code: o for o in Observation.objects.filter(order=ua_order)}
    assert len(strip) == 6
    assert (strip["5804-0"].value_text, strip["5804-0"].flag) == ("++", "A")
    assert strip["5811-5"].value == Decimal("1.025")
    assert {o.resident_id for o in strip.values()} == {residents["a1"].pk}
    assert Hl7Message.objects.filter(status="dead_letter").count() == 1
