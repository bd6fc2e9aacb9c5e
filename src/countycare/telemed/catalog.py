"""The starter configuration of the shared centers (SHC-01, SHC-02, WH-03): five centers at
the lead hospital with their service catalogs, report templates and phrase libraries. A
county loads it once (``countycare demo`` does) and edits it in the admin; fees are the
region's typical service prices in yuan, costs the consumables and device amortisation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from countycare.organizations.models import Institution
from countycare.telemed.models import CenterKind, Modality, Phrase, Service, SharedCenter

D = Decimal

ECG_FIELDS = [
    {"key": "rhythm", "label": "节律"},
    {"key": "rate", "label": "心率", "unit": "次/分"},
    {"key": "pr", "label": "PR间期", "unit": "ms"},
    {"key": "qrs", "label": "QRS时限", "unit": "ms"},
    {"key": "qt_qtc", "label": "QT/QTc", "unit": "ms"},
    {"key": "axis", "label": "电轴", "unit": "°"},
    {"key": "st_t", "label": "ST-T"},
]
US_FIELDS = [
    {"key": "organs", "label": "所见脏器"},
    {"key": "measurements", "label": "测量"},
    {"key": "lesions", "label": "病灶"},
]
DR_FIELDS = [
    {"key": "lungs", "label": "肺野"},
    {"key": "heart", "label": "心影"},
    {"key": "bones", "label": "骨骼"},
]
LAB_FIELDS = [{"key": "comment", "label": "结果说明"}]
CONSULT_FIELDS = [
    {"key": "history", "label": "病史摘要"},
    {"key": "assessment", "label": "评估"},
    {"key": "plan", "label": "处理意见"},
]

# kind, name, opens, closes, weekdays, services: (code, name, modality, fee, cost, fields)
CENTERS = [
    (CenterKind.ECG, "远程心电中心", None, None, "1234567", [
        ("ECG12", "常规12导联心电图", Modality.ECG, D("30.00"), D("8.00"), ECG_FIELDS),
    ]),
    (CenterKind.ULTRASOUND, "远程超声中心", dt.time(8), dt.time(20), "1234567", [
        ("US-ABD", "腹部超声（肝胆胰脾肾）", Modality.ULTRASOUND, D("120.00"), D("35.00"), US_FIELDS),
        ("US-CARD", "心脏超声", Modality.ULTRASOUND, D("180.00"), D("50.00"), US_FIELDS),
        ("US-OB", "产科超声", Modality.ULTRASOUND, D("110.00"), D("30.00"), US_FIELDS),
        ("US-THY", "甲状腺超声", Modality.ULTRASOUND, D("70.00"), D("20.00"), US_FIELDS),
        ("US-VASC", "颈部血管超声", Modality.ULTRASOUND, D("120.00"), D("35.00"), US_FIELDS),
    ]),
    (CenterKind.IMAGING, "医学影像中心", None, None, "1234567", [
        ("DR-CHEST", "胸部正位DR", Modality.DR, D("70.00"), D("25.00"), DR_FIELDS),
    ]),
    (CenterKind.LAB, "医学检验中心", None, None, "1234567", [
        ("LAB-CBC", "血常规", Modality.LAB, D("20.00"), D("8.00"), LAB_FIELDS),
        ("LAB-UA", "尿常规", Modality.LAB, D("10.00"), D("4.00"), LAB_FIELDS),
        ("LAB-GLU", "血糖", Modality.LAB, D("8.00"), D("3.00"), LAB_FIELDS),
    ]),
    (CenterKind.OUTPATIENT, "远程门诊中心", dt.time(8), dt.time(17, 30), "12345", [
        ("RC-CARD", "远程会诊（心血管内科）", Modality.CONSULTATION, D("50.00"), D("5.00"),
         CONSULT_FIELDS),
        ("RC-RESP", "远程会诊（呼吸内科）", Modality.CONSULTATION, D("50.00"), D("5.00"),
         CONSULT_FIELDS),
        ("RC-ENDO", "远程会诊（内分泌科）", Modality.CONSULTATION, D("50.00"), D("5.00"),
         CONSULT_FIELDS),
    ]),
]  # fmt: skip

PHRASES = {
    CenterKind.ECG: {
        "findings": ["窦性心律", "心率正常", "各间期正常", "ST-T未见明显异常", "窦性心动过速",
                     "窦性心动过缓", "心房颤动", "房性早搏", "室性早搏", "完全性右束支传导阻滞",
                     "T波低平", "ST段压低"],
        "impression": ["正常心电图", "大致正常心电图", "异常心电图，请结合临床", "建议复查心电图",
                       "建议上级医院进一步诊治"],
    },
    CenterKind.ULTRASOUND: {
        "findings": ["肝脏大小形态正常，实质回声均匀", "胆囊壁光滑，腔内未见异常回声",
                     "双肾大小形态正常", "甲状腺大小形态正常，未见明显结节"],
        "impression": ["所见脏器未见明显异常", "脂肪肝", "胆囊结石", "甲状腺结节（TI-RADS 3类）",
                       "建议定期复查"],
    },
    CenterKind.IMAGING: {
        "findings": ["双肺纹理清晰，未见明显实变影", "心影大小形态正常", "双侧膈面光整，肋膈角锐利"],
        "impression": ["心肺膈未见明显异常", "双肺纹理增多", "建议CT进一步检查"],
    },
    CenterKind.LAB: {
        "findings": ["结果在参考范围内"],
        "impression": ["未见异常", "请结合临床"],
    },
    CenterKind.OUTPATIENT: {
        "findings": [],
        "impression": ["继续目前治疗，定期随访", "建议转诊至县级医院进一步诊治"],
    },
}  # fmt: skip


@transaction.atomic
def install(hospital: Institution) -> list[SharedCenter]:
    """Create (or complete) the five shared centers at ``hospital``. Idempotent."""
    centers = []
    for kind, name, opens, closes, weekdays, services in CENTERS:
        center, _ = SharedCenter.objects.get_or_create(
            institution=hospital,
            kind=kind,
            defaults={
                "name": name, "opens_at": opens, "closes_at": closes, "open_weekdays": weekdays,
            },
        )  # fmt: skip
        for code, sname, modality, fee, cost, fields in services:
            Service.objects.get_or_create(
                code=code,
                defaults={
                    "center": center, "name": sname, "modality": modality, "fee": fee,
                    "cost": cost, "report_template": fields,
                },
            )  # fmt: skip
        if not center.phrases.exists():
            for section, texts in PHRASES.get(kind, {}).items():
                Phrase.objects.bulk_create(
                    Phrase(center=center, section=section, text=t, sort=i)
                    for i, t in enumerate(texts)
                )
        centers.append(center)
    return centers
