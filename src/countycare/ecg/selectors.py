"""Reads of ECG recordings beyond one order (issue 10): the resident's earlier ECGs beside the
one being read — a reader compares with the previous tracing before calling a finding new
(a new bundle-branch block or ST elevation means something an old one does not).

Everything goes through the one scoping mechanism: a reader sees the earlier ECGs of the
orders routed to their center, a village doctor those of their village, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import F, Q

from countycare.core.scoping import scoped
from countycare.ecg.models import EcgRecording, PreReadStatus

PREVIOUS_SHOWN = 3
# Measurements compared with the previous ECG: (key — ``heart_rate`` the recording's rate,
# the others its ``measurements`` —, label, unit, step). A change is shown when it reaches the step: a rate change of 10 bpm, a PR or
# QRS change of 20 ms, a QTc change of 30 ms and an axis change of 30° are the sizes a
# cardiologist comments on in a serial comparison; smaller ones are measurement noise (PR
# and QT are within ~15 ms of LUDB's cardiologists, docs/ecg-validation.md).
COMPARED = (
    ("heart_rate", "HR", "bpm", 10.0),
    ("pr_ms", "PR", "ms", 20.0),
    ("qrs_ms", "QRS", "ms", 20.0),
    ("qtc_bazett_ms", "QTc", "ms", 30.0),
    ("axis_deg", "QRS axis", "°", 30.0),
)


@dataclass
class Comparison:
    previous: EcgRecording
    new: list[str] = field(default_factory=list)  # statement codes not in the previous ECG
    gone: list[str] = field(default_factory=list)  # codes of the previous ECG not in this one
    changes: list[dict] = field(default_factory=list)  # {"label", "before", "now", "delta", "unit"}


def previous_recordings(user, rec: EcgRecording, limit: int = PREVIOUS_SHOWN) -> list[EcgRecording]:
    """The resident's ECGs recorded before ``rec`` (other orders) that ``user`` may see,
    pre-read done, newest first."""
    order = rec.order
    when = rec.acquired_at or order.created_at
    qs = (
        scoped(user, EcgRecording)
        .filter(order__resident_id=order.resident_id, status=PreReadStatus.DONE)
        .exclude(order_id=order.pk)
        .filter(Q(acquired_at__lt=when) | Q(acquired_at__isnull=True, order__created_at__lt=when))
        .select_related("order")
        .order_by(F("acquired_at").desc(nulls_last=True), "-order__created_at", "-pk")
    )
    return list(qs[:limit])


def _value(rec: EcgRecording, key: str):
    if key == "heart_rate":
        return rec.heart_rate
    value = (rec.measurements or {}).get(key)
    return value if isinstance(value, int | float) else None


def compare(rec: EcgRecording, previous: EcgRecording) -> Comparison:
    """What changed from ``previous`` to ``rec``: statements that appeared or went, and the
    measurements that moved by at least their step (``COMPARED``)."""
    now_codes = [s["code"] for s in rec.statements or []]
    before_codes = [s["code"] for s in previous.statements or []]
    out = Comparison(
        previous=previous,
        new=[c for c in now_codes if c not in before_codes],
        gone=[c for c in before_codes if c not in now_codes],
    )
    for key, label, unit, step in COMPARED:
        now, before = _value(rec, key), _value(previous, key)
        if now is None or before is None:
            continue
        delta = now - before
        if key == "axis_deg":  # the shorter way round the circle
            delta = (delta + 180.0) % 360.0 - 180.0
        if abs(delta) >= step:
            out.changes.append(
                {"label": label, "before": before, "now": now, "delta": delta, "unit": unit}
            )
    return out
