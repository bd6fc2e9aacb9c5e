"""The resident endpoints as a client uses them: search and filters, registration, the
detail with key populations and the (masked) national ID, changes, tags, timeline."""

import datetime as dt

import pytest
from django.utils import timezone

from countycare.residents.models import Household, KeyPopulationTag, Resident
from tests.factories import KeyPopulationTagFactory, ResidentFactory, national_id

pytestmark = pytest.mark.django_db

URL = "/api/v1/residents/"


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_list_rows_carry_the_masked_id_only(village_doctor, residents, api):
    row = api(village_doctor).get(URL).json()["results"][0]
    a1 = residents["a1"]
    assert row["id"] == a1.pk
    assert row["name"] == "张安民"
    assert row["national_id_masked"] == a1.national_id_masked
    assert "national_id" not in row
    assert a1.national_id not in str(row)
    assert row["home_village_name"] == "甲一村卫生室"
    assert row["age"] == a1.age


def test_list_is_paginated_and_ordered_by_name(township_doctor, tree, api):
    for name in ["赵六", "孙七", "周八"]:
        ResidentFactory(home_village=tree.village_a2, name=name)
    client = api(township_doctor)
    first = client.get(URL, {"page_size": 2}).json()
    assert first["count"] == 3
    assert len(first["results"]) == 2
    assert first["next"]
    second = client.get(URL, {"page_size": 2, "page": 2}).json()
    names = [r["name"] for r in first["results"] + second["results"]]
    assert names == sorted(names)
    assert set(names) == {"赵六", "孙七", "周八"}


def test_filters_by_village_and_key_population(township_doctor, tree, api):
    today = timezone.localdate()
    old = ResidentFactory(home_village=tree.village_a1, birth_date=dt.date(today.year - 70, 1, 1))
    young = ResidentFactory(home_village=tree.village_a2, birth_date=dt.date(1990, 1, 1))
    KeyPopulationTagFactory(resident=young, tag="type2_diabetes")
    ended = ResidentFactory(home_village=tree.village_a2, birth_date=dt.date(1991, 1, 1))
    KeyPopulationTagFactory(
        resident=ended, tag="type2_diabetes", ended_on=today - dt.timedelta(days=1)
    )
    client = api(township_doctor)
    assert ids(client.get(URL, {"key_population": "elderly"})) == [old.pk]
    assert ids(client.get(URL, {"key_population": "type2_diabetes"})) == [young.pk]
    assert set(ids(client.get(URL, {"village": tree.village_a2.pk}))) == {young.pk, ended.pk}
    both = client.get(URL, {"village": tree.village_a1.pk, "key_population": "type2_diabetes"})
    assert ids(both) == []


def test_search_query_kinds(township_doctor, tree, api):
    r = ResidentFactory(home_village=tree.village_a1, name="欧阳明", phone="15847712345")
    client = api(township_doctor)
    for q in [
        "欧阳",
        "oym",
        "ouyang",
        "OUYANGMING",
        "158477",
        r.national_id,
        r.national_id.lower(),
    ]:
        assert ids(client.get(URL, {"q": q})) == [r.pk], q
    assert ids(client.get(URL, {"q": "阳明"})) == []


def test_register(village_doctor, tree, api):
    number = national_id(dt.date(1988, 8, 8), "F")
    body = {
        "national_id": number,
        "name": " 李秀英 ",
        "home_village": tree.village_a1.pk,
        "ethnicity": "02",
        "phone": "13912345678",
        "relation_to_head": "spouse",
        "tags": [{"tag": "hypertension", "source": "screening", "recorded_on": "2024-05-01"}],
    }
    response = api(village_doctor).post(URL, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    resident = Resident.objects.get()
    assert data["id"] == resident.pk
    assert (data["name"], data["sex"], data["birth_date"]) == ("李秀英", "F", "1988-08-08")
    assert data["ethnicity"] == "02"
    assert data["national_id_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert data["national_id"] is None
    assert [kp["key"] for kp in data["key_populations"]] == ["hypertension"]
    assert resident.tags.get().recorded_on == dt.date(2024, 5, 1)


def test_register_into_a_household_of_the_scope(village_doctor, tree, api):
    mine = Household.objects.create(code="H-A1-1", village=tree.village_a1)
    theirs = Household.objects.create(code="H-B1-1", village=tree.village_b1)
    client = api(village_doctor)
    body = {"national_id": national_id(), "name": "李四", "home_village": tree.village_a1.pk}
    refused = client.post(URL, {**body, "household": theirs.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"]["household"]
    response = client.post(URL, {**body, "household": mine.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["household"] == mine.pk


@pytest.mark.parametrize(
    ("key", "full"),
    [
        ("village_doctor", False),
        ("township_doctor", False),
        ("public_health_officer", None),  # a1 is outside township B
        ("institution_admin", True),
        ("community_admin", True),
        ("superuser", True),
    ],
)
def test_the_full_national_id_only_for_roles_that_need_it(key, full, cast, residents, api):
    a1 = residents["a1"]
    response = api(cast[key]).get(f"{URL}{a1.pk}/")
    if full is None:
        assert response.status_code == 404
        return
    data = response.json()
    assert data["national_id_masked"] == a1.national_id_masked
    assert data["national_id"] == (a1.national_id if full else None)
    if not full:
        assert a1.national_id not in response.content.decode()


def test_detail_lists_derived_and_declared_key_populations(village_doctor, tree, api):
    today = timezone.localdate()
    resident = ResidentFactory(
        home_village=tree.village_a1, birth_date=dt.date(today.year - 80, 1, 1)
    )
    tag = KeyPopulationTagFactory(resident=resident, tag="disabled", source="certificate")
    KeyPopulationTagFactory(resident=resident, tag="tuberculosis", ended_on=today)
    data = api(village_doctor).get(f"{URL}{resident.pk}/").json()
    assert data["key_populations"] == [
        {
            "key": "elderly",
            "label": data["key_populations"][0]["label"],
            "derived": True,
            "tag_id": None,
            "recorded_on": None,
            "source": None,
        },
        {
            "key": "disabled",
            "label": data["key_populations"][1]["label"],
            "derived": False,
            "tag_id": tag.pk,
            "recorded_on": tag.recorded_on.isoformat(),
            "source": "certificate",
        },
    ]
    assert all(kp["label"] for kp in data["key_populations"])


def test_patch_changes_only_what_is_sent(village_doctor, residents, api):
    a1 = residents["a1"]
    response = api(village_doctor).patch(
        f"{URL}{a1.pk}/", {"phone": "13700001111", "address": "一社"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["phone"], response.json()["address"]) == ("13700001111", "一社")
    a1.refresh_from_db()
    assert (a1.name, a1.phone, a1.address) == ("张安民", "13700001111", "一社")


def test_patch_can_record_a_death_and_clear_the_household(village_doctor, residents, api, tree):
    a1 = residents["a1"]
    a1.household = Household.objects.create(code="H1", village=tree.village_a1)
    a1.save()
    day = timezone.localdate() - dt.timedelta(days=3)
    response = api(village_doctor).patch(
        f"{URL}{a1.pk}/", {"deceased_on": day.isoformat(), "household": None}, format="json"
    )
    assert response.status_code == 200
    a1.refresh_from_db()
    assert (a1.deceased_on, a1.household) == (day, None)


def test_declare_and_end_a_tag(village_doctor, residents, api):
    a1 = residents["a1"]
    client = api(village_doctor)
    response = client.post(
        f"{URL}{a1.pk}/tags/",
        {"tag": "severe_mental_disorder", "source": "county hospital", "note": "F20"},
        format="json",
    )
    assert response.status_code == 201
    data = response.json()
    assert (data["tag"], data["source"], data["note"], data["resident"]) == (
        "severe_mental_disorder",
        "county hospital",
        "F20",
        a1.pk,
    )
    assert data["recorded_on"] == timezone.localdate().isoformat()
    ended = client.post(
        f"{URL}{a1.pk}/tags/{data['id']}/end/", {"reason": "moved away"}, format="json"
    )
    assert ended.status_code == 200
    assert ended.json()["end_reason"] == "moved away"
    assert KeyPopulationTag.objects.get().ended_on == timezone.localdate()


def test_timeline_newest_first(village_doctor, residents, api):
    a1 = residents["a1"]
    KeyPopulationTagFactory(
        resident=a1,
        tag="hypertension",
        recorded_on=timezone.localdate() - dt.timedelta(days=10),
        ended_on=timezone.localdate() - dt.timedelta(days=2),
    )
    Resident.objects.filter(pk=a1.pk).update(registered_at=timezone.now() - dt.timedelta(days=400))
    entries = api(village_doctor).get(f"{URL}{a1.pk}/timeline/").json()
    assert [e["kind"] for e in entries] == ["tag_ended", "tag", "registration"]
    assert entries[1]["detail"] == "screening"
    assert all(e["title"] for e in entries)


def test_health_commission_viewer_sees_no_rows(health_commission_viewer, residents, api):
    client = api(health_commission_viewer)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert client.get(f"{URL}{residents['a1'].pk}/").status_code == 404
