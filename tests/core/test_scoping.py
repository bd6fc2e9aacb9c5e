"""``scoped(user, Model)``: the one function that decides which resident and clinical rows a
user sees (architecture.md, "Scoping"). The expectations per role are in
tests/factories.py, ``CAST``."""

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

from countycare.core import scoping
from countycare.core.models import AuditEntry
from countycare.core.scoping import scoped
from countycare.organizations.models import Institution, RoleAssignment
from countycare.residents import selectors
from countycare.residents.models import KeyPopulationTag, Resident
from tests.factories import CAST, KeyPopulationTagFactory, ResidentFactory, StaffFactory, with_role

pytestmark = pytest.mark.django_db


def keys_of(qs, residents):
    by_pk = {r.pk: key for key, r in residents.items()}
    return {by_pk[pk] for pk in qs.values_list("pk", flat=True)}


@pytest.mark.parametrize("key", CAST)
def test_each_role_sees_exactly_its_subtree(key, cast, residents):
    assert keys_of(scoped(cast[key], Resident), residents) == CAST[key].sees


@pytest.mark.parametrize("key", CAST)
def test_search_selector_is_scoped(key, cast, residents):
    user = cast[key]
    # "张" matches every resident of the fixture; the scope decides what comes back.
    assert keys_of(selectors.search_residents(user, "张"), residents) == CAST[key].sees
    assert keys_of(selectors.search_residents(user, "zh"), residents) == CAST[key].sees
    # An exact national ID or phone of a resident elsewhere finds nothing.
    b1 = residents["b1"]
    expected = {"b1"} & CAST[key].sees
    assert keys_of(selectors.search_residents(user, b1.national_id), residents) == expected
    assert keys_of(selectors.search_residents(user, b1.phone), residents) == expected


def test_rows_reached_through_a_relation_are_scoped_by_it(village_doctor, residents):
    KeyPopulationTagFactory(resident=residents["a1"])
    KeyPopulationTagFactory(resident=residents["b1"])
    tags = scoped(village_doctor, KeyPopulationTag)
    assert [t.resident_id for t in tags] == [residents["a1"].pk]


def test_a_queryset_is_narrowed_not_replaced(township_doctor, residents):
    qs = Resident.objects.filter(name__startswith="张安")  # a1 and a2 (both visible)
    assert keys_of(scoped(township_doctor, qs), residents) == {"a1", "a2"}
    qs = Resident.objects.filter(name="张北平")  # b1, outside township A
    assert not scoped(township_doctor, qs).exists()


def test_roles_at_several_institutions_add_up(tree, residents):
    # A village doctor at A1 who is also dispatched to township B.
    user = StaffFactory()
    with_role(user, "village_doctor", tree.village_a1)
    with_role(user, "township_doctor", tree.township_b)
    assert keys_of(scoped(user, Resident), residents) == {"a1", "b1", "b2"}


def test_roles_not_in_force_give_nothing(tree, residents):
    today = dt.date.today()
    expired = StaffFactory()
    with_role(expired, "village_doctor", tree.village_a1, valid_until=today - dt.timedelta(1))
    future = StaffFactory()
    with_role(future, "village_doctor", tree.village_a1, valid_from=today + dt.timedelta(1))
    last_day = StaffFactory()
    with_role(last_day, "village_doctor", tree.village_a1, valid_until=today)
    assert not scoped(expired, Resident).exists()
    assert not scoped(future, Resident).exists()
    assert keys_of(scoped(last_day, Resident), residents) == {"a1"}


def test_inactive_user_or_institution_gives_nothing(tree, residents):
    user = StaffFactory(is_active=False)
    with_role(user, "township_doctor", tree.township_a)
    assert not scoped(user, Resident).exists()

    other = StaffFactory()
    with_role(other, "village_doctor", tree.village_a2)
    Institution.objects.filter(pk=tree.village_a2.pk).update(is_active=False)
    assert not scoped(other, Resident).exists()


def test_anonymous_sees_nothing(residents):
    from django.contrib.auth.models import AnonymousUser

    assert not scoped(AnonymousUser(), Resident).exists()
    assert not scoped(None, Resident).exists()


def test_a_role_at_a_township_covers_villages_added_later(township_doctor, tree):
    new_village = Institution.objects.create(
        code="VA3", name="甲三村卫生室", type="village_clinic", parent=tree.township_a
    )
    resident = ResidentFactory(home_village=new_village)
    assert scoped(township_doctor, Resident).filter(pk=resident.pk).exists()


def test_forget_drops_the_cached_scope_after_a_role_change(tree, residents):
    user = StaffFactory()
    with_role(user, "village_doctor", tree.village_a1)
    assert keys_of(scoped(user, Resident), residents) == {"a1"}
    # Within a request the scope is computed once …
    RoleAssignment.objects.create(staff=user, role="village_doctor", institution=tree.village_b1)
    assert keys_of(scoped(user, Resident), residents) == {"a1"}
    # … and forget() makes the next call see the new role.
    scoping.forget(user)
    assert keys_of(scoped(user, Resident), residents) == {"a1", "b1"}


def test_registered_rules_widen_the_scope(village_doctor, residents, monkeypatch):
    monkeypatch.setattr(scoping, "_rules", {})
    b2 = residents["b2"]
    scoping.register_rule(Resident, lambda user, scope: Q(pk=b2.pk))
    assert keys_of(scoped(village_doctor, Resident), residents) == {"a1", "b2"}


def test_a_model_without_scope_paths_is_refused(village_doctor):
    with pytest.raises(ImproperlyConfigured):
        scoped(village_doctor, AuditEntry)
