from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FamilydoctorConfig(AppConfig):
    name = "countycare.familydoctor"
    label = "familydoctor"
    verbose_name = _("Family doctor")

    def ready(self) -> None:
        # Policy numbers, the responsible doctors' scoping rule, the timeline provider, the
        # resident page's section, and who counts as a family doctor for the referral slots.
        from countycare.familydoctor import (  # noqa: F401
            page,
            policy,
            scoping_rules,
            timeline,
        )
        from countycare.familydoctor.selectors import family_doctor_rule
        from countycare.referrals import services as referral_services

        referral_services.register_family_doctor_rule(family_doctor_rule)
