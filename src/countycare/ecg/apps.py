from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EcgConfig(AppConfig):
    name = "countycare.ecg"
    label = "ecg"
    verbose_name = _("ECG")

    def ready(self) -> None:
        from countycare.ecg.detect import detect_ecg
        from countycare.telemed.attachments import register_detector

        register_detector(detect_ecg)

        # The readers' scoping rule for recordings, and the pre-read of every new ECG upload.
        from countycare.ecg import scoping_rules, signals  # noqa: F401
