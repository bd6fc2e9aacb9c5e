"""``/api/v1/institutions/``: master data, read-only, open to every logged-in user."""

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/v1/institutions/"


def codes(response):
    assert response.status_code == 200, response.content
    return [row["code"] for row in response.json()["results"]]


@pytest.mark.parametrize("key", ["village_doctor", "health_commission_viewer", "superuser"])
def test_every_logged_in_user_reads_the_whole_tree(key, cast, api):
    # Not scoped: institutions are not resident data (a village doctor refers a patient to
    # the county hospital, so it must see it).
    assert codes(api(cast[key]).get(URL)) == [
        "150627",
        "MC01",
        "H01",
        "TA",
        "VA1",
        "VA2",
        "TB",
        "VB1",
        "VB2",
    ]


def test_anonymous_is_refused(tree, api):
    assert api().get(URL).status_code in (401, 403)


def test_filter_by_type_and_parent(village_doctor, tree, api):
    client = api(village_doctor)
    assert codes(client.get(URL, {"type": "township_health_center"})) == ["TA", "TB"]
    assert codes(client.get(URL, {"parent": tree.township_b.pk})) == ["VB1", "VB2"]
    both = client.get(URL, {"parent": tree.community.pk, "type": "general_hospital"})
    assert codes(both) == ["H01"]
    assert codes(client.get(URL, {"parent": 999_999})) == []


def test_detail(village_doctor, tree, api):
    data = api(village_doctor).get(f"{URL}{tree.lead_hospital.pk}/").json()
    assert data["name"] == "伊金霍洛旗人民医院"
    assert data["type"] == "general_hospital"
    assert data["type_label"]
    assert data["parent"] == tree.community.pk
    assert data["is_lead_hospital"] is True
    assert data["depth"] == 2


def test_read_only(community_admin, tree, api):
    client = api(community_admin)
    assert client.post(URL, {"code": "X", "name": "X"}, format="json").status_code == 405
    detail = f"{URL}{tree.village_a1.pk}/"
    assert client.patch(detail, {"name": "X"}, format="json").status_code == 405
    assert client.delete(detail).status_code == 405
    tree.village_a1.refresh_from_db()
    assert tree.village_a1.name == "甲一村卫生室"
