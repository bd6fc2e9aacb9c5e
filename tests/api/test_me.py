"""``/api/v1/me/``: who the logged-in user is, the roles in force and their permissions."""

import datetime as dt

import pytest

from tests.factories import with_role

pytestmark = pytest.mark.django_db


def test_me_lists_roles_with_institutions_and_permissions(village_doctor, tree, api):
    with_role(village_doctor, "nurse", tree.township_a)
    data = api(village_doctor).get("/api/v1/me/").json()
    assert data["username"] == "village_doctor"
    assert data["full_name"] == village_doctor.full_name
    assert data["is_superuser"] is False
    assert {(r["role"], r["institution_id"]) for r in data["roles"]} == {
        ("village_doctor", tree.village_a1.pk),
        ("nurse", tree.township_a.pk),
    }
    assert {r["institution_name"] for r in data["roles"]} == {"甲一村卫生室", "札萨克镇卫生院"}
    assert data["permissions"] == [
        "ack_critical",
        "change_resident",
        "enter_results",
        "follow_up",
        "record_outreach",
        "record_visit",
        "refer",
        "register_resident",
        "request_exam",
        "sign_contract",
        "tag_resident",
        "view_resident",
    ]


def test_me_for_a_role_with_more_permissions(institution_admin, api):
    data = api(institution_admin).get("/api/v1/me/").json()
    assert "view_audit" in data["permissions"]
    assert "view_national_id" in data["permissions"]
    assert "manage_master_data" not in data["permissions"]


def test_me_hides_expired_roles(village_doctor, tree, api):
    with_role(village_doctor, "township_doctor", tree.township_b, valid_until=dt.date(2001, 1, 1))
    data = api(village_doctor).get("/api/v1/me/").json()
    assert [r["role"] for r in data["roles"]] == ["village_doctor"]


def test_me_for_the_superuser(superuser, api):
    data = api(superuser).get("/api/v1/me/").json()
    assert data["is_superuser"] is True
    assert data["roles"] == []
    assert "view_audit" in data["permissions"]
