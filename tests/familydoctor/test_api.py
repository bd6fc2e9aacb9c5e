"""The family-doctor API: idempotent creates (Idempotency-Key), scoping (a village doctor never
reaches another village's contracts or follow-ups: 404), audited reads, bad input as 400/409
with the field, aggregates for the health-commission viewer without rows."""

import datetime as dt

import pytest
from django.utils import timezone

from countycare.core.models import AuditEntry
from countycare.familydoctor.models import Contract, FollowUp
from tests.factories import KeyPopulationTagFactory

pytestmark = pytest.mark.django_db


def aware(day, hour=10):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def contracts(village_doctor, village_doctor_b1, residents, team_a, team_b, sign):
    start = timezone.localdate() - dt.timedelta(days=100)
    for key in ("a1", "b1"):
        KeyPopulationTagFactory(resident=residents[key], tag="hypertension",
                                recorded_on=start - dt.timedelta(days=30))  # fmt: skip
    return {
        "a1": sign(village_doctor, residents["a1"], team_a, now=aware(start)),
        "b1": sign(village_doctor_b1, residents["b1"], team_b, now=aware(start)),
    }


def follow_up_body(resident, **kw):
    body = {
        "resident": resident.pk,
        "program": "hypertension",
        "adherence": "regular",
        "measurements": {"systolic_bp": "134", "diastolic_bp": "86"},
        "medications": [{"name": "氨氯地平片", "dose": "5 mg", "frequency": "每日1次"}],
    }
    body.update(kw)
    return body


def test_sign_with_a_tablet_signature_is_idempotent(api, village_doctor, residents, team_a,
                                                    packages, signature):  # fmt: skip
    client = api(village_doctor)
    body = {"resident": residents["a1"].pk, "team": team_a.pk, "packages": [packages["basic"].pk],
            "consent_method": "tablet", "signature": signature}  # fmt: skip
    first = client.post("/api/v1/contracts/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.json()
    again = client.post("/api/v1/contracts/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Contract.objects.count() == 1
    other = dict(body, packages=[packages["basic"].pk, packages["hypertension"].pk])
    reused = client.post("/api/v1/contracts/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    # Without a new key a second contract is a conflict, with the field.
    second = client.post("/api/v1/contracts/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert second.status_code == 409
    assert second.json()["code"] == "contract_exists" and second.json()["field"] == "resident"


def test_sign_with_a_paper_scan_multipart(api, village_doctor, residents, team_a, packages,
                                          paper_scan):  # fmt: skip
    response = api(village_doctor).post(
        "/api/v1/contracts/",
        {"resident": residents["a1"].pk, "team": team_a.pk, "packages": [packages["basic"].pk],
         "consent_method": "paper", "consent_file": paper_scan()},
        format="multipart",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["consent_method"] == "paper"


def test_bad_contract_input_answers_400_with_the_field(api, village_doctor, residents, team_a,
                                                       team_b, packages, signature):  # fmt: skip
    client = api(village_doctor)
    base = {"resident": residents["a1"].pk, "team": team_a.pk, "packages": [packages["basic"].pk],
            "consent_method": "tablet", "signature": signature}  # fmt: skip
    for change, field in (
        ({"team": team_b.pk}, "team"),  # not serving A1
        ({"packages": []}, "packages"),
        ({"consent_method": "smoke"}, "consent_method"),
        ({"signature": "hello"}, "consent"),
        ({"resident": residents["b1"].pk}, "resident"),  # another village: unknown here
        ({"start_on": "2999-01-01"}, "start_on"),
        ({"resident": "x"}, "resident"),
    ):
        response = client.post("/api/v1/contracts/", {**base, **change}, format="json")
        assert response.status_code == 400, (change, response.content)
        assert field in response.json()["errors"], (change, response.json())
    assert not Contract.objects.exists()


def test_village_doctor_sees_only_his_village(api, village_doctor, contracts, township_doctor):
    client = api(village_doctor)
    listed = client.get("/api/v1/contracts/").json()
    assert [row["id"] for row in listed["results"]] == [contracts["a1"].pk]
    assert client.get(f"/api/v1/contracts/{contracts['b1'].pk}/").status_code == 404
    assert client.get(f"/api/v1/contracts/{contracts['a1'].pk}/").status_code == 200
    post = client.post(f"/api/v1/contracts/{contracts['b1'].pk}/terminate/", {"reason": "moved"},
                       format="json")  # fmt: skip
    assert post.status_code == 404
    assert Contract.objects.get(pk=contracts["b1"].pk).status == "active"
    # The township doctor sees the township's villages, not the other township's.
    rows = api(township_doctor).get("/api/v1/contracts/").json()["results"]
    assert [row["id"] for row in rows] == [contracts["a1"].pk]


def test_follow_ups_scoped_and_read_audited(api, village_doctor, village_doctor_b1, contracts,
                                            residents):  # fmt: skip
    mine = api(village_doctor).post("/api/v1/follow-ups/", follow_up_body(residents["a1"]),
                                    format="json")  # fmt: skip
    assert mine.status_code == 201, mine.json()
    theirs = api(village_doctor_b1).post("/api/v1/follow-ups/", follow_up_body(residents["b1"]),
                                         format="json")  # fmt: skip
    assert theirs.status_code == 201
    client = api(village_doctor)
    assert [r["id"] for r in client.get("/api/v1/follow-ups/").json()["results"]] == [
        mine.json()["id"]
    ]
    assert client.get(f"/api/v1/follow-ups/{theirs.json()['id']}/").status_code == 404
    # Recording for another village's resident: unknown resident, nothing saved.
    sneaky = client.post("/api/v1/follow-ups/", follow_up_body(residents["b1"]), format="json")
    assert sneaky.status_code == 400 and sneaky.json()["code"] == "unknown_resident"
    assert FollowUp.objects.count() == 2
    before = AuditEntry.objects.filter(action="read", object_type="familydoctor.followup").count()
    assert client.get(f"/api/v1/follow-ups/{mine.json()['id']}/").status_code == 200
    entry = AuditEntry.objects.filter(action="read", object_type="familydoctor.followup").first()
    assert (
        AuditEntry.objects.filter(action="read", object_type="familydoctor.followup").count()
        == before + 1
    )
    assert entry.resident_id == residents["a1"].pk and entry.actor == village_doctor


def test_follow_up_create_is_idempotent_and_bad_values_are_400(api, village_doctor, contracts,
                                                               residents):  # fmt: skip
    client = api(village_doctor)
    body = follow_up_body(residents["a1"])
    first = client.post("/api/v1/follow-ups/", body, format="json", HTTP_IDEMPOTENCY_KEY="fu-1")
    again = client.post("/api/v1/follow-ups/", body, format="json", HTTP_IDEMPOTENCY_KEY="fu-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and FollowUp.objects.count() == 1
    data = first.json()
    assert data["classification"] == "controlled" and data["face_to_face"] is True
    bad = client.post("/api/v1/follow-ups/", follow_up_body(
        residents["a1"], followed_on=str(timezone.localdate() - dt.timedelta(days=3)),
        measurements={"systolic_bp": "20", "diastolic_bp": "10"}), format="json")  # fmt: skip
    assert bad.status_code == 400
    assert {"systolic_bp", "diastolic_bp"} <= set(bad.json()["errors"])
    future = client.post("/api/v1/follow-ups/", follow_up_body(
        residents["a1"], followed_on=str(timezone.localdate() + dt.timedelta(days=2))), format="json")  # fmt: skip
    assert future.status_code == 400 and future.json()["field"] == "followed_on"
    assert FollowUp.objects.count() == 1


def test_prefill_from_a_visit(api, village_doctor, village_doctor_b1, contracts, residents):
    from countycare.telemed import services as telemed

    visit = telemed.open_visit(village_doctor, resident=residents["a1"].pk,
                               vitals_data={"systolic_bp": "150", "diastolic_bp": "96"})  # fmt: skip
    response = api(village_doctor).get(
        "/api/v1/follow-ups/prefill/", {"resident": residents["a1"].pk, "visit": visit.pk}
    )
    assert response.status_code == 200
    assert float(response.json()["measurements"]["systolic_bp"]) == 150
    assert len(response.json()["observations"]) == 2
    other = api(village_doctor_b1).get(
        "/api/v1/follow-ups/prefill/", {"resident": residents["a1"].pk, "visit": visit.pk}
    )
    assert other.status_code == 404


def test_due_list_api(api, village_doctor, contracts):
    rows = api(village_doctor).get("/api/v1/follow-ups/due/", {"status": "overdue"}).json()
    assert [r["resident"] for r in rows["results"]] == [contracts["a1"].resident_id]
    assert rows["results"][0]["last_on"] is None  # never followed up: due from the contract


def test_coverage_for_the_health_commission_but_no_rows(api, health_commission_viewer, contracts,
                                                        tree):  # fmt: skip
    client = api(health_commission_viewer)
    cov = client.get("/api/v1/contract-coverage/").json()
    assert cov["total"]["residents"] == 4 and cov["total"]["contracted"] == 2
    assert cov["total"]["rate"] == 50.0
    names = {row["name"] for row in cov["rows"]}
    assert {"札萨克镇卫生院", "红庆河镇卫生院"} <= names
    today = timezone.localdate()
    figures = client.get("/api/v1/contract-figures/", {"start": str(today.replace(month=1, day=1)),
                                                       "end": str(today)}).json()  # fmt: skip
    assert figures["contracted"] == 2
    assert client.get("/api/v1/contracts/").status_code == 403
    assert client.get("/api/v1/follow-ups/").status_code == 403


def test_village_doctor_coverage_is_his_village(api, village_doctor, contracts, tree):
    client = api(village_doctor)
    cov = client.get("/api/v1/contract-coverage/").json()
    assert cov["total"]["institution"] == tree.village_a1.pk
    assert (
        client.get("/api/v1/contract-coverage/", {"institution": tree.township_b.pk}).status_code
        == 404
    )


def test_refer_api_is_idempotent(api, village_doctor, contracts, residents, tree):
    from countycare.referrals import catalogs
    from countycare.referrals.models import Department

    catalogs.load_starter()
    dept = Department.objects.create(institution=tree.lead_hospital, name="心血管内科")
    client = api(village_doctor)
    made = client.post("/api/v1/follow-ups/", follow_up_body(
        residents["a1"], measurements={"systolic_bp": "190", "diastolic_bp": "100"}), format="json")  # fmt: skip
    assert made.json()["referral_triggers"] == ["bp_critical"]
    url = f"/api/v1/follow-ups/{made.json()['id']}/refer/"
    first = client.post(url, {"department": dept.pk}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == 201, first.json()
    again = client.post(url, {"department": dept.pk}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert again.json() == first.json()
    third = client.post(url, {"department": dept.pk}, format="json")
    assert third.status_code == 409 and third.json()["code"] == "already_referred"
