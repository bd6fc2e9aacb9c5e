"""The lab's critical-value rules (issue 5), added to the Walking Hospital's configurable rules
(telemed.CriticalRule), which raise the alert the requesting doctor must acknowledge.

Thresholds in the test's canonical unit (lab.units): below ``low`` or at/above ``high``. The
numbers are those most Chinese hospital labs list in their 危急值 tables under the critical-
value reporting system (《医疗质量安全核心制度要点》, 2018, 危急值报告制度), which leaves
the numbers to each institution; the county's medical community sets its own in admin
(rows here are defaults, edited or deactivated there). Glucose on blood and fasting glucose
(2339-0, 1558-6) are the Walking Hospital's own rules already (telemed migration 0002).
"""

from decimal import Decimal

from django.db import migrations

D = Decimal
RULES = [
    # code, name, low (below), high (at or above), message
    ("6690-2", "白细胞计数", D("2.0"), D("30"), "白细胞计数危急值（<2.0 或 ≥30 ×10⁹/L）"),
    ("718-7", "血红蛋白", D("50"), D("200"), "血红蛋白危急值（<50 或 ≥200 g/L）"),
    ("777-3", "血小板计数", D("30"), D("1000"), "血小板计数危急值（<30 或 ≥1000 ×10⁹/L）"),
    ("2345-7", "血糖（血清/血浆）", D("2.8"), D("22.2"), "血糖危急值（<2.8 或 >22.2 mmol/L）"),
    ("14749-6", "血糖", D("2.8"), D("22.2"), "血糖危急值（<2.8 或 >22.2 mmol/L）"),
    ("1554-5", "空腹12小时血糖", D("2.8"), D("22.2"), "血糖危急值（<2.8 或 >22.2 mmol/L）"),
    ("2823-3", "血钾", D("2.8"), D("6.2"), "血钾危急值（<2.8 或 ≥6.2 mmol/L）"),
    ("2951-2", "血钠", D("120"), D("160"), "血钠危急值（<120 或 ≥160 mmol/L）"),
]


def add(apps, schema_editor):
    CriticalRule = apps.get_model("telemed", "CriticalRule")
    for code, name, low, high, message in RULES:
        if CriticalRule.objects.filter(code=code).exists():
            continue
        CriticalRule.objects.create(
            code=code, name=name, low=low, high=high, low_inclusive=False,
            high_inclusive=True, message=message,
        )  # fmt: skip


def remove(apps, schema_editor):
    CriticalRule = apps.get_model("telemed", "CriticalRule")
    CriticalRule.objects.filter(code__in=[r[0] for r in RULES], criticalalert__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("lab", "0006_analyzers_duplicates_ignore"),
        ("telemed", "0002_default_critical_rules"),
    ]

    operations = [migrations.RunPython(add, remove)]
