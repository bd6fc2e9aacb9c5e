"""``countycare serve``: the web app and API under gunicorn (several worker processes, static
files by WhiteNoise), or Django's development server with ``--dev``."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _


class Command(BaseCommand):
    help = "Serve CountyCare over HTTP (gunicorn; --dev for the Django development server)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("COUNTYCARE_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("COUNTYCARE_PORT", 8000))
        )
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("COUNTYCARE_WORKERS", 2))
        )
        parser.add_argument("--threads", type=int, default=4)
        parser.add_argument(
            "--dev", action="store_true", help="Django's autoreloading development server"
        )

    def handle(self, *args, **opts):
        call_command("collectstatic", interactive=False, verbosity=0)
        address = f"{opts['host']}:{opts['port']}"
        self.stdout.write(
            _("CountyCare is serving on http://%(address)s/  (Ctrl+C stops it)")
            % {"address": address}
        )
        if opts["dev"]:
            call_command("runserver", address)
            return
        from gunicorn.app.base import BaseApplication

        from countycare.wsgi import application

        options = {
            "bind": address,
            "workers": opts["workers"],
            "threads": opts["threads"],
            "accesslog": "-",
            "timeout": 120,
            "forwarded_allow_ips": os.environ.get("COUNTYCARE_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        }

        class Gunicorn(BaseApplication):
            def load_config(self):
                for key, value in options.items():
                    self.cfg.set(key, value)

            def load(self):
                return application

        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and opts["workers"] > 1:
            self.stdout.write(
                _("Embedded SQLite database (WAL mode); use PostgreSQL in production.")
            )
        Gunicorn().run()
