"""The contract fee split (FD-04): ≥ 70 % of the fees to the team's staff by their weights and
the days they served, the rest to the institution; the share configurable, never below the
policy minimum; the Excel statement."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from countycare.core.errors import ValidationError
from countycare.familydoctor import fees, services
from countycare.familydoctor.models import TeamMember
from countycare.organizations.models import PolicyValue
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

Y = timezone.localdate().year - 1
START, END = dt.date(Y, 1, 1), dt.date(Y, 12, 31)


def aware(day):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10)))


@pytest.fixture
def signed(village_doctor, township_doctor, residents, hypertensive, team_a, sign):
    """Two contracts of team A begun last year: 120 + (120 + 60 for hypertension) = 300 yuan."""
    sign(
        village_doctor, hypertensive, team_a, extra=("hypertension",), now=aware(dt.date(Y, 11, 15))
    )
    sign(township_doctor, residents["a2"], team_a, now=aware(dt.date(Y, 12, 1)))


def by_staff(row):
    return {s.member.staff.username: s.amount for s in row.members}


def test_seventy_percent_by_weight(signed, team_a):
    (row,) = fees.allocate([team_a], START, END)
    assert (row.contracts, row.income) == (2, Decimal("300.00"))
    assert row.staff_share == Decimal("0.7")
    assert row.staff_amount == Decimal("210.00")
    assert row.institution_amount == Decimal("90.00")
    # Weights 2 (the GP leader) and 1 (the village doctor), both all year.
    assert by_staff(row) == {
        "township_doctor": Decimal("140.00"),
        "village_doctor": Decimal("70.00"),
    }


def test_days_served_count_and_the_cents_add_up(signed, team_a):
    nurse = StaffFactory(username="fd_nurse")
    TeamMember.objects.create(team=team_a, staff=nurse, function="nurse",
                              valid_from=dt.date(Y, 7, 1), valid_until=dt.date(Y, 12, 31))  # fmt: skip
    (row,) = fees.allocate([team_a], START, END)
    shares = by_staff(row)
    days = (END - START).days + 1  # 365
    basis = 2 * days + 1 * days + 1 * 184
    assert shares["fd_nurse"] == (Decimal(210) * 184 / basis).quantize(Decimal("0.01"))
    assert sum(shares.values()) == Decimal("210.00")
    # Nothing outside the period counts.
    assert fees.allocate([team_a], dt.date(Y + 1, 1, 1), dt.date(Y + 1, 12, 31))[0].income == 0


def test_a_higher_share_is_allowed_a_lower_one_is_not(signed, team_a, tree):
    team_a.staff_share = Decimal("0.8")
    team_a.save()
    (row,) = fees.allocate([team_a], START, END)
    assert row.staff_amount == Decimal("240.00")
    with pytest.raises(ValidationError) as err:
        services.validate_staff_share(Decimal("0.65"))
    assert err.value.code == "share_too_low"
    # A share below the minimum stored anyway (before a policy change) is raised to it.
    PolicyValue.objects.create(
        community=tree.community, key="familydoctor_team_fee_share_min", value=0.85
    )
    assert fees.allocate([team_a], START, END)[0].staff_share == Decimal("0.85")


def test_admin_form_refuses_a_low_share(team_a):
    from countycare.familydoctor.admin import TeamForm

    form = TeamForm(instance=team_a, data={"name": team_a.name, "institution": team_a.institution_id,
                                            "villages": [v.pk for v in team_a.villages.all()],
                                            "staff_share": "0.5", "is_active": "on"})  # fmt: skip
    assert not form.is_valid() and "staff_share" in form.errors


def test_workbook(signed, team_a):
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(fees.workbook(fees.allocate([team_a], START, END), START, END)))
    members = book.worksheets[1]
    rows = [[c.value for c in r] for r in members.iter_rows(min_row=2)]
    assert sorted(r[-1] for r in rows) == [70.0, 140.0]
