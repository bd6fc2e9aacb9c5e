"""``/api/v1/audit/``: the trail is searchable by those with ``view_audit``: an institution
admin sees the entries of the institutions in its subtree, county-wide roles and system
admins see all; nothing can be written through it (GOV-04)."""

import datetime as dt

import pytest
from django.utils import timezone

from countycare.core import audit
from countycare.core.models import AuditEntry
from tests.factories import StaffFactory, with_role

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit/"


@pytest.fixture
def entries(village_doctor, village_doctor_b1, residents):
    """A read of a1 (township A), a read of b1 (township B), an export with no institution.
    (Not logins: logging the test clients in may write login entries of its own.)"""
    return {
        "a1": audit.log(audit.Action.READ, actor=village_doctor, obj=residents["a1"]),
        "b1": audit.log(audit.Action.READ, actor=village_doctor_b1, obj=residents["b1"]),
        "export": audit.log(audit.Action.EXPORT, actor=village_doctor),
    }


def listed(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def system_admin(tree):
    user = StaffFactory(username="sysadmin")
    with_role(user, "system_admin", tree.county)
    return user


@pytest.mark.parametrize(
    "key",
    ["village_doctor", "township_doctor", "public_health_officer", "health_commission_viewer"],
)
def test_roles_without_view_audit_are_refused(key, cast, entries, api):
    client = api(cast[key])
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{entries['a1'].pk}/").status_code == 403


def test_an_institution_admin_sees_its_subtree_only(institution_admin, entries, api):
    client = api(institution_admin)
    assert listed(client.get(URL, {"action": "read"})) == {entries["a1"].pk}
    everything = listed(client.get(URL))
    assert entries["b1"].pk not in everything
    assert entries["export"].pk not in everything  # no institution: not of its subtree
    assert client.get(f"{URL}{entries['a1'].pk}/").status_code == 200
    assert client.get(f"{URL}{entries['b1'].pk}/").status_code == 404


@pytest.mark.parametrize("key", ["community_admin", "superuser"])
def test_county_wide_holders_see_all(key, cast, entries, api):
    assert listed(api(cast[key]).get(URL)) >= {e.pk for e in entries.values()}


def test_a_system_admin_sees_all(system_admin, entries, api):
    assert listed(api(system_admin).get(URL)) >= {e.pk for e in entries.values()}


def test_filters(community_admin, village_doctor, residents, entries, api):
    client = api(community_admin)
    mine = {entries["a1"].pk, entries["export"].pk}
    assert listed(client.get(URL, {"user": village_doctor.pk})) == mine
    assert listed(client.get(URL, {"action": "export"})) == {entries["export"].pk}
    assert listed(client.get(URL, {"resident": residents["b1"].pk})) == {entries["b1"].pk}
    both = client.get(URL, {"user": village_doctor.pk, "action": "read"})
    assert listed(both) == {entries["a1"].pk}


def test_date_range_is_inclusive_in_local_days(community_admin, monkeypatch, api):
    # Entries cannot be moved in time once written; write them at chosen moments instead.
    # 00:01 in Asia/Shanghai is still the previous day in UTC: the range is in local days.
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)

    def write_at(day, time):
        moment = timezone.make_aware(dt.datetime.combine(day, time))
        monkeypatch.setattr(timezone, "now", lambda: moment)
        entry = audit.log(audit.Action.EXPORT, actor=community_admin)
        monkeypatch.undo()
        return entry.pk

    late_yesterday = write_at(yesterday, dt.time(23, 59))
    early_today = write_at(today, dt.time(0, 1))
    client = api(community_admin)
    export = {"action": "export"}
    assert listed(client.get(URL, {**export, "date_to": yesterday})) == {late_yesterday}
    assert listed(client.get(URL, {**export, "date_from": today})) == {early_today}
    assert listed(client.get(URL, {**export, "date_from": yesterday, "date_to": today})) == {
        late_yesterday,
        early_today,
    }
    assert listed(client.get(URL, {"date_from": today + dt.timedelta(days=1)})) == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"user": "me"}, "user"),
        ({"action": "erase"}, "action"),
        ({"resident": "-"}, "resident"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_from": "2025-02-01", "date_to": "2025-01-01"}, "date_to"),
    ],
)
def test_bad_filters_are_field_errors(community_admin, params, field, api):
    response = api(community_admin).get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_trail_cannot_be_written_through_the_api(community_admin, entries, api):
    client = api(community_admin)
    pk = entries["a1"].pk
    assert client.post(URL, {"action": "read"}, format="json").status_code == 405
    assert client.put(f"{URL}{pk}/", {"action": "update"}, format="json").status_code == 405
    assert client.patch(f"{URL}{pk}/", {"action": "update"}, format="json").status_code == 405
    assert client.delete(f"{URL}{pk}/").status_code == 405
    assert AuditEntry.objects.get(pk=pk).action == "read"
