"""The resident page and what is done from it: the audited read, revealing the national ID,
edits, declaring and ending key-population tags; 404 for every endpoint outside the scope
(never 403, and nothing changed)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from countycare.core.models import AuditEntry
from countycare.residents.models import Household, KeyPopulationTag
from tests.factories import KeyPopulationTagFactory, ResidentFactory, StaffFactory, with_role
from tests.web.conftest import page

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"residents:{name}", args=args)


def test_the_page_shows_demographics_masked_id_and_timeline(village_doctor, residents, web):
    a1 = residents["a1"]
    KeyPopulationTagFactory(resident=a1, tag="type2_diabetes", source="乡镇卫生院筛查")
    response = web(village_doctor).get(url("detail", a1.pk))
    assert response.status_code == 200
    body = page(response)
    assert a1.name in body
    assert a1.national_id_masked in body
    assert a1.national_id not in body
    assert a1.phone in body
    assert "甲一村卫生室" in body and "札萨克镇卫生院" in body  # village and its township
    assert "2型糖尿病" in body and "乡镇卫生院筛查" in body
    assert "登记" in body  # the registration entry of the timeline
    # A village doctor may not reveal the full ID: no button.
    assert url("reveal-id", a1.pk) not in body


def test_every_view_of_the_page_writes_a_read_entry(village_doctor, residents, web):
    a1 = residents["a1"]
    client = web(village_doctor)
    client.get(url("detail", a1.pk), REMOTE_ADDR="10.1.2.3")
    client.get(url("detail", a1.pk))
    entries = AuditEntry.objects.filter(action="read", resident_id=a1.pk)
    assert entries.count() == 2
    entry = entries.order_by("id").first()
    assert entry.actor == village_doctor
    assert entry.ip == "10.1.2.3"
    assert entry.institution_id == a1.home_village_id
    assert entry.path == url("detail", a1.pk)


def test_household_members_are_listed_only_within_the_scope(village_doctor, tree, web):
    household = Household.objects.create(code="H-1", village=tree.village_a1)
    head = ResidentFactory(name="户主甲", home_village=tree.village_a1, household=household)
    ResidentFactory(name="家人甲", home_village=tree.village_a1, household=household)
    # A member registered in another township (moved away) stays invisible.
    ResidentFactory(name="家人乙", home_village=tree.village_b1, household=household)
    body = page(web(village_doctor).get(url("detail", head.pk)))
    assert "家人甲" in body
    assert "家人乙" not in body
    assert "H-1" in body


# --- Outside the scope: 404 everywhere, nothing changed ------------------------------------


def test_a_village_doctor_gets_404_for_another_villages_resident_everywhere(
    village_doctor, residents, web
):
    b1 = residents["b1"]
    tag = KeyPopulationTagFactory(resident=b1)
    client = web(village_doctor)
    requests = [
        ("get", url("detail", b1.pk), {}),
        ("get", url("edit", b1.pk), {}),
        (
            "post",
            url("edit", b1.pk),
            {"name": "改名", "ethnicity": "01", "home_village": b1.home_village_id},
        ),
        ("post", url("reveal-id", b1.pk), {}),
        ("get", url("tag-add", b1.pk), {}),
        ("post", url("tag-add", b1.pk), {"tag": "hypertension", "source": "x", "token": "t"}),
        ("post", url("tag-end", b1.pk, tag.pk), {"reason": "x"}),
    ]
    for method, address, data in requests:
        response = getattr(client, method)(address, data)
        assert response.status_code == 404, address
        assert b1.name not in page(response)
        assert b1.national_id not in page(response)
    b1.refresh_from_db()
    tag.refresh_from_db()
    assert b1.name == "张北平"
    assert tag.ended_on is None
    assert KeyPopulationTag.objects.filter(resident=b1).count() == 1
    assert not AuditEntry.objects.filter(resident_id=b1.pk).exists()
    # The 404 page is the platform's, in Chinese.
    assert "找不到" in page(client.get(url("detail", b1.pk)))


def test_a_tag_of_another_resident_cannot_be_ended_through_a_visible_one(
    village_doctor, residents, web
):
    tag_b1 = KeyPopulationTagFactory(resident=residents["b1"])
    response = web(village_doctor).post(url("tag-end", residents["a1"].pk, tag_b1.pk), {})
    assert response.status_code == 404
    tag_b1.refresh_from_db()
    assert tag_b1.ended_on is None


def test_ids_that_are_too_large_are_404_not_500(village_doctor, web):
    client = web(village_doctor)
    assert client.get("/residents/99999999999999999999999/").status_code == 404
    assert client.post("/residents/99999999999999999999999/tags/1/end/").status_code == 404


# --- Reveal ---------------------------------------------------------------------------------


def test_reveal_is_403_inside_the_scope_without_the_permission(village_doctor, residents, web):
    response = web(village_doctor).post(url("reveal-id", residents["a1"].pk))
    assert response.status_code == 403
    assert residents["a1"].national_id not in page(response)
    assert not AuditEntry.objects.filter(action="reveal").exists()


def test_reveal_shows_the_full_id_and_is_audited(institution_admin, residents, web):
    a1 = residents["a1"]
    client = web(institution_admin)
    detail = page(client.get(url("detail", a1.pk)))
    assert url("reveal-id", a1.pk) in detail  # the button is there
    assert a1.national_id not in detail  # but the page itself shows the mask
    response = client.post(url("reveal-id", a1.pk), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = page(response)
    assert a1.national_id in body
    assert "<html" not in body  # the htmx swap
    entry = AuditEntry.objects.get(action="reveal")
    assert entry.actor == institution_admin
    assert entry.resident_id == a1.pk
    # Without JavaScript the form posts to a page that shows the number.
    full = client.post(url("reveal-id", a1.pk))
    assert a1.national_id in page(full) and "<html" in page(full)
    assert AuditEntry.objects.filter(action="reveal").count() == 2


def test_reveal_is_post_only(institution_admin, residents, web):
    assert web(institution_admin).get(url("reveal-id", residents["a1"].pk)).status_code == 405


# --- Edit -----------------------------------------------------------------------------------


def edit_data(resident, **overrides):
    data = {
        "name": resident.name,
        "ethnicity": resident.ethnicity,
        "phone": resident.phone,
        "home_village": str(resident.home_village_id),
        "address": resident.address,
        "deceased_on": "",
    }
    data.update(overrides)
    return data


def test_edit_changes_only_what_changed_and_is_audited(township_doctor, residents, tree, web):
    a1 = residents["a1"]
    response = web(township_doctor).post(
        url("edit", a1.pk), edit_data(a1, phone="13711112222", home_village=str(tree.village_a2.pk))
    )
    assert response.status_code == 302
    a1.refresh_from_db()
    assert a1.phone == "13711112222"
    assert a1.home_village == tree.village_a2
    entry = AuditEntry.objects.get(action="update", resident_id=a1.pk)
    assert set(entry.detail["changed"]) == {"phone", "home_village"}


def test_edit_errors_are_shown_beside_the_field(village_doctor, residents, tree, web):
    a1 = residents["a1"]
    client = web(village_doctor)
    response = client.post(url("edit", a1.pk), edit_data(a1, phone="12"))
    assert response.status_code == 200
    assert "电话" in str(response.context["form"].errors["phone"][0])
    response = client.post(url("edit", a1.pk), edit_data(a1, home_village=str(tree.village_b1.pk)))
    assert response.context["form"].errors["home_village"]
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    response = client.post(url("edit", a1.pk), edit_data(a1, deceased_on=future))
    assert response.context["form"].errors["deceased_on"]
    response = client.post(url("edit", a1.pk), edit_data(a1, deceased_on="not a date"))
    assert response.context["form"].errors["deceased_on"]
    a1.refresh_from_db()
    assert a1.phone != "12" and a1.home_village == tree.village_a1 and a1.deceased_on is None
    assert not AuditEntry.objects.filter(action="update").exists()


def test_an_unchanged_form_writes_nothing(village_doctor, residents, web):
    a1 = residents["a1"]
    response = web(village_doctor).post(url("edit", a1.pk), edit_data(a1))
    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action="update").exists()


def test_a_nurse_may_view_but_not_edit(tree, residents, web):
    nurse = StaffFactory()
    with_role(nurse, "nurse", tree.village_a1)
    client = web(nurse)
    assert client.get(url("detail", residents["a1"].pk)).status_code == 200
    assert client.get(url("edit", residents["a1"].pk)).status_code == 403
    assert client.get(url("edit", residents["b1"].pk)).status_code == 404


# --- Tags -----------------------------------------------------------------------------------


def test_declaring_a_tag_from_the_page(village_doctor, residents, web):
    a1 = residents["a1"]
    client = web(village_doctor)
    data = {"tag": "pregnant", "source": "孕检", "recorded_on": "", "note": "", "token": "tag-1"}
    response = client.post(url("tag-add", a1.pk), data)
    assert response.status_code == 302
    assert response["Location"].startswith(url("detail", a1.pk))
    tag = KeyPopulationTag.objects.get(resident=a1)
    assert (tag.tag, tag.source, tag.recorded_by) == ("pregnant", "孕检", village_doctor)
    # The same form sent twice records it once.
    assert client.post(url("tag-add", a1.pk), data).status_code == 302
    assert KeyPopulationTag.objects.filter(resident=a1).count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"tag": "elderly", "source": "x"}, "tag"),
        ({"tag": "hypertension", "source": ""}, "source"),
        ({"tag": "hypertension", "source": "x", "recorded_on": "2999-01-01"}, "recorded_on"),
        ({"tag": "hypertension", "source": "x", "recorded_on": "31/31/2020"}, "recorded_on"),
    ],
)
def test_tag_errors_are_shown_beside_the_field(data, field, village_doctor, residents, web):
    response = web(village_doctor).post(url("tag-add", residents["a1"].pk), data)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not KeyPopulationTag.objects.exists()


def test_a_duplicate_tag_is_refused(village_doctor, residents, web):
    KeyPopulationTagFactory(resident=residents["a1"], tag="hypertension")
    response = web(village_doctor).post(
        url("tag-add", residents["a1"].pk), {"tag": "hypertension", "source": "x"}
    )
    assert response.context["form"].errors["tag"]
    assert KeyPopulationTag.objects.count() == 1


def test_ending_a_tag_from_the_page(village_doctor, residents, web):
    tag = KeyPopulationTagFactory(resident=residents["a1"], tag="pregnant")
    response = web(village_doctor).post(
        url("tag-end", residents["a1"].pk, tag.pk), {"reason": "分娩"}
    )
    assert response.status_code == 302
    tag.refresh_from_db()
    assert tag.ended_on == timezone.localdate()
    assert tag.end_reason == "分娩"
    # Ending it again is an error message, not a 500.
    again = web(village_doctor).post(url("tag-end", residents["a1"].pk, tag.pk), {}, follow=True)
    assert again.status_code == 200
    assert "已经结束" in page(again)


def test_ending_a_tag_with_a_bad_date_changes_nothing(village_doctor, residents, web):
    tag = KeyPopulationTagFactory(resident=residents["a1"])
    client = web(village_doctor)
    for ended_on in ["2999-01-01", "bad", "1900-01-01"]:
        response = client.post(url("tag-end", residents["a1"].pk, tag.pk), {"ended_on": ended_on})
        assert response.status_code == 302
    tag.refresh_from_db()
    assert tag.ended_on is None


def test_tag_end_is_post_only(village_doctor, residents, web):
    tag = KeyPopulationTagFactory(resident=residents["a1"])
    assert web(village_doctor).get(url("tag-end", residents["a1"].pk, tag.pk)).status_code == 405
