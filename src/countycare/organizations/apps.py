from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrganizationsConfig(AppConfig):
    name = "countycare.organizations"
    label = "organizations"
    verbose_name = _("Institutions and staff")

    def ready(self) -> None:
        from countycare.core import scoping
        from countycare.organizations import selectors

        scoping.register_provider(selectors.scope_of)
