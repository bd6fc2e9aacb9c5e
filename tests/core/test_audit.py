"""The audit trail: every read of a resident's record and every change writes an entry (who,
when, what, institution, from where); entries cannot be changed or deleted (GOV-04)."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from countycare.core.models import AuditEntry
from countycare.residents import services
from countycare.residents.models import Resident
from tests.factories import national_id

pytestmark = pytest.mark.django_db

Action = AuditEntry.Action
IP = "10.20.30.40"


def only_entry(**filters):
    entries = list(AuditEntry.objects.filter(**filters))
    assert len(entries) == 1, entries
    return entries[0]


def test_api_detail_read_writes_a_read_entry(village_doctor, residents, tree, api):
    resident = residents["a1"]
    response = api(village_doctor).get(f"/api/v1/residents/{resident.pk}/", REMOTE_ADDR=IP)
    assert response.status_code == 200
    entry = only_entry(action=Action.READ)
    assert entry.actor == village_doctor
    assert entry.actor_username == "village_doctor"
    assert entry.resident_id == resident.pk
    assert (entry.object_type, entry.object_id) == ("residents.resident", str(resident.pk))
    assert entry.institution_id == tree.village_a1.pk
    assert entry.institution_name == tree.village_a1.name
    assert entry.ip == IP
    assert entry.path == f"/api/v1/residents/{resident.pk}/"
    assert entry.detail["national_id"] == "masked"


def test_api_read_by_a_role_that_sees_the_full_id_says_so(institution_admin, residents, api):
    api(institution_admin).get(f"/api/v1/residents/{residents['a1'].pk}/")
    assert only_entry(action=Action.READ).detail["national_id"] == "full"


def test_api_timeline_read_writes_a_read_entry(township_doctor, residents, api):
    resident = residents["a2"]
    api(township_doctor).get(f"/api/v1/residents/{resident.pk}/timeline/", REMOTE_ADDR=IP)
    entry = only_entry(action=Action.READ)
    assert (entry.resident_id, entry.ip, entry.actor) == (resident.pk, IP, township_doctor)


def test_page_read_writes_a_read_entry(village_doctor, residents, tree, web):
    resident = residents["a1"]
    response = web(village_doctor).get(
        reverse("residents:detail", args=[resident.pk]), REMOTE_ADDR=IP
    )
    assert response.status_code == 200
    entry = only_entry(action=Action.READ, resident_id=resident.pk)
    assert entry.actor == village_doctor
    assert entry.institution_id == tree.village_a1.pk
    assert entry.ip == IP


def test_a_refused_read_writes_no_read_entry(village_doctor, residents, api, web):
    b1 = residents["b1"]
    assert api(village_doctor).get(f"/api/v1/residents/{b1.pk}/").status_code == 404
    assert web(village_doctor).get(reverse("residents:detail", args=[b1.pk])).status_code == 404
    assert not AuditEntry.objects.filter(action=Action.READ).exists()


def test_a_filtered_list_writes_one_search_entry(village_doctor, residents, api):
    client = api(village_doctor)
    client.get("/api/v1/residents/")  # no query, no filter: a plain list, not a search
    assert not AuditEntry.objects.filter(action=Action.SEARCH).exists()
    client.get("/api/v1/residents/", {"q": "张", "key_population": "elderly"})
    entry = only_entry(action=Action.SEARCH)
    assert entry.actor == village_doctor
    assert entry.detail["q"] == "张"
    assert entry.detail["key_population"] == "elderly"


def test_a_search_by_national_id_keeps_it_masked_in_the_trail(village_doctor, residents, api):
    number = residents["a1"].national_id
    api(village_doctor).get("/api/v1/residents/", {"q": number})
    entry = only_entry(action=Action.SEARCH)
    assert number not in str(entry.detail)
    assert entry.detail["q"] == number[:4] + "*" * 10 + number[-4:]


def test_create_and_update_write_entries_in_the_same_transaction(village_doctor, tree, api):
    client = api(village_doctor)
    body = {"national_id": national_id(), "name": "李四", "home_village": tree.village_a1.pk}
    response = client.post("/api/v1/residents/", body, format="json", REMOTE_ADDR=IP)
    assert response.status_code == 201
    pk = response.json()["id"]
    created = only_entry(action=Action.CREATE)
    assert (created.resident_id, created.actor, created.ip) == (pk, village_doctor, IP)
    assert created.institution_id == tree.village_a1.pk

    response = client.patch(f"/api/v1/residents/{pk}/", {"name": "李思"}, format="json")
    assert response.status_code == 200
    updated = only_entry(action=Action.UPDATE)
    assert updated.resident_id == pk
    assert updated.detail == {"changed": {"name": ["李四", "李思"]}}


def test_a_refused_create_writes_nothing(village_doctor, tree, api):
    body = {"national_id": "150627198005170011", "name": "李四", "home_village": tree.village_a1.pk}
    response = api(village_doctor).post("/api/v1/residents/", body, format="json")
    assert response.status_code == 400
    assert not Resident.objects.exists()
    assert not AuditEntry.objects.exists()


def test_declaring_and_ending_a_tag_are_audited(village_doctor, residents):
    resident = residents["a1"]
    tag = services.declare_tag(
        actor=village_doctor, resident=resident, tag="hypertension", source="screening"
    )
    services.end_tag(actor=village_doctor, tag=tag, reason="misdiagnosis")
    entries = list(AuditEntry.objects.filter(resident_id=resident.pk).order_by("id"))
    assert [(e.action, e.object_type) for e in entries] == [
        (Action.CREATE, "residents.keypopulationtag"),
        (Action.UPDATE, "residents.keypopulationtag"),
    ]
    assert entries[1].detail["reason"] == "misdiagnosis"


# --- Append-only ----------------------------------------------------------------------------


@pytest.fixture
def entry(village_doctor, residents):
    from countycare.core import audit

    return audit.log(Action.READ, actor=village_doctor, obj=residents["a1"])


def test_an_entry_cannot_be_saved_again(entry):
    entry.action = Action.UPDATE
    with pytest.raises(PermissionError):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).action == Action.READ


def test_an_entry_cannot_be_deleted(entry):
    with pytest.raises(PermissionError):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_entries_cannot_be_updated_or_deleted_in_bulk(entry):
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(action=Action.UPDATE)
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == Action.READ


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE core_auditentry SET action = 'update' WHERE id = %s",
        "DELETE FROM core_auditentry WHERE id = %s",
    ],
)
def test_postgresql_refuses_raw_sql_changes(entry, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == Action.READ
