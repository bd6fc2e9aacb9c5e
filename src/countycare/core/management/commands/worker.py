"""``countycare worker``: a Celery worker for background jobs (production). In the embedded
default (no CELERY_BROKER_URL) tasks run in the web process and no worker is needed."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _


class Command(BaseCommand):
    help = "Run a Celery worker (needs CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/0)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None)
        parser.add_argument("--queues", default="", help="comma-separated queue names")
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args, **opts):
        if not settings.CELERY_BROKER_URL:
            raise CommandError(
                _(
                    "CELERY_BROKER_URL is not set: background jobs run inside the web process "
                    "(embedded mode) and no worker is needed. Set it to a Redis or RabbitMQ URL "
                    "to run workers."
                )
            )
        from countycare.celery import app

        argv = ["worker", f"--loglevel={opts['loglevel']}"]
        if opts["concurrency"]:
            argv.append(f"--concurrency={opts['concurrency']}")
        if opts["queues"]:
            argv.append(f"--queues={opts['queues']}")
        app.worker_main(argv)
