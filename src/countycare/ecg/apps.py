from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EcgConfig(AppConfig):
    name = "countycare.ecg"
    label = "ecg"
    verbose_name = _("ECG")
