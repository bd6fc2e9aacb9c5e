"""Reads of the imaging app, all scoped (core.scoping): a reader sees the studies of the
orders routed to their center (and their center's unmatched ones, to reconcile them); a
village doctor only the studies of their village's orders."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet
from django.urls import reverse

from countycare.core.scoping import scoped
from countycare.imaging.models import Instance, InstanceKind, Series, Study, StudyStatus


def studies_for_order(user, order) -> QuerySet[Study]:
    qs = Study.objects.all() if user is None else scoped(user, Study)
    return _with_instances(qs.filter(order=order))


def _with_instances(qs: QuerySet[Study]) -> QuerySet[Study]:
    return (
        qs.select_related("device", "order")
        .prefetch_related(
            Prefetch(
                "series",
                queryset=Series.objects.order_by("number", "pk").prefetch_related(
                    Prefetch("instances", queryset=Instance.objects.order_by("number", "pk"))
                ),
            )
        )
        .order_by("received_at", "pk")
    )


def study(user, pk) -> Study | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return _with_instances(scoped(user, Study).filter(pk=pk)).first()


def instance(user, pk) -> Instance | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return (
        scoped(user, Instance)
        .select_related("series__study__order", "series__study__device")
        .filter(pk=pk)
        .first()
    )


def unmatched(user) -> QuerySet[Study]:
    """The reconciliation list: studies waiting for a person, oldest first."""
    return (
        scoped(user, Study)
        .filter(status=StudyStatus.UNMATCHED)
        .select_related("device", "institution")
        .annotate(instance_count=Count("series__instances"))
        .order_by("received_at", "pk")
    )


def instances_of(study: Study) -> list[Instance]:
    return [i for s in study.series.all() for i in s.instances.all()]


def viewer_item(instance: Instance) -> dict:
    """What the viewer's script needs of one image instance."""
    photometric = instance.photometric.upper()
    return {
        "id": instance.pk,
        "kind": instance.kind,
        "frames": instance.frames,
        "rows": instance.rows,
        "columns": instance.columns,
        "spacing": instance.pixel_spacing or [],
        "spacingSource": instance.spacing_source,
        "frameMs": instance.frame_time_ms or 40.0,
        "window": instance.window or [],
        "grayscale": photometric in ("MONOCHROME1", "MONOCHROME2"),
        "frameUrl": reverse("imaging:frame", args=[instance.pk, 0]).replace("/0/", "/{frame}/"),
        "headerUrl": reverse("imaging:header", args=[instance.pk]),
    }


def device_documents(study: Study) -> list[dict]:
    """The device AI findings of a study: one entry per SR document or image with report
    fields, with the instance they came from."""
    out = []
    for inst in instances_of(study):
        if inst.findings and inst.findings.get("rows"):
            out.append({"instance": inst, "doc": inst.findings})
    return out


def image_instances(study: Study) -> list[Instance]:
    return [
        i for i in instances_of(study) if i.kind in (InstanceKind.IMAGE, InstanceKind.MULTIFRAME)
    ]


PRIORS_SHOWN = 5


def prior_studies(user, order, limit: int = PRIORS_SHOWN) -> list[Study]:
    """The resident's earlier studies (on their earlier orders) that ``user`` may see, newest
    first — a reader compares with the priors before calling a finding new. Each carries
    ``instance_count`` and ``first_image_id`` (its thumbnail), or None without an image."""
    studies = list(
        scoped(user, Study)
        .filter(order__resident_id=order.resident_id, status=StudyStatus.MATCHED)
        .exclude(order_id=order.pk)
        .filter(order__created_at__lt=order.created_at)
        .select_related("order", "order__service")
        .annotate(instance_count=Count("series__instances"))
        .order_by("-order__created_at", "-received_at", "-pk")[:limit]
    )
    first: dict[int, int] = {}
    images = (
        Instance.objects.filter(
            series__study__in=studies, kind__in=(InstanceKind.IMAGE, InstanceKind.MULTIFRAME)
        )
        .order_by("series__study_id", "series__number", "series_id", "number", "pk")
        .values_list("series__study_id", "pk")
    )
    for study_id, pk in images:
        first.setdefault(study_id, pk)
    for s in studies:
        s.first_image_id = first.get(s.pk)
    return studies
