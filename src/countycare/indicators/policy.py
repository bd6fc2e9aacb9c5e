"""Policy numbers of the indicators app (organizations.policy): facility standards and the
assessment weights. Indicator targets are declared with the indicators (registry.declare)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from countycare.organizations.policy import declare

HEALTH_TECHNICIAN_SHARE_MIN = declare(
    "std_health_technician_share_min",
    0.9,
    "STD-02",
    _("Health technicians as a share of a township/community center's staff, minimum"),
)
TCM_PHYSICIAN_SHARE_MIN = declare(
    "std_tcm_physician_share_min",
    0.25,
    "STD-02",
    _("TCM/Mongolian-medicine physicians as a share of a center's physicians, minimum"),
)
PUBLIC_HEALTH_PHYSICIANS_MIN = declare(
    "std_public_health_physicians_min",
    1,
    "STD-02",
    _("Public-health physicians per township/community center, minimum"),
)
# STD-04 (002 §3(一)2). Each entry is a list of alternatives: any one of them satisfies it
# ("B（彩）超": B-mode or color ultrasound; an X-ray machine or a DR).
EQUIPMENT_REQUIRED = declare(
    "std_equipment_required",
    {
        "central": [
            ["dr"], ["color_ultrasound"], ["auto_biochemistry_analyzer"], ["ecg_machine"],
            ["urine_analyzer"], ["blood_cell_counter"], ["simple_ventilator"],
            ["air_disinfector"], ["spirometer"], ["ambulance"],
        ],
        "township": [
            ["ecg_machine"], ["blood_cell_counter"], ["urine_analyzer"],
            ["biochemistry_analyzer", "auto_biochemistry_analyzer"], ["x_ray", "dr"],
            ["b_ultrasound", "color_ultrasound"], ["simple_ventilator"], ["air_disinfector"],
            ["spirometer"], ["ambulance"],
        ],
        # "What their services and home visits need": the Walking Hospital kit (WH-01, WH-02).
        "village_clinic": [["diagnostic_kit"]],
    },
    "STD-04",
    _("Equipment required per facility type (lists of alternatives)"),
)  # fmt: skip
ASSESSMENT_WEIGHTS = declare(
    "indicators_assessment_weights",
    {},
    "KPI-03",
    _("Weights of indicators in the assessment score ({code: weight}; others use their default)"),
)
