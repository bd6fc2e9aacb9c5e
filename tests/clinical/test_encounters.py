"""Encounters imported from HIS exports and insurance settlement data (issue 9: the source of
the visit-based indicators): validated whole, idempotent by the sending system's number, the
residence and the institution's level kept as they were on the day, scoped and audited."""

from __future__ import annotations

import datetime as dt
import io
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from countycare.clinical import selectors, services
from countycare.clinical.models import Encounter, EncounterImport
from countycare.core import timeline
from countycare.core.errors import PermissionDenied, ValidationError
from countycare.core.models import AuditEntry

pytestmark = pytest.mark.django_db
HEADER = "就诊流水号,就诊日期,就诊类型,机构编码,就诊机构名称,身份证号,居住地编码,中医药服务,总费用,医保基金支付"


def csv(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def run(user, content, *, source="H01-HIS", name="e.csv"):
    return services.import_encounters(user=user, file_name=name, content=content, source=source)


def test_import_matches_residents_and_keeps_the_day_facts(tree, residents, community_admin):
    """A row finds its resident by national ID; the residence is his village on import; the
    institution's type is recorded with the encounter; an out-of-county stay names where."""
    a1 = residents["a1"]
    batch = run(community_admin, csv(
        f"MZ1,2024-03-02,门诊,TA,,{a1.national_id},,是,80.5,50",
        "MZ2,2024/3/3,急诊,H01,,,VB1,否,,",
        f"ZY1,20240305,住院,,鄂尔多斯市中心医院,{a1.national_id},,否,9000,6000",
    ))  # fmt: skip
    assert (batch.rows, batch.created, batch.first_date, batch.last_date) == (
        3, 3, dt.date(2024, 3, 2), dt.date(2024, 3, 5),
    )  # fmt: skip
    mz1 = Encounter.objects.get(number="MZ1")
    assert (mz1.resident, mz1.residence, mz1.institution_type, mz1.tcm, mz1.kind) == (
        a1, tree.village_a1, "township_health_center", True, "outpatient",
    )  # fmt: skip
    mz2 = Encounter.objects.get(number="MZ2")
    assert mz2.resident is None and mz2.residence == tree.village_b1 and mz2.kind == "emergency"
    zy1 = Encounter.objects.get(number="ZY1")
    assert zy1.institution is None and not zy1.in_county
    assert zy1.provider == "鄂尔多斯市中心医院" and zy1.fund_paid == 6000
    entry = AuditEntry.objects.get(action="create", object_type="clinical.encounterimport")
    assert entry.detail["residents_matched"] == 2 and entry.detail["created"] == 3


def test_reimport_updates_and_keeps_old_visits_where_the_patient_lived(
    tree, residents, community_admin
):
    """Residents moving mid-year: the March visit stays in village A1 after the patient moved
    to B1, even when the March file is imported again; the new visit is in B1."""
    a1 = residents["a1"]
    run(community_admin, csv(f"MZ1,2024-03-02,门诊,TA,,{a1.national_id},,否,,"))
    a1.home_village = tree.village_b1
    a1.save(update_fields=["home_village"])
    again = run(community_admin, csv(
        f"MZ1,2024-03-02,门诊,TA,,{a1.national_id},,是,,",
        f"MZ9,2024-08-02,门诊,TB,,{a1.national_id},,否,,",
    ))  # fmt: skip
    assert (again.rows, again.created) == (2, 1)
    assert Encounter.objects.count() == 2
    march = Encounter.objects.get(number="MZ1")
    assert march.residence == tree.village_a1 and march.tcm is True  # corrected, not moved
    assert Encounter.objects.get(number="MZ9").residence == tree.village_b1
    # Another system may use the same number: a different encounter.
    run(community_admin, csv("MZ1,2024-03-04,门诊,H01,,,VA2,否,,"), source="医保结算")
    assert Encounter.objects.filter(number="MZ1").count() == 2


def test_institution_changing_level_keeps_the_level_of_the_day(tree, community_admin):
    """Township A becomes a general hospital: visits recorded before keep their grassroots
    level (also when re-imported), visits after carry the new one."""
    run(community_admin, csv("MZ1,2024-03-02,门诊,TA,,,VA1,否,,"))
    tree.township_a.type = "general_hospital"
    tree.township_a.save()
    run(
        community_admin,
        csv("MZ1,2024-03-02,门诊,TA,,,VA1,否,,", "MZ2,2024-09-02,门诊,TA,,,VA1,否,,"),
    )
    types = dict(Encounter.objects.values_list("number", "institution_type"))
    assert types == {"MZ1": "township_health_center", "MZ2": "general_hospital"}


def test_every_problem_at_once_and_nothing_written(tree, community_admin):
    future = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    content = csv(
        "MZ1,2024-03-02,门诊,TA,,,,否,,",
        ",2024-03-02,门诊,TA,,,,否,,",
        "MZ3,2024-02-30,门诊,TA,,,,否,,",
        "MZ4,2024-03-02,体检,TA,,,,否,,",
        "MZ5,2024-03-02,门诊,NOPE,,,,否,,",
        "MZ6,2024-03-02,门诊,,,,,否,,",
        "MZ7,2024-03-02,门诊,TA,,150627198005171234,,否,,",
        "MZ8,2024-03-02,门诊,TA,,,TA9,否,,",
        "MZ9,2024-03-02,门诊,TA,,,,也许,,",
        "MZ10,2024-03-02,门诊,TA,,,,否,10,20",
        "MZ1,2024-03-02,门诊,TA,,,,否,,",
        f"MZ12,{future},门诊,TA,,,,否,,",
        "MZ13,2024-03-02,门诊,150627,,,,否,,",
        "MZ14,2024-03-02,门诊,TA,,,,否,-5,",
    )
    with pytest.raises(ValidationError) as caught:
        run(community_admin, content)
    problems = caught.value.extra["problems"]
    assert [re.match(r"第 (\d+) 行：", p)[1] for p in problems] == [str(n) for n in range(3, 16)]
    assert "NOPE" in problems[3] and "TA9" in problems[6]
    assert Encounter.objects.count() == 0 and EncounterImport.objects.count() == 0


def test_excel_file_and_english_headers(tree, community_admin):
    book = Workbook()
    sheet = book.active
    sheet.append(["number", "date", "kind", "institution_code", "residence_code", "tcm", "note"])
    sheet.append([20240001, dt.datetime(2024, 5, 6, 9, 30), "inpatient", "TB", "VB2", 1, "x"])
    buffer = io.BytesIO()
    book.save(buffer)
    run(community_admin, buffer.getvalue(), name="e.xlsx")
    e = Encounter.objects.get()
    assert (e.number, e.date, e.kind, e.tcm) == ("20240001", dt.date(2024, 5, 6), "inpatient", True)


@pytest.mark.parametrize(
    "content",
    [b"", b"foo,bar\n1,2\n", HEADER.encode() + b"\n", b"PK\x03\x04broken", b"\x00\x01\x02"],
)
def test_unreadable_files_are_clear_errors(tree, community_admin, content):
    with pytest.raises(ValidationError) as caught:
        run(community_admin, content)
    assert caught.value.extra["problems"]


def test_only_the_community_office_imports(tree, village_doctor, health_commission_viewer):
    for user in (village_doctor, health_commission_viewer):
        with pytest.raises(PermissionDenied):
            run(user, csv("MZ1,2024-03-02,门诊,TA,,,VA1,否,,"))
    with pytest.raises(ValidationError):
        services.import_encounters(user=None, file_name="e.csv", content=b"", source="",
                                   check_permission=False)  # fmt: skip


def test_scoped_a_village_doctor_sees_his_village_only(
    tree, residents, community_admin, village_doctor, health_commission_viewer
):
    """A village doctor sees the encounters of his village's residents (also their hospital
    visits), not another village's; the health-commission viewer sees none."""
    run(community_admin, csv(
        f"MZ1,2024-03-02,门诊,H01,,{residents['a1'].national_id},,否,,",
        f"MZ2,2024-03-02,门诊,H01,,{residents['b1'].national_id},,否,,",
        "MZ3,2024-03-02,门诊,VA1,,,,否,,",
    ))  # fmt: skip
    seen = set(selectors.encounters_for(village_doctor).values_list("number", flat=True))
    assert seen == {"MZ1", "MZ3"}
    assert not selectors.encounters_for(health_commission_viewer).exists()
    assert selectors.encounters_for(community_admin).count() == 3
    titles = [e.title for e in timeline.for_resident(residents["a1"], village_doctor)]
    assert any("伊金霍洛旗人民医院" in t for t in titles)
    assert not [
        e for e in timeline.for_resident(residents["b1"], village_doctor) if e.kind == "encounter"
    ]


def test_command(tree, tmp_path):
    path = tmp_path / "settlement.csv"
    path.write_bytes(csv("JS1,2024-03-02,住院,,包头市中心医院,,VA1,否,5000,3500"))
    out = StringIO()
    call_command("import-encounters", str(path), "--source", "医保结算", stdout=out)
    assert "1" in out.getvalue() and Encounter.objects.get().provider == "包头市中心医院"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv("JS1,2024-03-02,住院,,,,VA1,否,,"))
    with pytest.raises(CommandError) as caught:
        call_command("import-encounters", str(bad), "--source", "医保结算")
    assert "第 2 行" in str(caught.value) and "县域外" in str(caught.value)
    with pytest.raises(CommandError):
        call_command("import-encounters", str(tmp_path / "missing.csv"), "--source", "x")
