"""The referrals API and pages (issue 6): the upward cycle over REST with Idempotency-Key,
clear JSON errors, the catalog upload's row errors, scoping (another village: 404), and the
pages rendering in Chinese."""

from __future__ import annotations

import io

import pytest

from countycare.core.models import AuditEntry
from countycare.referrals.models import CatalogEntry, Referral

pytestmark = pytest.mark.django_db
REFERRALS = "/api/v1/referrals/"


def _body(departments, residents, **kw):
    body = {
        "direction": "up",
        "resident": residents["a1"].pk,
        "department": departments["心血管内科"].pk,
        "reason": "胸闷加重",
        "diagnosis_code": "I20.000",
    }
    body.update(kw)
    return body


def test_upward_cycle_over_the_api(api, catalog, departments, residents, session,
                                   village_doctor, specialist, village_doctor_b1):  # fmt: skip
    client = api(village_doctor)
    first = client.post(REFERRALS, _body(departments, residents), format="json",
                        HTTP_IDEMPOTENCY_KEY="tablet-1")  # fmt: skip
    assert first.status_code == 201, first.content
    again = client.post(REFERRALS, _body(departments, residents), format="json",
                        HTTP_IDEMPOTENCY_KEY="tablet-1")  # fmt: skip
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert Referral.objects.count() == 1
    data = first.json()
    assert data["diagnosis_name"] == "不稳定型心绞痛" and data["outside_catalog"] is True
    pk = data["id"]
    # Another village's doctor: 404, like a referral that does not exist.
    assert api(village_doctor_b1).get(f"{REFERRALS}{pk}/").status_code == 404
    hospital = api(specialist)
    slot = session.slots.filter(reserved=False).first()
    r = hospital.post(f"{REFERRALS}{pk}/accept/", {"mode": "appointment", "slot": slot.pk},
                      format="json")  # fmt: skip
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "accepted" and r.json()["appointment"]["slot"]["id"] == slot.pk
    # Accepting again: 409 with the state named.
    r = hospital.post(f"{REFERRALS}{pk}/decline/", {"reason": "x"}, format="json")
    assert r.status_code == 409 and r.json()["status"] == "accepted"
    assert hospital.post(f"{REFERRALS}{pk}/arrive/", {}, format="json").status_code == 200
    assert hospital.get(f"{REFERRALS}{pk}/").status_code == 200
    assert AuditEntry.objects.filter(action="read", object_type="referrals.referral").exists()
    board = hospital.get(f"{REFERRALS}board/").json()
    assert board["rows"][0]["id"] == pk and board["rows"][0]["side"] == "in"


def test_bad_input_answers_clear_json(api, catalog, departments, residents, village_doctor):
    client = api(village_doctor)
    r = client.post(REFERRALS, {"direction": "up", "reason": "x"}, format="json")
    assert r.status_code == 400 and {"resident", "department"} <= set(r.json()["errors"])
    r = client.post(REFERRALS, _body(departments, residents, diagnosis_code="K99.1"),
                    format="json")  # fmt: skip
    assert r.status_code == 400 and r.json()["field"] == "diagnosis_code"
    r = client.get(f"{REFERRALS}suggest/", {"code": "I50.900"})
    assert r.json()["suggest"] == "up"


def test_figures_for_aggregate_roles_only(api, tree, health_commission_viewer, village_doctor):
    r = api(health_commission_viewer).get(
        f"{REFERRALS}figures/", {"institution": tree.county.pk, "start": "2026-01-01",
                                 "end": "2026-12-31"},
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["upward"] == 0
    assert api(health_commission_viewer).get(REFERRALS).status_code == 403
    r = api(village_doctor).get(
        f"{REFERRALS}figures/", {"start": "2026-01-01", "end": "2026-01-31"}
    )
    assert r.status_code == 403


def test_catalog_upload_api(api, community_admin, village_doctor):
    bad = io.BytesIO(
        b"level,code,name\nvillage,I10.x00,\xe9\xab\x98\xe8\xa1\x80\xe5\x8e\x8b\nvillage,K99.100,x\n"
    )
    bad.name = "bad.csv"
    r = api(community_admin).post("/api/v1/disease-catalogs/upload/", {"file": bad},
                                  format="multipart")  # fmt: skip
    assert r.status_code == 400 and r.json()["rows"] == [
        {"row": 3, "field": "code", "message": r.json()["rows"][0]["message"]}
    ]
    assert not CatalogEntry.objects.exists()
    good = io.BytesIO("level,code,name\nvillage,I10.x00,原发性高血压\n".encode())
    good.name = "good.csv"
    r = api(community_admin).post("/api/v1/disease-catalogs/upload/", {"file": good},
                                  format="multipart")  # fmt: skip
    assert r.status_code == 200 and r.json()["counts"] == {"village": 1}
    good.seek(0)
    r = api(village_doctor).post("/api/v1/disease-catalogs/upload/", {"file": good},
                                 format="multipart")  # fmt: skip
    assert r.status_code == 403


def test_pages(web, catalog, departments, residents, session, village_doctor, specialist,
               community_admin):  # fmt: skip
    client = web(village_doctor)
    page = client.get("/referrals/?q=张安民")
    assert page.status_code == 200 and "转诊" in page.content.decode()
    assert "张安民" in page.content.decode()
    new = client.get(f"/referrals/new/{residents['a1'].pk}/?direction=up")
    assert new.status_code == 200 and "心血管内科" in new.content.decode()
    # Another village's resident: 404.
    assert client.get(f"/referrals/new/{residents['b1'].pk}/").status_code == 404
    r = client.post(f"/referrals/new/{residents['a1'].pk}/", {
        "direction": "up", "department": departments["心血管内科"].pk, "reason": "胸痛",
        "diagnosis_code": "I20.000", "urgency": "urgent",
    })  # fmt: skip
    referral = Referral.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/referrals/{referral.pk}/"
    detail = web(specialist).get(f"/referrals/{referral.pk}/").content.decode()
    assert "接受" in detail or "Accept" in detail
    assert client.get("/referrals/suggest/?diagnosis_code=I50.900").status_code == 200
    assert (
        client.get(f"/referrals/appointments/slots/?resident={residents['a1'].pk}").status_code
        == 200
    )
    assert web(community_admin).get("/referrals/catalogs/?level=village").status_code == 200
    assert client.get(f"/residents/{residents['a1'].pk}/").status_code == 200
