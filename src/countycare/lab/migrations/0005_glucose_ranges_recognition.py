"""Reference ranges for the glucose meter's two tests (issue 5, typed-in results) and result
recognition for the results stored before it existed.

Fasting glucose (1558-6): 3.9-6.1 mmol/L, as the lab's fasting plasma glucose (全国临床检验操作
规程, 4th ed.). Random glucose (2339-0): 3.9-11.1 mmol/L, the upper bound being the WHO 1999 /
《中国2型糖尿病防治指南》 random-glucose threshold for diabetes. Critical values stay with the
Walking Hospital's rules (telemed.critical: <2.8 or >22.2 mmol/L)."""

from decimal import Decimal

from django.db import migrations

SOURCE_FASTING = "全国临床检验操作规程 (4th ed.)"
SOURCE_RANDOM = "WHO 1999 / 中国2型糖尿病防治指南"
ROWS = [
    ("1558-6", "空腹血糖", "mmol/L", "3.9", "6.1", SOURCE_FASTING),
    ("2339-0", "随机血糖", "mmol/L", "3.9", "11.1", SOURCE_RANDOM),
]


def install(apps, schema_editor):
    ReferenceRange = apps.get_model("lab", "ReferenceRange")
    for code, name, unit, low, high, source in ROWS:
        ReferenceRange.objects.update_or_create(
            code=code,
            sex="",
            age_min=0,
            age_max=200,
            defaults={"name": name, "unit": unit, "low": Decimal(low), "high": Decimal(high),
                      "source": source},
        )  # fmt: skip


def recognize_existing(apps, schema_editor):
    LabResult = apps.get_model("lab", "LabResult")
    LabResult.objects.filter(message__isnull=False, result_status__in=["F", "C"]).update(
        recognized=True
    )


def remove(apps, schema_editor):
    ReferenceRange = apps.get_model("lab", "ReferenceRange")
    for code, *_rest in ROWS:
        ReferenceRange.objects.filter(code=code, sex="", age_min=0, age_max=200).delete()


class Migration(migrations.Migration):
    dependencies = [("lab", "0004_manual_entry_recognition")]
    operations = [
        migrations.RunPython(install, remove),
        migrations.RunPython(recognize_existing, migrations.RunPython.noop),
    ]
