from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutreachConfig(AppConfig):
    name = "countycare.outreach"
    label = "outreach"
    verbose_name = _("Outreach")

    def ready(self) -> None:
        # The policy numbers (OUT-…) and the scoping rule for circuit team members.
        # Walking Hospital visits made on a circuit visit are linked to it when created.
        from django.db.models.signals import post_save

        from countycare.outreach import policy, scoping_rules  # noqa: F401
        from countycare.outreach.services import link_encounter_on_save

        post_save.connect(
            link_encounter_on_save,
            sender="telemed.Visit",
            dispatch_uid="outreach.link_encounter",
        )
