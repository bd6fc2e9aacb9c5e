"""Contract coverage (签约覆盖率, FD-01/FD-02) as aggregate SQL, for every village of a subtree
and rolled up to its townships and the county, for all residents and for each key population.

The denominators are the indicators app's (indicators.sources ``residents_qs`` and
``key_population_q``): residents of the subtree on the reference day (the period's last day,
today while it is open), born by then and not dead before it; key populations are 65+ and 0–6
on that day or a declared tag in force that day, each resident once however many groups he is
in. The numerator: those of them with a contract in force at some day of the period (a
contract is in force from ``start_on`` to ``end_on``; termination moves ``end_on``).

One grouped query for every village at once (:func:`by_village`); townships and the county
are sums of their villages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
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


def by_village(
    villages: QuerySet | None, start: dt.date, end: dt.date, community=None, *, root=None
) -> dict[int, Counts]:
    """Counts per village id for the period (dates inclusive), in one pass over the residents.

    One SELECT: the residents of the subtree (``root``'s, or ``villages`` ids), each joined to
    whether a contract of theirs is in force in the period (a DISTINCT subquery, hashed once) and
    to their declared tags in force on the reference day (one row per resident with a flag per
    tag), grouped by village with a sum per figure. Written as SQL because the ORM can only
    express the per-resident flags as correlated subqueries (one probe per resident and flag):
    this is one scan and two hash joins whatever the size of the county (benchmarks/coverage.py).
    """
    from django.db import connection

    day = reference_day(start, end)
    elderly_age = int(policy.value(policy.ELDERLY_AGE, community))
    child_age = int(policy.value(policy.CHILD_MAX_AGE, community))
    old = _years_before(day, elderly_age)  # born on or before: 65+
    young = _years_before(day, child_age + 1)  # born after: 0–6
    quote = connection.ops.quote_name
    resident, tag_t, contract, inst = (
        quote(m._meta.db_table) for m in (Resident, KeyPopulationTag, Contract, Institution)
    )
    declared = [k.value for k in DECLARED_KEY_POPULATIONS]
    flags = ", ".join(
        f"MAX(CASE WHEN tag = %s THEN 1 ELSE 0 END) AS {quote('t_' + key)}" for key in declared
    )
    signed = "c.resident_id IS NOT NULL"
    is_key = "(r.birth_date <= %s OR r.birth_date > %s OR t.resident_id IS NOT NULL)"
    sums = [
        "COUNT(*)",
        f"SUM(CASE WHEN {signed} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {is_key} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {is_key} AND {signed} THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN r.birth_date <= %s THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN r.birth_date <= %s AND {signed} THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN r.birth_date > %s THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN r.birth_date > %s AND {signed} THEN 1 ELSE 0 END)",
    ]
    sum_params: list = [old, young, old, young, old, old, young, young]
    for key in declared:
        column = f"t.{quote('t_' + key)}"
        sums.append(f"SUM(COALESCE({column}, 0))")
        sums.append(f"SUM(CASE WHEN {signed} THEN COALESCE({column}, 0) ELSE 0 END)")
    if root is not None and root.parent_id is None:
        # The whole tree: every resident lives in it, no filter to join.
        where_villages, village_params = "1 = 1", []
    elif root is not None:
        where_villages = f"r.home_village_id IN (SELECT id FROM {inst} WHERE path LIKE %s)"  # noqa: S608
        village_params: list = [root.path + "%"]
    else:
        village_sql, village_params = villages.query.sql_with_params()
        where_villages = f"r.home_village_id IN ({village_sql})"
        village_params = list(village_params)
    # Table names come from the models; every value is a bound parameter.
    sql = (
        f"SELECT r.home_village_id, {', '.join(sums)} "  # noqa: S608
        f"FROM {resident} r "
        f"LEFT JOIN (SELECT DISTINCT resident_id FROM {contract} "
        f"           WHERE start_on <= %s AND end_on >= %s) c ON c.resident_id = r.id "
        f"LEFT JOIN (SELECT resident_id, {flags} FROM {tag_t} "
        f"           WHERE recorded_on <= %s AND (ended_on IS NULL OR ended_on > %s) "
        f"           GROUP BY resident_id) t ON t.resident_id = r.id "
        f"WHERE {where_villages} AND r.birth_date <= %s "
        f"  AND (r.deceased_on IS NULL OR r.deceased_on > %s) "
        f"GROUP BY r.home_village_id"
    )
    params = [*sum_params, end, start, *declared, day, day, *village_params, day, day]
    out: dict[int, Counts] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            c = Counts()
            village, c.residents, c.contracted, c.key, c.key_contracted = row[:5]
            values = [int(v or 0) for v in row[5:]]
            c.groups[KeyPopulation.ELDERLY] = values[0:2]
            c.groups[KeyPopulation.CHILD] = values[2:4]
            for i, key in enumerate(declared):
                c.groups[key] = values[4 + 2 * i : 6 + 2 * i]
            c.contracted, c.key, c.key_contracted = (
                int(c.contracted or 0),
                int(c.key or 0),
                int(c.key_contracted or 0),
            )
            out[village] = c
    return out


def subtree_ids(institution: Institution) -> QuerySet:
    return Institution.objects.filter(path__startswith=institution.path).values("pk")


def totals(institution: Institution, start: dt.date, end: dt.date, community=None) -> Counts:
    """The subtree's counts for the period (dates inclusive)."""
    total = Counts()
    for counts in by_village(None, start, end, community, root=institution).values():
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
    now = by_village(None, start, end, community, root=root)
    before: dict[int, Counts] = {}
    if previous:
        before = by_village(
            None, _years_before(start, 1), _years_before(end, 1), community, root=root
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
