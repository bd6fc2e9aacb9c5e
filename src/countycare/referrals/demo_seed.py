"""The demo county's referrals (issue 6): the starter disease catalog, the county hospitals'
departments (from their specialists), specialist clinic sessions from a month back to two
weeks ahead (20 % reserved for family doctors, REF-03) and, with traffic, a month of
referrals in every state — upward (some from Walking Hospital critical values, with their
reports), emergencies, declines, withdrawals, discharges with downward referrals and care
plans, out-of-county referrals awaiting approval or approved — and appointments booked by
family doctors, attended, cancelled and missed.

Everything goes through the services (the rules, transitions, notifications and audit are
the real ones) with the historical time passed as ``now``; the random choices come from the
seed, so the same seed on the same day gives the same referrals.
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from countycare.core.errors import DomainError
from countycare.demo.steps import step
from countycare.organizations.models import (
    COUNTY_HOSPITAL_TYPES,
    Institution,
    InstitutionType,
    RoleAssignment,
)
from countycare.referrals import appointments, catalogs, selectors, services
from countycare.referrals.models import (
    CatalogEntry,
    ClinicSession,
    DiseaseCatalog,
    Referral,
    ReferralStatus,
    Slot,
)
from countycare.residents.models import Resident

DAYS_BACK = 30
DAYS_AHEAD = 14
SESSION_HOURS = (dt.time(8, 0), dt.time(11, 30))
SLOT_MINUTES = 15
UP_PER_DAY = (3, 6)
OUT_OF_COUNTY = ("鄂尔多斯市中心医院", "内蒙古医科大学附属医院", "北京大学国际医院", "北京朝阳医院")
BEDS = ("一病区", "二病区", "三病区")


def _departments() -> dict[str, list]:
    """County hospitals' departments from their specialists' role notes, with the doctors."""
    from countycare.referrals.models import Department

    found: dict[int, list] = {}
    rows = (
        RoleAssignment.objects.active()
        .filter(role="specialist", institution__type__in=COUNTY_HOSPITAL_TYPES)
        .exclude(note="")
        .select_related("institution", "staff")
        .order_by("institution_id", "note", "staff_id")
    )
    for ra in rows:
        dept, _created = Department.objects.get_or_create(
            institution=ra.institution,
            name=ra.note,
            defaults={"beds": 40 if ra.institution.is_lead_hospital else 20},
        )
        found.setdefault(dept.pk, [dept, []])[1].append(ra.staff)
    return {str(pk): value for pk, value in found.items()}


def _sessions(depts: dict[str, list], today: dt.date) -> int:
    """Weekday morning sessions, a month back to two weeks ahead (written in bulk: the
    service refuses sessions in the past, which the demo's history needs)."""
    if ClinicSession.objects.exists():
        return 0
    from countycare.organizations import policy
    from countycare.referrals import policy as referral_policy

    share = float(policy.value(referral_policy.RESERVED_SHARE))
    tz = timezone.get_current_timezone()
    sessions = []
    for offset in range(-DAYS_BACK, DAYS_AHEAD + 1):
        day = today + dt.timedelta(days=offset)
        if day.isoweekday() > 5:
            continue
        for i, (dept, doctors) in enumerate(depts.values()):
            start = dt.datetime.combine(day, SESSION_HOURS[0], tzinfo=tz)
            sessions.append(
                ClinicSession(
                    department=dept,
                    doctor=doctors[(offset + i) % len(doctors)],
                    starts_at=start,
                    ends_at=dt.datetime.combine(day, SESSION_HOURS[1], tzinfo=tz),
                    slot_minutes=SLOT_MINUTES,
                    reserved_share=share,
                )
            )
    ClinicSession.objects.bulk_create(sessions, batch_size=500)
    slots = []
    for session in ClinicSession.objects.all():
        count = int((session.ends_at - session.starts_at).total_seconds() // 60 // SLOT_MINUTES)
        step_ = dt.timedelta(minutes=SLOT_MINUTES)
        for k, flag in enumerate(appointments.reserved_flags(count, share)):
            slots.append(
                Slot(session=session, starts_at=session.starts_at + k * step_, reserved=flag)
            )
    Slot.objects.bulk_create(slots, batch_size=2000)
    return len(sessions)


def _fits(code: str, resident: Resident, on: dt.date) -> bool:
    """Whether a diagnosis is plausible for the resident's age and sex (pregnancy for women
    of child-bearing age, newborn conditions for infants, dementia for the old …)."""
    age, female, cat = resident.age_on(on), resident.sex == "F", code[:3]
    if code.startswith("O"):
        return female and 18 <= age <= 45
    if code.startswith("P"):
        return age < 1
    if cat in ("J21", "J18"):
        return age < 14
    if cat in ("N70", "C50"):
        return female and age >= 18
    if cat == "N95":
        return female and 42 <= age <= 60
    if cat == "N41":
        return not female and age >= 18
    if cat in ("F03", "G20", "H25", "I67", "M16", "M17"):
        return age >= 55
    if cat == "E44":
        return age < 6 or age >= 70
    if code[0] in ("I", "C") or cat in ("E11", "N18", "H40", "K74", "J44", "J96"):
        return age >= 35
    return age >= 14


# Downward referrals are for stable chronic and rehabilitation patients (REF-01): the plan by
# the diagnosis' category — follow-up items (item, frequency), medicines, advice.
_PLANS: tuple[tuple[tuple[str, ...], tuple], ...] = (
    (("I6",), ([("肢体功能康复训练", "每日"), ("血压", "每周2次")],
               ["阿司匹林肠溶片", "阿托伐他汀钙片"], "坚持康复训练，低盐低脂饮食，预防跌倒")),
    (("I1", "I2", "I4", "I5"), ([("血压、心率", "每周2次"), ("胸闷胸痛等症状", "每周1次")],
                                ["阿司匹林肠溶片", "苯磺酸氨氯地平片"], "低盐低脂饮食，如胸痛加重及时就诊")),
    (("E1",), ([("空腹及餐后血糖", "每周2次"), ("足部检查", "每月1次")],
               ["二甲双胍片"], "控制饮食，监测血糖，低血糖时及时处理")),
    (("J44", "J47", "J96"), ([("呼吸症状与血氧饱和度", "每周2次")],
                             ["噻托溴铵吸入粉雾剂"], "戒烟，坚持呼吸功能锻炼")),
    (("N18",), ([("血压", "每周2次"), ("肾功能、电解质", "每月1次")],
                ["复方α-酮酸片"], "优质低蛋白饮食，控制血压")),
    (("S", "T14", "M"), ([("伤口与肢体功能锻炼", "每周2次")],
                         ["碳酸钙D3片"], "循序渐进功能锻炼，按时复查影像")),
    (("C",), ([("疼痛评估与营养状况", "每周1次")], [], "对症支持治疗，按计划返院复查")),
    (("F2", "F3"), ([("服药依从性与精神症状", "每2周1次")],
                    ["利培酮片"], "按时服药，家属协助监护")),
    (("K74", "B18"), ([("肝功能", "每月1次")], ["恩替卡韦片"], "禁酒，按时复查肝功能和B超")),
)  # fmt: skip


def _care_plan_for(code: str):
    for prefixes, plan in _PLANS:
        if code.startswith(prefixes):
            return plan
    return None


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    minute = rng.randint(8 * 60, 17 * 60)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(minute // 60, minute % 60)))


class _Traffic:
    def __init__(self, seed: int, depts: dict[str, list], now: dt.datetime) -> None:
        self.rng = random.Random(seed * 7919 + 6)  # noqa: S311 — demo data, not secrets
        self.now = now
        self.depts = depts
        self.by_name: dict[str, list] = {}
        for dept, doctors in depts.values():
            self.by_name.setdefault(dept.name, []).append((dept, doctors))
        self.lead_general = next(
            (
                v
                for v in depts.values()
                if v[0].institution.is_lead_hospital and v[0].name == "综合内科"
            ),
            next(iter(depts.values())),
        )
        self.doctor_at: dict[int, object] = {}
        for ra in (
            RoleAssignment.objects.active()
            .filter(role__in=("village_doctor", "township_doctor"))
            .order_by("role", "staff_id")  # village doctors win for their village
            .select_related("staff")
        ):
            self.doctor_at.setdefault(ra.institution_id, ra.staff)
        ra = RoleAssignment.objects.active().filter(role="community_admin").order_by("pk").first()
        self.approver = ra.staff if ra else None
        self.diagnoses = list(
            CatalogEntry.objects.filter(
                catalog__level__in=("county", "township_recommended", "township_basic")
            ).order_by("code")
        )
        self.counts: dict[str, int] = {}

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def referrer(self, resident: Resident):
        doctor = self.doctor_at.get(resident.home_village_id)
        if doctor is None:
            township = resident.home_village.township
            doctor = self.doctor_at.get(township.pk) if township else None
        return doctor

    def department_for(self, entry: CatalogEntry):
        options = self.by_name.get(entry.department) or [self.lead_general]
        leads = [o for o in options if o[0].institution.is_lead_hospital]
        return self.rng.choice(leads or options)

    def free_slot(self, dept, after: dt.datetime):
        return selectors.free_slots(dept, start=after + dt.timedelta(hours=20), days=5).first()


def _run_traffic(seed: int, depts: dict[str, list]) -> dict[str, int]:
    now = timezone.now()
    today = timezone.localdate()
    t = _Traffic(seed, depts, now)
    rng = t.rng
    villages = Institution.objects.filter(
        type=InstitutionType.VILLAGE_CLINIC, pk__in=list(t.doctor_at)
    ).values("pk")
    pool = list(
        Resident.objects.filter(home_village__in=villages, deceased_on__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:6000]
    )
    if not pool or not t.diagnoses:
        return {}
    residents = {
        r.pk: r
        for r in Resident.objects.filter(
            pk__in=rng.sample(pool, min(len(pool), 600))
        ).select_related("home_village", "home_village__parent")
    }
    people = sorted(residents)
    rng.shuffle(people)
    # Critical values of the Walking Hospital week come first: each becomes an urgent referral.
    from countycare.telemed.models import CriticalAlert, Report, ReportStatus

    alerts = list(
        CriticalAlert.objects.filter(resident__home_village__in=villages)
        .select_related("resident", "resident__home_village", "observation")
        .order_by("raised_at")[:12]
    )
    for day_back in range(DAYS_BACK, -1, -1):
        day = today - dt.timedelta(days=day_back)
        for _n in range(rng.randint(*UP_PER_DAY)):
            if not people:
                break
            resident = residents[people.pop()]
            _one_upward(t, resident, _at(day, rng), day_back, None, Report, ReportStatus)
        if day_back <= 7 and alerts and rng.random() < 0.8:
            alert = alerts.pop(0)
            when = max(alert.raised_at + dt.timedelta(minutes=20), _at(day, rng))
            if when < now:
                _one_upward(t, alert.resident, when, day_back, alert, Report, ReportStatus)
        if rng.random() < 0.8 and people:
            _one_out(t, residents[people.pop()], _at(day, rng), day_back)
        _direct_bookings(t, residents, people, day, day_back)
    _every_state(t)
    return t.counts


def _every_state(t: _Traffic) -> None:
    """Whatever the draw, the month shows every state of every direction (issue 6): a
    missing one is made from the oldest referral that can move there, through the services,
    a few hours after it was made."""

    def oldest(direction: str, status: str):
        return (
            Referral.objects.filter(direction=direction, status=status)
            .select_related("to_department", "referred_by")
            .order_by("requested_at", "pk")
            .first()
        )

    def later(referral, hours: float) -> dt.datetime:
        start = referral.answered_at or referral.requested_at
        return min(start + dt.timedelta(hours=hours), t.now - dt.timedelta(minutes=5))

    def specialist_for(referral):
        found = t.depts.get(str(referral.to_department_id))
        return found[1][0] if found and found[1] else None

    have = set(Referral.objects.values_list("direction", "status").distinct())
    moves = (
        (("up", "cancelled"), ("up", "requested"),
         lambda r: services.cancel(r.referred_by, r.pk, reason="患者家属要求暂缓", now=later(r, 2))),
        (("up", "declined"), ("up", "requested"),
         lambda r: specialist_for(r) and services.decline(
             specialist_for(r), r.pk, reason="不符合转诊指征，建议基层继续治疗", now=later(r, 3))),
        (("down", "accepted"), ("down", "requested"),
         lambda r: t.doctor_at.get(r.to_institution_id) and services.accept(
             t.doctor_at[r.to_institution_id], r.pk, now=later(r, 6))),
        (("down", "arrived"), ("down", "accepted"),
         lambda r: t.doctor_at.get(r.to_institution_id) and services.arrive(
             t.doctor_at[r.to_institution_id], r.pk, at=later(r, 24))),
        (("out", "approved"), ("out", "requested"),
         lambda r: t.approver and services.approve(
             t.approver, r.pk, reason="县域内无法诊治，同意外转", now=later(r, 4))),
        (("out", "declined"), ("out", "requested"),
         lambda r: t.approver and services.decline(
             t.approver, r.pk, reason="县域内可诊治，建议转牵头医院", now=later(r, 4))),
    )  # fmt: skip
    for wanted, source, move in moves:
        if wanted in have:
            continue
        referral = oldest(*source)
        if referral is None:
            continue
        try:
            move(referral)
        except DomainError:
            continue
        have.add(wanted)


def _one_upward(t: _Traffic, resident, when, day_back, alert, Report, ReportStatus) -> None:
    rng, now = t.rng, t.now
    if when >= now:
        return
    doctor = t.referrer(resident)
    if doctor is None:
        return
    on = timezone.localdate(when)
    entry = rng.choice([e for e in t.diagnoses if _fits(e.code, resident, on)] or t.diagnoses)
    dept, specialists = t.department_for(entry)
    specialist = rng.choice(specialists)
    urgency = "urgent" if alert else rng.choices(("routine", "urgent", "emergency"), (75, 20, 5))[0]
    reports = list(
        Report.objects.filter(order__resident=resident, status=ReportStatus.SIGNED).values_list(
            "pk", flat=True
        )[:2]
    )
    try:
        referral = services.refer_up(
            doctor,
            resident=resident.pk,
            department=dept.pk,
            reason=rng.choice(
                (
                    "病情加重，基层处置能力有限",
                    "需专科进一步检查明确诊断",
                    "规范治疗效果不佳",
                    "危急值，需上级医院处置",
                    "需住院治疗",
                )
            ),
            diagnosis_code=entry.code,
            diagnosis_name=entry.name,
            urgency=urgency,
            critical_alert=alert.pk if alert else None,
            reports=reports,
            now=when,
        )
    except DomainError:
        t.count("skipped")
        return
    if alert is not None:
        # The referral acknowledged the alert; in the demo's history that was at ``when``.
        from countycare.telemed.models import CriticalAlert

        CriticalAlert.objects.filter(pk=alert.pk, acknowledged_at__gt=when).update(
            acknowledged_at=when
        )
    t.count("upward")
    answer_at = when + dt.timedelta(hours=rng.uniform(0.5, 30 if urgency == "routine" else 3))
    roll = rng.random()
    if referral.status == "requested":
        if answer_at >= now or (day_back <= 2 and roll < 0.5) or roll < 0.06:
            return  # waits (the old ones show as overdue on the boards)
        if roll < 0.16:
            services.decline(specialist, referral.pk, now=answer_at,
                             reason=rng.choice(("本科室床位已满，建议转旗第二人民医院", "不符合转诊指征，建议基层继续治疗",
                                                "建议先行完善检查后再转诊")))  # fmt: skip
            return
        if roll < 0.21:
            services.cancel(doctor, referral.pk, now=answer_at, reason="患者家属要求暂缓")
            return
        slot = t.free_slot(dept, answer_at) if rng.random() < 0.6 else None
        try:
            if slot is not None:
                services.accept(
                    specialist, referral.pk, mode="appointment", slot=slot.pk, now=answer_at
                )
                arrive_at = slot.starts_at + dt.timedelta(minutes=rng.randint(-10, 20))
            else:
                day = timezone.localdate(answer_at) + dt.timedelta(days=rng.randint(0, 2))
                services.accept(specialist, referral.pk, mode="bed", now=answer_at,
                                bed=f"{rng.choice(BEDS)} {rng.randint(1, 40)}床", admission_on=day)  # fmt: skip
                arrive_at = timezone.make_aware(
                    dt.datetime.combine(day, dt.time(9, rng.randint(0, 59)))
                )
        except DomainError:
            t.count("skipped")
            return
    else:  # an emergency: accepted at once, arrives within hours
        arrive_at = when + dt.timedelta(minutes=rng.randint(40, 150))
    answered = answer_at if referral.status == "requested" else when
    arrive_at = max(arrive_at, answered + dt.timedelta(minutes=30))
    if arrive_at >= now or rng.random() < 0.05:
        return  # accepted, not yet arrived (a few never came: overdue arrivals)
    services.arrive(specialist, referral.pk, at=arrive_at)
    discharge_at = arrive_at + dt.timedelta(days=rng.randint(2, 9), hours=rng.randint(0, 5))
    if discharge_at >= now:
        return
    down = None
    plan = _care_plan_for(referral.diagnosis_code)
    if plan is not None and rng.random() < 0.7:
        items, medicines, notes = plan
        target = resident.home_village if rng.random() < 0.5 else resident.home_village.parent
        down = {
            "to_institution": target.pk,
            "reason": "病情稳定，转回基层继续治疗和康复",
            "care_plan": {
                "follow_up_items": [{"item": i, "frequency": f} for i, f in items],
                "medicines": [
                    {"name": m, "dose": "按出院医嘱", "frequency": "遵医嘱"} for m in medicines
                ],
                "next_review_on": (
                    timezone.localdate(discharge_at) + dt.timedelta(days=rng.choice((7, 14, 30)))
                ).isoformat(),
                "notes": notes,
            },
        }
    _up, child = services.discharge(specialist, referral.pk, at=discharge_at, down=down)
    if child is None:
        return
    t.count("downward")
    take_at = discharge_at + dt.timedelta(hours=rng.uniform(2, 60))
    if take_at >= now or rng.random() < 0.15:
        return
    receiver = t.doctor_at.get(child.to_institution_id)
    if receiver is None:
        return
    services.accept(receiver, child.pk, now=take_at)
    back_at = take_at + dt.timedelta(days=rng.randint(1, 6))
    if back_at < now and rng.random() < 0.6:
        services.arrive(receiver, child.pk, at=back_at)


def _one_out(t: _Traffic, resident, when, day_back) -> None:
    rng = t.rng
    doctor = t.referrer(resident)
    if doctor is None or when >= t.now:
        return
    try:
        referral = services.refer_out(
            doctor,
            resident=resident.pk,
            destination=rng.choice(OUT_OF_COUNTY),
            reason=rng.choice(
                ("县域内无相应诊疗技术", "需三级医院专科手术", "患者要求赴上级医院进一步诊治")
            ),
            diagnosis_code=rng.choice(("C71.900", "Q21.000", "C92.000", "I71.000", "G35.x00")),
            diagnosis_name="",
            urgency="emergency" if rng.random() < 0.1 else "routine",
            now=when,
        )
    except DomainError:
        # The diagnosis is in no catalog: name it as the referring doctor would.
        try:
            referral = services.refer_out(
                doctor, resident=resident.pk, destination=rng.choice(OUT_OF_COUNTY),
                reason="县域内无相应诊疗技术", diagnosis_code="C71.900",
                diagnosis_name="脑恶性肿瘤", now=when,
            )  # fmt: skip
        except DomainError:
            return
    t.count("out_of_county")
    decide_at = when + dt.timedelta(hours=rng.uniform(1, 20))
    if referral.status != "requested" or decide_at >= t.now or t.approver is None:
        return
    if day_back > 1 and rng.random() < 0.85:
        if rng.random() < 0.8:
            services.approve(
                t.approver, referral.pk, now=decide_at, reason="县域内无法诊治，同意外转"
            )
        else:
            services.decline(
                t.approver, referral.pk, now=decide_at, reason="县域内可诊治，建议转牵头医院"
            )


def _direct_bookings(t: _Traffic, residents, people, day, day_back) -> None:
    """Family doctors book specialists for their residents (REF-03/REF-04)."""
    rng = t.rng
    for _n in range(rng.randint(1, 3)):
        if not people:
            return
        resident = residents[people.pop()]
        doctor = t.referrer(resident)
        dept, specialists = rng.choice(list(t.depts.values()))
        booked_at = _at(day, rng)
        if doctor is None or booked_at >= t.now:
            continue
        slot = t.free_slot(dept, booked_at)
        if slot is None:
            continue
        try:
            appointment = appointments.book(
                doctor, slot=slot.pk, resident=resident.pk, now=booked_at
            )
        except DomainError:
            continue
        t.count("appointments")
        if rng.random() < 0.12:
            appointments.cancel(doctor, appointment.pk, reason="患者时间冲突，改约")
        elif slot.starts_at + dt.timedelta(hours=1) < t.now:
            if rng.random() < 0.15:
                appointments.mark_no_show(specialists[0], appointment.pk,
                                          now=slot.starts_at + dt.timedelta(hours=1))  # fmt: skip
            else:
                appointments.mark_attended(specialists[0], appointment.pk)


@step("referrals", order=30)
def seed_referrals(seed: int, *, traffic: bool) -> str:
    if not DiseaseCatalog.objects.exists():
        catalogs.load_starter()
    depts = _departments()
    sessions = _sessions(depts, timezone.localdate())
    summary = _(
        "%(entries)d catalog entries, %(departments)d departments, %(sessions)d clinic sessions"
    ) % {
        "entries": CatalogEntry.objects.count(),
        "departments": len(depts),
        "sessions": sessions,
    }
    if not traffic or Referral.objects.exists() or not depts:
        return summary
    counts = _run_traffic(seed, depts)
    by_state = [
        str(ReferralStatus(value).label)
        for value in ReferralStatus.values
        if Referral.objects.filter(status=value).exists()
    ]
    return _(
        "%(summary)s; %(up)d upward, %(down)d downward and %(out)d out-of-county referrals "
        "(states: %(states)s), %(bookings)d direct bookings"
    ) % {
        "summary": summary,
        "up": counts.get("upward", 0),
        "down": counts.get("downward", 0),
        "out": counts.get("out_of_county", 0),
        "states": pgettext("list separator", ", ").join(by_state) or "—",
        "bookings": counts.get("appointments", 0),
    }
