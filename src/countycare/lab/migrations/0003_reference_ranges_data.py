"""Common reference intervals (issue 5, SHC-03), editable afterwards in admin.

Adults (18 years and over), venous blood: WS/T 405-2012 《血细胞分析参考区间》 (Reference
intervals for blood cell analysis), the national health industry standard.
Children (28 days to 18 years), venous blood: WS/T 779-2021 《儿童血细胞分析参考区间》; the
platform keeps whole years, so the bands start at 1 year (below 1 year: no platform range).
Fasting plasma glucose: 3.9-6.1 mmol/L (《全国临床检验操作规程》, 4th edition; the WHO/CDS
threshold of impaired fasting glucose is 6.1). Urinalysis: specific gravity and pH after
《全国临床检验操作规程》. Critical values are not set here: they belong to the Walking
Hospital's critical-value rules (telemed.critical), which raise the alert.
"""

from decimal import Decimal

from django.db import migrations

ADULT = "WS/T 405-2012"
CHILD = "WS/T 779-2021"
PROC = "全国临床检验操作规程 (4th ed.)"

# code, name, unit, sex, age_min, age_max, low, high, source
ROWS = [
    # --- CBC, adults (WS/T 405-2012, Table 1) ---
    ("6690-2", "WBC", "10*9/L", "", 18, 200, "3.5", "9.5", ADULT),
    ("789-8", "RBC", "10*12/L", "M", 18, 200, "4.3", "5.8", ADULT),
    ("789-8", "RBC", "10*12/L", "F", 18, 200, "3.8", "5.1", ADULT),
    ("718-7", "HGB", "g/L", "M", 18, 200, "130", "175", ADULT),
    ("718-7", "HGB", "g/L", "F", 18, 200, "115", "150", ADULT),
    ("4544-3", "HCT", "%", "M", 18, 200, "40", "50", ADULT),
    ("4544-3", "HCT", "%", "F", 18, 200, "35", "45", ADULT),
    ("787-2", "MCV", "fL", "", 18, 200, "82", "100", ADULT),
    ("785-6", "MCH", "pg", "", 18, 200, "27", "34", ADULT),
    ("786-4", "MCHC", "g/L", "", 18, 200, "316", "354", ADULT),
    ("777-3", "PLT", "10*9/L", "", 18, 200, "125", "350", ADULT),
    ("770-8", "NEUT%", "%", "", 18, 200, "40", "75", ADULT),
    ("736-9", "LYMPH%", "%", "", 18, 200, "20", "50", ADULT),
    ("5905-5", "MONO%", "%", "", 18, 200, "3", "10", ADULT),
    ("713-8", "EO%", "%", "", 18, 200, "0.4", "8.0", ADULT),
    ("706-2", "BASO%", "%", "", 18, 200, "0", "1", ADULT),
    ("751-8", "NEUT#", "10*9/L", "", 18, 200, "1.8", "6.3", ADULT),
    ("731-0", "LYMPH#", "10*9/L", "", 18, 200, "1.1", "3.2", ADULT),
    ("742-7", "MONO#", "10*9/L", "", 18, 200, "0.1", "0.6", ADULT),
    ("711-2", "EO#", "10*9/L", "", 18, 200, "0.02", "0.52", ADULT),
    ("704-7", "BASO#", "10*9/L", "", 18, 200, "0", "0.06", ADULT),
    # --- CBC, children (WS/T 779-2021, venous blood) ---
    ("6690-2", "WBC", "10*9/L", "", 1, 2, "5.1", "14.1", CHILD),
    ("6690-2", "WBC", "10*9/L", "", 2, 6, "4.4", "11.9", CHILD),
    ("6690-2", "WBC", "10*9/L", "", 6, 13, "4.3", "11.3", CHILD),
    ("6690-2", "WBC", "10*9/L", "", 13, 18, "4.1", "11.0", CHILD),
    ("789-8", "RBC", "10*12/L", "", 1, 2, "4.0", "5.5", CHILD),
    ("789-8", "RBC", "10*12/L", "", 2, 6, "4.0", "5.5", CHILD),
    ("789-8", "RBC", "10*12/L", "", 6, 13, "4.2", "5.7", CHILD),
    ("789-8", "RBC", "10*12/L", "M", 13, 18, "4.5", "5.9", CHILD),
    ("789-8", "RBC", "10*12/L", "F", 13, 18, "4.1", "5.3", CHILD),
    ("718-7", "HGB", "g/L", "", 1, 2, "107", "141", CHILD),
    ("718-7", "HGB", "g/L", "", 2, 6, "112", "149", CHILD),
    ("718-7", "HGB", "g/L", "", 6, 13, "118", "156", CHILD),
    ("718-7", "HGB", "g/L", "M", 13, 18, "129", "172", CHILD),
    ("718-7", "HGB", "g/L", "F", 13, 18, "114", "154", CHILD),
    ("777-3", "PLT", "10*9/L", "", 1, 2, "190", "524", CHILD),
    ("777-3", "PLT", "10*9/L", "", 2, 6, "188", "472", CHILD),
    ("777-3", "PLT", "10*9/L", "", 6, 13, "167", "453", CHILD),
    ("777-3", "PLT", "10*9/L", "", 13, 18, "150", "407", CHILD),
    # --- Glucose, fasting, serum/plasma ---
    ("2345-7", "GLU", "mmol/L", "", 0, 200, "3.9", "6.1", PROC),
    # --- Urinalysis (dipstick) ---
    ("5811-5", "SG 尿比重", "", "", 0, 200, "1.003", "1.030", PROC),
    ("5803-2", "pH 尿酸碱度", "", "", 0, 200, "4.5", "8.0", PROC),
]


def install(apps, schema_editor):
    ReferenceRange = apps.get_model("lab", "ReferenceRange")
    for code, name, unit, sex, age_min, age_max, low, high, source in ROWS:
        ReferenceRange.objects.update_or_create(
            code=code,
            sex=sex,
            age_min=age_min,
            age_max=age_max,
            defaults={
                "name": name,
                "unit": unit,
                "low": Decimal(low),
                "high": Decimal(high),
                "source": source,
            },
        )


def remove(apps, schema_editor):
    ReferenceRange = apps.get_model("lab", "ReferenceRange")
    for code, _n, _u, sex, age_min, age_max, *_rest in ROWS:
        ReferenceRange.objects.filter(
            code=code, sex=sex, age_min=age_min, age_max=age_max
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("lab", "0002_ranges_mappings_results")]

    operations = [migrations.RunPython(install, remove)]
