import contextlib
import logging
import signal

from django.core.management.base import BaseCommand, CommandError

from countycare.imaging.listener import Listener
from countycare.imaging.models import DeviceAE


class Command(BaseCommand):
    help = (
        "Receive DICOM from ultrasound, DR and ECG devices: C-ECHO, Storage SCP (C-STORE) and "
        "Modality Worklist SCP (C-FIND). Only registered calling AE titles are accepted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=11112, help="TCP port (default 11112)")
        parser.add_argument(
            "--ae",
            default="COUNTYCARE",
            help="this application entity's AE title (default COUNTYCARE)",
        )
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to listen on (default 127.0.0.1; 0.0.0.0 for devices on the network)",
        )

    def handle(self, *args, port: int, ae: str, host: str, **options):
        ae = ae.strip()
        if not ae or len(ae) > 16:
            raise CommandError("The AE title must be 1 to 16 characters.")
        if not 0 < port < 65536:
            raise CommandError("The port must be between 1 and 65535.")
        logging.getLogger("countycare.imaging").setLevel(logging.INFO)
        devices = list(DeviceAE.objects.filter(is_active=True).values_list("ae_title", flat=True))
        self.stdout.write(
            f"DICOM listener {ae} on {host}:{port} (C-ECHO, C-STORE, Modality Worklist); "
            f"{len(devices)} registered device(s): {', '.join(devices) or 'none — every caller is refused'}"
        )
        self.stdout.flush()
        listener = Listener(ae_title=ae, host=host, port=port)
        self.stdout.write(
            "indexing: "
            + ("in this process" if listener.indexing == "thread" else "by the Celery workers")
        )
        self.stdout.flush()
        # SIGTERM (systemd, docker stop) ends it like Ctrl-C: the indexer finishes its batch.
        signal.signal(signal.SIGTERM, _interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            listener.serve()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
