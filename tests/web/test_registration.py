"""Registering a resident through the page (``residents:register``): the happy path, each
error beside its field in Chinese with nothing created, the duplicate with its link, and the
one-time token that makes a double submit on a flaky network create one resident."""

import datetime as dt

import pytest
from django.urls import reverse

from countycare.core.models import AuditEntry, IdempotencyRecord
from countycare.residents.models import KeyPopulationTag, Resident
from tests.factories import StaffFactory, national_id, with_role
from tests.web.conftest import page

pytestmark = pytest.mark.django_db

URL = reverse("residents:register")


def form_data(village, **overrides):
    data = {
        "token": "t-" + national_id()[-6:],
        "national_id": national_id(dt.date(1985, 4, 3), "F"),
        "name": "刘芳",
        "ethnicity": "02",
        "phone": "13900001111",
        "home_village": str(village.pk),
        "address": "甲一村3社12号",
        "tag_source": "",
    }
    data.update(overrides)
    return data


def field_errors(response, field):
    return [str(e) for e in response.context["form"].errors.get(field, [])]


def test_the_form_offers_only_the_villages_of_the_users_area(township_doctor, tree, web):
    response = web(township_doctor).get(URL)
    assert response.status_code == 200
    body = page(response)
    assert "甲一村卫生室" in body and "甲二村卫生室" in body
    assert "乙一村卫生室" not in body
    token = response.context["form"]["token"].value()
    assert token and len(token) >= 16


def test_a_village_doctor_with_one_village_gets_it_preselected(village_doctor, tree, web):
    form = web(village_doctor).get(URL).context["form"]
    assert form["home_village"].value() == str(tree.village_a1.pk)


def test_registering_creates_the_resident_and_opens_its_page(village_doctor, tree, web):
    data = form_data(tree.village_a1, tags=["hypertension", "disabled"], tag_source="健康体检")
    response = web(village_doctor).post(URL, data)
    resident = Resident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("residents:detail", args=[resident.pk])
    assert resident.name == "刘芳"
    assert resident.sex == "F" and resident.birth_date == dt.date(1985, 4, 3)
    assert resident.ethnicity == "02"
    assert resident.home_village == tree.village_a1
    assert resident.national_id == data["national_id"]
    assert resident.registered_by == village_doctor
    assert set(KeyPopulationTag.objects.values_list("tag", "source")) == {
        ("hypertension", "健康体检"),
        ("disabled", "健康体检"),
    }
    assert AuditEntry.objects.filter(action="create", resident_id=resident.pk).count() == 3


def test_a_wrong_check_digit_is_reported_beside_the_id_in_chinese(village_doctor, tree, web):
    good = national_id()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = web(village_doctor).post(URL, form_data(tree.village_a1, national_id=bad))
    assert response.status_code == 200
    errors = field_errors(response, "national_id")
    assert len(errors) == 1
    assert "校验码" in errors[0]
    assert "校验码" in page(response)
    assert not Resident.objects.exists()
    assert not AuditEntry.objects.exists()
    # What was typed is kept, so the user corrects one character instead of starting over.
    assert f'value="{bad}"' in page(response)


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"national_id": "15062719800517"}, "national_id", "18"),
        ({"national_id": "990627198005170011"}, "national_id", "99"),
        ({"national_id": ""}, "national_id", "身份证"),
        ({"name": ""}, "name", "姓名"),
        ({"phone": "12ab"}, "phone", "电话"),
        ({"home_village": ""}, "home_village", "村"),
        ({"home_village": "abc"}, "home_village", "村"),
        ({"home_village": "99999999"}, "home_village", "村"),
        ({"ethnicity": "77"}, "ethnicity", "民族"),
        ({"tags": ["hypertension"], "tag_source": ""}, "tag_source", "来源"),
        ({"tags": ["elderly"]}, "tags", ""),
    ],
)
def test_each_error_is_shown_beside_its_field_and_nothing_is_created(
    overrides, field, fragment, village_doctor, tree, web
):
    response = web(village_doctor).post(URL, form_data(tree.village_a1, **overrides))
    assert response.status_code == 200
    errors = field_errors(response, field)
    assert errors, response.context["form"].errors
    assert fragment in errors[0]
    assert not Resident.objects.exists()
    assert not KeyPopulationTag.objects.exists()
    assert not IdempotencyRecord.objects.exists()


def test_a_village_outside_the_area_is_unknown(village_doctor, tree, web):
    response = web(village_doctor).post(URL, form_data(tree.village_b1))
    assert field_errors(response, "home_village")
    assert not Resident.objects.exists()


def test_a_duplicate_links_the_existing_resident(village_doctor, residents, tree, web):
    existing = residents["a1"]
    response = web(village_doctor).post(
        URL, form_data(tree.village_a1, national_id=existing.national_id)
    )
    assert response.status_code == 200
    errors = field_errors(response, "national_id")
    assert existing.name in errors[0]
    assert response.context["existing_url"] == reverse("residents:detail", args=[existing.pk])
    assert f'href="{reverse("residents:detail", args=[existing.pk])}"' in page(response)
    assert Resident.objects.count() == len(residents)


def test_a_duplicate_outside_the_area_says_so_without_a_link(village_doctor, residents, tree, web):
    other = residents["b1"]
    response = web(village_doctor).post(
        URL, form_data(tree.village_a1, national_id=other.national_id)
    )
    assert field_errors(response, "national_id")
    assert not response.context["existing_url"]
    body = page(response)
    assert reverse("residents:detail", args=[other.pk]) not in body
    assert other.name not in body


def test_a_double_submit_with_the_same_token_creates_one_resident(village_doctor, tree, web):
    client = web(village_doctor)
    data = form_data(tree.village_a1, token="double-tap-token")
    first = client.post(URL, data)
    second = client.post(URL, data)
    assert Resident.objects.count() == 1
    resident = Resident.objects.get()
    target = reverse("residents:detail", args=[resident.pk])
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == target
    # The replay is not a second registration in the trail either.
    assert AuditEntry.objects.filter(action="create").count() == 1


def test_a_new_form_after_a_registration_registers_the_next_resident(village_doctor, tree, web):
    client = web(village_doctor)
    client.post(URL, form_data(tree.village_a1, token="first"))
    client.post(URL, form_data(tree.village_a1, token="second", name="刘强"))
    assert set(Resident.objects.values_list("name", flat=True)) == {"刘芳", "刘强"}


def test_a_spent_token_with_other_data_is_refused_and_renewed(village_doctor, tree, web):
    client = web(village_doctor)
    client.post(URL, form_data(tree.village_a1, token="reused"))
    response = client.post(URL, form_data(tree.village_a1, token="reused", name="别人"))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert response.context["form"]["token"].value() != "reused"
    assert Resident.objects.count() == 1


def test_after_an_error_the_same_token_still_registers_once(village_doctor, tree, web):
    client = web(village_doctor)
    data = form_data(tree.village_a1, token="retry", name="")
    assert client.post(URL, data).status_code == 200
    data["name"] = "刘芳"
    assert client.post(URL, data).status_code == 302
    assert client.post(URL, data).status_code == 302
    assert Resident.objects.count() == 1


def test_roles_that_may_not_register_get_403(center_reader, health_commission_viewer, web):
    for user in (center_reader, health_commission_viewer):
        assert web(user).get(URL).status_code == 403


def test_a_nurse_may_register(tree, web):
    nurse = StaffFactory()
    with_role(nurse, "nurse", tree.village_a2)
    response = web(nurse).post(URL, form_data(tree.village_a2))
    assert response.status_code == 302
    assert Resident.objects.get().home_village == tree.village_a2


def test_several_errors_are_shown_at_once(village_doctor, tree, web):
    """One round trip on a weak network should show every error the form can see."""
    good = national_id()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = web(village_doctor).post(URL, form_data(tree.village_a1, national_id=bad, name=""))
    assert "校验码" in field_errors(response, "national_id")[0]
    assert field_errors(response, "name")
    assert not Resident.objects.exists()
