"""The access matrix of the foundation (issue "Done means"): roles × endpoints, API and web
pages. A village doctor cannot read, list, search or export another village's residents; a
township doctor sees both its villages but not the other township's; the community admin
and the superuser see all; the health-commission viewer sees no rows. Outside the scope an
object answers 404, never 403 (which would confirm it exists).

Expectations per role: tests/factories.py, ``CAST``."""

import pytest
from django.urls import reverse

from tests.conftest import RESIDENT_NAMES
from tests.factories import (
    ALL_VILLAGES,
    CAST,
    KeyPopulationTagFactory,
    StaffFactory,
    national_id,
    with_role,
)

pytestmark = pytest.mark.django_db

ROLES = list(CAST)
# Roles of the cast that may change and tag residents (organizations/roles.py), written out
# here so that a wrong permission table fails the matrix.
CLINICAL = {
    "village_doctor",
    "village_doctor_b1",
    "township_doctor",
    "public_health_officer",
    "institution_admin",
    "community_admin",
    "superuser",
}
EXPORTERS = {"public_health_officer", "institution_admin", "community_admin", "superuser"}
REVEALERS = EXPORTERS  # view_national_id: the same four roles of the cast


def ids(residents, keys):
    return {residents[k].pk for k in keys}


def api_detail(pk):
    return f"/api/v1/residents/{pk}/"


# --- API ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ROLES)
def test_api_list_shows_exactly_the_scope(key, cast, residents, api):
    response = api(cast[key]).get("/api/v1/residents/")
    assert response.status_code == 200
    body = response.json()
    assert {row["id"] for row in body["results"]} == ids(residents, CAST[key].sees)
    assert body["count"] == len(CAST[key].sees)


@pytest.mark.parametrize("key", ROLES)
def test_api_search_never_returns_rows_outside_the_scope(key, cast, residents, api):
    client = api(cast[key])
    sees = CAST[key].sees
    for q in ("张", "zh", "zhang"):
        found = {r["id"] for r in client.get("/api/v1/residents/", {"q": q}).json()["results"]}
        assert found == ids(residents, sees), q
    # Exact national ID and phone of each resident: found only where visible.
    for k, resident in residents.items():
        for q in (resident.national_id, resident.phone):
            found = {r["id"] for r in client.get("/api/v1/residents/", {"q": q}).json()["results"]}
            assert found == ({resident.pk} if k in sees else set()), (k, q)
    # Filtering by a village outside the scope does not open it.
    for k, resident in residents.items():
        response = client.get("/api/v1/residents/", {"village": resident.home_village_id})
        found = {r["id"] for r in response.json()["results"]}
        assert found == ({resident.pk} if k in sees else set()), k


@pytest.mark.parametrize("key", ROLES)
def test_api_detail_is_404_outside_the_scope(key, cast, residents, api):
    client = api(cast[key])
    got = {k: client.get(api_detail(r.pk)).status_code for k, r in residents.items()}
    assert got == {k: 200 if k in CAST[key].sees else 404 for k in residents}


@pytest.mark.parametrize("key", ROLES)
def test_api_timeline_is_404_outside_the_scope(key, cast, residents, api):
    client = api(cast[key])
    got = {k: client.get(f"{api_detail(r.pk)}timeline/").status_code for k, r in residents.items()}
    assert got == {k: 200 if k in CAST[key].sees else 404 for k in residents}


@pytest.mark.parametrize("key", ROLES)
def test_api_patch_is_404_outside_the_scope(key, cast, residents, api):
    client = api(cast[key])
    got = {
        k: client.patch(api_detail(r.pk), {"phone": "13900000000"}, format="json").status_code
        for k, r in residents.items()
    }
    expected = {k: (200 if key in CLINICAL else 403) if k in CAST[key].sees else 404 for k in got}
    assert got == expected
    for k, r in residents.items():
        r.refresh_from_db()
        assert (r.phone == "13900000000") == (got[k] == 200)


@pytest.mark.parametrize("key", ROLES)
def test_api_tags_are_404_outside_the_scope(key, cast, residents, api):
    client = api(cast[key])
    got = {
        k: client.post(
            f"{api_detail(r.pk)}tags/",
            {"tag": "hypertension", "source": "screening"},
            format="json",
        ).status_code
        for k, r in residents.items()
    }
    expected = {k: (201 if key in CLINICAL else 403) if k in CAST[key].sees else 404 for k in got}
    assert got == expected


@pytest.mark.parametrize("key", ROLES)
def test_api_ending_a_tag_is_404_outside_the_scope(key, cast, residents, api):
    client = api(cast[key])
    tags = {k: KeyPopulationTagFactory(resident=r) for k, r in residents.items()}
    got = {
        k: client.post(
            f"{api_detail(r.pk)}tags/{tags[k].pk}/end/", {"reason": "cured"}, format="json"
        ).status_code
        for k, r in residents.items()
    }
    expected = {k: (200 if key in CLINICAL else 403) if k in CAST[key].sees else 404 for k in got}
    assert got == expected
    for k, tag in tags.items():
        tag.refresh_from_db()
        assert (tag.ended_on is not None) == (got[k] == 200)


def test_api_a_tag_of_another_resident_is_not_reachable_through_a_visible_one(
    village_doctor, residents, api
):
    tag_b1 = KeyPopulationTagFactory(resident=residents["b1"])
    # Resident a1 is visible, the tag belongs to b1: the pair does not exist for this user.
    url = f"{api_detail(residents['a1'].pk)}tags/{tag_b1.pk}/end/"
    assert api(village_doctor).post(url, {}, format="json").status_code == 404
    tag_b1.refresh_from_db()
    assert tag_b1.ended_on is None


def test_api_a_role_without_the_permission_gets_403_inside_its_scope(tree, residents, api):
    nurse = StaffFactory()
    with_role(nurse, "nurse", tree.village_a1)  # may view, register and tag, not change
    client = api(nurse)
    assert client.get(api_detail(residents["a1"].pk)).status_code == 200
    patch = {"phone": "13900000000"}
    assert client.patch(api_detail(residents["a1"].pk), patch, format="json").status_code == 403
    assert client.patch(api_detail(residents["b1"].pk), patch, format="json").status_code == 404


@pytest.mark.parametrize("key", ROLES)
def test_api_register_only_in_villages_of_the_scope(key, cast, tree, api):
    client = api(cast[key])
    villages = {"a1": tree.village_a1, "a2": tree.village_a2, "b1": tree.village_b1}
    got = {}
    for k, village in villages.items():
        body = {"national_id": national_id(), "name": "李四", "home_village": village.pk}
        got[k] = client.post("/api/v1/residents/", body, format="json").status_code
    if key not in CLINICAL:
        assert set(got.values()) == {403}
    else:
        # Outside the scope the village is "unknown" (400), exactly as a village that does
        # not exist.
        assert got == {k: 201 if k in CAST[key].sees else 400 for k in villages}


def test_api_anonymous_gets_nothing(residents, api):
    client = api()
    assert client.get("/api/v1/residents/").status_code in (401, 403)
    assert client.get(api_detail(residents["a1"].pk)).status_code in (401, 403)
    assert client.get("/api/v1/me/").status_code in (401, 403)


# --- Web pages (by URL name) ----------------------------------------------------------------


@pytest.mark.parametrize("key", ROLES)
def test_web_search_lists_only_the_scope(key, cast, residents, web):
    client = web(cast[key])
    for q in ("张", "zh"):
        response = client.get(reverse("residents:search"), {"q": q})
        assert response.status_code == 200
        page = response.content.decode()
        shown = {k for k in residents if RESIDENT_NAMES[k] in page}
        assert shown == CAST[key].sees, q
    for k, resident in residents.items():
        page = client.get(reverse("residents:search"), {"q": resident.national_id})
        shown = {j for j in residents if RESIDENT_NAMES[j] in page.content.decode()}
        assert shown == ({k} & CAST[key].sees), k


@pytest.mark.parametrize("key", ROLES)
@pytest.mark.parametrize("name", ["residents:detail", "residents:edit", "residents:tag-add"])
def test_web_resident_pages_are_404_outside_the_scope(key, name, cast, residents, web):
    client = web(cast[key])
    for k, resident in residents.items():
        response = client.get(reverse(name, args=[resident.pk]))
        if k in CAST[key].sees:
            assert response.status_code == 200, k
            assert RESIDENT_NAMES[k] in response.content.decode()
        else:
            assert response.status_code == 404, k
            assert RESIDENT_NAMES[k] not in response.content.decode()


@pytest.mark.parametrize("key", ROLES)
def test_web_reveal_id_is_404_outside_the_scope(key, cast, residents, web):
    client = web(cast[key])
    for k, resident in residents.items():
        response = client.post(reverse("residents:reveal-id", args=[resident.pk]))
        shown = resident.national_id in response.content.decode()
        if k not in CAST[key].sees:
            assert (response.status_code, shown) == (404, False), k
        elif key in REVEALERS:
            assert (response.status_code, shown) == (200, True), k
        else:
            assert (response.status_code, shown) == (403, False), k


@pytest.mark.parametrize("key", ROLES)
def test_web_export_contains_only_the_scope(key, cast, residents, web):
    response = web(cast[key]).get(reverse("residents:export"))
    if key not in EXPORTERS:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    text = content.decode("utf-8-sig")
    exported = {k for k in residents if RESIDENT_NAMES[k] in text}
    assert exported == CAST[key].sees


@pytest.mark.parametrize("key", ROLES)
def test_web_home_shows_no_resident_outside_the_scope(key, cast, residents, web):
    response = web(cast[key]).get(reverse("home"))
    assert response.status_code == 200
    page = response.content.decode()
    for k in ALL_VILLAGES - CAST[key].sees:
        assert RESIDENT_NAMES[k] not in page
