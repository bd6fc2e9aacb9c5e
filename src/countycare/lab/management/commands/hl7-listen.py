import asyncio
import contextlib

from django.core.management.base import BaseCommand

from countycare.lab import mllp


class Command(BaseCommand):
    help = "Receive HL7 v2 lab results (ORU^R01, OUL^R22) over MLLP and answer each with an ACK."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2575)

    def handle(self, *args, host: str, port: int, **options):
        def ready(server):
            bound = ", ".join(str(s.getsockname()[:2]) for s in server.sockets)
            self.stdout.write(f"Listening for HL7 v2 over MLLP on {bound}", ending="\n")
            self.stdout.flush()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(mllp.serve(host, port, ready=ready))
