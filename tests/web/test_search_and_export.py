"""The resident search page (``residents:search``) and the CSV export (``residents:export``):
what a village doctor finds by name, pinyin initials, national ID and phone; filters; one
SEARCH audit entry per request; the htmx partial; the export's scope, masking, BOM and
audit entry."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from countycare.core.models import AuditEntry
from tests.factories import KeyPopulationTagFactory, ResidentFactory
from tests.web.conftest import page

pytestmark = pytest.mark.django_db

SEARCH = reverse("residents:search")
EXPORT = reverse("residents:export")


@pytest.fixture
def wang(tree):
    """王小明 in village A1, with a phone and a hypertension tag."""
    resident = ResidentFactory(
        name="王小明",
        home_village=tree.village_a1,
        phone="13812345678",
        birth_date=dt.date(1960, 1, 1),
    )
    KeyPopulationTagFactory(resident=resident, tag="hypertension")
    return resident


@pytest.mark.parametrize(
    "query", ["王小明", "王", "wxm", "WX", "wangxiaoming", "13812345678", "1381234"]
)
def test_a_village_doctor_finds_the_resident_by_name_initials_pinyin_and_phone(
    query, village_doctor, wang, web
):
    response = web(village_doctor).get(SEARCH, {"q": query})
    assert response.status_code == 200
    body = page(response)
    assert "王小明" in body
    assert reverse("residents:detail", args=[wang.pk]) in body


def test_search_by_national_id_finds_exactly_that_resident_and_shows_it_masked(
    village_doctor, wang, residents, web
):
    # The results (the htmx partial: the page around it echoes what was typed).
    body = page(web(village_doctor).get(SEARCH, {"q": wang.national_id}, HTTP_HX_REQUEST="true"))
    assert "王小明" in body
    assert "张安民" not in body  # the other resident of the village does not match
    assert wang.national_id_masked in body
    assert wang.national_id not in body


def test_a_national_id_typed_with_spaces_and_a_lower_case_x_is_found(village_doctor, tree, web):
    from countycare.core import national_id as nid

    number = nid.build("150627", dt.date(1975, 6, 1), 99)  # check character may be X
    resident = ResidentFactory(name="李想", home_village=tree.village_a1, nid_number=number)
    typed = f"{number[:6]} {number[6:14]} {number[14:]}".lower()
    assert "李想" in page(web(village_doctor).get(SEARCH, {"q": typed}))
    assert resident.pk


def test_results_show_sex_age_village_phone_and_key_population_badges(village_doctor, wang, web):
    body = page(web(village_doctor).get(SEARCH, {"q": "王小明"}))
    assert "甲一村卫生室" in body
    assert "13812345678" in body
    assert str(wang.age) in body
    # Born 1960: 65+ is derived; hypertension is declared (labels in Chinese by default).
    assert "高血压" in body
    assert "65岁及以上老年人" in body


def test_another_villages_resident_is_never_found(village_doctor, residents, web):
    b1 = residents["b1"]
    client = web(village_doctor)
    for q in ["张北平", "zbp", b1.national_id, b1.phone, "张"]:
        response = client.get(SEARCH, {"q": q}, HTTP_HX_REQUEST="true")
        assert b1 not in response.context["results"], q
        assert "张北平" not in page(response), q
    # Nor by asking for its village.
    response = client.get(SEARCH, {"village": b1.home_village_id}, HTTP_HX_REQUEST="true")
    assert response.context["results"] == []


def test_filters_by_village_and_key_population(township_doctor, tree, web):
    today = timezone.localdate()
    old = ResidentFactory(
        name="赵老", home_village=tree.village_a1, birth_date=dt.date(today.year - 80, 1, 1)
    )
    young = ResidentFactory(
        name="赵少", home_village=tree.village_a2, birth_date=dt.date(1990, 1, 1)
    )
    KeyPopulationTagFactory(resident=young, tag="type2_diabetes")
    client = web(township_doctor)
    body = page(client.get(SEARCH, {"key_population": "elderly"}))
    assert old.name in body and young.name not in body
    body = page(client.get(SEARCH, {"key_population": "type2_diabetes"}))
    assert young.name in body and old.name not in body
    body = page(client.get(SEARCH, {"q": "赵", "village": tree.village_a2.pk}))
    assert young.name in body and old.name not in body


@pytest.mark.parametrize(
    "params",
    [
        {"village": "abc"},
        {"village": "99999999999999999999999"},
        {"village": "-1"},
        {"key_population": "nonsense"},
        {"q": "x" * 500},
        {"q": "%_'\";--"},
        {"page": "last"},
    ],
)
def test_bad_filter_values_are_ignored_not_a_500(params, village_doctor, residents, web):
    response = web(village_doctor).get(SEARCH, params)
    assert response.status_code == 200


def test_an_unknown_filter_value_does_not_widen_the_search(township_doctor, residents, web):
    # The valid part of the query still applies.
    body = page(web(township_doctor).get(SEARCH, {"q": "张安民", "village": "abc"}))
    assert "张安民" in body and "张安国" not in body


def test_one_search_entry_per_request_with_query_and_count(village_doctor, residents, web):
    client = web(village_doctor)
    client.get(SEARCH)  # the empty page is not a search
    assert not AuditEntry.objects.filter(action="search").exists()
    client.get(SEARCH, {"q": "张"})
    entries = list(AuditEntry.objects.filter(action="search"))
    assert len(entries) == 1
    assert entries[0].actor == village_doctor
    assert entries[0].detail["q"] == "张"
    assert entries[0].detail["results"] == 1
    client.get(SEARCH, {"key_population": "elderly"})
    assert AuditEntry.objects.filter(action="search").count() == 2


def test_a_search_by_national_id_is_kept_masked_in_the_audit_trail(village_doctor, residents, web):
    number = residents["a1"].national_id
    web(village_doctor).get(SEARCH, {"q": number})
    entry = AuditEntry.objects.get(action="search")
    assert number not in str(entry.detail)
    assert entry.detail["q"] == residents["a1"].national_id_masked


def test_htmx_gets_only_the_results_partial(village_doctor, residents, web):
    client = web(village_doctor)
    full = page(client.get(SEARCH, {"q": "张"}))
    partial = client.get(SEARCH, {"q": "张"}, HTTP_HX_REQUEST="true")
    assert "<html" in full and 'id="results"' in full
    body = page(partial)
    assert "<html" not in body and "张安民" in body
    assert "HX-Request" in partial["Vary"]
    # A history restore (back button after htmx pushed the URL) gets the whole page.
    restore = client.get(
        SEARCH, {"q": "张"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in page(restore)


def test_the_form_works_without_javascript(village_doctor, web):
    body = page(web(village_doctor).get(SEARCH))
    assert f'method="get" action="{SEARCH}"' in body
    assert 'hx-get="' in body and "delay:" in body


def test_more_than_a_page_of_matches_says_so(village_doctor, tree, web):
    for i in range(52):
        ResidentFactory(name=f"孙{i:02d}", home_village=tree.village_a1)
    body = page(web(village_doctor).get(SEARCH, {"q": "孙"}))
    assert body.count('href="/residents/') >= 50
    assert "孙51" not in body  # ordered by name: the 51st and 52nd are left out
    assert "50" in body


# --- Export ---------------------------------------------------------------------------------


def rows(response):
    assert response.status_code == 200
    assert response.streaming
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())  # BOM for Excel
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_export_needs_the_permission(village_doctor, residents, web):
    assert web(village_doctor).get(EXPORT).status_code == 403
    assert not AuditEntry.objects.filter(action="export").exists()


def test_export_of_an_institution_admin_is_its_scope_with_full_ids(
    institution_admin, residents, web
):
    data = rows(web(institution_admin).get(EXPORT))
    header, body = data[0], data[1:]
    assert len(header) == 10
    names = {row[0] for row in body}
    assert names == {"张安民", "张安国"}  # township A only
    numbers = {row[4].strip() for row in body}
    assert numbers == {residents["a1"].national_id, residents["a2"].national_id}
    entry = AuditEntry.objects.get(action="export")
    assert entry.detail["rows"] == 2
    assert entry.detail["national_id"] == "full"


def test_export_applies_the_filters_and_records_them(community_admin, tree, web):
    today = timezone.localdate()
    old = ResidentFactory(
        name="钱老", home_village=tree.village_b2, birth_date=dt.date(today.year - 70, 2, 2)
    )
    ResidentFactory(name="钱少", home_village=tree.village_b2, birth_date=dt.date(2000, 2, 2))
    data = rows(
        web(community_admin).get(
            EXPORT, {"key_population": "elderly", "village": tree.village_b2.pk}
        )
    )
    assert [row[0] for row in data[1:]] == [old.name]
    assert "65岁及以上老年人" in data[1][9]
    entry = AuditEntry.objects.get(action="export")
    assert entry.detail["rows"] == 1
    assert entry.detail["key_population"] == "elderly"


def test_export_cells_that_look_like_formulas_are_neutralised(community_admin, tree, web):
    ResidentFactory(name="=HYPERLINK(1)", home_village=tree.village_a1)
    data = rows(web(community_admin).get(EXPORT, {"q": "="}))
    assert data[1][0] == "'=HYPERLINK(1)"


def test_export_streams_in_chunks_without_losing_rows(community_admin, tree, web, monkeypatch):
    monkeypatch.setattr("countycare.residents.views.EXPORT_CHUNK", 7)
    made = []
    for i in range(30):
        resident = ResidentFactory(name=f"周{i:02d}", home_village=tree.village_a1)
        if i % 3 == 0:
            KeyPopulationTagFactory(resident=resident, tag="disabled")
        made.append(resident)
    data = rows(web(community_admin).get(EXPORT, {"q": "周"}))
    assert [row[0] for row in data[1:]] == [r.name for r in made]
    disabled = [row[0] for row in data[1:] if "残疾人" in row[9]]
    assert disabled == [r.name for i, r in enumerate(made) if i % 3 == 0]


def test_masked_export_for_a_role_without_view_national_id(tree, residents, web, monkeypatch):
    """A role that may export but not see full IDs gets the masked number."""
    from countycare.organizations import roles
    from tests.factories import StaffFactory, with_role

    perms = dict(roles.ROLE_PERMISSIONS)
    perms[roles.Role.TOWNSHIP_DOCTOR] = perms[roles.Role.TOWNSHIP_DOCTOR] | {"export_residents"}
    monkeypatch.setattr(roles, "ROLE_PERMISSIONS", perms)
    monkeypatch.setattr("countycare.organizations.selectors.ROLE_PERMISSIONS", perms)
    doctor = StaffFactory()
    with_role(doctor, "township_doctor", tree.township_a)
    data = rows(web(doctor).get(EXPORT))
    numbers = {row[4] for row in data[1:]}
    assert numbers == {residents["a1"].national_id_masked, residents["a2"].national_id_masked}
    assert AuditEntry.objects.get(action="export").detail["national_id"] == "masked"
