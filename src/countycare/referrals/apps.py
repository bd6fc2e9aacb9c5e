from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "countycare.referrals"
    label = "referrals"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        # Policy numbers, the receiving side's scoping rules, the timeline provider, the
        # resident page's section.
        from countycare.referrals import page, policy, scoping_rules, timeline  # noqa: F401
