"""Family-doctor work in the demo county (issue 7), deterministic for a seed.

Master data (always): the service packages (a basic package and paid ones for hypertension,
diabetes, the elderly, children and pregnancy), and family-doctor teams at every township and
community health center — a registered GP leading, a nurse, public-health staff, the village
doctors of the villages the team serves and a lead-hospital specialist as technical support.

With traffic: this year's contracts (most renewing last year's), at rates that leave some
townships above the year's targets (FD-02: 75 % of all, 90 % of key populations) and some
below; a year of follow-ups of the contracted hypertension, diabetes and severe mental disorder
patients, classified and scheduled by the specification's rules (``followup.assess``), some
late, some overdue, a few with referral triggers; long prescriptions for stable patients; and
this year's health checks of most residents 65+. Rows are written with bulk_create in batches
(a county of 300,000 residents stays within a couple of minutes)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections import defaultdict
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from countycare.demo.steps import step
from countycare.familydoctor import followup as rules
from countycare.familydoctor.models import (
    Contract,
    ContractPackage,
    ContractTransition,
    FollowUp,
    HealthCheck,
    LongPrescription,
    ServicePackage,
    Team,
    TeamMember,
)
from countycare.familydoctor.services import add_months
from countycare.organizations import policy
from countycare.organizations.models import Institution, InstitutionType, RoleAssignment, Staff
from countycare.residents.models import KeyPopulationTag, Resident
from countycare.telemed import vitals
from countycare.telemed.models import Observation

T = InstitutionType
BATCH = 5000
VILLAGES_PER_TEAM = 8
PACKAGES = [
    ("BASIC", "基础服务包", "basic", "120", "10", [], [
        "建立健康档案", "基本医疗", "公共卫生服务", "健康咨询", "预约转诊", "慢病随访"]),
    ("HTN", "高血压管理包", "paid", "60", "30", ["hypertension"], [
        "每月血压测量", "用药指导", "年度心电图", "长期处方"]),
    ("T2D", "糖尿病管理包", "paid", "80", "40", ["type2_diabetes"], [
        "每季度空腹血糖", "糖化血红蛋白", "足部检查", "眼底筛查转诊"]),
    ("ELD", "老年人健康管理包", "paid", "100", "50", ["elderly"], [
        "年度健康体检", "上门服务", "中医体质辨识", "长期处方"]),
    ("CHD", "儿童健康包", "paid", "50", "25", ["child"], ["生长发育评估", "预防接种提醒"]),
    ("PRG", "孕产妇服务包", "paid", "60", "30", ["pregnant"], ["孕期随访", "产后访视"]),
]  # fmt: skip
MEDICINES = {
    "hypertension": [
        {"name": "氨氯地平片", "dose": "5 mg", "frequency": "每日1次"},
        {"name": "硝苯地平缓释片", "dose": "20 mg", "frequency": "每日2次"},
        {"name": "缬沙坦胶囊", "dose": "80 mg", "frequency": "每日1次"},
        {"name": "吲达帕胺片", "dose": "2.5 mg", "frequency": "每日1次"},
    ],
    "type2_diabetes": [
        {"name": "二甲双胍片", "dose": "0.5 g", "frequency": "每日3次"},
        {"name": "格列美脲片", "dose": "2 mg", "frequency": "每日1次"},
        {"name": "阿卡波糖片", "dose": "50 mg", "frequency": "每日3次"},
    ],
    "severe_mental_disorder": [
        {"name": "利培酮片", "dose": "2 mg", "frequency": "每日2次"},
        {"name": "奥氮平片", "dose": "10 mg", "frequency": "每晚1次"},
    ],
}
TERMINATIONS = ("moved", "resident_request", "changed_team")
KEY_SHARE = 0.4


def _rng(seed: int, part: str) -> random.Random:
    return random.Random(f"countycare-demo:{seed}:familydoctor:{part}")  # noqa: S311 — demo data


def _aware(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    # The county's zone (settings.TIME_ZONE); Django caches it.
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_default_timezone())


def _packages() -> dict[str, ServicePackage]:
    if not ServicePackage.objects.exists():
        ServicePackage.objects.bulk_create(
            ServicePackage(code=c, name=n, kind=k, fee=Decimal(f), resident_fee=Decimal(r),
                           target_populations=t, items=i)
            for c, n, k, f, r, t, i in PACKAGES
        )  # fmt: skip
    return {p.code: p for p in ServicePackage.objects.all()}


def _holders(role: str) -> dict[int, list[int]]:
    """Institution id → staff ids holding ``role`` there (by username, so the demo logins —
    named after their role — come first where they work)."""
    out: dict[int, list[int]] = defaultdict(list)
    rows = (
        RoleAssignment.objects.filter(role=role, staff__is_active=True)
        .order_by("institution_id", "staff__username")
        .values_list("institution_id", "staff_id", "staff__username")
    )
    for inst, staff, username in rows:
        if username == role or username == f"{role}_officer":
            out[inst].insert(0, staff)
        else:
            out[inst].append(staff)
    return out


def _teams(rng: random.Random) -> list[Team]:
    if Team.objects.exists():
        return list(Team.objects.all())
    centers = list(
        Institution.objects.filter(
            type__in=(T.TOWNSHIP_HEALTH_CENTER, T.COMMUNITY_HEALTH_CENTER), is_active=True
        ).order_by("code")
    )
    doctors = _holders("township_doctor")
    nurses = _holders("nurse")
    public_health = _holders("public_health_officer")
    village_doctors = _holders("village_doctor")
    gps = set(Staff.objects.filter(is_registered_gp=True).values_list("pk", flat=True))
    lead = Institution.objects.filter(is_lead_hospital=True).first()
    specialists = _holders("specialist").get(lead.pk, []) if lead else []
    since = dt.date(timezone.localdate().year - 2, 1, 1)
    teams: list[Team] = []
    members: list[TeamMember] = []
    links = []
    n_specialist = 0
    for center in centers:
        places = list(
            Institution.objects.filter(path__startswith=center.path)
            .filter(type__in=(T.VILLAGE_CLINIC, T.VILLAGE, T.COMMUNITY_HEALTH_STATION))
            .order_by("code")
        )
        if center.type == T.COMMUNITY_HEALTH_CENTER:
            places.insert(0, center)
        if not places:
            continue
        groups = [
            places[i : i + VILLAGES_PER_TEAM] for i in range(0, len(places), VILLAGES_PER_TEAM)
        ]
        leaders = sorted(doctors.get(center.pk, []), key=lambda s: (s not in gps, s))
        # The demo login leads the first team of his township.
        demo = [s for s in doctors.get(center.pk, [])[:1] if s in leaders]
        leaders = demo + [s for s in leaders if s not in demo]
        for number, group in enumerate(groups, start=1):
            if not leaders:
                break
            suffix = "" if len(groups) == 1 else f"（{'一二三四五六七八九十'[number - 1]}）"
            team = Team(
                name=f"{center.short_name or center.name}家庭医生团队{suffix}",
                institution=center,
                staff_share=Decimal("0.750") if rng.random() < 0.3 else None,
            )
            teams.append(team)
            leader = leaders[(number - 1) % len(leaders)]
            crew = [(leader, "gp", True, Decimal("2"))]
            for pool, function, weight in (
                (nurses, "nurse", "1.2"),
                (public_health, "public_health", "1"),
            ):
                staff = pool.get(center.pk, [])
                if staff:
                    crew.append(
                        (staff[(number - 1) % len(staff)], function, False, Decimal(weight))
                    )
            for place in group:
                for staff in village_doctors.get(place.pk, []):
                    crew.append((staff, "village_doctor", False, Decimal("1")))
            if specialists:
                crew.append((specialists[n_specialist % len(specialists)], "specialist", False,
                             Decimal("0.5")))  # fmt: skip
                n_specialist += 1
            seen = set()
            for staff, function, is_leader, weight in crew:
                if staff in seen:
                    continue
                seen.add(staff)
                members.append(TeamMember(team=team, staff_id=staff, function=function,
                                          is_leader=is_leader, fee_weight=weight,
                                          valid_from=since))  # fmt: skip
            links.append((team, group))
    Team.objects.bulk_create(teams)
    for m in members:
        m.team_id = m.team.pk
    TeamMember.objects.bulk_create(members, batch_size=BATCH)
    through = Team.villages.through
    through.objects.bulk_create(
        [
            through(team_id=team.pk, institution_id=place.pk)
            for team, group in links
            for place in group
        ],
        batch_size=BATCH,
    )
    return teams


def _consent_name() -> tuple[str, str]:
    """One signature image stands for every demo contract's consent (the demo has no paper)."""
    from PIL import Image, ImageDraw

    name = "familydoctor/consent/demo-signature.png"
    if not default_storage.exists(name):
        import io

        image = Image.new("RGB", (300, 100), "white")
        draw = ImageDraw.Draw(image)
        draw.line(
            [(20, 70), (80, 30), (120, 75), (170, 35), (220, 70), (280, 40)], fill="black", width=3
        )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        name = default_storage.save(name, ContentFile(buffer.getvalue()))
    with default_storage.open(name, "rb") as handle:
        sha = hashlib.sha256(handle.read()).hexdigest()
    return name, sha


def _same(value):
    return value


def _sqlite_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")


class _Table:
    """Rows of one table written with multi-row INSERTs and ids allocated here, so a county of
    300,000 residents (millions of rows) loads in a minute instead of the many minutes the
    ORM's per-field preparation takes. Values are given as Python values; dates, times and
    JSON are adapted once per column kind. The id sequence is reset when done."""

    def __init__(self, model, fields: list[str]) -> None:
        from django.db import connection

        self.model = model
        self.connection = connection
        # Columns not given get their default (a raw INSERT applies none of Django's).
        now = timezone.now()
        self.fixed = []
        for f in model._meta.concrete_fields:
            if f.primary_key or f.name in fields or f.null:
                continue
            auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            self.fixed.append((f, now if auto else f.get_default()))
        self.fields = [model._meta.get_field(f) for f in fields] + [f for f, _v in self.fixed]
        self.defaults = [v for _f, v in self.fixed]
        columns = ["id", *(f.column for f in self.fields)]
        pg = connection.vendor == "postgresql"
        # The driver's own placeholders: rows go to its cursor, not Django's wrapper.
        mark = "%s" if pg else "?"
        marks = [mark] + [
            "%s::jsonb" if pg and f.get_internal_type() == "JSONField" else mark
            for f in self.fields
        ]
        quote = connection.ops.quote_name
        names = ", ".join(quote(c) for c in columns)
        # Many rows per statement (fewer round trips and statement executions), under the
        # databases' limits on bound parameters (SQLite 32766, PostgreSQL 65535).
        self.per_statement = max(1, min(500, 30000 // len(columns)))
        self.row_marks = f"({', '.join(marks)})"
        # Table and column names come from the model; every value is a bound parameter.
        self.head = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES "  # noqa: S608
        kinds = [f.get_internal_type() for f in self.fields]
        # SQLite keeps naive UTC text, as Django stores it; psycopg takes the datetime.
        adapt = _same if pg else _sqlite_datetime
        self.convert = []
        for kind in kinds:
            if kind == "JSONField":
                self.convert.append(lambda v: json.dumps(v, ensure_ascii=False))
            elif kind == "DateTimeField":
                self.convert.append(lambda v, a=adapt: None if v is None else a(v))
            else:
                self.convert.append(None)
        last = model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.next_id = last + 1
        self.rows: list[tuple] = []
        self.count = 0

    def add(self, *values) -> int:
        pk = self.next_id
        self.next_id += 1
        row = [pk]
        for value, convert in zip((*values, *self.defaults), self.convert, strict=True):
            row.append(convert(value) if convert is not None else value)
        self.rows.append(tuple(row))
        if len(self.rows) >= 10000:
            self.flush()
        return pk

    def flush(self) -> None:
        if not self.rows:
            return
        self.connection.ensure_connection()
        cursor = self.connection.connection.cursor()
        try:
            step = self.per_statement
            full = self.head + ", ".join([self.row_marks] * step)
            for start in range(0, len(self.rows), step):
                chunk = self.rows[start : start + step]
                sql = (
                    full
                    if len(chunk) == step
                    else self.head + ", ".join([self.row_marks] * len(chunk))
                )
                cursor.execute(sql, [value for row in chunk for value in row])
        finally:
            cursor.close()
        self.count += len(self.rows)
        self.rows = []

    def close(self) -> int:
        from django.core.management.color import no_style

        self.flush()
        with self.connection.cursor() as cursor:
            for sql in self.connection.ops.sequence_reset_sql(no_style(), [self.model]):
                cursor.execute(sql)
        return self.count


def _township_rates(rng: random.Random, teams: list[Team]) -> dict[int, tuple[float, float]]:
    """(all residents, key populations) contract rates per team institution: above the
    targets in some townships, below in others (FD-01/FD-02)."""
    ids = sorted({t.institution_id for t in teams})
    order = ids[:]
    rng.shuffle(order)
    rates = {}
    for i, inst in enumerate(order):
        if i % 2 == 0:
            rates[inst] = (rng.uniform(0.77, 0.86), rng.uniform(0.91, 0.96))
        else:
            rates[inst] = (rng.uniform(0.60, 0.72), rng.uniform(0.80, 0.89))
    return rates


CONTRACT_FIELDS = [
    "number", "resident", "team", "doctor", "signing_institution", "fee_total", "start_on",
    "end_on", "planned_end_on", "status", "channel", "consent_method", "consent_file",
    "consent_sha256", "renewed_from", "termination_reason", "termination_note", "signed_by",
    "signed_at", "updated_at",
]  # fmt: skip


class _Contracts:
    """Contracts with their packages and transitions (one per move)."""

    def __init__(self, consent: str, sha: str, lead) -> None:
        self.table = _Table(Contract, CONTRACT_FIELDS)
        self.lines = _Table(ContractPackage, ["contract", "package", "fee"])
        self.moves = _Table(
            ContractTransition, ["contract", "from_status", "to_status", "actor", "at", "reason"]
        )
        self.consent, self.sha, self.lead = consent, sha, lead
        self.now = timezone.now()
        self.in_force = 0
        self.today = timezone.localdate()

    def add(self, rng, *, resident, team, doctor, village, start, status, chosen, renewed_from=None,
            end=None, reason="") -> int:  # fmt: skip
        planned = add_months(start, 12) - dt.timedelta(days=1)
        end = end or planned
        where = rng.random()
        # FD-03: most sign at their village clinic; a few at the township or the lead hospital.
        signing = village if where < 0.85 else (
            team.institution_id if where < 0.97 or self.lead is None else self.lead.pk)  # fmt: skip
        signed_at = _aware(start, rng.randrange(8, 17), rng.randrange(60))
        pk = self.table.add(
            f"FD{start:%y%m%d}D{self.table.next_id:07d}", resident, team.pk, doctor, signing,
            sum((p.fee for p in chosen), Decimal("0")), start, end, planned, status, "in_person",
            "tablet" if rng.random() < 0.7 else "paper", self.consent, self.sha, renewed_from,
            reason, "", doctor, signed_at, self.now,
        )  # fmt: skip
        for package in chosen:
            self.lines.add(pk, package.pk, package.fee)
        self.moves.add(pk, "", "active", doctor, signed_at, "")
        if status == "renewed":
            self.moves.add(
                pk, "active", "renewed", doctor, _aware(planned - dt.timedelta(days=20), 10), ""
            )
        elif status == "expired":
            self.moves.add(pk, "active", "expired", None, _aware(end + dt.timedelta(days=1), 1), "")
        elif status == "terminated":
            self.moves.add(pk, "active", "terminated", doctor, _aware(end, 16), str(reason))
        if start <= self.today <= end:
            self.in_force += 1
        return pk

    def close(self) -> int:
        n = self.table.close()
        self.lines.close()
        self.moves.close()
        return n


@step("familydoctor", order=50)
def seed_familydoctor(seed: int, *, traffic: bool) -> str:
    packages = _packages()
    teams = _teams(_rng(seed, "teams"))
    rng = _rng(seed, "traffic")
    if not traffic or Contract.objects.exists() or not teams:
        return gettext("%(packages)s service packages, %(teams)s family-doctor teams") % {
            "packages": len(packages),
            "teams": len(teams),
        }
    today = timezone.localdate()
    elderly_age = int(policy.value(policy.ELDERLY_AGE))
    child_age = int(policy.value(policy.CHILD_MAX_AGE))
    team_of_place: dict[int, Team] = {}
    members: dict[int, list[TeamMember]] = defaultdict(list)
    for m in TeamMember.objects.filter(team__in=teams).order_by("pk"):
        members[m.team_id].append(m)
    by_pk = {t.pk: t for t in teams}
    for team_id, place in Team.villages.through.objects.filter(team__in=teams).order_by("pk").values_list(
        "team_id", "institution_id"
    ):  # fmt: skip
        team_of_place.setdefault(place, by_pk[team_id])
    # The responsible doctor: the village's own village doctor in the team, else the leader.
    village_doctors = _holders("village_doctor")
    doctor_of_place: dict[int, int] = {}
    for place, team in team_of_place.items():
        crew = {m.staff_id for m in members[team.pk]}
        leader = next(m.staff_id for m in members[team.pk] if m.is_leader)
        own = [s for s in village_doctors.get(place, []) if s in crew]
        doctor_of_place[place] = own[0] if own else leader
    rates = _township_rates(rng, teams)
    tags: dict[int, set[str]] = defaultdict(set)
    for resident_id, tag in (
        KeyPopulationTag.objects.current(today)
        .values_list("resident_id", "tag")
        .iterator(chunk_size=BATCH)
    ):
        tags[resident_id].add(tag)
    consent, sha = _consent_name()
    lead = Institution.objects.filter(is_lead_hospital=True).first()
    residents = (
        Resident.objects.filter(Q(deceased_on__isnull=True) | Q(deceased_on__gt=today))
        .filter(home_village_id__in=list(team_of_place))
        .order_by("pk")
        .values_list("pk", "home_village_id", "birth_date")
    )
    writer = _Contracts(consent, sha, lead)
    chronic: list[tuple] = []
    elderly: list[tuple] = []
    basic = [packages["BASIC"]]
    for pk, village, birth in residents.iterator(chunk_size=BATCH):
        team = team_of_place[village]
        doctor = doctor_of_place[village]
        rate, key_rate = rates[team.institution_id]
        age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        groups = set(tags.get(pk, ()))
        if age >= elderly_age:
            groups.add("elderly")
        if age <= child_age:
            groups.add("child")
        # Key populations sign more often; the rest fills the township's overall rate.
        # (About 40 % of residents are in a key population.)
        p = (
            key_rate
            if groups
            else max(0.2, min(0.95, (rate - KEY_SHARE * key_rate) / (1 - KEY_SHARE)))
        )
        common = {"resident": pk, "team": team, "doctor": doctor, "village": village}
        if rng.random() >= p:
            if rng.random() < 0.1:  # contracted before, did not renew
                start = today - dt.timedelta(days=rng.randrange(400, 700))
                writer.add(rng, start=start, status="expired", chosen=basic, **common)
            continue
        start = today - dt.timedelta(
            days=rng.choice((rng.randrange(20, 200), rng.randrange(200, 355)))
        )
        chosen = list(basic)
        for code, key in (("HTN", "hypertension"), ("T2D", "type2_diabetes"), ("ELD", "elderly"),
                          ("CHD", "child"), ("PRG", "pregnant")):  # fmt: skip
            if key in groups and rng.random() < 0.35:
                chosen.append(packages[code])
        previous = None
        if rng.random() < 0.93:  # a renewal of last year's contract
            previous = writer.add(
                rng, start=add_months(start, -12), status="renewed", chosen=basic, **common
            )
        if rng.random() < 0.02:  # moved away, changed team …
            end = min(
                today - dt.timedelta(days=1), start + dt.timedelta(days=rng.randrange(30, 300))
            )
            writer.add(rng, start=start, status="terminated", chosen=chosen, renewed_from=previous,
                       end=end, reason=rng.choice(TERMINATIONS), **common)  # fmt: skip
            continue
        contract = writer.add(
            rng, start=start, status="active", chosen=chosen, renewed_from=previous, **common
        )
        info = (contract, pk, doctor, village, start, age)
        programs = groups & {"hypertension", "type2_diabetes", "severe_mental_disorder"}
        if programs:
            chronic.append((*info, programs))
        if "elderly" in groups:
            elderly.append(info)
    contracts, in_force = writer.close(), writer.in_force
    follow_ups = _follow_ups(rng, chronic, today)
    checks = _health_checks(rng, elderly, today)
    _analyze()
    return gettext(
        "%(packages)s service packages, %(teams)s teams, %(contracts)s contracts "
        "(%(in_force)s in force), %(follow_ups)s follow-ups, %(checks)s health checks"
    ) % {
        "packages": len(packages),
        "teams": len(teams),
        "contracts": contracts,
        "in_force": in_force,
        "follow_ups": follow_ups,
        "checks": checks,
    }


def _analyze() -> None:
    """Fresh statistics for the planner after a bulk load (PostgreSQL): coverage and the due
    lists join these tables, and a plan made from an empty table's estimate is a slow one."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    models = (Contract, ContractPackage, FollowUp, Observation, HealthCheck, Resident,
              KeyPopulationTag)  # fmt: skip
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _measure(rng, program, age, controlled_p, critical_p):
    """One follow-up's measurements: mostly near target, sometimes not, rarely critical."""
    controlled = rng.random() < controlled_p
    critical = rng.random() < critical_p
    out = {}
    sbp_target = 150 if age >= 65 else 140
    if critical:
        sbp, dbp = rng.randrange(180, 205), rng.randrange(100, 118)
    elif controlled:
        sbp, dbp = rng.randrange(112, sbp_target), rng.randrange(66, 90)
    else:
        sbp, dbp = rng.randrange(sbp_target, 176), rng.randrange(86, 106)
    dbp = min(dbp, sbp - 30)
    out["systolic_bp"], out["diastolic_bp"] = Decimal(sbp), Decimal(dbp)
    if program == "type2_diabetes":
        if critical and rng.random() < 0.5:
            glucose = rng.choice((rng.uniform(16.8, 22.0), rng.uniform(2.9, 3.8)))
        elif controlled:
            glucose = rng.uniform(4.6, 6.9)
        else:
            glucose = rng.uniform(7.0, 12.5)
        out["fasting_glucose"] = Decimal(f"{glucose:.1f}")
    return out


FOLLOW_UP_FIELDS = [
    "resident", "contract", "program", "followed_on", "method", "institution", "performed_by",
    "symptoms", "danger_signs", "other_symptoms", "systolic_bp", "diastolic_bp",
    "fasting_glucose", "foot_pulse", "lifestyle", "adherence", "adverse_reaction",
    "adverse_reaction_note", "hypoglycemia", "new_complication", "complication_note",
    "risk_level", "psychotic_symptoms", "insight", "social_function", "physical_disease",
    "medications", "advice", "note", "classification", "next_due_on", "referral_triggers",
    "referral_urgency", "recorded_by", "created_at",
]  # fmt: skip
OBSERVATION_FIELDS = [
    "resident", "code", "name", "value", "value_text", "unit", "reference_low",
    "reference_high", "flag", "is_critical", "source", "observed_at", "recorded_by",
    "institution",
]  # fmt: skip
ADVICE = {"severe_mental_disorder": "按时服药，家属监护，如有异常及时联系。"}
DEFAULT_ADVICE = "低盐低脂饮食，规律服药，适量运动，定期监测。"


def _follow_ups(rng, chronic, today) -> int:
    rule_set = rules.Rules.current()
    year_ago = today - dt.timedelta(days=365)
    now = timezone.now()
    table = _Table(FollowUp, FOLLOW_UP_FIELDS)
    observations = _Table(Observation, OBSERVATION_FIELDS)
    links = _Table(FollowUp.observations.through, ["followup", "observation"])
    prescriptions = _Table(LongPrescription, ["follow_up", "resident", "institution", "prescribed_by",
                                              "issued_on", "weeks", "items", "status"])  # fmt: skip
    names = {v.key: vitals.stored_name(v) for v in vitals.VITALS}
    keys = {
        "systolic_bp": "systolic_bp",
        "diastolic_bp": "diastolic_bp",
        "fasting_glucose": "glucose_fasting",
    }
    for contract, resident, doctor, village, start, age, programs in chronic:
        for program in sorted(programs):
            controlled_p = rng.uniform(0.5, 0.9)
            lapsed = (
                today - dt.timedelta(days=rng.randrange(60, 200)) if rng.random() < 0.12 else today
            )
            day = max(start, year_ago) + dt.timedelta(days=rng.randrange(0, 25))
            previous: list[str] = []
            meds = rng.sample(
                MEDICINES[program], k=min(len(MEDICINES[program]), rng.choice((1, 1, 2)))
            )
            lifestyle = (
                {}
                if program == "severe_mental_disorder"
                else {"salt": rng.choice(("light", "medium", "heavy"))}
            )
            while day <= min(today, lapsed):
                smd = {}
                m = {}
                if program == "severe_mental_disorder":
                    smd = {
                        "risk_level": rng.choices((0, 1, 2, 3), (70, 20, 7, 3))[0],
                        "psychotic_symptoms": rng.choices(("gone", "present", "marked"), (70, 25, 5))[0],
                        "insight": rng.choices(("recovered", "partial", "absent"), (65, 30, 5))[0],
                        "social_function": rng.choices(("good", "fair", "poor"), (40, 45, 15))[0],
                        "physical_disease": "none",
                    }  # fmt: skip
                else:
                    m = _measure(rng, program, age, controlled_p, 0.012)
                adverse = "mild" if rng.random() < 0.03 else "none"
                outcome = rules.assess(
                    program=program, followed_on=day, age=age, m=rules.Measurements(**m),
                    adverse_reaction=adverse, previous_classes=previous[::-1][:3], rules=rule_set,
                    **smd,
                )  # fmt: skip
                method = rng.choices(("clinic", "home", "phone"), (75, 18, 7))[0]
                f = table.add(
                    resident, contract, program, day, method, village, doctor,
                    ["none"] if outcome.classification in rules.STABLE_CLASSES else [], [], "",
                    int(m["systolic_bp"]) if m else None, int(m["diastolic_bp"]) if m else None,
                    m.get("fasting_glucose"), "", lifestyle,
                    rng.choices(("regular", "intermittent", "none"), (80, 16, 4))[0], adverse, "", "",
                    False, "", smd.get("risk_level"), smd.get("psychotic_symptoms", ""),
                    smd.get("insight", ""), smd.get("social_function", ""), smd.get("physical_disease", ""),
                    meds, ADVICE.get(program, DEFAULT_ADVICE), "", outcome.classification,
                    outcome.next_due_on, outcome.triggers, outcome.urgency, doctor, now,
                )  # fmt: skip
                at = _aware(day, rng.randrange(8, 17), rng.randrange(60))
                for field, value in m.items():
                    vital = vitals.BY_KEY[keys[field]]
                    o = observations.add(
                        resident, vital.code, names[vital.key], value, "", vital.unit,
                        vital.normal[0], vital.normal[1], vitals.measure(vital.key, value).flag,
                        False, "manual", at, doctor, village,
                    )  # fmt: skip
                    links.add(f, o)
                if (outcome.classification in rules.STABLE_CLASSES and not outcome.triggers
                        and age >= 65 and rng.random() < 0.25):  # fmt: skip
                    prescriptions.add(
                        f, resident, village, doctor, day, rng.choice((4, 8, 12)), meds, "issued"
                    )
                previous.append(outcome.classification)
                # Patients come a few days early or late; the next one is never the same day.
                day = max(
                    outcome.next_due_on + dt.timedelta(days=rng.randrange(-4, 18)),
                    day + dt.timedelta(days=1),
                )
    count = table.close()
    observations.close()
    links.close()
    prescriptions.close()
    return count


def _health_checks(rng, elderly, today) -> int:
    year_start = today.replace(month=1, day=1)
    span = (today - year_start).days
    now = timezone.now()
    table = _Table(HealthCheck, [
        "resident", "contract", "kind", "checked_on", "institution", "performed_by", "systolic_bp",
        "diastolic_bp", "heart_rate", "weight", "self_care_score", "self_care", "items_done",
        "abnormal", "findings", "advice", "recorded_by", "created_at",
    ])  # fmt: skip
    for contract, resident, doctor, village, start, _age in elderly:
        if rng.random() > 0.72 or span <= 0:
            continue
        day = max(year_start + dt.timedelta(days=rng.randrange(0, span + 1)), start)
        score = rng.choices((0, 2, 5, 10, 20), (55, 20, 15, 7, 3))[0]
        abnormal = rng.random() < 0.35
        items = [
            k for k in rules.CHECK_ITEMS if k not in ("ultrasound", "lipids") or rng.random() < 0.8
        ]
        table.add(
            resident, contract, "elderly", day, village, doctor, rng.randrange(112, 168),
            rng.randrange(64, 96), rng.randrange(58, 96), Decimal(f"{rng.uniform(45, 85):.1f}"), score,
            rules.self_care_level(score), items, abnormal, "血脂偏高，建议复查。" if abnormal else "",
            "合理膳食，适量运动，定期监测血压。", doctor, now,
        )  # fmt: skip
    return table.close()
