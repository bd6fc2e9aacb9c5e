"""``countycare demo``: seed the demo county (伊金霍洛旗) and serve it.

Running it again finds the county already there, prints the logins and serves, so
``make demo`` twice just works; ``--reset`` empties the database and seeds afresh."""

from __future__ import annotations

import time
import unicodedata

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext as _

from countycare.demo import data, loader, steps
from countycare.demo import telemed as demo_telemed
from countycare.demo.generator import (
    DEFAULT_RESIDENTS,
    DEFAULT_SEED,
    build_plan,
    export_villages_csv,
)
from countycare.demo.staff import StaffingRules
from countycare.residents.models import Resident


def _width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(_width(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Seed the demo county (a synthetic county modelled on Ejin Horo Banner), print one "
        "login per role and serve it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--residents",
            type=int,
            default=DEFAULT_RESIDENTS,
            help=_("number of residents to generate (default %(default)s)"),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=_("random seed; the same seed gives the same county (default %(default)s)"),
        )
        parser.add_argument(
            "--no-serve", action="store_true", help=_("seed and print the logins, do not serve")
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help=_("empty the whole database first, then seed afresh"),
        )
        parser.add_argument(
            "--no-traffic",
            action="store_true",
            help=_("do not add the week of Walking Hospital traffic (orders, reports, alerts)"),
        )
        parser.add_argument(
            "--villages-csv",
            metavar="PATH",
            help=_("also write the villages as CSV (id,name,lat,lon,population)"),
        )

    def handle(self, *args, **options) -> None:
        residents: int = options["residents"]
        seed: int = options["seed"]
        if residents < 0:
            raise CommandError(_("--residents must be 0 or more."))
        self._check_migrated()

        if options["reset"]:
            self.stdout.write(_("Emptying the database (--reset) …"))
            loader.reset()

        if loader.is_loaded():
            self.stdout.write(
                _(
                    "The demo county is already in the database (%(n)d residents); "
                    "use --reset to seed it afresh."
                )
                % {"n": Resident.objects.count()}
            )
        else:
            self._seed(seed, residents, traffic=not options["no_traffic"])

        if options["villages_csv"]:
            count = export_villages_csv(options["villages_csv"], seed=seed)
            self.stdout.write(
                _("Wrote %(n)d villages to %(path)s")
                % {"n": count, "path": options["villages_csv"]}
            )

        self._print_logins()
        if not options["no_serve"]:
            call_command("serve")

    def _check_migrated(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            raise CommandError(
                _(
                    "The database is not migrated yet (%(n)d migrations pending). "
                    "Run `countycare migrate` first (`make demo` does both)."
                )
                % {"n": len(pending)}
            )

    def _seed(self, seed: int, residents: int, *, traffic: bool = True) -> None:
        started = time.perf_counter()
        self.stdout.write(
            _("Generating the demo county %(county)s: seed %(seed)d, %(n)d residents …")
            % {"county": data.COUNTY_NAME, "seed": seed, "n": residents}
        )
        plan = build_plan(seed, residents, rules=StaffingRules.from_policy())
        self.stdout.write(
            _("Planned in %(s).1f s; writing to the database …")
            % {"s": time.perf_counter() - started}
        )
        summary = loader.load(plan, progress=lambda message: self.stdout.write(f"  {message}"))
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Demo county ready in %(s).1f s: %(institutions)d institutions, "
                    "%(staff)d staff, %(households)d households, %(residents)d residents, "
                    "%(tags)d key-population tags."
                )
                % {
                    "s": time.perf_counter() - started,
                    "institutions": summary.institutions,
                    "staff": summary.staff,
                    "households": summary.households,
                    "residents": summary.residents,
                    "tags": summary.tags,
                }
            )
        )
        if traffic:
            week = demo_telemed.load_traffic(seed)
            self.stdout.write(
                self.style.SUCCESS(
                    _(
                        "A week of Walking Hospital traffic in %(s).1f s: %(visits)d visits, "
                        "%(orders)d exam orders, %(reports)d reports, %(alerts)d critical values."
                    )
                    % {
                        "s": week.seconds,
                        "visits": week.visits,
                        "orders": week.orders,
                        "reports": week.reports,
                        "alerts": week.alerts,
                    }
                )
            )

        # Each app's own demo data (catalogs, teams, schedules, and with traffic its activity).
        steps.run_all(seed, traffic=traffic, write=self.stdout.write)

    def _print_logins(self) -> None:
        rows = loader.login_rows()
        if not rows:
            self.stdout.write(_("No demo logins found (the database holds another county)."))
            return
        header = [_("Role (Chinese)"), _("Role"), _("Username"), _("Password"), _("Institution")]
        table = format_table(
            header,
            [[r.role_zh, r.role_en, r.username, r.password, r.institution] for r in rows],
        )
        self.stdout.write("")
        self.stdout.write(_("Demo logins (one per role):"))
        self.stdout.write(table)
        self.stdout.write("")
