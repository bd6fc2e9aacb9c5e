"""``countycare site-points``: choose the circuit service points (OUT-01, issue 8)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from countycare.core.errors import DomainError
from countycare.outreach import siting_services
from countycare.outreach.siting_io import haversine_matrix, read_matrix_csv, read_villages_csv


def _ids(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


class Command(BaseCommand):
    help = (
        "Choose k circuit service points among the villages: least population-weighted travel "
        "(p-median) or most residents within --max-km (maximal covering), solved to proven "
        "optimality with HiGHS (OUT-01)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--k", type=int, default=None, help="points to choose (policy: 50)")
        parser.add_argument(
            "--villages",
            metavar="CSV",
            help="villages file id,name,lat,lon,population (default: the institution tree)",
        )
        parser.add_argument(
            "--max-km",
            type=float,
            default=None,
            metavar="D",
            help="coverage: the covering distance; median: every village within D",
        )
        parser.add_argument("--objective", choices=["median", "coverage"], default="median")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--matrix",
            metavar="CSV",
            help="road distance/time matrix (from,to,km rows or a square table) instead of "
            "great-circle distances",
        )
        parser.add_argument(
            "--require",
            action="append",
            metavar="IDS",
            help="village ids that must be points (must-have villages, existing clinics); "
            "comma-separated, repeatable",
        )
        parser.add_argument(
            "--exclude", action="append", metavar="IDS", help="village ids never to choose"
        )
        parser.add_argument(
            "--existing",
            action="append",
            metavar="IDS",
            help="village ids of existing clinics that already serve their neighbours: open, "
            "serving, not counted in k; comma-separated, repeatable",
        )
        parser.add_argument(
            "--keep-current",
            action="store_true",
            help="keep the county's current circuit service points (from the database)",
        )
        parser.add_argument(
            "--time-limit",
            type=float,
            default=None,
            metavar="S",
            help="stop after S seconds with the best solution and its gap",
        )

    def handle(self, *args, **options):
        try:
            self._handle(**options)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc

    def _handle(self, *, k, villages, max_km, objective, json: bool, matrix, **options):
        if villages:
            rows = read_villages_csv(villages)
        else:
            rows = siting_services.tree_villages(siting_services.community_of())
            if not rows:
                raise CommandError(
                    "no villages with coordinates in the database; pass --villages FILE "
                    "(the demo county writes one: countycare demo --villages-csv FILE)"
                )
        if k is None:
            k = siting_services.default_k()
        required = _ids(options.get("require"))
        if options.get("keep_current"):
            required += [c for c in siting_services.current_point_codes() if c not in required]
        distances = read_matrix_csv(matrix, rows) if matrix else haversine_matrix(rows)
        result = siting_services.solve_villages(
            rows,
            distances,
            k=k,
            objective=objective,
            max_km=max_km,
            required=required,
            excluded=_ids(options.get("exclude")),
            existing=_ids(options.get("existing")),
            time_limit=options.get("time_limit"),
        )
        if json:
            self.stdout.write(_dumps(result.as_json(rows)))
            return
        total = sum(v.population for v in rows)
        if objective == "median":
            headline = (
                f"population-weighted travel {result.objective:,.1f} person-km "
                f"(mean {result.objective / (total or 1):.2f} km per resident)"
            )
        else:
            headline = (
                f"{result.objective:,.0f} of {total:,} residents "
                f"({result.objective / (total or 1):.1%}) within {max_km:g} km"
            )
        proven = "proven optimal" if result.optimal else f"gap {result.gap:.4%} (time limit)"
        self.stdout.write(
            f"{k} points among {len(rows)} villages: {headline}; {proven}; "
            f"{result.seconds:.2f} s (heuristic start {result.heuristic_objective:,.1f})"
        )
        served: dict[int, list[int]] = {}
        for i, point in enumerate(result.assignment):
            served.setdefault(point, []).append(i)
        for j in [*result.chosen, *result.existing]:
            members = served.get(j, [])
            population = sum(rows[i].population for i in members)
            far = max((result.distances[i] for i in members), default=0.0)
            label = " (existing)" if j in result.existing else ""
            self.stdout.write(
                f"  {rows[j].id}  {rows[j].name}{label}  serves {len(members)} villages, "
                f"{population:,} residents, farthest {far:.1f} km"
            )


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False)
