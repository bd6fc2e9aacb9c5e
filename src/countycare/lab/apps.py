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
