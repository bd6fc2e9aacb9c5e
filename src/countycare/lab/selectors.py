"""Lab reads (issue 5, SHC-01/02/03), all through ``scoped()``.

Result recognition (检查检验结果互认): :func:`recognized_results` and :func:`recognized_panels`
are what other apps call — a referral form asks whether the resident has a recognized CBC
within its validity window before ordering a fresh one (:func:`has_recognized`).

Lab figures for the indicators app: :func:`figures` over an institution subtree and a
period (share reported within the SHC-03 target, volumes, dead letters).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import hl7
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from countycare.core.scoping import scoped
from countycare.lab import policy as lab_policy
from countycare.lab import stats
from countycare.lab.models import Hl7Message, LabResult, MessageStatus
from countycare.organizations import policy
from countycare.telemed.models import Priority

DEFAULT_RECOGNITION_DAYS = 7


# --- results and recognition -------------------------------------------------------------------
def recognition_days() -> dict[str, int]:
    """LOINC code → days a recognized result stays valid; "default" for the others."""
    values = dict(policy.value(lab_policy.RECOGNITION_DAYS) or {})
    values.setdefault("default", DEFAULT_RECOGNITION_DAYS)
    return {k: int(v) for k, v in values.items()}


def _window() -> Case:
    days = recognition_days()
    default = days.pop("default")
    return Case(
        *(When(code=code, then=Value(dt.timedelta(days=n))) for code, n in days.items()),
        default=Value(dt.timedelta(days=default)),
        output_field=DurationField(),
    )


def with_validity(qs: QuerySet) -> QuerySet:
    """Annotate ``taken_at`` (specimen collection, else the observation time) and
    ``valid_until`` (taken_at + the test's recognition window)."""
    return qs.annotate(
        taken_at=Coalesce("collected_at", "observation__observed_at"),
    ).annotate(
        valid_until=ExpressionWrapper(F("taken_at") + _window(), output_field=DateTimeField())
    )


def resident_results(user, resident, *, since: dt.datetime | None = None) -> QuerySet:
    """The resident's lab results the user may see (any lab of the community, typed-in
    device results too), newest first, with their validity."""
    qs = scoped(user, LabResult).filter(observation__resident=resident)
    if since is not None:
        qs = qs.filter(observation__observed_at__gte=since)
    return (
        with_validity(qs)
        .select_related(
            "observation",
            "order",
            "order__service",
            "order__center__institution",
            "observation__institution",
            "entered_by",
        )
        .order_by("-taken_at", "order_id", "pk")
    )


def recognized_results(user, resident, *, at: dt.datetime | None = None, codes=None) -> QuerySet:
    """The resident's recognized results still valid at ``at`` (now): final results of a
    community lab within their test's window (policy ``lab_recognition_days``). ``codes``:
    only these LOINC codes."""
    at = at or timezone.now()
    qs = resident_results(user, resident).filter(
        recognized=True, taken_at__lte=at, valid_until__gte=at
    )
    if codes:
        qs = qs.filter(code__in=list(codes))
    return qs


@dataclass
class RecognizedPanel:
    """The recognized results of one order (a CBC, a urinalysis): what a referral shows."""

    order_id: int | None
    accession_number: str
    service_code: str
    service_name: str
    lab: str
    taken_at: dt.datetime
    valid_until: dt.datetime
    results: list = field(default_factory=list)

    @property
    def abnormal(self) -> int:
        return sum(1 for r in self.results if r.observation.flag not in ("", "N"))


def recognized_panels(user, resident, *, at: dt.datetime | None = None) -> list[RecognizedPanel]:
    """The resident's recognized results grouped by order, newest first; a panel is valid
    until its earliest-expiring result is."""
    panels: dict[int | None, RecognizedPanel] = {}
    for r in recognized_results(user, resident, at=at):
        key = r.order_id
        panel = panels.get(key)
        if panel is None:
            order = r.order
            panel = panels[key] = RecognizedPanel(
                order_id=r.order_id,
                accession_number=order.accession_number if order else "",
                service_code=order.service.code if order else "",
                service_name=order.service.name if order else r.name,
                lab=str(order.center.institution) if order else r.sender,
                taken_at=r.taken_at,
                valid_until=r.valid_until,
            )
        panel.valid_until = min(panel.valid_until, r.valid_until)
        panel.results.append(r)
    return list(panels.values())


def has_recognized(user, resident, test: str, *, at: dt.datetime | None = None) -> bool:
    """True when the resident has a recognized, still valid result for ``test``: a LOINC
    code (``718-7``) or a lab service code (``LAB-CBC``)."""
    qs = recognized_results(user, resident, at=at)
    return qs.filter(Q(code=test) | Q(order__service__code=test)).exists()


# --- dead letters ----------------------------------------------------------------------------
DEAD = [MessageStatus.DEAD_LETTER, MessageStatus.ERROR]


def messages_for(user) -> QuerySet:
    """HL7 messages the user may see: those of residents or lab orders in scope, and, for
    those who see a lab's institution, the ones nobody could match (scoping_rules)."""
    return scoped(user, Hl7Message)


def dead_letters(user, *, sender: str = "", error_code: str = "") -> QuerySet:
    qs = messages_for(user).filter(status__in=DEAD)
    if sender:
        qs = qs.filter(sender=sender)
    if error_code:
        qs = qs.filter(error_code=error_code)
    return qs.order_by("-received_at", "-pk")


def dead_letter_counts(user) -> dict:
    """Waiting dead letters: the total, per reason (HL7 error code) and per sender; and the
    messages of the last 24 hours by status."""
    waiting = messages_for(user).filter(status__in=DEAD)
    since = timezone.now() - dt.timedelta(hours=24)
    recent = messages_for(user).filter(received_at__gte=since)
    by_status = dict(recent.values_list("status").annotate(n=Count("pk")).order_by())
    return {
        "waiting": waiting.count(),
        "by_code": list(
            waiting.values("error_code").annotate(n=Count("pk")).order_by("-n", "error_code")
        ),
        "by_sender": list(
            waiting.values("sender").annotate(n=Count("pk")).order_by("-n", "sender")
        ),
        "last_24h": {
            "accepted": by_status.get(MessageStatus.ACCEPTED, 0),
            "dead_letter": by_status.get(MessageStatus.DEAD_LETTER, 0),
            "error": by_status.get(MessageStatus.ERROR, 0),
        },
    }


@dataclass(frozen=True)
class MissingCode:
    seq: int
    local_code: str
    text: str
    system: str
    unit: str


def missing_codes(message: Hl7Message) -> list[MissingCode]:
    """For a dead letter that lacks code mappings (error 103 at ``OBX^n^3``): each unmapped
    analyzer code with its name and unit as sent, to prefill the mapping form."""
    if message.error_code != "103" or not message.error_location.startswith("OBX^"):
        return []
    if not message.error_location.endswith("^3"):
        return []  # a unit that contradicts its test (OBX^n^6) is not a missing mapping
    from countycare.lab import oru

    try:
        msg = hl7.parse(message.raw.replace("\r\n", "\r").replace("\n", "\r").strip())
        found, seen = [], set()
        seq = 0
        for seg in msg:
            if oru.segment_name(seg) != "OBX":
                continue
            seq += 1
            ident, text, system = (oru.text(seg, 3, i) for i in (1, 2, 3))
            if not ident or ident in seen or system.upper() == "LN" or oru.is_loinc(ident):
                continue
            if oru.text(seg, 3, 6).upper() == "LN" or oru.text(seg, 2).upper() in {"IS", "ED"}:
                continue
            if f" {ident} (" not in f" {message.reason}":
                continue
            seen.add(ident)
            found.append(MissingCode(seq, ident[:40], text[:100], system, oru.unit_text(seg)[:20]))
    except Exception:  # a dead letter may be anything; the form is then empty
        return []
    return found


def missing_code(message: Hl7Message) -> MissingCode | None:
    """The first of :func:`missing_codes`."""
    found = missing_codes(message)
    return found[0] if found else None


# --- turnaround breaches and figures -----------------------------------------------------------
def _target() -> Case:
    minutes = stats.targets()
    return Case(
        *(When(order__priority=p, then=Value(dt.timedelta(minutes=m))) for p, m in minutes.items()),
        default=Value(dt.timedelta(minutes=minutes.get(Priority.ROUTINE, 120))),
        output_field=DurationField(),
    )


def breaches(user, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Orders with a lab result reported later than the target (SHC-03) among those collected
    in [start, end): one row per order and lab, the slowest result, latest first."""
    rows = (
        stats.results(user, start, end)
        .annotate(
            done_at=Coalesce("reported_at", "arrived_at"),
            deadline=ExpressionWrapper(F("collected_at") + _target(), output_field=DateTimeField()),
        )
        .filter(done_at__gt=F("deadline"))
        .select_related(
            "order", "order__service", "order__resident", "order__requesting_institution"
        )
        .order_by("-collected_at", "order_id")
    )
    out: dict[tuple, dict] = {}
    for r in rows:
        key = (r.order_id, r.sender)
        taken = r.done_at - r.collected_at
        row = out.get(key)
        if row is None:
            out[key] = {
                "order": r.order,
                "sender": r.sender,
                "collected_at": r.collected_at,
                "reported_at": r.done_at,
                "minutes": int(taken.total_seconds() // 60),
                "target": int((r.deadline - r.collected_at).total_seconds() // 60),
                "tests": [r.name or r.code],
                "service": r.order.service.name if r.order_id else "",
            }
        else:
            row["tests"].append(r.name or r.code)
            if r.done_at > row["reported_at"]:
                row["reported_at"] = r.done_at
                row["minutes"] = int(taken.total_seconds() // 60)
    return list(out.values())


def _subtree(institution) -> Q:
    path = institution.path
    return (
        Q(order__requesting_institution__path__startswith=path)
        | Q(order__center__institution__path__startswith=path)
        | Q(observation__institution__path__startswith=path)
    )


def figures(institution, start: dt.datetime, end: dt.datetime) -> dict:
    """The lab's figures for the indicators app (KPI, SHC-03) over ``institution``'s subtree
    (results ordered from, done by, or typed in at an institution of it) for results
    collected in [start, end). Aggregates only, no resident rows; the caller checks
    ``view_aggregates``. Keys:

    - ``results``: lab results (HL7 and typed in); ``hl7_results``, ``manual_results``;
    - ``measured``: HL7 results with a collection time; ``within_target``;
      ``share_within_target`` (0–1, None when nothing was measured); ``breaches``;
    - ``orders``: lab orders with results; ``recognized``: recognized results;
    - ``dead_letters``: messages received in the period and still waiting (county-wide:
      a message nobody could match belongs to no institution)."""
    base = LabResult.objects.filter(_subtree(institution)).filter(
        Q(collected_at__gte=start, collected_at__lt=end)
        | Q(collected_at__isnull=True, arrived_at__gte=start, arrived_at__lt=end)
    )
    hl7_rows = base.filter(message__isnull=False).annotate(
        done_at=Coalesce("reported_at", "arrived_at"),
        deadline=ExpressionWrapper(F("collected_at") + _target(), output_field=DateTimeField()),
    )
    agg = hl7_rows.aggregate(
        hl7_results=Count("pk"),
        measured=Count("pk", filter=Q(collected_at__isnull=False)),
        within=Count("pk", filter=Q(done_at__lte=F("deadline"))),
    )
    totals = base.aggregate(
        results=Count("pk"),
        manual=Count("pk", filter=Q(message__isnull=True)),
        orders=Count("order", distinct=True),
        recognized=Count("pk", filter=Q(recognized=True)),
    )
    measured, within = agg["measured"], agg["within"]
    return {
        "results": totals["results"],
        "hl7_results": agg["hl7_results"],
        "manual_results": totals["manual"],
        "measured": measured,
        "within_target": within,
        "share_within_target": (within / measured) if measured else None,
        "breaches": measured - within,
        "orders": totals["orders"],
        "recognized": totals["recognized"],
        "dead_letters": Hl7Message.objects.filter(
            status__in=DEAD, received_at__gte=start, received_at__lt=end
        ).count(),
    }


def daily_volumes(institution, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Results per day (collection date, county time) over the subtree: ``day``,
    ``results``, ``within_target``, ``measured`` — the indicators app's trend line."""
    from django.db.models.functions import TruncDate

    rows = (
        LabResult.objects.filter(_subtree(institution), message__isnull=False)
        .filter(collected_at__gte=start, collected_at__lt=end)
        .annotate(
            day=TruncDate("collected_at", tzinfo=timezone.get_current_timezone()),
            done_at=Coalesce("reported_at", "arrived_at"),
            deadline=ExpressionWrapper(F("collected_at") + _target(), output_field=DateTimeField()),
        )
        .values("day")
        .annotate(
            results=Count("pk"),
            measured=Count("pk", filter=Q(collected_at__isnull=False)),
            within_target=Count("pk", filter=Q(done_at__lte=F("deadline"))),
        )
        .order_by("day")
    )
    return list(rows)
