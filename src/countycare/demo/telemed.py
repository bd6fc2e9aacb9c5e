"""The demo county, stage three: a realistic week of Walking Hospital traffic (issue 3), so a
newcomer sees the loop working — village doctors' visits with the kit's vitals, exam orders to
the lead hospital's shared centers in every state (a queue waiting now, some of it overdue;
orders held by readers under live leases; signed reports awaiting acknowledgement; most of the
week acknowledged; returns with the reader's reason; cancellations), sealed reports, the
performance credits of each signature and a few critical values (acknowledged, open, one
escalated).

:func:`load_traffic` reads the loaded foundation (villages, village doctors, residents, the
readers), installs the service catalog, decides everything from its own random stream derived
from the seed, and writes it with bulk inserts in one transaction. Times are counted back
from *now* (a demo is looked at now); what happens — the visits, orders, states, readers and
values — depends on the seed only.

The demo logins get their own story: ``village_doctor`` has orders in several states, one
signed report awaiting acknowledgement and an open critical value; ``center_reader`` reads
for the ECG and ultrasound centers and holds one ECG order."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, connections, router, transaction
from django.db.models import F
from django.utils import timezone

from countycare.core import audit
from countycare.demo.staff import DEMO_LOGINS, LEAD_HOSPITAL
from countycare.organizations import policy
from countycare.organizations.models import Institution, RoleAssignment, Staff
from countycare.residents.models import KeyPopulationTag, Resident
from countycare.telemed import catalog, critical, reports, vitals
from countycare.telemed import policy as telemed_policy
from countycare.telemed.models import (
    PRIORITY_RANK,
    AlertStatus,
    CenterKind,
    CriticalAlert,
    CriticalRule,
    ExamOrder,
    Observation,
    ObservationSource,
    OrderStatus,
    OrderTransition,
    PerformanceCredit,
    Priority,
    Report,
    ReportStatus,
    Service,
    SharedCenter,
    Visit,
    VisitSetting,
)
from countycare.telemed.services import TRANSITIONS, credit_rows, pay_shares

S = OrderStatus
DAYS = 7
# Visits a week per village resident (a village doctor sees ~1–2 Walking Hospital patients
# a day).
VISITS_PER_RESIDENT = 0.12
VISITS_PER_DOCTOR_DAY = 1.5
MIN_VISITS = 60
# The share of the week's orders that are still moving now (drafts, the queue, held, fresh).
LIVE_SHARE = 0.08
MIN_LIVE = 16
BATCH = 2000
Progress = Callable[[str], None]

DEMO_DOCTOR = next(login for login in DEMO_LOGINS if login.username == "village_doctor")
DEMO_READER = next(login for login in DEMO_LOGINS if login.username == "center_reader")

# service code → relative weight among a visit's orders (ECG most, then abdominal ultrasound …)
SERVICE_WEIGHTS = {
    "ECG12": 40, "US-ABD": 17, "LAB-CBC": 10, "LAB-UA": 7, "DR-CHEST": 9, "US-THY": 3,
    "US-CARD": 2, "US-VASC": 2, "US-OB": 1.5, "LAB-GLU": 3, "RC-CARD": 2.5, "RC-RESP": 1.5,
    "RC-ENDO": 1.5,
}  # fmt: skip
# Remote consultations are read by the lead hospital's specialists of that department.
CONSULT_DEPARTMENT = {"RC-CARD": "心血管内科", "RC-RESP": "呼吸内科", "RC-ENDO": "内分泌科"}

COMPLAINTS = {
    "ECG12": ["胸闷、心悸3天", "活动后气短", "头晕乏力", "高血压随访", "糖尿病随访",
              "老年人健康体检", "间断胸痛1周"],
    "US-ABD": ["上腹部不适", "右上腹隐痛2天", "老年人健康体检", "食欲减退", "糖尿病随访"],
    "US-CARD": ["活动后气短", "双下肢水肿", "心脏杂音待查"],
    "US-OB": ["孕期检查", "孕中期产检"],
    "US-THY": ["颈前肿物", "体检发现甲状腺结节"],
    "US-VASC": ["头晕", "高血压随访", "头晕伴肢体麻木"],
    "DR-CHEST": ["咳嗽咳痰2周", "发热、咳嗽", "胸痛", "老年人健康体检"],
    "LAB-CBC": ["乏力", "发热", "老年人健康体检", "面色苍白"],
    "LAB-UA": ["尿频、尿急", "糖尿病随访", "腰痛"],
    "LAB-GLU": ["口干多饮", "糖尿病随访"],
    "RC-CARD": ["血压控制不佳", "胸闷反复发作"],
    "RC-RESP": ["慢阻肺随访", "咳嗽迁延不愈"],
    "RC-ENDO": ["血糖控制不佳", "糖尿病随访"],
}  # fmt: skip
QUESTIONS = {
    "ecg": ["排除心肌缺血", "心律失常？", "评估心电图", "高血压心脏改变？"],
    "ultrasound": ["请评估所见脏器", "胆囊结石？", "脂肪肝？", "结节性质？"],
    "imaging": ["肺部感染？", "排除肺结核", "评估心肺"],
    "lab": ["贫血？", "感染？", "尿路感染？", "评估血糖"],
    "outpatient": ["请协助调整治疗方案", "是否需要转诊？"],
}
RETURN_REASONS = {
    "ecg": ["基线漂移严重，请重新采集", "肢体导联接反，请核对后重新采集",
            "肌电干扰明显，请嘱患者放松后重新采集"],
    "ultrasound": ["图像不清晰，切面不标准，请重新采集", "缺少胆囊长轴切面，请补充采集"],
    "imaging": ["体位不正，肩胛骨未拉开，请重新拍摄", "曝光不足，请重新拍摄"],
    "lab": ["标本溶血，请重新采血", "标本量不足，请重新采集"],
    "outpatient": ["病历资料不全，请补充近一周血压、血糖记录"],
}  # fmt: skip
CANCEL_REASONS = ["患者已前往县医院就诊", "重复申请", "患者拒绝检查", "患者外出，暂不检查"]
DRAFT_CANCEL_REASONS = ["误建申请", "重复申请"]
RETURNED_CANCEL_REASONS = ["患者拒绝复查", "患者已转诊至上级医院"]
ALERT_ACTIONS = [
    "已电话通知患者及家属，建议立即转诊至旗人民医院",
    "已复测确认，舌下含服降压药后30分钟复测，已安排转诊",
    "已吸氧并联系120转运至上级医院",
    "已嘱患者立即就医，联系乡镇卫生院接诊",
]


class Fate:
    """Where an order's week ends. Historical fates happened on the past days; live ones are
    still moving now (their times are counted back from now)."""

    ACK = "ack"  # submitted → claimed → signed → acknowledged
    ACK_PRELIM = "ack_prelim"  # … with a preliminary save before signing
    ACK_RESUBMIT = "ack_resubmit"  # returned, re-acquired, resubmitted, then signed and seen
    ACK_RECLAIM = "ack_reclaim"  # a lease expired and another reader took it over
    SIGNED_WAIT = "signed_wait"  # signed days ago, not yet acknowledged
    RETURNED = "returned"  # returned with a reason, waiting for re-acquisition
    CANCEL_SUBMITTED = "cancel_submitted"
    CANCEL_DRAFT = "cancel_draft"
    CANCEL_RETURNED = "cancel_returned"
    # live
    DRAFT = "draft"
    WAITING = "waiting"  # submitted, within the SLA
    OVERDUE = "overdue"  # submitted, past the SLA
    CLAIMED = "claimed"
    PRELIMINARY = "preliminary"
    SIGNED_FRESH = "signed_fresh"  # signed in the last hours, awaiting acknowledgement
    RETURNED_FRESH = "returned_fresh"


HISTORICAL_WEIGHTS = {
    Fate.ACK: 62, Fate.ACK_PRELIM: 22, Fate.ACK_RESUBMIT: 2.5, Fate.ACK_RECLAIM: 1.2,
    Fate.SIGNED_WAIT: 4, Fate.RETURNED: 1.5, Fate.CANCEL_SUBMITTED: 1.3, Fate.CANCEL_DRAFT: 0.7,
    Fate.CANCEL_RETURNED: 0.5,
}  # fmt: skip
LIVE_WEIGHTS = {
    Fate.DRAFT: 10, Fate.WAITING: 24, Fate.OVERDUE: 9, Fate.CLAIMED: 12, Fate.PRELIMINARY: 9,
    Fate.SIGNED_FRESH: 28, Fate.RETURNED_FRESH: 5,
}  # fmt: skip


def _stream(seed: int) -> random.Random:
    return random.Random(f"countycare-demo:{seed}:telemed")


def _fates(rng: random.Random, weights: dict[str, float], n: int) -> list[str]:
    """``n`` fates: each one at least once (while n allows), the rest by weight, shuffled."""
    names = list(weights)
    out = names[:n] + rng.choices(
        names, weights=[weights[k] for k in names], k=max(0, n - len(names))
    )
    rng.shuffle(out)
    return out


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --- the foundation, as read from the database -------------------------------------------------
@dataclass
class _Person:
    pk: int
    village_id: int
    birth: dt.date
    sex: str
    tags: frozenset[str] = frozenset()


@dataclass
class _World:
    now: dt.datetime
    centers: dict[str, SharedCenter]  # kind → center
    services: dict[str, Service]  # code → service
    readers: dict[str, list[Staff]]  # service code → who may read it
    villages: dict[int, Institution]  # village clinic pk → clinic
    doctors: dict[int, list[Staff]]  # village clinic pk → village doctors
    residents: list[_Person]
    cum_weights: list[float]
    by_village: dict[int, list[_Person]]
    demo_doctor: Staff | None
    demo_reader: Staff | None
    lease: dt.timedelta
    escalate: dt.timedelta
    sla: dict  # center kind → priority → minutes
    shares: tuple[Decimal, Decimal]

    def sla_minutes(self, service: Service, priority: str) -> int:
        targets = self.sla.get(service.center.kind) or {}
        return int(targets.get(priority, targets.get("routine", 120)))


def ensure_critical_rules() -> None:
    critical.ensure_default_rules()


def _assign_readers(centers: list[SharedCenter]) -> None:
    """Center readers read for the center their role note names; the demo reader also reads
    ultrasound; the lead hospital's specialists of the consultation departments staff the
    remote outpatient center."""
    by_name = {c.name: c for c in centers}
    by_kind = {c.kind: c for c in centers}
    through = SharedCenter.readers.through
    pairs: set[tuple[int, int]] = set()
    for staff_id, role, note, username in RoleAssignment.objects.filter(
        institution__code=LEAD_HOSPITAL, role__in=("center_reader", "specialist")
    ).values_list("staff_id", "role", "note", "staff__username"):
        if role == "center_reader" and note in by_name:
            pairs.add((by_name[note].pk, staff_id))
        if (
            role == "specialist"
            and note in CONSULT_DEPARTMENT.values()
            and CenterKind.OUTPATIENT in by_kind
        ):
            pairs.add((by_kind[CenterKind.OUTPATIENT].pk, staff_id))
        if username == DEMO_READER.username and CenterKind.ULTRASOUND in by_kind:
            pairs.add((by_kind[CenterKind.ULTRASOUND].pk, staff_id))
    existing = set(
        through.objects.filter(sharedcenter_id__in=[c.pk for c in centers]).values_list(
            "sharedcenter_id", "staff_id"
        )
    )
    through.objects.bulk_create(
        [through(sharedcenter_id=c, staff_id=s) for c, s in sorted(pairs - existing)]
    )


def _world(centers: list[SharedCenter], now: dt.datetime) -> _World:
    services = {
        s.code: s
        for s in Service.objects.filter(center__in=centers, is_active=True).select_related("center")
    }
    center_readers: dict[int, list[int]] = {}
    through = SharedCenter.readers.through
    for center_id, staff_id in (
        through.objects.filter(sharedcenter_id__in=[c.pk for c in centers])
        .order_by("sharedcenter_id", "staff_id")
        .values_list("sharedcenter_id", "staff_id")
    ):
        center_readers.setdefault(center_id, []).append(staff_id)
    departments = dict(
        RoleAssignment.objects.filter(
            institution__code=LEAD_HOSPITAL, role="specialist"
        ).values_list("staff_id", "note")
    )
    reader_ids = {pk for ids in center_readers.values() for pk in ids}
    staff_by_id = {s.pk: s for s in Staff.objects.filter(pk__in=reader_ids)}
    readers: dict[str, list[Staff]] = {}
    for code, service in services.items():
        ids = center_readers.get(service.center_id, [])
        if code in CONSULT_DEPARTMENT:
            ids = [pk for pk in ids if departments.get(pk) == CONSULT_DEPARTMENT[code]] or ids
        if ids:
            readers[code] = [staff_by_id[pk] for pk in ids]

    villages = {v.pk: v for v in Institution.objects.filter(type="village_clinic").order_by("pk")}
    doctors: dict[int, list[Staff]] = {}
    doctor_rows = (
        RoleAssignment.objects.filter(role="village_doctor", institution_id__in=villages)
        .select_related("staff")
        .order_by("institution_id", "staff_id")
    )
    for assignment in doctor_rows:
        doctors.setdefault(assignment.institution_id, []).append(assignment.staff)

    tags: dict[int, set[str]] = {}
    for resident_id, tag in KeyPopulationTag.objects.filter(
        tag__in=("hypertension", "type2_diabetes", "pregnant"),
        resident__home_village_id__in=list(doctors),
    ).values_list("resident_id", "tag"):
        tags.setdefault(resident_id, set()).add(tag)
    today = timezone.localdate(now)
    residents, cum, total = [], [], 0.0
    by_village: dict[int, list[_Person]] = {}
    rows = (
        Resident.objects.filter(home_village_id__in=list(doctors), deceased_on__isnull=True)
        .order_by("pk")
        .values_list("pk", "home_village_id", "birth_date", "sex")
    )
    for pk, village_id, birth, sex in rows:
        person = _Person(pk, village_id, birth, sex, frozenset(tags.get(pk, ())))
        age = _age(birth, today)
        # Who the Walking Hospital sees: the old and the chronically ill far more than the young.
        weight = 0.3 if age < 14 else 0.6 if age < 45 else 1.2 if age < 65 else 2.5
        weight += 1.5 * len(person.tags & {"hypertension", "type2_diabetes"})
        weight += 1.0 if "pregnant" in person.tags else 0
        total += weight
        residents.append(person)
        cum.append(total)
        by_village.setdefault(village_id, []).append(person)

    logins = {
        s.username: s
        for s in Staff.objects.filter(username__in=[DEMO_DOCTOR.username, DEMO_READER.username])
    }
    escalate = int(policy.value(telemed_policy.CRITICAL_ESCALATE_MINUTES))
    return _World(
        now=now,
        centers={c.kind: c for c in centers},
        services=services,
        readers=readers,
        villages=villages,
        doctors=doctors,
        residents=residents,
        cum_weights=cum,
        by_village=by_village,
        demo_doctor=logins.get(DEMO_DOCTOR.username),
        demo_reader=logins.get(DEMO_READER.username),
        lease=dt.timedelta(minutes=int(policy.value(telemed_policy.LEASE_MINUTES))),
        escalate=dt.timedelta(minutes=escalate),
        sla=policy.value(telemed_policy.TAT_TARGET_MINUTES) or {},
        shares=pay_shares(),
    )


# --- vitals ----------------------------------------------------------------------------------
def _vitals(
    rng: random.Random, person: _Person, at: dt.datetime, complaint: str, critical_kind: str = ""
) -> dict[str, str]:
    """What the kit measures, drawn from realistic distributions for the resident's age, sex
    and chronic conditions; ``critical_kind`` (spo2, glucose, sbp) forces a critical value."""
    age = _age(person.birth, at.date())
    hypertensive = "hypertension" in person.tags
    diabetic = "type2_diabetes" in person.tags
    data: dict[str, str] = {}
    if age >= 14:
        sbp = rng.gauss(146, 14) if hypertensive else rng.gauss(106 + 0.45 * max(age - 18, 0), 11)
        sbp = round(_clamp(sbp, 90, 176))
        dbp = round(_clamp(sbp * 0.58 + rng.gauss(8, 6), 55, min(104, sbp - 25)))
        if critical_kind == "sbp":
            sbp, dbp = rng.randint(180, 206), rng.randint(96, 108)
        data["systolic_bp"], data["diastolic_bp"] = str(sbp), str(dbp)
    data["pulse"] = str(round(_clamp(rng.gauss(76 if age >= 14 else 95, 9), 52, 128)))
    spo2 = round(_clamp(rng.gauss(97.6 if age < 65 else 96.3, 1.1), 92, 100))
    if critical_kind == "spo2":
        spo2 = rng.randint(83, 89)
    data["spo2"] = str(spo2)
    temperature = _clamp(rng.gauss(36.6, 0.22), 35.9, 37.2)
    if "发热" in complaint:
        temperature = rng.uniform(37.6, 39.3)
    data["temperature"] = f"{temperature:.1f}"
    if diabetic or age >= 60 or critical_kind == "glucose":
        fasting = timezone.localtime(at).hour < 10 and critical_kind != "glucose"
        if critical_kind == "glucose":
            glucose = rng.uniform(22.6, 27.8)
        elif diabetic:
            glucose = (
                _clamp(rng.gauss(8.0, 1.8), 4.6, 16.0)
                if fasting
                else _clamp(rng.gauss(10.6, 2.8), 5.0, 20.5)
            )
        else:
            glucose = (
                _clamp(rng.gauss(5.3, 0.6), 3.9, 7.4)
                if fasting
                else _clamp(rng.gauss(6.8, 1.3), 4.0, 11.5)
            )
        data["glucose_fasting" if fasting else "glucose_random"] = f"{glucose:.1f}"
    if rng.random() < 0.35:
        if age >= 18:
            height = rng.gauss(169, 6) if person.sex == "M" else rng.gauss(158, 5.5)
            height -= 3 if age >= 70 else 0
            bmi = _clamp(rng.gauss(24.6 if hypertensive or diabetic else 23.4, 3.0), 16.5, 36)
        else:
            height = _clamp(75 + 6.2 * age + rng.gauss(0, 4), 60, 185)
            bmi = _clamp(rng.gauss(17 + 0.25 * age, 1.8), 13.5, 27)
        weight = bmi * (height / 100) ** 2
        data["height"], data["weight"] = f"{height:.1f}", f"{weight:.1f}"
    return data


# --- reports ---------------------------------------------------------------------------------
def _report_content(
    rng: random.Random, service: Service, pulse: int | None
) -> tuple[dict, str, str, bool]:
    """(findings by template key, findings text, impression, abnormal) from the catalog's
    phrases."""
    kind = service.center.kind
    abnormal = rng.random() < 0.3
    if kind == CenterKind.ECG:
        rate = pulse or rng.randint(60, 95)
        rhythm = "窦性心律"
        if rate > 100:
            rhythm, abnormal = "窦性心动过速", True
        elif rate < 60:
            rhythm = "窦性心动过缓"
        extra = (
            rng.choice(["房性早搏", "室性早搏", "T波低平", "ST段压低", "完全性右束支传导阻滞"])
            if abnormal
            else ""
        )
        if abnormal and rng.random() < 0.15:
            rhythm, extra = "心房颤动", ""
        st_t = "ST-T未见明显异常" if extra not in ("T波低平", "ST段压低") else extra
        qt = rng.randint(360, 420)
        findings = {
            "rhythm": rhythm, "rate": str(rate),
            "pr": "" if rhythm == "心房颤动" else str(rng.randint(130, 190)),
            "qrs": str(rng.randint(82, 118 if extra == "完全性右束支传导阻滞" else 104)),
            "qt_qtc": f"{qt}/{qt + rng.randint(10, 40)}", "axis": f"{rng.randint(-10, 75):+d}",
            "st_t": st_t,
        }  # fmt: skip
        text = "，".join(
            x for x in (rhythm, "心率" + str(rate) + "次/分", extra or "各间期正常", st_t) if x
        )
        impression = (
            "异常心电图，请结合临床" if abnormal else rng.choice(["正常心电图", "大致正常心电图"])
        )
        if rhythm == "心房颤动":
            impression = "心房颤动，建议上级医院进一步诊治"
        return {k: v for k, v in findings.items() if v}, text, impression, abnormal
    if kind == CenterKind.ULTRASOUND:
        if service.code == "US-THY":
            organs = "甲状腺大小形态正常" + ("" if abnormal else "，未见明显结节")
            lesions = (
                f"右叶可见低回声结节，大小约{rng.uniform(0.4, 1.2):.1f}×{rng.uniform(0.3, 0.9):.1f} cm，边界清"
                if abnormal
                else ""
            )
            impression = (
                "甲状腺结节（TI-RADS 3类），建议定期复查" if abnormal else "甲状腺未见明显异常"
            )
            measurements = (
                f"右叶厚{rng.uniform(1.3, 2.0):.1f} cm，左叶厚{rng.uniform(1.3, 2.0):.1f} cm"
            )
        elif service.code == "US-ABD":
            organs = "肝脏大小形态正常，实质回声均匀；胆囊壁光滑；双肾大小形态正常"
            finding = rng.choice(["脂肪肝", "胆囊结石"]) if abnormal else ""
            if finding == "脂肪肝":
                organs = (
                    "肝脏体积增大，实质回声细密增强，后方回声衰减；胆囊壁光滑；双肾大小形态正常"
                )
            lesions = (
                f"胆囊内可见强回声团，大小约{rng.uniform(0.5, 1.6):.1f} cm，后伴声影，可随体位移动"
                if finding == "胆囊结石"
                else ""
            )
            liver, length, width = (
                rng.uniform(11.5, 15.5),
                rng.uniform(5.5, 8),
                rng.uniform(2.2, 3.5),
            )
            measurements = f"肝右叶斜径{liver:.1f} cm，胆囊{length:.1f}×{width:.1f} cm"
            impression = finding or "所见脏器未见明显异常"
        else:
            organs = f"{service.name.split('超声')[0] or '所检'}结构未见明显异常"
            lesions = ""
            measurements = "各测值在正常范围内"
            impression = "所见未见明显异常"
            abnormal = False
        findings = {"organs": organs, "measurements": measurements, "lesions": lesions}
        text = "；".join(x for x in (organs, measurements, lesions) if x)
        return {k: v for k, v in findings.items() if v}, text, impression, abnormal
    if kind == CenterKind.IMAGING:
        lungs = "双肺纹理增多、增粗，未见明显实变影" if abnormal else "双肺纹理清晰，未见明显实变影"
        findings = {
            "lungs": lungs,
            "heart": "心影大小形态正常",
            "bones": "双侧膈面光整，肋膈角锐利",
        }
        impression = "双肺纹理增多，请结合临床" if abnormal else "心肺膈未见明显异常"
        return findings, "；".join(findings.values()), impression, abnormal
    if kind == CenterKind.LAB:
        if service.code == "LAB-CBC":
            hb = rng.randint(98, 118) if abnormal else rng.randint(120, 155)
            wbc, plt = rng.uniform(4.0, 9.5), rng.randint(130, 320)
            comment = f"白细胞{wbc:.1f}×10⁹/L，血红蛋白{hb} g/L，血小板{plt}×10⁹/L"
            impression = "轻度贫血，请结合临床" if abnormal else "未见异常"
        elif service.code == "LAB-UA":
            comment = (
                "尿白细胞（++），亚硝酸盐阳性" if abnormal else "尿蛋白阴性，尿糖阴性，镜检未见异常"
            )
            impression = "提示尿路感染，请结合临床" if abnormal else "未见异常"
        else:
            value = rng.uniform(7.2, 13.5) if abnormal else rng.uniform(4.2, 6.0)
            comment = f"血糖{value:.1f} mmol/L"
            impression = "血糖升高，请结合临床" if abnormal else "未见异常"
        return (
            {"comment": comment},
            comment + ("" if abnormal else "，结果在参考范围内"),
            impression,
            abnormal,
        )
    # Remote consultation
    history = (
        "高血压病史多年，规律服药，近期血压波动"
        if service.code == "RC-CARD"
        else (
            "慢性咳嗽咳痰多年，活动后气短"
            if service.code == "RC-RESP"
            else "2型糖尿病病史，口服降糖药，血糖控制欠佳"
        )
    )
    assessment = rng.choice(["病情稳定", "控制欠佳，需调整治疗"])
    plan = rng.choice(
        ["继续目前治疗，定期随访", "调整用药方案，两周后复诊", "建议转诊至县级医院进一步诊治"]
    )
    findings = {"history": history, "assessment": assessment, "plan": plan}
    return findings, "；".join(findings.values()), plan, assessment != "病情稳定"


# --- the generator -------------------------------------------------------------------------
@dataclass
class _OrderDraft:
    order: ExamOrder
    fate: str
    steps: list[tuple[str, Staff | None, dt.datetime, str]] = field(default_factory=list)
    reader: Staff | None = None
    pulse: int | None = None


@dataclass
class TrafficSummary:
    visits: int = 0
    observations: int = 0
    orders: int = 0
    transitions: int = 0
    reports: int = 0
    credits: int = 0
    alerts: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    alerts_by_status: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class _Traffic:
    def __init__(self, world: _World, rng: random.Random) -> None:
        self.w = world
        self.rng = rng
        self.now = world.now
        self.visits: list[Visit] = []
        self.observations: list[Observation] = []
        self.alerts: list[CriticalAlert] = []
        self.orders: list[_OrderDraft] = []
        self.accessions: set[str] = set()
        self.rules: dict[str, list[CriticalRule]] = {}
        for rule in CriticalRule.objects.filter(is_active=True).order_by("code", "pk"):
            self.rules.setdefault(rule.code, []).append(rule)
        codes = [c for c in SERVICE_WEIGHTS if c in world.readers and c in world.services]
        self.codes = codes
        self.code_weights = [SERVICE_WEIGHTS[c] for c in codes]

    # -- building blocks
    def minutes(self, low: float, high: float) -> dt.timedelta:
        return dt.timedelta(minutes=self.rng.uniform(low, high))

    def daytime(self, days_back: int) -> dt.datetime:
        """A working-hours moment (most visits in the morning) ``days_back`` days ago."""
        day = timezone.localdate(self.now) - dt.timedelta(days=days_back)
        hour = _clamp(self.rng.gauss(10.5, 2.6), 7.5, 18.8)
        naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=hour)
        return timezone.make_aware(naive).replace(microsecond=0)

    def accession(self, at: dt.datetime) -> str:
        while True:
            number = f"WH{timezone.localtime(at):%y%m%d}{self.rng.getrandbits(32):08X}"
            if number not in self.accessions:
                self.accessions.add(number)
                return number

    def rule_for(self, code: str, value: Decimal) -> CriticalRule | None:
        """critical.matching_rule over the rules read once (it queries per observation); the
        tests check both agree on every generated value."""
        for rule in self.rules.get(code, ()):
            if rule.match_any:
                return rule
            low, high = rule.low, rule.high
            if low is not None and (value <= low if rule.low_inclusive else value < low):
                return rule
            if high is not None and (value >= high if rule.high_inclusive else value > high):
                return rule
        return None

    def pick_service(self, person: _Person, at: dt.datetime) -> str:
        while True:
            code = self.rng.choices(self.codes, weights=self.code_weights)[0]
            if code == "US-OB" and "pregnant" not in person.tags:
                continue
            return code

    def visit(
        self, person: _Person, doctor: Staff, at: dt.datetime, *, complaint: str,
        critical_kind: str = "", alert_fate: str = "",
    ) -> tuple[Visit, int | None]:  # fmt: skip
        village = self.w.villages[person.village_id]
        visit = Visit(
            resident_id=person.pk,
            institution=village,
            performed_by=doctor,
            setting=self.rng.choices(
                [VisitSetting.CLINIC, VisitSetting.HOME, VisitSetting.CIRCUIT], [70, 22, 8]
            )[0],
            visited_at=at,
            complaint=complaint,
        )
        self.visits.append(visit)
        data = _vitals(self.rng, person, at, complaint, critical_kind)
        pulse = int(data["pulse"])
        for measured in vitals.validate(data):
            obs = Observation(
                resident_id=person.pk, visit=visit, code=measured.vital.code,
                name=vitals.stored_name(measured.vital), value=measured.value, unit=measured.vital.unit,
                reference_low=measured.vital.normal[0], reference_high=measured.vital.normal[1],
                flag=measured.flag, source=ObservationSource.DEVICE, observed_at=at,
                recorded_by=doctor, institution=village,
            )  # fmt: skip
            self.observations.append(obs)
            rule = self.rule_for(obs.code, obs.value) if measured.flag != "N" else None
            if rule is not None:
                self.raise_alert(obs, rule, person, doctor, village, at, alert_fate)
        return visit, pulse

    def raise_alert(self, obs, rule, person, doctor, village, at, fate: str) -> None:
        # As critical.check does: the observation is marked, the alert goes to the doctor.
        obs.is_critical = True
        obs.flag = "LL" if rule.low is not None and obs.value < rule.low else "HH"
        alert = CriticalAlert(
            resident_id=person.pk, observation=obs, rule=rule, message=rule.message,
            value_shown=str(obs), notify=doctor, institution=village,
            township_id=village.parent_id, raised_at=at, status=AlertStatus.OPEN,
        )  # fmt: skip
        fate = fate or AlertStatus.ACKNOWLEDGED
        if fate == AlertStatus.ESCALATED:
            alert.status, alert.escalated_at = fate, at + self.w.escalate
        elif fate == AlertStatus.ACKNOWLEDGED:
            late = self.rng.random() < 0.15  # some only after escalation to the township
            delay = self.minutes(18, 55) if late else self.minutes(2, 13)
            alert.status = AlertStatus.ACKNOWLEDGED
            alert.acknowledged_at = min(at + delay, self.now - dt.timedelta(minutes=1))
            alert.acknowledged_by = doctor
            alert.action_taken = self.rng.choice(ALERT_ACTIONS)
            if late:
                alert.escalated_at = at + self.w.escalate
        self.alerts.append(alert)

    def new_order(self, person: _Person, doctor: Staff, visit: Visit, code: str, priority: str,
                  created: dt.datetime, fate: str, pulse: int | None) -> _OrderDraft:  # fmt: skip
        service = self.w.services[code]
        order = ExamOrder(
            accession_number=self.accession(created),
            resident_id=person.pk,
            visit=visit,
            service=service,
            center=service.center,
            priority=priority,
            priority_rank=PRIORITY_RANK[priority],
            clinical_question=self.rng.choice(QUESTIONS[service.center.kind]),
            requested_by=doctor,
            requesting_institution=self.w.villages[person.village_id],
            status=S.DRAFT,
        )
        draft = _OrderDraft(order=order, fate=fate, pulse=pulse)
        draft.steps.append((S.DRAFT, doctor, created, ""))
        self.orders.append(draft)
        return draft

    def reader_for(self, code: str, *, live: bool = False, avoid: Staff | None = None) -> Staff:
        choices = self.w.readers[code]
        if live and self.w.demo_reader is not None and len(choices) > 1:
            # Only the planned order is held by the demo reader right now.
            choices = [r for r in choices if r.pk != self.w.demo_reader.pk] or choices
        if avoid is not None and len(choices) > 1:
            choices = [r for r in choices if r.pk != avoid.pk] or choices
        return self.rng.choice(choices)

    # -- the paths of an order
    def read(self, d: _OrderDraft, start: dt.datetime, sla: dt.timedelta, *, prelim: bool,
             reclaim: bool = False, latest: dt.datetime | None = None) -> dt.datetime:  # fmt: skip
        """Claim → (save) → sign from ``start`` (submission): most within the SLA, some
        breaching it; never later than ``latest``. Returns the signing time."""
        rng, code = self.rng, d.order.service.code
        share = rng.uniform(0.15, 0.95) if rng.random() < 0.88 else rng.uniform(1.05, 2.6)
        tat = sla * share
        if latest is not None:
            tat = min(tat, (latest - start) * 0.9)
        claim_at = start + tat * rng.uniform(0.25, 0.7)
        sign_at = start + tat
        reader = self.reader_for(code)
        d.steps.append((S.CLAIMED, reader, claim_at, ""))
        if reclaim:
            # Drawn whether or not it fits before ``latest``: what the seed decides must not
            # depend on the hour the demo is seeded at.
            other = self.reader_for(code, avoid=reader)
            expired = claim_at + self.w.lease + self.minutes(1, 20)
            after = expired + self.minutes(3, 15)
            if latest is None or after < latest:
                d.steps.append((S.CLAIMED, other, expired, "lease_expired"))
                reader, claim_at, sign_at = other, expired, max(sign_at, after)
        if prelim:
            d.steps.append(
                (S.PRELIMINARY, reader, claim_at + (sign_at - claim_at) * rng.uniform(0.3, 0.8), "")
            )
        d.steps.append((S.SIGNED, reader, sign_at, ""))
        d.reader = reader
        return sign_at

    def acknowledge(self, d: _OrderDraft, signed: dt.datetime) -> None:
        hours = min(self.rng.lognormvariate(1.0, 0.9), 40)
        at = signed + dt.timedelta(hours=hours)
        latest = self.now - dt.timedelta(minutes=2)
        share = self.rng.uniform(0.3, 0.9)  # drawn always (see read)
        if at > latest:
            at = signed + (latest - signed) * share
        d.steps.append((S.ACKNOWLEDGED, d.order.requested_by, at, ""))

    def historical_path(self, d: _OrderDraft, created: dt.datetime) -> None:
        rng, fate, kind = self.rng, d.fate, d.order.center.kind
        doctor = d.order.requested_by
        sla = dt.timedelta(minutes=self.w.sla_minutes(d.order.service, d.order.priority))
        latest = self.now - dt.timedelta(minutes=30)
        if fate == Fate.CANCEL_DRAFT:
            d.steps.append(
                (
                    S.CANCELLED,
                    doctor,
                    created + self.minutes(3, 40),
                    rng.choice(DRAFT_CANCEL_REASONS),
                )
            )
            return
        submitted = created + self.minutes(0.5, 6)
        d.steps.append((S.SUBMITTED, doctor, submitted, ""))
        if fate == Fate.CANCEL_SUBMITTED:
            d.steps.append(
                (
                    S.CANCELLED,
                    doctor,
                    submitted + min(sla * 0.3, self.minutes(5, 50)),
                    rng.choice(CANCEL_REASONS),
                )
            )
            return
        if fate in (Fate.RETURNED, Fate.ACK_RESUBMIT, Fate.CANCEL_RETURNED):
            reader = self.reader_for(d.order.service.code)
            claim_at = submitted + min(sla * 0.4, self.minutes(3, 45))
            returned = claim_at + self.minutes(1, 8)
            d.steps.append((S.CLAIMED, reader, claim_at, ""))
            d.steps.append((S.RETURNED, reader, returned, rng.choice(RETURN_REASONS[kind])))
            if fate == Fate.RETURNED:
                return
            if fate == Fate.CANCEL_RETURNED:
                at = min(returned + self.minutes(30, 300), self.now - self.minutes(5, 30))
                d.steps.append((S.CANCELLED, doctor, at, rng.choice(RETURNED_CANCEL_REASONS)))
                return
            submitted = min(returned + self.minutes(25, 240), latest - dt.timedelta(hours=1))
            d.steps.append((S.SUBMITTED, doctor, submitted, "已重新采集"))
        signed = self.read(
            d, submitted, sla, prelim=fate == Fate.ACK_PRELIM or rng.random() < 0.2,
            reclaim=fate == Fate.ACK_RECLAIM, latest=latest,
        )  # fmt: skip
        if fate != Fate.SIGNED_WAIT:
            self.acknowledge(d, signed)

    def live_times(self, fate: str, sla: dt.timedelta) -> dt.datetime:
        """When an order with a live fate was created, counted back from now."""
        now, m = self.now, self.minutes
        if fate == Fate.DRAFT:
            return now - m(4, 80)
        if fate == Fate.WAITING:
            return now - sla * self.rng.uniform(0.05, 0.85) - m(1, 4)
        if fate == Fate.OVERDUE:
            return now - sla * self.rng.uniform(1.1, 2.2) - m(1, 4)
        if fate in (Fate.CLAIMED, Fate.PRELIMINARY):
            return now - min(sla * 0.6, m(20, 110)) - m(25, 29)
        if fate == Fate.SIGNED_FRESH:
            return now - min(sla * 1.2, m(60, 240)) - m(40, 200)
        return now - m(60, 300)  # returned

    def live_path(
        self, d: _OrderDraft, created: dt.datetime, *, reader: Staff | None = None
    ) -> None:
        rng, fate, now = self.rng, d.fate, self.now
        doctor, code = d.order.requested_by, d.order.service.code
        sla = dt.timedelta(minutes=self.w.sla_minutes(d.order.service, d.order.priority))
        if fate == Fate.DRAFT:
            return
        submitted = created + self.minutes(0.2, 0.9)
        d.steps.append((S.SUBMITTED, doctor, submitted, ""))
        if fate in (Fate.WAITING, Fate.OVERDUE):
            return
        if fate in (Fate.CLAIMED, Fate.PRELIMINARY):
            reader = reader or self.reader_for(code, live=True)
            claim_at = now - (self.minutes(1, 20) if fate == Fate.CLAIMED else self.minutes(12, 27))
            claim_at = max(claim_at, submitted + self.minutes(0.5, 2))
            d.steps.append((S.CLAIMED, reader, claim_at, ""))
            if fate == Fate.PRELIMINARY:
                d.steps.append((S.PRELIMINARY, reader, now - self.minutes(1, 10), ""))
            d.reader = reader
            return
        if fate == Fate.RETURNED_FRESH:
            reader = self.reader_for(code)
            claim_at = submitted + self.minutes(3, 30)
            d.steps.append((S.CLAIMED, reader, claim_at, ""))
            d.steps.append(
                (
                    S.RETURNED,
                    reader,
                    claim_at + self.minutes(1, 8),
                    rng.choice(RETURN_REASONS[d.order.center.kind]),
                )
            )
            return
        # Signed in the last hours, awaiting acknowledgement.
        self.read(d, submitted, sla, prelim=rng.random() < 0.5, latest=now - self.minutes(2, 30))

    # -- the week
    def week(self, n_visits: int) -> None:
        rng, w = self.rng, self.w
        n_live = max(MIN_LIVE, round(n_visits * LIVE_SHARE))
        n_hist = max(0, n_visits - n_live)
        picked = rng.choices(w.residents, cum_weights=w.cum_weights, k=n_hist + n_live)
        # Past days: a working week, lighter at the weekend.
        days = list(range(1, DAYS + 1))
        today = timezone.localdate(self.now)
        day_weights = [0.6 if (today - dt.timedelta(days=d)).isoweekday() > 5 else 1 for d in days]
        hist_orders: list[tuple[_Person, Staff, Visit, str, str, dt.datetime, int]] = []
        for person in picked[:n_hist]:
            at = self.daytime(rng.choices(days, day_weights)[0])
            doctor = rng.choice(w.doctors[person.village_id])
            code = self.pick_service(person, at)
            visit, pulse = self.visit(person, doctor, at, complaint=rng.choice(COMPLAINTS[code]))
            count = rng.choices([0, 1, 2, 3], [8, 70, 18, 4])[0]
            codes = [code] + [self.pick_service(person, at) for _ in range(count - 1)]
            for code in dict.fromkeys(codes[:count]):
                priority = rng.choices(list(Priority.values), [1.5, 11, 87.5])[0]
                hist_orders.append((person, doctor, visit, code, priority, at, pulse))
        for (person, doctor, visit, code, priority, at, pulse), fate in zip(
            hist_orders, _fates(rng, HISTORICAL_WEIGHTS, len(hist_orders)), strict=True
        ):
            created = at + self.minutes(3, 20)
            d = self.new_order(person, doctor, visit, code, priority, created, fate, pulse)
            self.historical_path(d, created)
        for person, fate in zip(picked[n_hist:], _fates(rng, LIVE_WEIGHTS, n_live), strict=True):
            doctor = rng.choice(w.doctors[person.village_id])
            self.live_order(person, doctor, fate)
        self.criticals(n_visits)

    def live_order(self, person: _Person, doctor: Staff, fate: str, *, code: str = "",
                   priority: str = "", reader: Staff | None = None,
                   critical_kind: str = "", alert_fate: str = "",
                   created: dt.datetime | None = None,
                   visit_at: dt.datetime | None = None) -> _OrderDraft:  # fmt: skip
        rng = self.rng
        code = code or self.pick_service(person, self.now)
        priority = priority or rng.choices(list(Priority.values), [3, 15, 82])[0]
        sla = dt.timedelta(minutes=self.w.sla_minutes(self.w.services[code], priority))
        if visit_at is not None:
            created = visit_at + self.minutes(1, 3)
        created = (created or self.live_times(fate, sla)).replace(microsecond=0)
        at = visit_at or created - self.minutes(3, 15)
        visit, pulse = self.visit(
            person, doctor, at, complaint=rng.choice(COMPLAINTS[code]),
            critical_kind=critical_kind, alert_fate=alert_fate,
        )  # fmt: skip
        d = self.new_order(person, doctor, visit, code, priority, created, fate, pulse)
        self.live_path(d, created, reader=reader)
        return d

    def criticals(self, n_visits: int) -> None:
        """A few critical values: most acknowledged in minutes on past days, two open now,
        one overdue and escalated to the township."""
        rng, w = self.rng, self.w
        kinds = ["sbp", "spo2", "glucose"]
        n_ack = max(3, round(n_visits * 0.01))
        for i in range(n_ack):
            person = rng.choices(w.residents, cum_weights=w.cum_weights)[0]
            at = self.daytime(rng.randint(1, DAYS))
            doctor = rng.choice(w.doctors[person.village_id])
            kind = kinds[i % 3]
            visit, pulse = self.visit(
                person, doctor, at, complaint="头晕、胸闷" if kind == "sbp" else "气短、乏力",
                critical_kind=kind, alert_fate=AlertStatus.ACKNOWLEDGED,
            )  # fmt: skip
            code = "ECG12" if "ECG12" in self.codes else self.codes[0]
            d = self.new_order(
                person, doctor, visit, code, Priority.STAT, at + self.minutes(2, 6), Fate.ACK, pulse
            )
            self.historical_path(d, d.steps[0][2])
        # Live: one open (a few minutes old, stat ECG waiting), one escalated (unanswered).
        for fate, alert_fate, back in (
            (Fate.WAITING, AlertStatus.OPEN, (3, 9)),
            (Fate.SIGNED_FRESH, AlertStatus.ESCALATED, (60, 150)),
        ):
            person = rng.choices(w.residents, cum_weights=w.cum_weights)[0]
            doctor = rng.choice(w.doctors[person.village_id])
            self.live_order(
                person, doctor, fate, code="ECG12", priority=Priority.STAT,
                critical_kind=rng.choice(kinds), alert_fate=alert_fate,
                visit_at=(self.now - self.minutes(*back)).replace(microsecond=0),
            )  # fmt: skip

    def demo_logins(self) -> None:
        """The demo village doctor's own week and the demo reader's held order."""
        w, rng = self.w, self.rng
        doctor = w.demo_doctor
        village = next(
            (pk for pk, v in w.villages.items() if v.code == DEMO_DOCTOR.institution_code), None
        )
        people = w.by_village.get(village, []) if doctor is not None else []
        if not people or "ECG12" not in self.codes:
            return
        person = itertools.cycle(sorted(people, key=lambda p: p.birth))  # oldest first
        # A critical blood pressure a few minutes ago: open alert, stat ECG in the queue.
        self.live_order(
            next(person), doctor, Fate.WAITING, code="ECG12", priority=Priority.STAT,
            critical_kind="sbp", alert_fate=AlertStatus.OPEN,
            visit_at=(self.now - self.minutes(4, 9)).replace(microsecond=0),
        )  # fmt: skip
        # An ECG the demo reader is reading right now.
        self.live_order(
            next(person), doctor, Fate.CLAIMED, code="ECG12", priority=Priority.URGENT,
            reader=w.demo_reader if w.demo_reader and w.demo_reader in w.readers["ECG12"] else None,
        )  # fmt: skip
        us = "US-ABD" if "US-ABD" in self.codes else "ECG12"
        self.live_order(next(person), doctor, Fate.SIGNED_FRESH, code=us, priority=Priority.ROUTINE)
        self.live_order(next(person), doctor, Fate.DRAFT, code="ECG12", priority=Priority.ROUTINE)
        self.live_order(next(person), doctor, Fate.WAITING, code=us, priority=Priority.ROUTINE)
        for fate, days_back in (
            (Fate.ACK, 3),
            (Fate.ACK_PRELIM, 2),
            (Fate.SIGNED_WAIT, 1),
            (Fate.RETURNED, 1),
        ):
            resident = next(person)
            at = self.daytime(days_back)
            visit, pulse = self.visit(
                resident, doctor, at, complaint=rng.choice(COMPLAINTS["ECG12"])
            )
            created = at + self.minutes(3, 12)
            d = self.new_order(
                resident, doctor, visit, "ECG12", Priority.ROUTINE, created, fate, pulse
            )
            self.historical_path(d, created)

    # -- replay the steps into rows
    def rows(self) -> tuple[list[OrderTransition], list[Report], list[PerformanceCredit]]:
        transitions, reports_, credits = [], [], []
        lease = self.w.lease
        for d in self.orders:
            order = d.order
            report: Report | None = None
            previous = ""
            for to, actor, at, reason in d.steps:
                at = at.replace(microsecond=0)
                if previous and (previous, to) not in TRANSITIONS:  # pragma: no cover
                    raise AssertionError(f"illegal demo transition {previous} → {to}")
                transitions.append(
                    OrderTransition(
                        order=order,
                        from_status=previous,
                        to_status=to,
                        actor=actor,
                        at=at,
                        reason=reason,
                    )
                )
                if to == S.DRAFT:
                    order.created_at = at
                elif to == S.SUBMITTED:
                    order.submitted_at, order.status_reason = at, ""
                    order.claimed_by = order.claimed_at = order.lease_expires_at = None
                elif to == S.CLAIMED:
                    order.claimed_by, order.claimed_at, order.lease_expires_at = (
                        actor,
                        at,
                        at + lease,
                    )
                elif to == S.PRELIMINARY:
                    order.lease_expires_at = at + lease
                    report = self.report(d, actor, at)
                elif to == S.SIGNED:
                    order.signed_at, order.lease_expires_at = at, None
                    report = report or self.report(d, actor, at)
                    report.status, report.signed_by, report.signed_at = (
                        ReportStatus.SIGNED,
                        actor,
                        at,
                    )
                    report.updated_at = at
                    report.content_sha256 = reports.digest(report)
                    for credit in credit_rows(
                        order, reader_id=actor.pk, now=at, shares=self.w.shares
                    ):
                        credit.created_at = at
                        credits.append(credit)
                elif to == S.RETURNED:
                    order.status_reason = reason
                    order.claimed_by = order.claimed_at = order.lease_expires_at = None
                elif to == S.CANCELLED:
                    order.status_reason = reason
                elif to == S.ACKNOWLEDGED:
                    order.acknowledged_at, order.acknowledged_by = at, actor
                order.status, order.updated_at, previous = to, at, to
            if report is not None:
                reports_.append(report)
        return transitions, reports_, credits

    def report(self, d: _OrderDraft, author: Staff, at: dt.datetime) -> Report:
        findings, text, impression, abnormal = _report_content(self.rng, d.order.service, d.pulse)
        return Report(
            order=d.order, version=1, status=ReportStatus.PRELIMINARY, findings=findings,
            findings_text=text, impression=impression, is_abnormal=abnormal, author=author,
            created_at=at, updated_at=at,
        )  # fmt: skip


# --- writing -------------------------------------------------------------------------------
def _restore_times(model, rows: list, fields: list[str]) -> None:
    """bulk_create stamps auto_now(_add) fields with the present; put the week's times back
    (one prepared UPDATE executed for all rows)."""
    ops = connection.ops
    table = ops.quote_name(model._meta.db_table)
    columns = ", ".join(f"{ops.quote_name(model._meta.get_field(f).column)} = %s" for f in fields)
    params = [
        [ops.adapt_datetimefield_value(getattr(row, f)) for f in fields] + [row.pk] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {columns} WHERE id = %s", params)  # noqa: S608


def _insert(model, rows: list) -> None:
    """Insert rows whose ids nothing refers to, as they are (times included: no auto_now
    stamping), with one prepared INSERT — several times faster than bulk_create for the
    week's thousands of observations, transitions and credits."""
    if not rows:
        return
    db = connections[router.db_for_write(model)]  # the wrapper itself, not the proxy
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    relations = [f for f in fields if f.is_relation]
    ops = db.ops
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 — names from the model
        ops.quote_name(model._meta.db_table),
        ", ".join(ops.quote_name(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    params = []
    for row in rows:
        for f in relations:  # a related object saved after the row was built
            if f.is_cached(row) and getattr(row, f.attname) is None:
                related = f.get_cached_value(row)
                setattr(row, f.attname, related.pk if related is not None else None)
        params.append([f.get_db_prep_save(getattr(row, f.attname), db) for f in fields])
    with db.cursor() as cursor:
        for start in range(0, len(params), BATCH):
            cursor.executemany(sql, params[start : start + BATCH])


def _write(t: _Traffic) -> TrafficSummary:
    transitions, report_rows, credits = t.rows()
    # bulk_create overwrites these with the present; keep what the week says.
    order_times = [(d.order.created_at, d.order.updated_at) for d in t.orders]
    Visit.objects.bulk_create(t.visits, batch_size=BATCH)
    Visit.objects.filter(pk__in=[v.pk for v in t.visits]).update(created_at=F("visited_at"))
    # Alerts refer to the critical observations: those need their ids.
    Observation.objects.bulk_create([o for o in t.observations if o.is_critical])
    _insert(Observation, [o for o in t.observations if not o.is_critical])
    orders = [d.order for d in t.orders]
    ExamOrder.objects.bulk_create(orders, batch_size=BATCH)
    for order, (created, updated) in zip(orders, order_times, strict=True):
        order.created_at, order.updated_at = created, updated
    _restore_times(ExamOrder, orders, ["created_at", "updated_at"])
    _insert(OrderTransition, transitions)
    _insert(Report, report_rows)
    _insert(PerformanceCredit, credits)
    first_order: dict[int, ExamOrder] = {}
    for order in orders:
        first_order.setdefault(order.visit_id, order)
    for alert in t.alerts:
        alert.order = first_order.get(alert.observation.visit_id)
    CriticalAlert.objects.bulk_create(t.alerts, batch_size=BATCH)
    return TrafficSummary(
        visits=len(t.visits),
        observations=len(t.observations),
        orders=len(orders),
        transitions=len(transitions),
        reports=len(report_rows),
        credits=len(credits),
        alerts=len(t.alerts),
        by_status=dict(sorted(Counter(o.status for o in orders).items())),
        alerts_by_status=dict(sorted(Counter(a.status for a in t.alerts).items())),
    )


def simulate(seed: int, world: _World) -> _Traffic:
    """The week in memory (nothing written): the county's traffic, then the demo logins'."""
    traffic = _Traffic(world, _stream(seed))
    doctors = sum(len(staff) for staff in world.doctors.values())
    traffic.week(visits_for(len(world.residents), doctors))
    traffic.demo_logins()
    return traffic


def visits_for(residents: int, doctors: int) -> int:
    """A week's Walking Hospital visits: in proportion to the village residents, but no more
    than the village doctors can make (a larger county has more residents per doctor, since
    staffing follows the villages, not the resident count)."""
    if not residents or not doctors:
        return 0
    capacity = round(doctors * DAYS * VISITS_PER_DOCTOR_DAY)
    return max(MIN_VISITS, min(round(residents * VISITS_PER_RESIDENT), capacity))


def load_traffic(
    seed: int, *, now: dt.datetime | None = None, progress: Progress | None = None
) -> TrafficSummary:
    """Install the catalog at the lead hospital, staff the centers with their readers and
    write a week of Walking Hospital traffic ending ``now``. Deterministic for a seed (times
    are counted back from ``now``). One transaction."""
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    now = (now or timezone.now()).replace(microsecond=0)
    with transaction.atomic():
        ensure_critical_rules()
        hospital = Institution.objects.get(code=LEAD_HOSPITAL)
        centers = catalog.install(hospital)
        _assign_readers(centers)
        world = _world(centers, now)
        if not world.residents or not world.readers:
            return TrafficSummary(seconds=time.perf_counter() - started)
        summary = _write(simulate(seed, world))
        audit.log(
            audit.Action.CREATE,
            object_type="demo.telemed_traffic",
            object_id=seed,
            institution=hospital,
            detail={"seed": seed, "orders": summary.orders, "visits": summary.visits},
        )
    summary.seconds = time.perf_counter() - started
    say(
        f"{summary.visits} Walking Hospital visits, {summary.orders} exam orders, "
        f"{summary.reports} reports, {summary.alerts} critical values"
    )
    return summary
