"""Disease catalogs by level (REF-02, STD-05): ICD-10 checks, levels by capability standard,
the upload's row-level errors, all-or-nothing."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from countycare.core.errors import PermissionDenied, ValidationError
from countycare.referrals import catalogs
from countycare.referrals.models import CatalogEntry, CatalogLevel, DiseaseCatalog

pytestmark = pytest.mark.django_db


def test_icd_codes_are_checked_against_icd10():
    """REF-02: national clinical codes with a WHO ICD-10 stem pass; others are named."""
    assert catalogs.icd_error("I10.x00") is None
    assert catalogs.icd_error("E11.900") is None
    assert catalogs.icd_error("I10.x00x002") is None
    assert "K99" in catalogs.icd_error("K99.900")  # no such category
    assert catalogs.icd_error("E11.A00")
    assert catalogs.icd_error("hello")
    assert catalogs.normalize_code(" i10.X00 ") == "I10.x00"


def test_starter_catalog_sizes_follow_std05(catalog):
    """STD-05: 30 / 50 / 66 / 100 common diseases, the levels below included."""
    assert catalog.warnings == []
    assert catalog.counts[CatalogLevel.VILLAGE] == 30
    for level, want in (("township", 50), ("township_basic", 66), ("township_recommended", 100)):
        have = (
            CatalogEntry.objects.filter(catalog__level__in=catalogs.levels_up_to(level))
            .values("code")
            .distinct()
            .count()
        )
        assert have == want, level


def test_levels_by_institution_and_capability(tree, catalog):
    """STD-05: a township's level follows its capability standard; villages treat less."""
    assert catalogs.level_of(tree.village_a1) == "village"
    assert catalogs.level_of(tree.township_a) == "township"
    tree.township_a.capability_standard = "recommended"
    assert catalogs.level_of(tree.township_a) == "township_recommended"
    assert catalogs.level_of(tree.lead_hospital) == "county"
    assert catalogs.level_of(tree.community) is None
    # Hypertension: everyone; heart failure: basic standard and up; stroke: county only.
    assert catalogs.in_catalog(tree.village_a1, "I10.x00")
    assert not catalogs.in_catalog(tree.village_a1, "I50.900")
    assert catalogs.in_catalog(tree.township_a, "I50.900")
    assert not catalogs.in_catalog(tree.township_a, "I63.900")
    assert catalogs.in_catalog(tree.lead_hospital, "I63.900")
    # A more specific code is covered by its entry's code.
    assert catalogs.in_catalog(tree.lead_hospital, "I63.900x003")
    assert catalogs.lowest_level_treating("I63.900") == "county"
    assert catalogs.lowest_level_treating("C71.900") is None  # brain tumour: not in county


CSV_OK = "级别,ICD-10编码,疾病名称,科室\nvillage,I10.x00,原发性高血压,全科\n县级,I63.900,脑梗死,神经内科\n"


def test_upload_csv_replaces_the_levels_it_lists(community_admin, catalog):
    before = CatalogEntry.objects.filter(catalog__level="township").count()
    result = catalogs.import_catalog(community_admin, CSV_OK.encode(), "catalog.csv")
    assert result.counts == {"village": 1, "county": 1}
    assert CatalogEntry.objects.filter(catalog__level="village").count() == 1
    assert CatalogEntry.objects.filter(catalog__level="township").count() == before
    # STD-05: a village catalog of 1 is flagged.
    assert any("30" in w for w in result.warnings)


def _xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_upload_excel(community_admin):
    content = _xlsx(
        [
            ["level", "code", "name", "department"],
            ["township", "J18.900", "肺炎", "内科"],
            ["township", "j45.9", "支气管哮喘", None],
        ]
    )
    result = catalogs.import_catalog(community_admin, content, "目录.xlsx")
    assert result.counts == {"township": 2}
    assert set(CatalogEntry.objects.values_list("code", flat=True)) == {"J18.900", "J45.9"}


def test_bad_upload_names_rows_and_changes_nothing(community_admin, catalog):
    """Issue 6, bad input: unknown ICD codes, duplicates, unknown level, no name → errors per
    row and field; the catalogs stay as they were."""
    before = list(CatalogEntry.objects.order_by("pk").values_list("pk", "code"))
    content = (
        "level,code,name\n"
        "village,I10.x00,原发性高血压\n"  # row 2: fine
        "village,K99.900,不存在的病\n"  # row 3: unknown ICD code
        "village,I10.x00,高血压\n"  # row 4: duplicate of row 2
        "hamlet,J06.900,上感\n"  # row 5: unknown level
        "county,I63.900,\n"  # row 6: no name
    ).encode()
    with pytest.raises(ValidationError) as caught:
        catalogs.import_catalog(community_admin, content, "bad.csv")
    rows = {(e["row"], e["field"]) for e in caught.value.extra["rows"]}
    assert rows == {(3, "code"), (4, "code"), (5, "level"), (6, "name")}
    messages = {e["row"]: e["message"] for e in caught.value.extra["rows"]}
    assert "row 2" in messages[4] or "2" in messages[4]
    assert list(CatalogEntry.objects.order_by("pk").values_list("pk", "code")) == before


def test_upload_needs_the_columns_and_the_permission(community_admin, village_doctor):
    with pytest.raises(ValidationError) as caught:
        catalogs.import_catalog(community_admin, b"foo,bar\n1,2\n", "x.csv")
    assert caught.value.field == "file"
    with pytest.raises(ValidationError):
        catalogs.import_catalog(community_admin, b"PK\x03\x04garbage", "x.xlsx")
    with pytest.raises(PermissionDenied):
        catalogs.import_catalog(village_doctor, CSV_OK.encode(), "x.csv")
    assert not DiseaseCatalog.objects.exists()


def test_gbk_csv_from_excel(community_admin):
    """Excel on a Chinese Windows saves CSV as GBK."""
    content = "级别,编码,名称\n村,I10.x00,原发性高血压\n".encode("gb18030")
    result = catalogs.import_catalog(community_admin, content, "gbk.csv")
    assert result.counts == {"village": 1}
    assert CatalogEntry.objects.get().name == "原发性高血压"


def test_only_the_community_office_replaces_the_catalogs(institution_admin, catalog):
    """REF-02: the catalogs are the county's; an institution admin (who manages its own
    schedules) cannot replace them."""
    with pytest.raises(PermissionDenied):
        catalogs.import_catalog(institution_admin, CSV_OK.encode(), "x.csv")
    assert CatalogEntry.objects.filter(catalog__level="village").count() == 30


def test_the_export_uploads_again_unchanged(community_admin, catalog):
    """The downloaded CSV is the upload format: editing starts from what is in force."""
    before = sorted(CatalogEntry.objects.values_list("catalog__level", "code", "name"))
    content = catalogs.export_csv().encode("utf-8-sig")
    result = catalogs.import_catalog(community_admin, content, "disease-catalogs.csv")
    assert sum(result.counts.values()) == len(before)
    assert sorted(CatalogEntry.objects.values_list("catalog__level", "code", "name")) == before


def test_admin_lists_departments_and_catalogs(client, superuser, catalog, departments):
    client.force_login(superuser)
    assert client.get("/admin/referrals/department/").status_code == 200
    page = client.get("/admin/referrals/diseasecatalog/")
    assert page.status_code == 200
    village = DiseaseCatalog.objects.get(level="village")
    detail = client.get(f"/admin/referrals/diseasecatalog/{village.pk}/change/")
    assert detail.status_code == 200 and "I10.x00" in detail.content.decode()
