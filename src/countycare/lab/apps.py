from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LabConfig(AppConfig):
    name = "countycare.lab"
    label = "lab"
    verbose_name = _("Lab")

    def ready(self) -> None:
        # The policy numbers, the scoping rule for unmatched messages, the timeline provider.
        from countycare.lab import caches, policy, scoping_rules, timeline  # noqa: F401

        caches.connect()

        from countycare.core import seeds

        # Reference ranges and the lab's critical-value rules come back after a flush.
        seeds.register("countycare.lab.migrations.0003_reference_ranges_data", "install")
        seeds.register("countycare.lab.migrations.0005_glucose_ranges_recognition", "install")
        seeds.register("countycare.lab.migrations.0007_lab_critical_rules", "add")
