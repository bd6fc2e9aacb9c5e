"""The ECG viewer's SVG endpoint (htmx swaps it in when the reader changes layout, speed,
gain or lead). Scoped like the order: a recording outside the user's scope is a 404."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from countycare.core import audit
from countycare.core.decorators import login_required
from countycare.core.errors import ValidationError
from countycare.core.scoping import scoped
from countycare.ecg import viewer
from countycare.ecg.models import EcgRecording


def _float(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


@login_required
@require_GET
def recording_svg(request: HttpRequest, pk: int) -> HttpResponse:
    rec = scoped(request.user, EcgRecording).select_related("order").filter(pk=pk).first()
    if rec is None:
        raise Http404
    layout = request.GET.get("layout", "3x4")
    if layout not in ("3x4", "rows", "lead"):
        layout = "3x4"
    try:
        wf = rec.waveform()
    except (OSError, ValidationError):
        return HttpResponse(status=410)
    audit.log(audit.Action.READ, actor=request.user, obj=rec, detail={"view": "ecg"})
    svg = viewer.render_svg(
        wf,
        layout=layout,
        speed=_float(request.GET.get("speed"), 25.0),
        gain=_float(request.GET.get("gain"), 10.0),
        lead=request.GET.get("lead") or None,
        beats=rec.beats or None,
        title=f"ECG {rec.order.accession_number}",
    )
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response
