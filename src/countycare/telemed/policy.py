"""The Walking Hospital's policy numbers (organizations.policy), each with its requirement."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from countycare.organizations.policy import declare

# Turnaround targets in minutes from submission to signature, per center kind and priority.
# SHC-03 (001 §4): lab results within 2 hours. The others are the lead hospital's own service
# commitments (WH-03), adjustable per county.
TAT_TARGET_MINUTES = declare(
    "telemed_tat_target_minutes",
    {
        "ecg": {"stat": 15, "urgent": 30, "routine": 120},
        "ultrasound": {"stat": 30, "urgent": 60, "routine": 240},
        "imaging": {"stat": 30, "urgent": 60, "routine": 240},
        "lab": {"stat": 60, "urgent": 90, "routine": 120},
        "outpatient": {"stat": 30, "urgent": 120, "routine": 1440},
        "pathology": {"stat": 1440, "urgent": 2880, "routine": 7200},
    },
    "SHC-03",
    _("Turnaround targets (minutes, submitted → signed) per center kind and priority"),
    "minutes",
)
LEASE_MINUTES = declare(
    "telemed_claim_lease_minutes",
    30,
    "WH-03",
    _("Minutes a reader holds a claimed order before it returns to the queue"),
    "minutes",
)
CRITICAL_ESCALATE_MINUTES = declare(
    "telemed_critical_escalate_minutes",
    15,
    "WH-07",
    _("Minutes after which an unacknowledged critical value escalates to the township"),
    "minutes",
)
# WH-05 (000 §5(一)): fee − cost = balance, which may fund performance awards. How the balance
# splits between the examining side and the reading side is the community's decision.
PAY_EXAMINER_SHARE = declare(
    "telemed_pay_examiner_share",
    0.4,
    "WH-05",
    _("Share of a service's balance (fee − cost) credited to the examining staff"),
)
PAY_READER_SHARE = declare(
    "telemed_pay_reader_share",
    0.4,
    "WH-05",
    _("Share of a service's balance (fee − cost) credited to the reader"),
)
# The rest (1 − examiner − reader) stays with the institutions: half to the examining
# institution, half to the reading center's hospital.
ATTACHMENT_MAX_MB = declare(
    "telemed_attachment_max_mb",
    50,
    "WH-04",
    _("Largest attachment accepted (megabytes)"),
    "MB",
)
