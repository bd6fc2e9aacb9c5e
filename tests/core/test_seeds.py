"""A database flush (``countycare demo --reset``, the suite's module fixtures) empties what
data migrations wrote; ``core.seeds.restore`` puts every registered seed back — the Walking
Hospital's, the ECG's and the lab's critical-value rules and the lab's reference ranges."""

import pytest
from django.core.management import call_command

from countycare.core import seeds
from countycare.lab.models import ReferenceRange
from countycare.telemed.models import CriticalRule


@pytest.mark.django_db(transaction=True)
def test_a_flush_and_a_restore_give_back_what_the_migrations_wrote():
    before = (
        sorted(CriticalRule.objects.values_list("code", "low", "high", "match_any")),
        ReferenceRange.objects.count(),
    )
    codes = {code for code, *_ in before[0]}
    # the Walking Hospital's (telemed 0002), the ECG's (ecg 0003) and the lab's (lab 0007)
    assert {"ECG:LONG_PAUSE", "ECG:AFIB_RVR", "6690-2"} <= codes
    assert before[1] > 0
    call_command("flush", interactive=False, verbosity=0)
    assert not CriticalRule.objects.exists() and not ReferenceRange.objects.exists()
    seeds.restore()
    after = (
        sorted(CriticalRule.objects.values_list("code", "low", "high", "match_any")),
        ReferenceRange.objects.count(),
    )
    assert after == before
    seeds.restore()  # twice changes nothing
    assert CriticalRule.objects.count() == len(before[0])


def test_every_seeding_migration_is_registered():
    modules = {module for module, _ in seeds.registered()}
    assert {
        "countycare.telemed.migrations.0002_default_critical_rules",
        "countycare.ecg.migrations.0003_critical_rules",
        "countycare.lab.migrations.0003_reference_ranges_data",
        "countycare.lab.migrations.0005_glucose_ranges_recognition",
        "countycare.lab.migrations.0007_lab_critical_rules",
    } <= modules
