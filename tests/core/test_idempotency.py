"""Idempotency-Key on creates (architecture.md, "Idempotency"): village tablets on weak
networks resend; a retry gets the first answer, not a second record."""

import pytest

from countycare.core.models import IdempotencyRecord
from countycare.residents.models import KeyPopulationTag, Resident
from tests.factories import national_id

pytestmark = pytest.mark.django_db

URL = "/api/v1/residents/"


@pytest.fixture
def body(tree):
    return {"national_id": national_id(), "name": "李四", "home_village": tree.village_a1.pk}


def post(client, body, key):
    return client.post(URL, body, format="json", headers={"Idempotency-Key": key})


def test_the_same_key_twice_creates_one_resident_and_replays_the_answer(village_doctor, body, api):
    client = api(village_doctor)
    first = post(client, body, "tablet-7:0001")
    second = post(client, body, "tablet-7:0001")
    assert first.status_code == second.status_code == 201
    assert Resident.objects.count() == 1
    assert second.json() == first.json()
    assert second.json()["id"] == Resident.objects.get().pk
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_the_same_key_with_a_different_body_is_a_conflict(village_doctor, body, api):
    client = api(village_doctor)
    assert post(client, body, "k1").status_code == 201
    response = post(client, {**body, "name": "王五"}, "k1")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert list(Resident.objects.values_list("name", flat=True)) == ["李四"]


def test_a_failed_create_is_not_stored_and_a_corrected_retry_succeeds(village_doctor, body, api):
    client = api(village_doctor)
    wrong = {**body, "national_id": body["national_id"][:-1] + "0"}  # check digit typo
    if wrong["national_id"] == body["national_id"]:
        wrong["national_id"] = body["national_id"][:-1] + "1"
    response = post(client, wrong, "k2")
    assert response.status_code == 400
    assert response.json()["errors"]["national_id"]
    assert not IdempotencyRecord.objects.exists()
    # A retry of the failed request runs again (it is not replayed from a stored 400) …
    assert post(client, wrong, "k2").status_code == 400
    # … and the corrected request with the same key creates the resident.
    response = post(client, body, "k2")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert Resident.objects.count() == 1


def test_a_body_that_fails_type_checks_is_not_stored_either(village_doctor, body, api):
    client = api(village_doctor)
    assert post(client, {**body, "home_village": "A1"}, "k3").status_code == 400
    assert post(client, body, "k3").status_code == 201


def test_keys_belong_to_a_user(village_doctor, township_doctor, body, api):
    assert post(api(village_doctor), body, "shared-key").status_code == 201
    # Another user's identical key is a different request: it runs (and meets the duplicate).
    response = post(api(township_doctor), body, "shared-key")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_national_id"
    assert "Idempotent-Replayed" not in response.headers


def test_without_a_key_a_resend_meets_the_duplicate_rule(village_doctor, body, api):
    client = api(village_doctor)
    assert client.post(URL, body, format="json").status_code == 201
    response = client.post(URL, body, format="json")
    assert response.status_code == 409
    assert Resident.objects.count() == 1


def test_an_overlong_key_is_refused(village_doctor, body, api):
    response = post(api(village_doctor), body, "k" * 201)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Resident.objects.exists()


def test_the_stored_answer_never_holds_the_full_national_id(institution_admin, body, api):
    # The institution admin may see full IDs; the answer kept for replays still does not.
    response = post(api(institution_admin), body, "k4")
    assert response.status_code == 201
    record = IdempotencyRecord.objects.get()
    assert body["national_id"] not in str(record.response)
    assert response.json()["national_id"] is None


def test_declaring_a_tag_twice_with_a_key_replays(township_doctor, residents, api):
    client = api(township_doctor)
    url = f"/api/v1/residents/{residents['a1'].pk}/tags/"
    tag = {"tag": "type2_diabetes", "source": "health check"}
    key = {"Idempotency-Key": "t1"}
    first = client.post(url, tag, format="json", headers=key)
    second = client.post(url, tag, format="json", headers=key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert KeyPopulationTag.objects.count() == 1
    # The same key and body for another resident is another request: a conflict.
    other = f"/api/v1/residents/{residents['a2'].pk}/tags/"
    response = client.post(other, tag, format="json", headers=key)
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert KeyPopulationTag.objects.count() == 1
