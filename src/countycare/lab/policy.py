"""The lab's policy numbers (organizations.policy), each with its requirement."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from countycare.organizations.policy import declare

# Result recognition (检查检验结果互认, SHC-01/SHC-02): how many days after specimen collection
# a final result from a community lab is accepted by every institution of the community
# without repeating the test. "default" applies to every test without its own number; the
# others are LOINC codes. Glucose moves within a day; HbA1c reflects about three months. The
# numbers are the community's decision and are set here, not in code.
RECOGNITION_DAYS = declare(
    "lab_recognition_days",
    {
        "default": 7,
        "2345-7": 1,  # glucose, serum/plasma
        "1558-6": 1,  # fasting glucose
        "2339-0": 1,  # glucose, blood (random)
        "4548-4": 90,  # HbA1c
    },
    "SHC-01",
    _("Days a recognized lab result stays valid across the community, per LOINC code"),
    "days",
)
