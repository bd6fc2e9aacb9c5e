"""The study viewer on the Walking Hospital's pages (telemed order panels, issue 4): the
reading page and the order page get the viewer (thumbnails, frame by frame and cine for
multi-frame ultrasound, window/level for radiographs, calibrated distance measurement, the
full header on demand) with the device's AI findings beside it; the signed report's PDF gets
key images and the findings, labelled as device output."""

from __future__ import annotations

import base64
import logging

from countycare.core import audit
from countycare.imaging import render, selectors
from countycare.telemed.models import HELD_STATES

log = logging.getLogger(__name__)
PDF_IMAGES = 4


def _pdf_images(study) -> list[str]:
    out = []
    for inst in selectors.image_instances(study)[:PDF_IMAGES]:
        try:
            data, content_type = render.render(inst, render.Request(frame=0, size="view"))
        except (render.RenderError, OSError):
            log.warning("no PDF image for instance %s", inst.pk)
            continue
        out.append(f"data:{content_type};base64,{base64.b64encode(data).decode()}")
    return out


def context(request, order, place: str) -> dict | None:
    user = None if request is None else request.user
    studies = list(selectors.studies_for_order(user, order))
    if not studies:
        return None
    held = bool(
        request is not None
        and place == "read"
        and order.status in HELD_STATES
        and order.claimed_by_id == request.user.pk
    )
    items = []
    for study in studies:
        images = selectors.image_instances(study)
        items.append(
            {
                "study": study,
                "script_id": f"imaging-items-{study.pk}",
                "images": images,
                "viewer": [selectors.viewer_item(i) for i in images],
                "documents": selectors.device_documents(study),
                "pdf_images": _pdf_images(study) if place == "pdf" else [],
            }
        )
        if request is not None:
            audit.log(
                audit.Action.READ, actor=request.user, obj=study,
                detail={"view": f"panel:{place}"},
            )  # fmt: skip
    priors = (
        selectors.prior_studies(request.user, order)
        if request is not None and place != "pdf"
        else []
    )
    return {"items": items, "interactive": place != "pdf", "held": held, "priors": priors}
