import asyncio
import contextlib

from django.core.management.base import BaseCommand

from countycare.lab import mllp


class Command(BaseCommand):
    help = (
        "Receive HL7 v2 lab results (ORU^R01, OUL^R22) over MLLP and answer each with an ACK "
        "(docs/lab.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)"
        )
        parser.add_argument("--port", type=int, default=2575)
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="listener processes sharing the port (Linux; PostgreSQL: one per CPU)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="messages processed at once (default: 4 on PostgreSQL, 1 on SQLite)",
        )

    def handle(self, *args, host: str, port: int, processes: int, workers: int | None, **options):
        if processes > 1:

            def started(pids):
                self.stdout.write(
                    f"Listening for HL7 v2 over MLLP on ('{host}', {port}) "
                    f"in {len(pids)} processes ({', '.join(map(str, pids))})",
                    ending="\n",
                )
                self.stdout.flush()

            mllp.run_processes(host, port, processes, workers=workers, ready=started)
            return

        def ready(server):
            bound = ", ".join(str(s.getsockname()[:2]) for s in server.sockets)
            self.stdout.write(f"Listening for HL7 v2 over MLLP on {bound}", ending="\n")
            self.stdout.flush()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(mllp.serve(host, port, ready=ready, workers=workers))
