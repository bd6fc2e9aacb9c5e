"""The one scoping mechanism (architecture.md, "Scoping").

``scoped(user, Model)`` returns the rows of ``Model`` the user may see. A model holding
resident or clinical data declares ``scope_paths``: the lookups from it to an institution
(``("home_village",)`` for a resident, ``("resident__home_village", "center")`` for an order).
A row is visible when any of those institutions lies in the subtree of an institution where
the user holds a role that sees clinical data; county-wide roles see every row. Apps may add
rules for a model (a reader sees the orders routed to the reader's center) with
:func:`register_rule`.

Who holds which roles is the organizations app's business: it registers the provider that
turns a user into a :class:`Scope` (core imports no domain app).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, Q, QuerySet


@dataclass(frozen=True)
class Scope:
    """What a user may see. ``county_wide``: every row. Otherwise ``institution_ids`` is a
    queryset of institution ids (used as a subquery) or None for nothing."""

    county_wide: bool = False
    institution_ids: QuerySet | None = None

    @property
    def is_empty(self) -> bool:
        return not self.county_wide and self.institution_ids is None


Provider = Callable[[Any], Scope]
Rule = Callable[[Any, Scope], Q]

_provider: Provider | None = None
_rules: dict[type[Model], list[Rule]] = {}
_CACHE_ATTR = "_countycare_scope"


def register_provider(provider: Provider) -> None:
    global _provider
    _provider = provider


def register_rule(model: type[Model], rule: Rule) -> None:
    """Add an extra visibility rule for ``model``: ``rule(user, scope) -> Q`` over the model."""
    _rules.setdefault(model, []).append(rule)


def scope_for(user) -> Scope:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Scope()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    if _provider is None:
        raise ImproperlyConfigured("no scope provider registered")
    scope = _provider(user)
    setattr(user, _CACHE_ATTR, scope)
    return scope


def forget(user) -> None:
    """Drop the per-request caches (after role assignments change): the scope and whatever
    the provider and permission backend cached on the user, by convention under attributes
    named ``_countycare_*``."""
    for attr in [a for a in vars(user) if a.startswith("_countycare_")]:
        delattr(user, attr)


def scoped(user, model_or_queryset: type[Model] | QuerySet) -> QuerySet:
    """The rows of a model (or the narrowing of a queryset) that ``user`` may see."""
    if isinstance(model_or_queryset, QuerySet):
        qs = model_or_queryset
    else:
        qs = model_or_queryset._default_manager.all()
    model = qs.model
    paths = getattr(model, "scope_paths", None)
    if not paths:
        raise ImproperlyConfigured(f"{model.__name__} declares no scope_paths")
    scope = scope_for(user)
    if scope.county_wide:
        return qs
    condition = Q(pk__in=[])
    if scope.institution_ids is not None:
        for path in paths:
            condition |= Q(**{f"{path}__in": scope.institution_ids})
    for rule in _rules.get(model, ()):
        condition |= rule(user, scope)
    return qs.filter(condition)
