"""Siting the circuit service points against the database (OUT-01): the villages of the
institution tree as a siting instance, siting runs (the web page and ``site-points``), and
applying a run as the county's current points."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import audit
from countycare.core.errors import ValidationError
from countycare.organizations import policy as org_policy
from countycare.organizations.models import Institution, InstitutionType
from countycare.outreach import siting
from countycare.outreach.models import RunStatus, ServicePoint, SitingRun
from countycare.outreach.siting_io import (
    SitingInputError,
    Village,
    haversine_matrix,
    parse_matrix_csv,
    parse_villages_csv,
    resolve_ids,
)

VILLAGE_TYPES = (InstitutionType.VILLAGE_CLINIC, InstitutionType.VILLAGE)


def community_of(institution: Institution | None = None) -> Institution | None:
    qs = Institution.objects.filter(type=InstitutionType.MEDICAL_COMMUNITY)
    if institution is not None:
        for node in institution.ancestors().reverse():
            if node.type == InstitutionType.MEDICAL_COMMUNITY:
                return node
    return qs.order_by("pk").first()


def tree_villages(community: Institution | None = None) -> list[Village]:
    """The villages of the tree (village clinics and villages without one) that have
    coordinates, as a siting instance; ``id`` is the institution's official code."""
    qs = Institution.objects.active().filter(type__in=VILLAGE_TYPES)
    if community is not None:
        qs = qs.subtree(community)
    out = []
    for inst in qs.exclude(latitude=None).exclude(longitude=None).order_by("code"):
        out.append(
            Village(
                id=inst.code,
                name=inst.area_name or inst.short_name or inst.name,
                lat=float(inst.latitude),
                lon=float(inst.longitude),
                population=int(inst.served_population),
            )
        )
    return out


def current_point_codes(community: Institution | None = None) -> list[str]:
    """The host villages (codes) of the active circuit service points."""
    qs = ServicePoint.objects.filter(retired_on__isnull=True, institution__is_active=True)
    if community is not None:
        qs = qs.filter(village__path__startswith=community.path)
    return sorted(qs.values_list("village__code", flat=True))


def assignment_cost(
    villages: Sequence[Village], distances: np.ndarray, points: Sequence[str]
) -> dict[str, float]:
    """Person-km and mean/max km of serving every village from the nearest of ``points``
    (for the comparison of a run with the current points)."""
    index = {v.id: i for i, v in enumerate(villages)}
    cols = [index[p] for p in points if p in index]
    if not cols:
        return {}
    pop = np.array([v.population for v in villages], dtype=float)
    nearest = distances[:, cols].min(axis=1)
    reach = np.isfinite(nearest)  # a road matrix may leave pairs unreachable
    total = float(pop[reach].sum()) or 1.0
    person_km = float((pop[reach] * nearest[reach]).sum())
    return {
        "points": len(cols),
        "person_km": person_km,
        "mean_km": person_km / total,
        "max_km": float(nearest[reach].max()) if reach.any() else 0.0,
        "unreachable": int((~reach).sum()),
    }


def coverage_share(
    villages: Sequence[Village], distances: np.ndarray, points: Sequence[str], km: float
) -> float:
    index = {v.id: i for i, v in enumerate(villages)}
    cols = [index[p] for p in points if p in index]
    if not cols:
        return 0.0
    pop = np.array([v.population for v in villages], dtype=float)
    covered = distances[:, cols].min(axis=1) <= km
    return float(pop[covered].sum() / (pop.sum() or 1.0))


def solve_villages(
    villages: Sequence[Village],
    distances: np.ndarray | None,
    *,
    k: int,
    objective: str = "median",
    max_km: float | None = None,
    required: Sequence[str] = (),
    excluded: Sequence[str] = (),
    existing: Sequence[str] = (),
    time_limit: float | None = None,
) -> siting.SitingResult:
    """Resolve ids and solve (the one entry point of the command, the page and the task)."""
    if distances is None:
        distances = haversine_matrix(villages)
    fixed = resolve_ids(required, villages, _("required villages"))
    forbidden = resolve_ids(excluded, villages, _("excluded villages"))
    open_now = resolve_ids(existing, villages, _("existing clinics"))
    return siting.solve(
        villages,
        distances,
        k,
        objective=objective,
        max_km=max_km,
        fixed=fixed,
        forbidden=forbidden,
        existing=open_now,
        time_limit=time_limit,
    )


def _read_upload(upload, field: str) -> str:
    """The text of an uploaded CSV (bytes, str or a Django UploadedFile); a file that is not
    UTF-8 is an error naming the field."""
    data = upload.read() if hasattr(upload, "read") else upload
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                _("The file is not UTF-8 text (save the CSV as UTF-8)."), field=field
            ) from exc
    return data


def run_distances(run: SitingRun, villages: Sequence[Village]) -> np.ndarray:
    """The run's distances: its uploaded road matrix, else great-circle km."""
    if run.matrix_file:
        with run.matrix_file.open("rb") as handle:
            return parse_matrix_csv(handle.read(), villages)
    return haversine_matrix(villages)


def start_run(
    *,
    actor,
    k: int,
    objective: str = "median",
    max_km: float | None = None,
    required: Sequence[str] = (),
    excluded: Sequence[str] = (),
    existing: Sequence[str] = (),
    keep_current: bool = False,
    time_limit: float | None = 60.0,
    community: Institution | None = None,
    villages_file=None,
    villages_name: str = "",
    matrix_file=None,
    matrix_name: str = "",
    matrix_unit: str = "km",
) -> SitingRun:
    """Record a siting run and solve it (a Celery task, eager by default): over the tree's
    villages, or over an uploaded villages file (``id,name,lat,lon,population``), with
    great-circle km or an uploaded road distance/time matrix. Bad parameters and bad files
    raise before anything is written; a file's errors name its rows and fields."""
    community = community or community_of()
    if community is None:
        raise ValidationError(_("There is no medical community in the institution tree."))
    if villages_file is not None:
        try:
            villages = parse_villages_csv(_read_upload(villages_file, "villages_file"))
        except SitingInputError as exc:
            raise ValidationError(exc.message, field="villages_file", extra=exc.extra) from exc
    else:
        villages = tree_villages(community)
    if not villages:
        raise ValidationError(_("No village of the community has coordinates."))
    matrix_text = None
    if matrix_file is not None:
        matrix_text = _read_upload(matrix_file, "matrix_file")
        try:
            parse_matrix_csv(matrix_text, villages)
        except SitingInputError as exc:
            raise ValidationError(exc.message, field="matrix_file", extra=exc.extra) from exc
    if k < 1:
        raise ValidationError(_("Choose at least one point."), field="k")
    if objective == "coverage" and not max_km:
        raise ValidationError(_("Maximal covering needs a distance limit."), field="max_km")
    known = {v.id for v in villages}
    for field, ids in (("required", required), ("excluded", excluded), ("existing", existing)):
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ValidationError(
                _("Unknown village code(s): %(codes)s") % {"codes": ", ".join(unknown)},
                field=field,
            )
    if keep_current:
        missing = [c for c in current_point_codes(community) if c not in known]
        if missing:
            raise ValidationError(
                _(
                    "The current points' villages %(codes)s are not in the villages file: "
                    "add them or do not keep the current points."
                )
                % {"codes": ", ".join(missing[:10])},
                field="keep_current",
            )
    hosts = len(villages) - len(set(excluded) | set(existing))
    if k > hosts:
        raise ValidationError(
            _(
                "The number of points (%(k)s) is larger than the villages that can host a new "
                "point (%(n)s)."
            )
            % {"k": k, "n": hosts},
            field="k",
        )
    run = SitingRun(
        community=community,
        k=k,
        objective=objective,
        max_km=max_km,
        time_limit=time_limit,
        keep_current=keep_current,
        required=list(required),
        excluded=list(excluded),
        existing=list(existing),
        villages=[v.__dict__ for v in villages],
        source=(villages_name or _("uploaded file"))[:200] if villages_file is not None else "",
        matrix_unit=(matrix_unit or "km") if matrix_text is not None else "",
        created_by=actor,
    )
    if matrix_text is not None:
        run.matrix_file.save(
            (matrix_name or "matrix.csv")[-80:], ContentFile(matrix_text.encode()), save=False
        )
    run.save()
    from countycare.outreach.tasks import solve_siting_run

    transaction.on_commit(lambda: solve_siting_run.delay(run.pk))
    return run


def execute_run(run: SitingRun) -> SitingRun:
    """Solve a queued run; a failure is stored on the run with its message, never raised."""
    villages = [Village(**v) for v in run.villages]
    required = list(run.required)
    if run.keep_current:
        required += [c for c in current_point_codes(run.community) if c not in required]
    try:
        distances = run_distances(run, villages)
        result = solve_villages(
            villages,
            distances,
            k=run.k,
            objective=run.objective,
            max_km=run.max_km,
            required=required,
            excluded=run.excluded,
            existing=run.existing,
            time_limit=run.time_limit,
        )
    except (siting.SitingError, SitingInputError) as exc:
        SitingRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error=str(exc))
        run.refresh_from_db()
        return run
    data = result.as_json(villages)
    data.update(
        {
            "bound": result.bound,
            "status": result.status,
            "heuristic_objective": result.heuristic_objective,
            "distances": [round(d, 3) if np.isfinite(d) else None for d in result.distances],
            "required": required,
        }
    )
    # The comparison with the points in force: both with the existing clinics open.
    known = {v.id for v in villages}
    current = [c for c in current_point_codes(run.community) if c in known]
    open_now = list(run.existing)
    chosen_all = data["chosen"] + open_now
    compare = {"chosen": assignment_cost(villages, distances, chosen_all)}
    if current:
        compare["current"] = assignment_cost(villages, distances, current + open_now)
    km = run.max_km or 5.0
    compare["coverage_km"] = km
    compare["chosen"]["covered_share"] = coverage_share(villages, distances, chosen_all, km)
    if current:
        compare["current"]["covered_share"] = coverage_share(
            villages, distances, current + open_now, km
        )
        compare["current"]["codes"] = current
    data["compare"] = compare
    SitingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.DONE,
        result=data,
        objective_value=result.objective,
        gap=result.gap,
        seconds=result.seconds,
    )
    run.refresh_from_db()
    return run


def apply_run(*, actor, run: SitingRun, on: dt.date | None = None) -> list[ServicePoint]:
    """Make a run's points the county's circuit service points (OUT-01): a point kept where
    it was stays, new ones become institutions of type ``circuit_service_point`` under the
    host village's township, and points no longer chosen are retired (never deleted: their
    visits stay in the annual summary)."""
    if run.status != RunStatus.DONE:
        raise ValidationError(_("Only a finished siting run can be applied."))
    on = on or timezone.localdate()
    chosen = set(run.result.get("chosen", []))
    known = set(
        Institution.objects.active()
        .subtree(run.community)
        .filter(code__in=chosen, type__in=VILLAGE_TYPES)
        .values_list("code", flat=True)
    )
    if chosen - known:
        raise ValidationError(
            _(
                "The villages %(codes)s are not villages of the institution tree: a run over "
                "an uploaded file is for comparison; add the villages to the tree to apply it."
            )
            % {"codes": ", ".join(sorted(chosen - known)[:10])}
        )
    with transaction.atomic():
        SitingRun.objects.select_for_update().filter(pk=run.pk).first()
        current = {
            sp.village.code: sp
            for sp in ServicePoint.objects.select_related("village", "institution").filter(
                retired_on__isnull=True, village__path__startswith=run.community.path
            )
        }
        kept = []
        for code, sp in current.items():
            if code not in chosen:
                sp.retired_on = on
                sp.save(update_fields=["retired_on"])
                Institution.objects.filter(pk=sp.institution_id).update(is_active=False)
            else:
                kept.append(sp)
        villages = {i.code: i for i in Institution.objects.filter(code__in=chosen - set(current))}
        created = []
        for code in sorted(chosen - set(current)):
            village = villages[code]
            parent = village.township or village.parent
            inst, _created = Institution.objects.update_or_create(
                code=f"{code}-CSP",
                defaults={
                    "name": f"{village.area_name or village.short_name}巡回医疗服务点",
                    "short_name": f"{village.area_name or village.short_name}服务点",
                    "area_name": village.area_name,
                    "type": InstitutionType.CIRCUIT_SERVICE_POINT,
                    "parent": parent,
                    "latitude": village.latitude,
                    "longitude": village.longitude,
                    "served_population": village.served_population,
                    "is_active": True,
                },
            )
            sp, _new = ServicePoint.objects.update_or_create(
                institution=inst,
                defaults={
                    "village": village,
                    "established_on": on,
                    "retired_on": None,
                    "siting_run": run,
                },
            )
            created.append(sp)
        run.applied_at = timezone.now()
        run.applied_by = actor
        run.save(update_fields=["applied_at", "applied_by"])
        audit.log(
            audit.Action.UPDATE,
            actor=actor,
            obj=run,
            institution=run.community,
            detail={"applied": sorted(chosen), "retired": sorted(set(current) - chosen)},
        )
    return kept + created


def default_k() -> int:
    from countycare.outreach import policy

    return int(org_policy.value(policy.SERVICE_POINTS_K))
