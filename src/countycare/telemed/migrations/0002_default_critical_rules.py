"""Default critical-value rules (issue 3; WH-07 recognition of critical illness). A county
edits them in the admin; codes are LOINC for vitals and ``ECG:*`` for pre-read findings."""

from decimal import Decimal

from django.db import migrations

D = Decimal
RULES = [
    # code, name, low (below), high (at or above), message
    ("59408-5", "SpO2", D(90), None, "血氧饱和度低于90%"),
    ("1558-6", "空腹血糖", D("2.8"), D("22.2"), "血糖危急值（<2.8 或 >22.2 mmol/L）"),
    ("2339-0", "随机血糖", D("2.8"), D("22.2"), "血糖危急值（<2.8 或 >22.2 mmol/L）"),
    ("8480-6", "收缩压", None, D(180), "收缩压≥180 mmHg"),
    ("8462-4", "舒张压", None, D(110), "舒张压≥110 mmHg"),
    ("8867-4", "脉搏", D(40), D(150), "脉搏<40 或 ≥150 次/分"),
    ("8310-5", "体温", D(35), D("41.0"), "体温<35 或 ≥41 ℃"),
]
FINDINGS = [
    ("ECG:VF", "心室颤动", "心电图危急值：心室颤动"),
    ("ECG:VT", "室性心动过速", "心电图危急值：室性心动过速"),
    ("ECG:ASYSTOLE", "心搏停止", "心电图危急值：心搏停止"),
    ("ECG:STEMI", "急性ST段抬高型心肌梗死", "心电图危急值：疑似急性ST段抬高型心肌梗死"),
    ("ECG:AVB3", "三度房室传导阻滞", "心电图危急值：三度房室传导阻滞"),
    ("ECG:LONG_PAUSE", "长RR间期（>3秒）", "心电图危急值：RR长间歇>3秒"),
]


def add(apps, schema_editor):
    CriticalRule = apps.get_model("telemed", "CriticalRule")
    # Codes that have a rule are skipped: also run after a flush (countycare.core.seeds).
    have = set(CriticalRule.objects.values_list("code", flat=True))
    for code, name, low, high, message in RULES:
        if code not in have:
            CriticalRule.objects.create(
                code=code, name=name, low=low, high=high, low_inclusive=False,
                high_inclusive=True, message=message,
            )  # fmt: skip
    for code, name, message in FINDINGS:
        if code not in have:
            CriticalRule.objects.create(code=code, name=name, match_any=True, message=message)


def remove(apps, schema_editor):
    apps.get_model("telemed", "CriticalRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("telemed", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
