from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IndicatorsConfig(AppConfig):
    name = "countycare.indicators"
    label = "indicators"
    verbose_name = _("Indicators")

    def ready(self) -> None:
        from countycare.indicators import (
            policy,  # noqa: F401 — declares its policy numbers
            registry,
            signals,
        )

        registry.all_indicators()  # declares the targets as policy numbers
        signals.connect()
