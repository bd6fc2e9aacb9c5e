"""``countycare`` — the one command for operators. It wraps Django's manage.py: every
management command works (``countycare check``), and ``countycare --help`` lists the ones an
operator needs."""

from __future__ import annotations

import os
import sys

OPERATOR_COMMANDS = [
    ("demo", "seed the demo county and serve it  [--residents N] [--seed S] [--no-serve]"),
    ("serve", "serve the web app and API  [--host H] [--port P] [--workers N] [--dev]"),
    ("migrate", "create or upgrade the database schema"),
    ("createsuperuser", "create a system administrator"),
    ("worker", "run a Celery worker for background jobs (needs CELERY_BROKER_URL)"),
    ("hl7-listen", "receive HL7 v2 lab results over MLLP  [--port 2575] [--host H]"),
    ("dicom-listen", "receive DICOM from devices, serve the worklist  [--port 11112] [--ae AE]"),
    ("check", "check the configuration (add --deploy for production checks)"),
]

HELP = """usage: countycare COMMAND [options]

CountyCare — the information platform of a tight county medical community.

Operator commands:
{commands}

Every Django management command is available too (`countycare help` lists them all);
`countycare COMMAND --help` shows a command's options.

Configuration comes from the environment (DATABASE_URL, COUNTYCARE_MEDIA_ROOT,
COUNTYCARE_SECRET_KEY, COUNTYCARE_DEBUG, CELERY_BROKER_URL, ...); see README.md.
"""


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    if not argv or argv[0] in {"-h", "--help"}:
        width = max(len(name) for name, _ in OPERATOR_COMMANDS)
        commands = "\n".join(f"  {name.ljust(width)}  {text}" for name, text in OPERATOR_COMMANDS)
        print(HELP.format(commands=commands))
        return
    from django.core.management import execute_from_command_line

    execute_from_command_line(["countycare", *argv])


if __name__ == "__main__":
    main()
