from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TelemedConfig(AppConfig):
    name = "countycare.telemed"
    label = "telemed"
    verbose_name = _("Walking Hospital")

    def ready(self) -> None:
        # Registers the timeline provider, the scoping rule for readers and the policy numbers.
        from countycare.core import seeds
        from countycare.telemed import policy, scoping_rules, timeline  # noqa: F401

        # The default critical-value rules come back after a flush (core.seeds).
        seeds.register("countycare.telemed.migrations.0002_default_critical_rules", "add")
