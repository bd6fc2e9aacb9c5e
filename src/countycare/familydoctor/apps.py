from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FamilydoctorConfig(AppConfig):
    name = "countycare.familydoctor"
    label = "familydoctor"
    verbose_name = _("Family doctor")
