"""Importing periodic statistics (issue 9: visit-based rates from imported figures, validated,
never invented): CSV and Excel, Chinese headers, every error at once, nothing half-written."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from countycare.core.errors import ValidationError
from countycare.indicators import services
from countycare.indicators.models import ImportedStatistic, StatisticImport
from tests.indicators.conftest import csv_bytes

pytestmark = pytest.mark.django_db


def test_csv_import_and_reimport_replaces(tree, community_admin):
    """KPI-01: figures per institution and month; the same key again replaces the value."""
    services.import_statistics(
        user=community_admin, file_name="a.csv",
        content=csv_bytes([("TA", "2024-03", "outpatient_visits", 400),
                           ("VA1", "2024/4", "out_of_county_visits", "\"1,200\"")]),
    )  # fmt: skip
    services.import_statistics(
        user=community_admin,
        file_name="b.csv",
        content=csv_bytes([("TA", "2024-03", "outpatient_visits", 410)]),
    )
    values = dict(ImportedStatistic.objects.values_list("metric", "value"))
    assert values == {"outpatient_visits": 410, "out_of_county_visits": 1200}
    assert StatisticImport.objects.count() == 2


def test_chinese_headers_metric_names_and_gb18030(tree, community_admin):
    text = "机构编码,月份,指标,数值\nTA,2024年3月,门急诊人次,12\n"
    services.import_statistics(
        user=community_admin, file_name="x.csv", content=text.encode("gb18030")
    )
    row = ImportedStatistic.objects.get()
    assert (row.metric, row.value, row.month.isoformat()) == ("outpatient_visits", 12, "2024-03-01")


def test_excel_import(tree, community_admin):
    book = Workbook()
    sheet = book.active
    sheet.append(["institution_code", "month", "metric", "value", "comment"])
    sheet.append(["TB", "2024-02", "insurance_fund_yuan", 1234.5, "ignored"])
    buffer = io.BytesIO()
    book.save(buffer)
    services.import_statistics(user=community_admin, file_name="x.xlsx", content=buffer.getvalue())
    assert ImportedStatistic.objects.get().value == pytest.approx(1234.5)


def test_every_error_at_once_and_nothing_written(tree, community_admin):
    content = csv_bytes([
        ("TA", "2024-03", "outpatient_visits", 400),
        ("NOPE", "2024-03", "outpatient_visits", 1),
        ("TA", "2024-13", "outpatient_visits", 1),
        ("TA", "2024-04", "visits_of_mars", 1),
        ("TA", "2024-05", "outpatient_visits", -3),
        ("TA", "2024-06", "outpatient_visits", 2.5),
        ("TA", "2024-03", "outpatient_visits", 7),
        ("TA", "2999-01", "outpatient_visits", 1),
    ])  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        services.import_statistics(user=community_admin, file_name="bad.csv", content=content)
    problems = caught.value.extra["problems"]
    assert [p.split(":")[0] for p in problems] == [f"Row {n}" for n in range(3, 10)] or len(
        problems
    ) == 7
    assert ImportedStatistic.objects.count() == 0 and StatisticImport.objects.count() == 0


def test_inconsistent_pairs_are_refused(tree, community_admin):
    content = csv_bytes([
        ("TA", "2024-03", "satisfaction_surveyed", 100),
        ("TA", "2024-03", "satisfaction_satisfied", 120),
    ])  # fmt: skip
    with pytest.raises(ValidationError):
        services.import_statistics(user=community_admin, file_name="s.csv", content=content)


@pytest.mark.parametrize(
    "content",
    [b"", b"code;month\n", b"institution_code,month,metric,value\n", b"\xff\xfe\x00garbage\x81"],
)
def test_unreadable_files(tree, community_admin, content):
    with pytest.raises(ValidationError):
        services.import_statistics(user=community_admin, file_name="x.csv", content=content)
