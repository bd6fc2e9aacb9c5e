"""``countycare import-encounters FILE --source SYSTEM``: import a file of encounters (HIS
export or insurance settlement data, CSV or Excel) — the operator's way for large files."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from countycare.clinical import services
from countycare.core.errors import DomainError


class Command(BaseCommand):
    help = "Import encounters (HIS export or insurance settlement data) from a CSV or Excel file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV (UTF-8 or GB18030) or Excel (.xlsx) file")
        parser.add_argument(
            "--source", required=True, help="the sending system, e.g. H01-HIS or 医保结算"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(_("Cannot read %(file)s: %(e)s") % {"file": path, "e": exc}) from exc
        try:
            batch = services.import_encounters(
                user=None, file_name=path.name, content=content, source=options["source"],
                check_permission=False,
            )  # fmt: skip
        except DomainError as exc:
            problems = "\n".join(exc.extra.get("problems", []))
            raise CommandError(f"{exc.message}\n{problems}".strip()) from exc
        self.stdout.write(
            _("%(rows)d encounters imported from %(file)s (%(new)d new, %(updated)d updated), "
              "%(first)s to %(last)s.")
            % {"rows": batch.rows, "file": batch.file_name, "new": batch.created,
               "updated": batch.rows - batch.created, "first": batch.first_date,
               "last": batch.last_date}
        )  # fmt: skip
