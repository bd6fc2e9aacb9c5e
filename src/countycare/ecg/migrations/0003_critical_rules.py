"""Critical-value rules for the ECG pre-read findings that telemed's defaults do not have
(issue 10 triage): AF with rapid ventricular response and a heart rate < 40 or > 150 bpm.
Added only when missing (a county may already have edited its rules in the admin)."""

from decimal import Decimal

from django.db import migrations

RULES = [
    # code, name, low (below), high (above), message
    ("ECG:HR", "心率（心电图）", Decimal(40), Decimal(150), "心电图危急值：心率<40 或 >150 次/分"),
]
FINDINGS = [
    ("ECG:AFIB_RVR", "心房颤动伴快速心室率", "心电图危急值：心房颤动伴快速心室率"),
]


def add(apps, schema_editor):
    CriticalRule = apps.get_model("telemed", "CriticalRule")
    for code, name, low, high, message in RULES:
        if not CriticalRule.objects.filter(code=code).exists():
            CriticalRule.objects.create(
                code=code, name=name, low=low, high=high, low_inclusive=False,
                high_inclusive=False, message=message,
            )  # fmt: skip
    for code, name, message in FINDINGS:
        if not CriticalRule.objects.filter(code=code).exists():
            CriticalRule.objects.create(code=code, name=name, match_any=True, message=message)


def remove(apps, schema_editor):
    CriticalRule = apps.get_model("telemed", "CriticalRule")
    CriticalRule.objects.filter(code__in=[r[0] for r in RULES + FINDINGS]).delete()


class Migration(migrations.Migration):
    dependencies = [("ecg", "0002_preread_measurements"), ("telemed", "0002_default_critical_rules")]
    operations = [migrations.RunPython(add, remove)]
