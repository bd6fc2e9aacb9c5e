"""Contract fee income per team and its allocation (FD-04: at least 70 % of the contract
service fees go to the family-doctor team's staff), and the Excel statement.

Income of a period: the service fees of the contracts that began in it (a contract's fee is
due for its year when it is signed). The team's staff share (``Team.staff_share``, never below
the policy minimum ``familydoctor_team_fee_share_min``) is split among the members who served
in the period by their weights (``TeamMember.fee_weight``), in proportion to the days each
served; the rest stays with the team's institution."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from countycare.familydoctor import policy as fd_policy
from countycare.familydoctor.models import Contract, Team, TeamMember
from countycare.organizations import policy

CENT = Decimal("0.01")


@dataclass
class MemberShare:
    member: TeamMember
    days: int
    weight: Decimal
    amount: Decimal = Decimal("0")


@dataclass
class TeamFees:
    team: Team
    contracts: int
    income: Decimal
    staff_share: Decimal
    staff_amount: Decimal
    institution_amount: Decimal
    members: list[MemberShare] = field(default_factory=list)


def staff_share_of(team: Team) -> Decimal:
    minimum = Decimal(str(policy.value(fd_policy.TEAM_FEE_SHARE_MIN)))
    if team.staff_share is None:
        return minimum
    return max(Decimal(team.staff_share), minimum)


def _days(member: TeamMember, start: dt.date, end: dt.date) -> int:
    first = max(member.valid_from, start)
    last = min(member.valid_until or end, end)
    return max((last - first).days + 1, 0)


def allocate(teams, start: dt.date, end: dt.date) -> list[TeamFees]:
    """Income and allocation per team for the period (dates inclusive): one aggregate query
    for the income, one for the members."""
    teams = list(teams)
    income = {
        row["team_id"]: row
        for row in Contract.objects.filter(team__in=teams, start_on__gte=start, start_on__lte=end)
        .values("team_id")
        .annotate(n=Count("pk"), total=Sum("fee_total"))
        .order_by()
    }
    members: dict[int, list[TeamMember]] = {}
    for m in (
        TeamMember.objects.filter(team__in=teams, valid_from__lte=end)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=start))
        .select_related("staff")
        .order_by("team_id", "-is_leader", "function", "pk")
    ):
        members.setdefault(m.team_id, []).append(m)
    out: list[TeamFees] = []
    for team in teams:
        row = income.get(team.pk, {"n": 0, "total": None})
        total = Decimal(row["total"] or 0)
        share = staff_share_of(team)
        staff_amount = (total * share).quantize(CENT, ROUND_HALF_UP)
        shares = [
            MemberShare(m, _days(m, start, end), Decimal(m.fee_weight))
            for m in members.get(team.pk, [])
        ]
        basis = sum((s.weight * s.days for s in shares), Decimal("0"))
        if basis > 0:
            for s in shares:
                s.amount = (staff_amount * s.weight * s.days / basis).quantize(CENT, ROUND_HALF_UP)
            # Rounding: the last cent goes to the first member, so the parts add up.
            remainder = staff_amount - sum((s.amount for s in shares), Decimal("0"))
            first = next((s for s in shares if s.weight * s.days > 0), None)
            if first is not None:
                first.amount += remainder
        out.append(
            TeamFees(
                team=team,
                contracts=row["n"],
                income=total,
                staff_share=share,
                staff_amount=staff_amount if basis > 0 else Decimal("0"),
                institution_amount=total - (staff_amount if basis > 0 else Decimal("0")),
                members=shares,
            )
        )
    return out


def workbook(rows: list[TeamFees], start: dt.date, end: dt.date) -> bytes:
    """The fee split as an Excel file: the teams, then every member's part."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = _("Teams")[:31]
    bold = Font(bold=True)
    sheet.append([_("Contract fee split %(start)s – %(end)s") % {"start": start, "end": end}])
    sheet["A1"].font = bold
    head = [
        _("Team"), _("Institution"), _("Contracts"), _("Fee income (yuan)"),
        _("Share to staff"), _("To staff (yuan)"), _("To the institution (yuan)"),
    ]  # fmt: skip
    sheet.append(head)
    for cell in sheet[2]:
        cell.font = bold
    for r in rows:
        sheet.append([
            r.team.name, r.team.institution.name, r.contracts, float(r.income),
            float(r.staff_share), float(r.staff_amount), float(r.institution_amount),
        ])  # fmt: skip
    for row in sheet.iter_rows(min_row=3, min_col=5, max_col=5):
        for cell in row:
            cell.number_format = "0%"
    members = book.create_sheet(_("Members")[:31])
    members.append([
        _("Team"), _("Name"), _("Function"), _("Weight"), _("Days in the period"),
        _("Amount (yuan)"),
    ])  # fmt: skip
    for cell in members[1]:
        cell.font = bold
    for r in rows:
        for s in r.members:
            members.append([
                r.team.name, s.member.staff.get_full_name(), str(s.member.get_function_display()),
                float(s.weight), s.days, float(s.amount),
            ])  # fmt: skip
    for ws in (sheet, members):
        for column in ws.columns:
            width = max(len(str(c.value or "")) for c in column) + 2
            ws.column_dimensions[column[0].column_letter].width = min(max(width, 10), 40)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
