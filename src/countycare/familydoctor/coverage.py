"""Contract coverage (签约覆盖率, FD-01/FD-02) as aggregate SQL, for every village of a subtree
and rolled up to its townships and the county, for all residents and for each key population.

The denominators are the indicators app's (indicators.sources ``residents_qs`` and
``key_population_q``): residents of the subtree on the reference day (the period's last day,
today while it is open), born by then and not dead before it; key populations are 65+ and 0–6
on that day or a declared tag in force that day, each resident once however many groups he is
in. The numerator: those of them with a contract in force at some day of the period (a
contract is in force from ``start_on`` to ``end_on``; termination moves ``end_on``).

The queries group by village and join with semi-joins only (``IN (subquery)`` in WHERE), so
the database hashes each side once: six grouped queries whatever the size of the county."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from countycare.familydoctor.models import Contract
from countycare.organizations import policy
from countycare.organizations.models import Institution, InstitutionType
from countycare.residents.models import (
    DECLARED_KEY_POPULATIONS,
    KeyPopulation,
    KeyPopulationTag,
    Resident,
)

POPULATIONS = tuple(KeyPopulation.values)


@dataclass
class Counts:
    """Residents and contracted residents, overall and per key population."""

    residents: int = 0
    contracted: int = 0
    key: int = 0
    key_contracted: int = 0
    # population code → [residents, contracted]
    groups: dict[str, list[int]] = field(default_factory=lambda: {p: [0, 0] for p in POPULATIONS})

    def add(self, other: Counts) -> None:
        self.residents += other.residents
        self.contracted += other.contracted
        self.key += other.key
        self.key_contracted += other.key_contracted
        for key, (n, c) in other.groups.items():
            self.groups[key][0] += n
            self.groups[key][1] += c

    @property
    def rate(self) -> float | None:
        return _rate(self.contracted, self.residents)

    @property
    def key_rate(self) -> float | None:
        return _rate(self.key_contracted, self.key)

    def group_rate(self, key: str) -> float | None:
        n, c = self.groups[key]
        return _rate(c, n)


def _rate(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 1) if den else None


def reference_day(start: dt.date, end: dt.date) -> dt.date:
    """The day head counts refer to: the period's last day, today while it is open."""
    return max(start, min(end, timezone.localdate()))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def derived_q(key: str, day: dt.date, community=None) -> Q:
    """65+ and 0–6 on ``day`` (policy numbers of organizations, FD-08/FD-07)."""
    if key == KeyPopulation.ELDERLY:
        age = int(policy.value(policy.ELDERLY_AGE, community))
        return Q(birth_date__lte=_years_before(day, age))
    age = int(policy.value(policy.CHILD_MAX_AGE, community))
    return Q(birth_date__gt=_years_before(day, age + 1))


def residents_on(day: dt.date, villages: QuerySet) -> QuerySet[Resident]:
    """Residents of ``villages`` (ids, a subquery) on ``day``: born, not yet dead."""
    return Resident.objects.filter(
        Q(deceased_on__isnull=True) | Q(deceased_on__gt=day),
        home_village_id__in=villages,
        birth_date__lte=day,
    )


def contracted_ids(start: dt.date, end: dt.date) -> QuerySet:
    """Ids of residents with a contract in force on some day from ``start`` to ``end``."""
    return Contract.objects.filter(start_on__lte=end, end_on__gte=start).values("resident_id")


def tagged_ids(day: dt.date, tags=None) -> QuerySet:
    qs = KeyPopulationTag.objects.current(day)
    if tags is not None:
        qs = qs.filter(tag__in=tags)
    return qs.values("resident_id")


def key_q(day: dt.date, community=None) -> Q:
    """Any key population on ``day`` (for lists; the counts below avoid the OR)."""
    return (
        derived_q(KeyPopulation.ELDERLY, day, community)
        | derived_q(KeyPopulation.CHILD, day, community)
        | Q(pk__in=tagged_ids(day))
    )


def _grouped(qs: QuerySet, **aggregates) -> dict[int, dict[str, int]]:
    return {
        row.pop("home_village_id"): row
        for row in qs.values("home_village_id").annotate(**aggregates).order_by()
    }


def by_village(
    villages: QuerySet, start: dt.date, end: dt.date, community=None
) -> dict[int, Counts]:
    """Counts per village id for the period (dates inclusive)."""
    day = reference_day(start, end)
    base = residents_on(day, villages)
    contracted = contracted_ids(start, end)
    elderly, child = (derived_q(k, day, community) for k in (KeyPopulation.ELDERLY,
                                                             KeyPopulation.CHILD))  # fmt: skip
    derived = {
        "n": Count("pk"),
        "elderly": Count("pk", filter=elderly),
        "child": Count("pk", filter=child),
    }
    everyone = _grouped(base, **derived)
    signed = _grouped(base.filter(pk__in=contracted), **derived)
    # Key populations once each: the derived groups (65+ and 0–6 never overlap) plus the
    # tagged residents who are in neither.
    other_tagged = base.exclude(elderly).exclude(child).filter(pk__in=tagged_ids(day))
    extra = _grouped(other_tagged, n=Count("pk"))
    extra_signed = _grouped(other_tagged.filter(pk__in=contracted), n=Count("pk"))
    tags = KeyPopulationTag.objects.current(day).filter(
        resident__in=base.values("pk"), tag__in=[k.value for k in DECLARED_KEY_POPULATIONS]
    )
    per_tag = tags.values("resident__home_village_id", "tag").annotate(
        n=Count("resident_id", distinct=True)
    )
    per_tag_signed = (
        tags.filter(resident_id__in=contracted)
        .values("resident__home_village_id", "tag")
        .annotate(n=Count("resident_id", distinct=True))
    )
    out: dict[int, Counts] = defaultdict(Counts)
    for village, row in everyone.items():
        c = out[village]
        c.residents = row["n"]
        c.groups[KeyPopulation.ELDERLY][0] = row["elderly"]
        c.groups[KeyPopulation.CHILD][0] = row["child"]
        c.key = row["elderly"] + row["child"] + extra.get(village, {}).get("n", 0)
    for village, row in signed.items():
        c = out[village]
        c.contracted = row["n"]
        c.groups[KeyPopulation.ELDERLY][1] = row["elderly"]
        c.groups[KeyPopulation.CHILD][1] = row["child"]
        c.key_contracted = row["elderly"] + row["child"] + extra_signed.get(village, {}).get("n", 0)
    for row in per_tag.order_by():
        out[row["resident__home_village_id"]].groups[row["tag"]][0] = row["n"]
    for row in per_tag_signed.order_by():
        out[row["resident__home_village_id"]].groups[row["tag"]][1] = row["n"]
    return dict(out)


def subtree_ids(institution: Institution) -> QuerySet:
    return Institution.objects.filter(path__startswith=institution.path).values("pk")


def totals(institution: Institution, start: dt.date, end: dt.date, community=None) -> Counts:
    """The subtree's counts for the period (dates inclusive)."""
    total = Counts()
    for counts in by_village(subtree_ids(institution), start, end, community).values():
        total.add(counts)
    return total


@dataclass
class Node:
    institution: Institution
    counts: Counts
    children: list[Node] = field(default_factory=list)
    previous: Counts | None = None  # the same period a year earlier


LEVEL_TYPES = (
    InstitutionType.TOWNSHIP_HEALTH_CENTER,
    InstitutionType.COMMUNITY_HEALTH_CENTER,
)


def tree(root: Institution, start: dt.date, end: dt.date, *, previous: bool = False) -> Node:
    """Coverage of ``root``, its townships (township / community health centers) and their
    villages (where residents live), each with its counts; ``previous``: also the same period
    a year before (FD-02: coverage rises every year)."""
    community = _community(root)
    now = by_village(subtree_ids(root), start, end, community)
    before: dict[int, Counts] = {}
    if previous:
        before = by_village(
            subtree_ids(root), _years_before(start, 1), _years_before(end, 1), community
        )
    nodes = list(
        Institution.objects.filter(path__startswith=root.path)
        .filter(Q(type__in=LEVEL_TYPES) | Q(pk__in=list(now)) | Q(pk=root.pk))
        .order_by("path")
    )
    by_pk = {n.pk: Node(n, Counts(), previous=Counts() if previous else None) for n in nodes}
    root_node = by_pk[root.pk]
    townships = [n for n in nodes if n.type in LEVEL_TYPES and n.pk != root.pk]
    for inst in nodes:
        node = by_pk[inst.pk]
        own = now.get(inst.pk)
        if own is None:
            continue
        # A village counts toward every ancestor shown: its township and the root.
        for ancestor in (*_containing(townships, inst), root_node.institution):
            target = by_pk[ancestor.pk]
            target.counts.add(own)
            if previous and inst.pk in before:
                target.previous.add(before[inst.pk])
        if inst.pk != root.pk and inst.type not in LEVEL_TYPES:
            node.counts.add(own)
            if previous and inst.pk in before:
                node.previous.add(before[inst.pk])
    for inst in nodes:
        if inst.pk == root.pk:
            continue
        parent = next((t for t in reversed(_containing(townships, inst)) if t.pk != inst.pk), None)
        holder = by_pk[parent.pk] if parent is not None else root_node
        holder.children.append(by_pk[inst.pk])
    return root_node


def _containing(townships: list[Institution], inst: Institution) -> list[Institution]:
    return [t for t in townships if inst.path.startswith(t.path)]


def _community(institution: Institution):
    ids = [int(p) for p in institution.path.strip("/").split("/") if p]
    return (
        Institution.objects.filter(pk__in=ids, type=InstitutionType.MEDICAL_COMMUNITY)
        .order_by("-depth")
        .values_list("pk", flat=True)
        .first()
    )


def target_for(key: str, year: int, community=None) -> float | None:
    """The target in force for ``year``: the entry of the latest year not after it (before the
    first entry, the first) — as the indicators read their targets."""
    raw = policy.value(key, community)
    if raw in (None, ""):
        return None
    if not isinstance(raw, dict):
        return float(raw)
    by_year = sorted((int(y), float(v)) for y, v in raw.items() if v is not None)
    if not by_year:
        return None
    earlier = [v for y, v in by_year if y <= year]
    return earlier[-1] if earlier else by_year[0][1]
