from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImagingConfig(AppConfig):
    name = "countycare.imaging"
    label = "imaging"
    verbose_name = _("Imaging")

    def ready(self) -> None:
        # The readers' scoping rule, and the study viewer on the reading page, the order page
        # and the report PDF (telemed order panels).
        from countycare.imaging import panel, scoping_rules  # noqa: F401
        from countycare.telemed import panels

        panels.register(
            panels.Panel(
                name="imaging.study", template="imaging/panel.html", context=panel.context,
                places=("read", "order", "pdf"), order=20,
            )
        )  # fmt: skip
