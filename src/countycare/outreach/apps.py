from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutreachConfig(AppConfig):
    name = "countycare.outreach"
    label = "outreach"
    verbose_name = _("Outreach")

    def ready(self) -> None:
        # The policy numbers (OUT-…) and the scoping rule for circuit team members.
        from countycare.outreach import policy, scoping_rules  # noqa: F401
