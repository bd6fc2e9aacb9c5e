"""The demo county's lab (issue 5): the analyzers that send results — the lead hospital lab
center's Mindray BC-6800 (CBC) and its LIS (urinalysis from the Dirui H-500, glucose from the
chemistry analyzer), and a URIT-5160 the central township health center of 札萨克镇 put on
the network last week — and, with traffic, the week's lab results of the Walking Hospital's
CBC, urinalysis and glucose orders, sent as HL7 v2 messages through the real ingest
(``lab.ingest.ingest``: parsing, matching, reference ranges, critical values, audit), so the
turnaround dashboard, the residents' recognized results and the dead-letter list have what a
real week brings:

- results reported for the orders the lab center has signed or is reading, collected at the
  village before the order was sent and reported 40 minutes to 3½ hours later (the sample
  rides to the county; a share misses the 2-hour target of SHC-03);
- the values the center's signed report states (its comment names WBC, haemoglobin and
  platelets, the urine blocks, the glucose), so report and results agree;
- two critical values of the last hours (platelets 21 ×10⁹/L, glucose 24.6 mmol/L), whose
  alerts the requesting doctors must acknowledge;
- dead letters waiting for a person: the URIT-5160's CBCs under its own codes (waiting for
  the code table — map WBC, HGB, PLT and replay), an unknown medical record number, a
  haemoglobin sent in the wrong unit, a test message (processing ID T) from installation.

Deterministic for a seed: orders in accession order, values and times from a random stream
of the seed, times counted from the orders' own timestamps.
"""

from __future__ import annotations

import datetime as dt
import random
import re

from django.utils import timezone
from django.utils.translation import gettext

from countycare.demo.staff import LEAD_HOSPITAL, ZASAKE
from countycare.demo.steps import step
from countycare.lab.ingest import ingest
from countycare.lab.models import Analyzer, Hl7Message, MessageStatus
from countycare.organizations.models import Institution
from countycare.telemed.models import ExamOrder, Modality, OrderStatus, ReportStatus

CBC_ANALYZER = ("BC-6800", "Mindray")
LIS = ("LIS", "YJHLQ-RMYY-LAB")
TOWNSHIP_ANALYZER = ("URIT-5160", "ZSK-THC")
WITH_RESULTS = (
    OrderStatus.CLAIMED,
    OrderStatus.PRELIMINARY,
    OrderStatus.SIGNED,
    OrderStatus.ACKNOWLEDGED,
)


def _stamp(when: dt.datetime) -> str:
    return timezone.localtime(when).strftime("%Y%m%d%H%M%S")


def _msh(sender: tuple[str, str], when: dt.datetime, control_id: str, version: str = "2.3.1",
         processing: str = "P") -> str:  # fmt: skip
    return (
        f"MSH|^~\\&|{sender[0]}|{sender[1]}|COUNTYCARE|LAB|{_stamp(when)}||ORU^R01|{control_id}"
        f"|{processing}|{version}||||||UNICODE"
    )


def _pid(order: ExamOrder) -> str:
    r = order.resident
    family, given = r.name[:1], r.name[1:]
    return f"PID|1||{r.national_id}^^^CHN^NNCHN||{family}^{given}||{r.birth_date:%Y%m%d}|{r.sex}"


def _obr(order: ExamOrder, code: str, times: dict, *, filler: str) -> str:
    return (
        f"OBR|1|{order.accession_number}^COUNTYCARE|{filler}|{code}|||{_stamp(times['collected'])}"
        f"|||||||{_stamp(times['received'])}||||||||{_stamp(times['reported'])}|||F"
    )


def _obx(i: int, vt: str, code: str, name: str, value, unit: str, ref: str, flag: str,
         system: str = "LN") -> str:  # fmt: skip
    return f"OBX|{i}|{vt}|{code}^{name}^{system}||{value}|{unit}|{ref}|{flag}|||F"


def _cbc_values(order: ExamOrder, rng: random.Random) -> dict:
    """WBC, HGB, PLT from the signed report's comment when there is one (the demo's reports
    name them), else drawn; the rest drawn around normal."""
    text = ""
    report = next((r for r in order.reports.all() if r.status == ReportStatus.SIGNED), None)
    if report is not None:
        text = str((report.findings or {}).get("comment", ""))
    wbc = re.search(r"白细胞([\d.]+)", text)
    hgb = re.search(r"血红蛋白(\d+)", text)
    plt = re.search(r"血小板(\d+)", text)
    female = order.resident.sex == "F"
    return {
        "wbc": float(wbc[1]) if wbc else round(rng.uniform(4.0, 9.5), 2),
        "hgb": int(hgb[1]) if hgb else rng.randint(112, 150) if female else rng.randint(125, 165),
        "plt": int(plt[1]) if plt else rng.randint(140, 320),
    }


def _cbc(order, times, rng, control_id, *, critical_plt: int | None = None) -> str:
    v = _cbc_values(order, rng)
    if critical_plt is not None:
        v["plt"] = critical_plt
    female = order.resident.sex == "F"
    hgb_range = "115-150" if female else "130-175"
    neu = round(rng.uniform(45, 72), 1)
    lym = round(min(95 - neu, rng.uniform(20, 40)), 1)
    rbc = round(v["hgb"] / rng.uniform(29.5, 31.5), 2)
    hct = round(rbc * rng.uniform(8.6, 9.2), 1)
    rows = [
        ("6690-2", "WBC", f"{v['wbc']:.2f}", "10*9/L", "3.50-9.50"),
        ("770-8", "NEU%", f"{neu}", "%", "40.0-75.0"),
        ("736-9", "LYM%", f"{lym}", "%", "20.0-50.0"),
        ("751-8", "NEU#", f"{v['wbc'] * neu / 100:.2f}", "10*9/L", "1.80-6.30"),
        ("731-0", "LYM#", f"{v['wbc'] * lym / 100:.2f}", "10*9/L", "1.10-3.20"),
        ("789-8", "RBC", f"{rbc:.2f}", "10*12/L", "3.80-5.10" if female else "4.30-5.80"),
        ("718-7", "HGB", f"{v['hgb']}", "g/L", hgb_range),
        ("4544-3", "HCT", f"{hct}", "%", "35.0-45.0" if female else "40.0-50.0"),
        ("787-2", "MCV", f"{hct / rbc * 10:.1f}", "fL", "82.0-100.0"),
        ("785-6", "MCH", f"{v['hgb'] / rbc:.1f}", "pg", "27.0-34.0"),
        ("786-4", "MCHC", f"{v['hgb'] / hct * 100:.0f}", "g/L", "316-354"),
        ("777-3", "PLT", f"{v['plt']}", "10*9/L", "125-350"),
    ]
    segments = [
        _msh(CBC_ANALYZER, times["reported"], control_id),
        _pid(order),
        "PV1|1|门诊",
        _obr(order, "00001^Automated Count^99MRC", times, filler=f"S{order.pk:06d}"),
        "OBX|1|IS|08001^Take Mode^99MRC||O||||||F",
        "OBX|2|IS|08003^Test Mode^99MRC||CBC+DIFF||||||F",
    ]
    for i, (code, name, value, unit, ref) in enumerate(rows, start=3):
        segments.append(_obx(i, "NM", code, name, value, unit, ref, ""))
    return "\r".join(segments) + "\r"


def _urinalysis(order, times, rng, control_id) -> str:
    abnormal = any(
        r.is_abnormal for r in order.reports.all() if r.status == ReportStatus.SIGNED
    ) or (not order.reports.exists() and rng.random() < 0.3)
    rows = [
        ("NM", "5811-5", "尿比重 SG", f"{rng.choice([1.010, 1.015, 1.020, 1.025]):.3f}", "", "1.003-1.030"),
        ("NM", "5803-2", "酸碱度 pH", f"{rng.choice([5.5, 6.0, 6.5, 7.0]):.1f}", "", "4.5-8.0"),
        ("ST", "5804-0", "尿蛋白 PRO", "阴性", "g/L", "阴性"),
        ("ST", "5792-7", "尿糖 GLU", "阴性", "mmol/L", "阴性"),
        ("ST", "5797-6", "酮体 KET", "阴性", "mmol/L", "阴性"),
        ("ST", "5794-3", "隐血 BLD", "阴性", "Cell/uL", "阴性"),
        ("ST", "5799-2", "白细胞 LEU", "2+" if abnormal else "阴性", "Cell/uL", "阴性"),
        ("ST", "5802-4", "亚硝酸盐 NIT", "阳性(+)" if abnormal else "阴性", "", "阴性"),
        ("ST", "5770-3", "胆红素 BIL", "阴性", "umol/L", "阴性"),
        ("ST", "5818-0", "尿胆原 URO", "正常", "umol/L", "正常"),
    ]  # fmt: skip
    segments = [
        _msh(LIS, times["reported"], control_id, version="2.4"),
        _pid(order),
        _obr(order, "24357-6^尿液分析^LN", times, filler=f"U{order.pk:06d}^DIRUI-H500"),
    ]
    for i, (vt, code, name, value, unit, ref) in enumerate(rows, start=1):
        segments.append(_obx(i, vt, code, name, value, unit, ref, ""))
    return "\r".join(segments) + "\r"


def _glucose(order, times, rng, control_id, *, critical: float | None = None) -> str:
    value = critical
    if value is None:
        report = next((r for r in order.reports.all() if r.status == ReportStatus.SIGNED), None)
        found = re.search(r"血糖([\d.]+)", str((report.findings or {}).get("comment", ""))) if (
            report) else None  # fmt: skip
        value = float(found[1]) if found else round(rng.uniform(4.3, 7.8), 1)
    segments = [
        _msh(LIS, times["reported"], control_id, version="2.4"),
        _pid(order),
        _obr(order, "2345-7^葡萄糖^LN", times, filler=f"G{order.pk:06d}^BS-240"),
        _obx(1, "NM", "2345-7", "葡萄糖 GLU", f"{value:.1f}", "mmol/L", "3.9-6.1", ""),
    ]
    return "\r".join(segments) + "\r"


def _times(order: ExamOrder, rng: random.Random, now: dt.datetime) -> dict | None:
    """Specimen collected at the village, received at the county after the ride, reported;
    the whole from collection to report drawn (most within the 2 hours of SHC-03, a fifth
    later, a few much later). A signed order's results were reported shortly before the
    center signed; an order still being read has them once they are reported."""
    roll = rng.random()
    if roll < 0.75:
        tat = rng.randint(38, 118)
    elif roll < 0.93:
        tat = rng.randint(121, 185)
    else:
        tat = rng.randint(186, 260)
    ride = int(tat * rng.uniform(0.45, 0.75))
    if order.signed_at is not None:
        reported = order.signed_at - dt.timedelta(minutes=rng.randint(3, 25))
        collected = reported - dt.timedelta(minutes=tat)
    else:
        sent = order.submitted_at or order.created_at
        collected = sent - dt.timedelta(minutes=rng.randint(5, 25))
        reported = collected + dt.timedelta(minutes=tat)
    if reported > now:
        return None
    return {
        "collected": collected,
        "received": collected + dt.timedelta(minutes=ride),
        "reported": reported,
    }


def _analyzers(now: dt.datetime) -> None:
    lead = Institution.objects.filter(code=LEAD_HOSPITAL).first()
    township = Institution.objects.filter(code=ZASAKE).first()
    rows = [
        (CBC_ANALYZER, "迈瑞 BC-6800 血液分析仪", lead),
        (LIS, "检验信息系统（LIS）", lead),
        (TOWNSHIP_ANALYZER, "优利特 URIT-5160 血液分析仪", township),
    ]
    for (app, facility), name, place in rows:
        Analyzer.objects.update_or_create(
            sender=f"{app}|{facility}",
            defaults={"name": name, "institution": place, "first_seen": now - dt.timedelta(days=8)},
        )


def _dead_letters(orders: list[ExamOrder], rng: random.Random, now: dt.datetime,
                  done: set[int]) -> int:  # fmt: skip
    """What waits for a person (see the module docstring). ``done``: orders with results."""
    sent = 0
    open_cbc = [o for o in orders if o.status == OrderStatus.SUBMITTED and o.pk not in done
                and o.service.code == "LAB-CBC"]  # fmt: skip
    waiting = open_cbc[:3]
    for k, order in enumerate(waiting):
        at = now - dt.timedelta(hours=3 + 5 * k, minutes=rng.randint(0, 50))
        times = {"collected": at - dt.timedelta(minutes=70), "received": at - dt.timedelta(
            minutes=30), "reported": at}  # fmt: skip
        segments = [
            _msh(TOWNSHIP_ANALYZER, at, f"U5160{k + 1:05d}"),
            _pid(order),
            _obr(order, "CBC^血常规^99URT", times, filler=f"{k + 1:04d}"),
            _obx(1, "NM", "WBC", "白细胞", f"{rng.uniform(4.5, 9.0):.2f}", "10^9/L", "4.0-10.0", "",
                 "99URT"),
            _obx(2, "NM", "HGB", "血红蛋白", f"{rng.randint(118, 150)}", "g/L", "110-160", "",
                 "99URT"),
            _obx(3, "NM", "PLT", "血小板", f"{rng.randint(150, 300)}", "10^9/L", "100-300", "",
                 "99URT"),
        ]  # fmt: skip
        ingest("\r".join(segments) + "\r", received_at=at + dt.timedelta(seconds=20))
        sent += 1
    if orders:
        order = orders[-1]
        at = now - dt.timedelta(hours=26)
        times = {"collected": at - dt.timedelta(hours=1), "received": at - dt.timedelta(
            minutes=20), "reported": at}  # fmt: skip
        unknown = [
            _msh(LIS, at, "LIS-DL-0001", version="2.4"),
            "PID|1||MZ88231^^^ZSK-THC^MR||王^秀英||19580412|F",
            _obr(order, "2345-7^葡萄糖^LN", times, filler="L0099^LIS"),
            _obx(1, "NM", "2345-7", "葡萄糖 GLU", "6.8", "mmol/L", "3.9-6.1", "H"),
        ]
        ingest("\r".join(unknown) + "\r", received_at=at)
        wrong_unit = [
            _msh(CBC_ANALYZER, at + dt.timedelta(hours=2), "BC6800-DL-0002"),
            _pid(order),
            _obr(order, "00001^Automated Count^99MRC", times, filler="S-DL-2"),
            _obx(1, "NM", "6690-2", "WBC", "6.10", "10*9/L", "3.50-9.50", ""),
            _obx(2, "NM", "718-7", "HGB", "131", "10*12/L", "130-175", ""),
        ]
        ingest("\r".join(wrong_unit) + "\r", received_at=at + dt.timedelta(hours=2))
        test_message = [
            _msh(("UA-66", "ZSK-THC"), at + dt.timedelta(hours=5), "UA66-TEST-1", processing="T"),
            "PID|1||TEST^^^^MR||测试^样本",
            "OBR|1||TEST-1|24357-6^尿液分析^LN",
            _obx(1, "ST", "5804-0", "尿蛋白", "阴性", "", "", ""),
        ]
        ingest("\r".join(test_message) + "\r", received_at=at + dt.timedelta(hours=5))
        sent += 3
    return sent


@step("lab", order=25)
def seed_lab(seed: int, *, traffic: bool) -> str:
    now = timezone.now()
    _analyzers(now)
    if not traffic:
        return "3 analyzers"
    if Hl7Message.objects.exists():
        return "results already there"
    rng = random.Random(f"countycare-lab-demo:{seed}")  # noqa: S311 — demo data, not secrets
    orders = list(
        ExamOrder.objects.filter(service__modality=Modality.LAB)
        .exclude(status__in=[OrderStatus.DRAFT, OrderStatus.CANCELLED])
        .select_related("resident", "service")
        .prefetch_related("reports")
        .order_by("accession_number")
    )
    recent = [o for o in orders if o.status in WITH_RESULTS and o.submitted_at
              and now - o.submitted_at < dt.timedelta(hours=20)]  # fmt: skip
    critical = {}
    cbc_recent = [o for o in recent if o.service.code == "LAB-CBC"]
    glu_recent = [o for o in recent if o.service.code == "LAB-GLU"]
    if cbc_recent:
        critical[cbc_recent[0].pk] = ("plt", 21)
    if glu_recent:
        critical[glu_recent[0].pk] = ("glu", 24.6)
    accepted = 0
    done: set[int] = set()
    for n, order in enumerate(orders, start=1):
        if order.status not in WITH_RESULTS and not (
            order.status == OrderStatus.SUBMITTED and rng.random() < 0.3
        ):
            continue
        times = _times(order, rng, now)
        if times is None:
            continue
        control_id = f"DEMO{seed % 1000:03d}{n:06d}"
        kind, value = critical.get(order.pk, (None, None))
        if order.service.code == "LAB-CBC":
            text = _cbc(order, times, rng, control_id, critical_plt=value if kind else None)
        elif order.service.code == "LAB-UA":
            text = _urinalysis(order, times, rng, control_id)
        else:
            text = _glucose(order, times, rng, control_id, critical=value if kind else None)
        arrived = times["reported"] + dt.timedelta(seconds=rng.randint(5, 90))
        result = ingest(text, received_at=arrived)
        if result.message.status == MessageStatus.ACCEPTED:
            accepted += 1
            done.add(order.pk)
    dead = _dead_letters(orders, rng, now, done)
    return gettext("3 analyzers, %(accepted)s result messages, %(dead)s dead letters") % {
        "accepted": accepted,
        "dead": dead,
    }
