"""The ECG viewer on the Walking Hospital's pages (telemed order panels, issue 10): the
reading page and the order page get the interactive viewer (paper layout, 25/50 mm/s, gain,
per-lead view, zoom, calipers) and the pre-read as a draft; the signed report's PDF gets the
same SVG, static, on a landscape A4 page at true scale."""

from __future__ import annotations

import logging

from django.utils.safestring import mark_safe

from countycare.core.errors import ValidationError
from countycare.core.scoping import scoped
from countycare.ecg import preread, selectors, viewer
from countycare.ecg.models import EcgRecording, PreReadStatus

log = logging.getLogger(__name__)


def statement_rows(rec: EcgRecording, language: str = "zh-hans") -> list[dict]:
    return [
        {"code": s["code"], "name": preread.statement_name(s["code"], language),
         "confidence": s.get("confidence")}
        for s in rec.statements or []
    ]  # fmt: skip


def previous_context(request, rec: EcgRecording, language: str) -> dict | None:
    """The resident's earlier ECGs (scoped) and what changed since the latest of them."""
    earlier = selectors.previous_recordings(request.user, rec)
    if not earlier:
        return None
    comparison = selectors.compare(rec, earlier[0])
    name = lambda code: preread.statement_name(code, language)  # noqa: E731
    return {
        "rows": [
            {"rec": e, "m": e.measurements or {}, "statements": statement_rows(e, language)}
            for e in earlier
        ],
        "latest": earlier[0],
        "new": [{"code": c, "name": name(c)} for c in comparison.new],
        "gone": [{"code": c, "name": name(c)} for c in comparison.gone],
        "changes": comparison.changes,
    }


def context(request, order, place: str) -> dict | None:
    from django.utils import translation

    qs = (
        EcgRecording.objects.all()
        if request is None
        else scoped(request.user, EcgRecording)
    ).filter(order=order).select_related("attachment")  # fmt: skip
    items = []
    language = translation.get_language() or "zh-hans"
    for rec in qs:
        try:
            wf = rec.waveform()
        except (OSError, ValidationError):
            log.exception("ECG recording %s unreadable", rec.pk)
            items.append({"rec": rec, "svg": None})
            continue
        svg = viewer.render_svg(
            wf, layout="3x4", speed=25.0, gain=10.0, beats=rec.beats or None,
            title=f"ECG {order.accession_number}",
        )  # fmt: skip
        items.append(
            {
                "rec": rec,
                "svg": mark_safe(svg),  # noqa: S308 — built by viewer.render_svg, text escaped
                "leads": rec.leads,
                "m": rec.measurements or {},
                "statements": statement_rows(rec, language),
                "beats_used": len((rec.measurements or {}).get("beats_used") or []),
                "previous": (
                    previous_context(request, rec, language)
                    if request is not None and place != "pdf" and rec.status == PreReadStatus.DONE
                    else None
                ),
            }
        )
    if not items:
        return None
    return {"items": items, "interactive": place != "pdf"}
