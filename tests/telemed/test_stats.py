"""Turnaround time and performance pay (issue 3, items 8 and 9; SHC-03, WH-05)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from countycare.telemed import services, stats
from countycare.telemed.models import ExamOrder, OrderStatus, PayRole, PerformanceCredit

NOW = timezone.now().replace(microsecond=0)
START, END = NOW - dt.timedelta(days=7), NOW + dt.timedelta(minutes=1)


def _order(make_order, *, ago: float, wait=None, total=None, priority="routine", **kw):
    """An order submitted ``ago`` minutes before NOW, claimed ``wait`` and signed ``total``
    minutes after submission (None: not yet), timestamps written directly."""
    order = make_order(priority=priority, **kw)
    submitted = NOW - dt.timedelta(minutes=ago)
    fields = {"submitted_at": submitted}
    if wait is not None:
        fields.update(status=OrderStatus.CLAIMED, claimed_at=submitted + dt.timedelta(minutes=wait))
        fields.update(claimed_by=kw.get("reader"), lease_expires_at=NOW + dt.timedelta(hours=1))
    if total is not None:
        fields.update(status=OrderStatus.SIGNED, signed_at=submitted + dt.timedelta(minutes=total))
        fields.update(lease_expires_at=None)
    ExamOrder.objects.filter(pk=order.pk).update(**fields)
    return order


@pytest.fixture
def traffic(make_order, center_reader, village_doctor_b1, residents):
    """ECG routine (target 120 min): five signed — turnaround 10, 20, 30, 40, 200 min after
    waits of 1 … 5 min — one open for 3 h (overdue), one open for 10 min. ECG stat (target
    15): one signed after 20 min. One routine ECG from village B1 signed in 15 min."""
    for i, total in enumerate([10, 20, 30, 40, 200], start=1):
        _order(make_order, ago=300, wait=i, total=total)
    _order(make_order, ago=180)
    _order(make_order, ago=10)
    _order(make_order, ago=60, wait=5, total=20, priority="stat")
    _order(
        make_order, ago=60, wait=2, total=15, actor=village_doctor_b1, resident=residents["b1"].pk
    )


def _rows(user, **kw):
    return {
        (r.center.kind, r.priority): r for r in stats.turnaround(user, START, END, now=NOW, **kw)
    }


def test_turnaround_medians_percentiles_and_breaches(traffic, community_admin):
    rows = _rows(community_admin)
    routine = rows[("ecg", "routine")]
    assert (routine.orders, routine.signed, routine.target_minutes) == (8, 6, 120)
    # turnaround 10, 15, 20, 30, 40, 200 → median 25; p90 at rank 4.5 → 40 + 0.5 × 160
    assert (routine.total.count, routine.total.median, routine.total.p90) == (6, 25.0, 120.0)
    # waits 1, 2, 2, 3, 4, 5 → median 2.5, p90 4.5
    assert (routine.wait.count, routine.wait.median, routine.wait.p90) == (6, 2.5, 4.5)
    # reading 9, 13, 18, 27, 36, 195 → median 22.5, p90 36 + 0.5 × 159
    assert (routine.read.median, routine.read.p90) == (22.5, 115.5)
    assert (routine.late_signed, routine.overdue_open, routine.breaches) == (1, 1, 2)
    assert routine.breach_share == pytest.approx(2 / 7)
    stat = rows[("ecg", "stat")]
    assert (stat.orders, stat.target_minutes, stat.total.median, stat.breaches) == (1, 15, 20.0, 1)


def test_turnaround_period_and_center_filters(traffic, community_admin, centers):
    assert stats.turnaround(community_admin, START, NOW - dt.timedelta(minutes=200)) != []
    recent = _rows(community_admin)
    only_recent = {
        (r.center.kind, r.priority): r
        for r in stats.turnaround(community_admin, NOW - dt.timedelta(minutes=100), END, now=NOW)
    }
    assert only_recent[("ecg", "routine")].orders == 2  # the 10-min-old one and B1's
    assert recent[("ecg", "routine")].orders == 8
    assert stats.turnaround(community_admin, START, END, center=centers["ultrasound"]) == []


def test_percentile_matches_percentile_cont():
    assert stats.percentile([], 0.5) is None
    assert stats.percentile([7], 0.9) == 7
    assert stats.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert stats.percentile([10, 20, 30, 40, 200], 0.9) == 136.0


@pytest.mark.parametrize(
    ("who", "routine_orders"),
    [
        ("community_admin", 8),
        ("health_commission_viewer", 8),  # aggregates held at the county: the whole county
        ("superuser", 8),
        ("center_reader", 8),  # reads for the ECG center
        ("institution_admin", 7),  # township A: its villages' orders, not B1's
        ("public_health_officer", 1),  # township B: B1's order only
    ],
)
def test_turnaround_is_scoped(traffic, cast, who, routine_orders):
    rows = _rows(cast[who])
    assert rows[("ecg", "routine")].orders == routine_orders


def test_a_reader_of_another_center_sees_none_of_these_orders(traffic, make_reader):
    sonographer = make_reader("sonographer", kind="ultrasound")
    assert stats.turnaround(sonographer, START, END) == []
    assert stats.can_view(sonographer)


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("village_doctor", False),
        ("township_doctor", False),
        ("pharmacist", False),
        ("center_reader", True),
        ("institution_admin", True),
        ("health_commission_viewer", True),
        ("community_admin", True),
    ],
)
def test_who_may_open_the_pages(cast, centers, web, who, allowed):
    client = web(cast[who])
    for name in ("telemed:tat", "telemed:pay", "telemed:pay-xlsx"):
        response = client.get(reverse(name))
        assert response.status_code == (200 if allowed else 403), name


def test_tat_page_shows_the_table(traffic, web, community_admin):
    response = web(community_admin).get(reverse("telemed:tat"), {"from": "2000-01-01"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "tat-breach" in html
    assert "120.0" in html  # routine p90
    bad = web(community_admin).get(reverse("telemed:tat"), {"from": "x", "center": "999"})
    assert bad.status_code == 200


# --- performance pay ---------------------------------------------------------------------------
@pytest.fixture
def signed_orders(make_order, center_reader, ecg_center, village_doctor_b1, residents):
    """Three ECGs (fee 30, cost 8: balance 22) signed by the center reader: two requested by
    the A1 village doctor, one by the B1 village doctor."""
    make_order()
    make_order()
    make_order(actor=village_doctor_b1, resident=residents["b1"].pk)
    for _ in range(3):
        order = services.claim_next(center_reader, ecg_center)
        services.sign_report(center_reader, order.pk, impression="正常心电图")
    return timezone.localdate().replace(day=1)


def test_pay_statement_sums_and_shares(signed_orders, community_admin, village_doctor, tree):
    statement = stats.pay_statement(community_admin, signed_orders)
    staff = {(r["staff__username"], r["role"]): r for r in statement.staff}
    assert staff[("center_reader", PayRole.READER)]["amount"] == Decimal("26.40")  # 3 × 8.80
    assert staff[("center_reader", PayRole.READER)]["services"] == 3
    assert staff[("village_doctor", PayRole.EXAMINER)]["amount"] == Decimal("17.60")  # 2 × 8.80
    assert staff[("village_doctor_b1", PayRole.EXAMINER)]["amount"] == Decimal("8.80")
    institutions = {(r["institution_id"], r["role"]): r for r in statement.institutions}
    assert institutions[(tree.lead_hospital.pk, PayRole.READING_INSTITUTION)]["amount"] == Decimal(
        "6.60"
    )  # 3 × 2.20
    assert institutions[(tree.village_a1.pk, PayRole.EXAMINING_INSTITUTION)]["services"] == 2
    totals = {r["institution_id"]: r["amount"] for r in statement.institution_totals}
    assert totals[tree.lead_hospital.pk] == Decimal("33.00")  # 26.40 + 6.60
    assert statement.total == Decimal("66.00")  # 3 × 22, all of the balance
    assert statement.total == sum(PerformanceCredit.objects.values_list("amount", flat=True))
    # Another month is empty.
    assert stats.pay_statement(community_admin, dt.date(2001, 1, 1)).total == 0


def test_pay_statement_is_scoped(signed_orders, cast, tree):
    admin_a = stats.pay_statement(cast["institution_admin"], signed_orders)  # township A
    assert {r["staff__username"] for r in admin_a.staff} == {"village_doctor"}
    assert {r["institution_id"] for r in admin_a.institution_totals} == {tree.village_a1.pk}
    reader = stats.pay_statement(cast["center_reader"], signed_orders)
    assert [(r["staff__username"], r["amount"]) for r in reader.staff] == [
        ("center_reader", Decimal("26.40"))
    ]
    assert reader.total == Decimal("26.40")  # their own, not the hospital's share


def test_pay_page_and_excel_export(signed_orders, web, community_admin):
    client = web(community_admin)
    month = f"{signed_orders:%Y-%m}"
    page = client.get(reverse("telemed:pay"), {"month": month})
    assert page.status_code == 200
    assert "26.40" in page.content.decode()
    response = client.get(reverse("telemed:pay-xlsx"), {"month": month})
    assert response.status_code == 200
    assert response["Content-Type"] == stats.XLSX_TYPE
    assert f"performance-pay-{month}.xlsx" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["个人绩效", "机构绩效", "机构合计"]
    people = list(book["个人绩效"].values)
    assert people[0] == ("月份", "姓名", "用户名", "机构", "角色", "服务例数", "绩效金额（元）")
    by_user = {row[2]: row for row in people[1:]}
    assert set(by_user) == {"center_reader", "village_doctor", "village_doctor_b1"}
    assert by_user["center_reader"][4] == "诊断医师"
    assert by_user["center_reader"][5] == 3
    assert by_user["center_reader"][6] == pytest.approx(26.40)
    assert isinstance(by_user["center_reader"][6], float)  # a number, not text
    totals = list(book["机构合计"].values)
    assert totals[-1][1] == "合计"
    assert totals[-1][3] == pytest.approx(66.0)
    assert len(list(book["机构绩效"].values)) == 1 + 6  # header + 3 institutions × 2 roles


def test_pay_amounts_are_yuan_and_fen(make_order, center_reader):
    """Sums come back as exact two-decimal amounts on every database (SQLite sums floats)."""
    from django.utils import timezone

    from countycare.telemed import services, stats

    for _ in range(3):
        order = make_order(service="US-THY")  # fee 70, cost 20: balance 50, reader 40 % = 20
        services.claim(center_reader, order.pk)
        services.sign_report(center_reader, order.pk, impression="甲状腺未见明显异常")
    statement = stats.pay_statement(center_reader, timezone.localdate().replace(day=1))
    assert [str(r["amount"]) for r in statement.staff] == ["60.00"]
