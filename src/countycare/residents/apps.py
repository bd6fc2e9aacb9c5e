from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResidentsConfig(AppConfig):
    name = "countycare.residents"
    label = "residents"
    verbose_name = _("Residents")

    def ready(self) -> None:
        from countycare.residents import timeline  # noqa: F401  (registers the provider)
