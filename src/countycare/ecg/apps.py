from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EcgConfig(AppConfig):
    name = "countycare.ecg"
    label = "ecg"
    verbose_name = _("ECG")

    def ready(self) -> None:
        from countycare.ecg.detect import detect_ecg
        from countycare.telemed.attachments import register_detector

        register_detector(detect_ecg, first=True)

        from countycare.core import seeds

        # The ECG critical findings' rules come back after a flush (core.seeds).
        seeds.register("countycare.ecg.migrations.0003_critical_rules", "add")

        # The readers' scoping rule for recordings, and the pre-read of every new ECG upload.
        # The viewer and the draft pre-read on the reading page, the order page and the PDF.
        from countycare.ecg import panel, scoping_rules, signals  # noqa: F401
        from countycare.telemed import panels

        panels.register(
            panels.Panel(
                name="ecg.viewer", template="ecg/panel.html", context=panel.context,
                places=("read", "order", "pdf"), order=10,
            )
        )  # fmt: skip
