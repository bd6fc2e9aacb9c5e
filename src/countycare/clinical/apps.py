from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClinicalConfig(AppConfig):
    name = "countycare.clinical"
    label = "clinical"
    verbose_name = _("Clinical records")

    def ready(self) -> None:
        from countycare.clinical import timeline  # noqa: F401 — the timeline provider
