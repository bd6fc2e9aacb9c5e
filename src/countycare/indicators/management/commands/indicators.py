"""``countycare indicators [--period 2025 | 2025-H1 | 2025-06] [--institution CODE] [--json]``:
every indicator with numerator, denominator, value, target and met/not met (issue 9)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from countycare.core.errors import DomainError
from countycare.indicators import periods, services
from countycare.indicators.models import IndicatorValue
from countycare.organizations.models import Institution


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


class Command(BaseCommand):
    help = "Print every indicator for an institution's subtree and a period."

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", default="", help="2025, 2025-H1/2025-H2 or 2025-06 (default: this year)"
        )
        parser.add_argument(
            "--institution", default="", help="institution code (default: the county)"
        )
        parser.add_argument("--json", action="store_true", help="print a JSON list")

    def handle(self, *args, **options):
        try:
            period = periods.parse(options["period"])
        except DomainError as exc:
            raise CommandError(str(exc.message)) from exc
        code = options["institution"].strip()
        if code:
            institution = Institution.objects.filter(code=code).first()
            if institution is None:
                raise CommandError(
                    _("No institution has the code “%(code)s”; leave out --institution for the "
                      "whole county.") % {"code": code}
                )  # fmt: skip
        else:
            institution = Institution.objects.filter(parent__isnull=True).order_by("path").first()
            if institution is None:
                raise CommandError(
                    _("There are no institutions yet (run `countycare demo`, or load yours).")
                )
        with translation.override(translation.get_language() or "zh-hans"):
            outcomes = services.outcomes_for(institution, period)
            if options["json"]:
                self.stdout.write(
                    json.dumps([o.as_json() for o in outcomes], ensure_ascii=False, indent=2)
                )
                return
            labels = dict(IndicatorValue.Status.choices)
            self.stdout.write(f"{institution.name} ({institution.code}) · {period.code}")
            for o in outcomes:
                met = {True: _("met"), False: _("not met"), None: ""}[o.met]
                status = "" if o.status == "ok" else f"[{labels[o.status]}]"
                self.stdout.write(
                    f"{o.indicator.code:36} {_fmt(o.numerator):>14} / {_fmt(o.denominator):<14} "
                    f"= {_fmt(o.value):>10}  {_('target')} {_fmt(o.target):>6}  {met} {status}  "
                    f"{o.indicator.name}"
                )
