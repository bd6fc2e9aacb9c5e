"""Bad input on every endpoint answers 400 (or 404 for an id in the path) with the field and
the reason, never 500. The test client re-raises any exception a view lets escape, so a 500
would fail these tests loudly rather than pass as "some status". Also: token login, bad
credentials, and the lockout after repeated failures (GOV-04)."""

import pytest
from django.conf import settings

from countycare.core.models import AuditEntry
from countycare.residents.models import KeyPopulationTag, Resident
from tests.factories import PASSWORD, KeyPopulationTagFactory, national_id

pytestmark = pytest.mark.django_db

HUGE = "张" * 100_000


@pytest.fixture
def client(village_doctor, api):
    return api(village_doctor)


@pytest.fixture
def urls(residents):
    a1 = residents["a1"]
    tag = KeyPopulationTagFactory(resident=a1)
    return {
        "create": "/api/v1/residents/",
        "detail": f"/api/v1/residents/{a1.pk}/",
        "tags": f"/api/v1/residents/{a1.pk}/tags/",
        "end": f"/api/v1/residents/{a1.pk}/tags/{tag.pk}/end/",
    }


def send(client, url, body, method="post"):
    return getattr(client, method)(url, body, format="json")


def field_errors(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"]
    return body["errors"]


# --- Bodies that are not JSON objects -------------------------------------------------------

WRITES = [("create", "post"), ("detail", "patch"), ("tags", "post"), ("end", "post")]


@pytest.mark.parametrize(("name", "method"), WRITES)
@pytest.mark.parametrize("raw", ['{"name": ', "{'name': 'x'}", "[1, 2", "\xff\xfe", "NaNx"])
def test_malformed_json_is_400(client, urls, name, method, raw):
    response = getattr(client, method)(urls[name], raw, content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize(("name", "method"), WRITES)
@pytest.mark.parametrize("raw", ["[]", "[{}]", '"text"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_400(client, urls, name, method, raw):
    response = getattr(client, method)(urls[name], raw, content_type="application/json")
    assert response.status_code == 400
    assert "errors" in response.json()


@pytest.mark.parametrize(("name", "method"), WRITES)
def test_other_media_types_are_415(client, urls, name, method):
    response = getattr(client, method)(urls[name], "name=x", content_type="text/plain")
    assert response.status_code == 415


# --- Register -------------------------------------------------------------------------------


@pytest.fixture
def body(tree):
    return {"national_id": national_id(), "name": "李四", "home_village": tree.village_a1.pk}


def test_missing_fields_are_named(client, urls):
    errors = field_errors(send(client, urls["create"], {}))
    assert set(errors) == {"national_id", "name", "home_village"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ["李四"]),
        ("name", {"zh": "李四"}),
        ("name", None),
        ("national_id", None),
        ("national_id", ["150627"]),
        ("home_village", "A1"),
        ("home_village", 1.5),
        ("home_village", True),
        ("home_village", None),
        ("home_village", 0),
        ("home_village", -3),
        ("home_village", 10**30),
        ("birth_date", "1985-13-01"),
        ("birth_date", 19850709),
        ("sex", "U"),
        ("sex", 1),
        ("ethnicity", "00"),
        ("relation_to_head", "cousin"),
        ("household", "h1"),
        ("phone", ["139"]),
        ("tags", "hypertension"),
        ("tags", [{"tag": "foo", "source": "x"}]),
        ("tags", [{"tag": "hypertension"}]),
        ("tags", [{"tag": "hypertension", "source": "x", "recorded_on": "soon"}]),
        ("name", HUGE),
        ("national_id", "1" * 100_000),
        ("address", HUGE),
        ("phone", "1" * 10_000),
    ],
)
def test_wrong_types_and_values_are_field_errors(client, urls, body, field, value):
    errors = field_errors(send(client, urls["create"], {**body, field: value}))
    assert field in errors
    assert not Resident.objects.filter(name="李四").exists()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("national_id", "123", "length"),
        ("national_id", 150627198005170011, "check_digit"),
        ("home_village", 999_999, "unknown_village"),
        ("household", 999_999, "unknown_household"),
        ("name", "   ", None),
    ],
)
def test_rule_violations_are_field_errors_with_a_code(client, urls, body, field, value, code):
    response = send(client, urls["create"], {**body, field: value})
    errors = field_errors(response)
    assert field in errors
    if code:
        assert response.json()["code"] == code


def test_a_duplicate_is_409_linking_the_existing_resident(client, urls, body):
    first = send(client, urls["create"], body)
    assert first.status_code == 201
    response = send(client, urls["create"], {**body, "name": "李思"})
    assert response.status_code == 409
    data = response.json()
    assert data["code"] == "duplicate_national_id"
    assert data["existing_id"] == first.json()["id"]
    assert data["errors"]["national_id"]


def test_a_duplicate_outside_the_scope_is_409_without_a_link(
    village_doctor_b1, client, urls, body, api, tree
):
    other = {**body, "home_village": tree.village_b1.pk}
    assert send(api(village_doctor_b1), urls["create"], other).status_code == 201
    response = send(client, urls["create"], body)
    assert response.status_code == 409
    assert "existing_id" not in response.json()


# --- Change ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("national_id", "15062719800517001X"),
        ("sex", "F"),
        ("birth_date", "1990-01-01"),
        ("id", 5),
        ("name", None),
        ("name", HUGE),
        ("home_village", "x"),
        ("ethnicity", "00"),
        ("relation_to_head", "boss"),
        ("deceased_on", "31/12/2024"),
        ("deceased_on", "2999-01-01"),
        ("phone", "call me"),
    ],
)
def test_patch_rejects_what_it_cannot_take(client, urls, residents, field, value):
    before = Resident.objects.get(pk=residents["a1"].pk)
    errors = field_errors(send(client, urls["detail"], {field: value}, "patch"))
    assert field in errors
    after = Resident.objects.get(pk=residents["a1"].pk)
    assert (after.name, after.phone, after.deceased_on) == (
        before.name,
        before.phone,
        before.deceased_on,
    )
    assert not AuditEntry.objects.filter(action="update").exists()


def test_an_empty_patch_is_400(client, urls):
    response = send(client, urls["detail"], {}, "patch")
    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"]


def test_put_and_delete_do_not_exist(client, urls, residents):
    assert client.put(urls["detail"], {"name": "x"}, format="json").status_code == 405
    assert client.delete(urls["detail"]).status_code == 405
    assert Resident.objects.filter(pk=residents["a1"].pk).exists()


# --- Tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "tag"),
        ({"tag": "hypertension"}, "source"),
        ({"tag": "foo", "source": "x"}, "tag"),
        ({"tag": "elderly", "source": "x"}, "tag"),
        ({"tag": ["hypertension"], "source": "x"}, "tag"),
        ({"tag": "hypertension", "source": HUGE}, "source"),
        ({"tag": "hypertension", "source": "x", "recorded_on": "2024-02-30"}, "recorded_on"),
        ({"tag": "hypertension", "source": "x", "recorded_on": "2999-01-01"}, "recorded_on"),
        ({"tag": "hypertension", "source": "x", "note": HUGE}, "note"),
    ],
)
def test_declare_tag_field_errors(client, urls, residents, body, field):
    assert field in field_errors(send(client, urls["tags"], body))
    # The fixture's open hypertension tag is the only one.
    assert KeyPopulationTag.objects.filter(resident=residents["a1"]).count() == 1


def test_a_second_open_tag_is_409(client, urls):
    response = send(client, urls["tags"], {"tag": "hypertension", "source": "screening"})
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_tag"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ended_on": "yesterday"}, "ended_on"),
        ({"ended_on": "1900-01-01"}, "ended_on"),
        ({"ended_on": "2999-01-01"}, "ended_on"),
        ({"reason": {"why": "x"}}, "reason"),
        ({"reason": HUGE}, "reason"),
    ],
)
def test_end_tag_field_errors(client, urls, body, field):
    assert field in field_errors(send(client, urls["end"], body))
    assert not KeyPopulationTag.objects.filter(ended_on__isnull=False).exists()


def test_ending_twice_is_409(client, urls):
    assert send(client, urls["end"], {"reason": "cured"}).status_code == 200
    response = send(client, urls["end"], {"reason": "cured"})
    assert response.status_code == 409
    assert response.json()["code"] == "already_ended"


# --- Ids in the path and query parameters ---------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/residents/abc/",
        "/api/v1/residents/-1/",
        "/api/v1/residents/0/",
        "/api/v1/residents/99999999999999999999999999/",
        "/api/v1/residents/1e3/",
        "/api/v1/residents/abc/timeline/",
        "/api/v1/institutions/abc/",
        "/api/v1/institutions/99999999999999999999999999/",
    ],
)
def test_non_numeric_or_huge_ids_in_the_path_are_404(client, residents, path):
    response = client.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/residents/abc/tags/",
        "/api/v1/residents/99999999999999999999999999/tags/",
        "/api/v1/residents/{a1}/tags/abc/end/",
        "/api/v1/residents/{a1}/tags/99999999999999999999999999/end/",
    ],
)
def test_non_numeric_or_huge_ids_in_write_paths_are_404(client, residents, path):
    url = path.format(a1=residents["a1"].pk)
    response = client.post(url, {"tag": "disabled", "source": "x"}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/v1/residents/", {"village": "A1"}, "village"),
        ("/api/v1/residents/", {"village": "99999999999999999999999"}, "village"),
        ("/api/v1/residents/", {"key_population": "smokers"}, "key_population"),
        ("/api/v1/residents/", {"q": "张" * 1000}, "q"),
        ("/api/v1/institutions/", {"type": "castle"}, "type"),
        ("/api/v1/institutions/", {"parent": "root"}, "parent"),
    ],
)
def test_bad_query_parameters_are_field_errors(client, url, params, field):
    assert field in field_errors(client.get(url, params))


@pytest.mark.parametrize("page", ["abc", "0", "999", "-1"])
def test_bad_page_numbers_are_404_not_500(client, residents, page):
    assert client.get("/api/v1/residents/", {"page": page}).status_code == 404


def test_a_huge_page_size_is_capped(client, residents):
    response = client.get("/api/v1/residents/", {"page_size": "1000000"})
    assert response.status_code == 200


# --- Token login ----------------------------------------------------------------------------

TOKEN_URL = "/api/v1/auth/token/"


def test_token_login_works_and_the_token_authenticates(village_doctor, api):
    response = api().post(TOKEN_URL, {"username": "village_doctor", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    me = api().get("/api/v1/me/", headers={"Authorization": f"Token {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "village_doctor"
    # The same token again for the same user; a wrong token is refused.
    again = api().post(TOKEN_URL, {"username": "village_doctor", "password": PASSWORD})
    assert again.json()["token"] == token
    # Session authentication comes first in settings, so DRF answers 403 rather than 401.
    bad = api().get("/api/v1/me/", headers={"Authorization": "Token nope"})
    assert bad.status_code == 403
    assert "username" not in bad.json()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "village_doctor", "password": "wrong"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "village_doctor"},
        {"password": PASSWORD},
        {"username": ["village_doctor"], "password": PASSWORD},
        {"username": "village_doctor", "password": HUGE},
        {},
    ],
)
def test_bad_credentials_are_400(village_doctor, api, body):
    response = api().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    assert "token" not in response.json()
    assert response.json()["errors"]


def test_an_inactive_user_gets_no_token(village_doctor, api):
    village_doctor.is_active = False
    village_doctor.save()
    response = api().post(TOKEN_URL, {"username": "village_doctor", "password": PASSWORD})
    assert response.status_code == 400


def test_malformed_json_on_the_token_endpoint_is_400(api):
    response = api().post(TOKEN_URL, '{"username": ', content_type="application/json")
    assert response.status_code == 400


def test_lockout_after_repeated_failures(village_doctor, township_doctor, api):
    limit = settings.AXES_FAILURE_LIMIT
    client = api()
    wrong = {"username": "village_doctor", "password": "wrong"}
    for _ in range(limit - 1):
        assert client.post(TOKEN_URL, wrong).status_code == 400
    locked = client.post(TOKEN_URL, wrong)
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert locked.json()["detail"]
    # Locked means locked: the right password does not help now …
    right = {"username": "village_doctor", "password": PASSWORD}
    response = client.post(TOKEN_URL, right)
    assert response.status_code == 429
    assert "token" not in response.json()
    # … while another user from the same address is not affected.
    other = client.post(TOKEN_URL, {"username": "township_doctor", "password": PASSWORD})
    assert other.status_code == 200


def test_a_successful_token_login_resets_the_failure_count(village_doctor, api):
    limit = settings.AXES_FAILURE_LIMIT
    client = api()
    wrong = {"username": "village_doctor", "password": "wrong"}
    right = {"username": "village_doctor", "password": PASSWORD}
    for _ in range(limit - 1):
        assert client.post(TOKEN_URL, wrong).status_code == 400
    assert client.post(TOKEN_URL, right).status_code == 200
    for _ in range(limit - 1):
        assert client.post(TOKEN_URL, wrong).status_code == 400
    assert client.post(TOKEN_URL, right).status_code == 200


def test_token_requests_are_throttled(village_doctor, api):
    client = api()
    right = {"username": "village_doctor", "password": PASSWORD}
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token"].split("/")[0])
    codes = [client.post(TOKEN_URL, right).status_code for _ in range(rate + 1)]
    assert codes[:rate] == [200] * rate
    assert codes[rate] == 429
