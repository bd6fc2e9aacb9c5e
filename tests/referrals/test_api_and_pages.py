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
    assert r.status_code == 400
    assert [(e["row"], e["field"], e["label"]) for e in r.json()["rows"]] == [
        (3, "code", "ICD-10 编码")
    ]
    assert "K99.1" in r.json()["rows"][0]["message"]
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
    assert "按此预约接收" in detail and "安排床位接收" in detail and "拒绝原因" in detail
    assert client.get("/referrals/suggest/?diagnosis_code=I50.900").status_code == 200
    assert (
        client.get(f"/referrals/appointments/slots/?resident={residents['a1'].pk}").status_code
        == 200
    )
    assert web(community_admin).get("/referrals/catalogs/?level=village").status_code == 200
    assert client.get(f"/residents/{residents['a1'].pk}/").status_code == 200


def test_refer_upward_from_the_walking_hospital_alert(web, catalog, departments, residents,
                                                      village_doctor, critical_alert):  # fmt: skip
    """The critical-value alert's "refer upward" button (telemed/_alerts.html) opens the
    referral form prefilled from the alert; sending it links the alert and its value and
    acknowledges the alert (issue 6; WH-, REF-01)."""
    import re

    from countycare.telemed.models import AlertStatus, CriticalAlert

    client = web(village_doctor)
    for page in (f"/telemed/visits/{critical_alert.observation.visit_id}/", "/telemed/alerts/"):
        html = client.get(page).content.decode()
        links = re.findall(r'<a class="button refer-upward" href="([^"]+)"', html)
        # SBP 196 and DBP 112: two alerts, each with its button.
        link = f"/referrals/new/{residents['a1'].pk}/?direction=up&amp;alert={critical_alert.pk}"
        assert len(links) == 2 and link in links, page
    form = client.get(link.replace("&amp;", "&"))
    values = form.context["values"]
    assert values["urgency"] == "urgent" and critical_alert.message in values["reason"]
    assert f'name="critical_alert" value="{critical_alert.pk}"' in form.content.decode()
    r = client.post(f"/referrals/new/{residents['a1'].pk}/", {
        "direction": "up", "critical_alert": critical_alert.pk, "reason": values["reason"],
        "department": departments["心血管内科"].pk, "diagnosis_code": "I10.x00",
        "urgency": "urgent",
    })  # fmt: skip
    referral = Referral.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/referrals/{referral.pk}/"
    assert referral.critical_alert_id == critical_alert.pk
    # The critical value and everything else the kit measured at that visit travel along.
    visit = critical_alert.observation.visit
    assert set(referral.observations.all()) == set(visit.observations.all())
    assert critical_alert.observation in referral.observations.all()
    alert = CriticalAlert.objects.get(pk=critical_alert.pk)
    assert alert.status == AlertStatus.ACKNOWLEDGED and referral.number in alert.action_taken
    # Acknowledged: the alert no longer asks for action, so no button for it any more.
    html = client.get("/telemed/alerts/").content.decode()
    assert html.count("refer-upward") == 1 and link not in html


def test_reading_a_referral_is_audited_and_scoped(web, catalog, departments, residents,
                                                  village_doctor, village_doctor_b1, specialist):  # fmt: skip
    """Every read of a referral (a resident's record) is audited; another village's doctor
    gets 404 on the page, the list and the board."""
    from countycare.referrals import services

    referral = services.refer_up(
        village_doctor, resident=residents["a1"].pk, department=departments["心血管内科"].pk,
        reason="胸闷", diagnosis_code="I20.000",
    )  # fmt: skip
    before = AuditEntry.objects.filter(action="read").count()
    assert web(specialist).get(f"/referrals/{referral.pk}/").status_code == 200
    entry = AuditEntry.objects.filter(action="read").order_by("-pk").first()
    assert AuditEntry.objects.filter(action="read").count() == before + 1
    assert (entry.actor, entry.resident_id) == (specialist, residents["a1"].pk)
    other = web(village_doctor_b1)
    assert other.get(f"/referrals/{referral.pk}/").status_code == 404
    assert residents["a1"].name not in other.get("/referrals/list/").content.decode()
    assert residents["a1"].name not in other.get("/referrals/").content.decode()
    assert other.post(f"/referrals/{referral.pk}/cancel/", {"reason": "x"}).status_code == 404


def test_booking_from_the_slots_page_asks_to_confirm(web, catalog, departments, residents,
                                                     session, village_doctor):  # fmt: skip
    from countycare.referrals.models import Appointment

    client = web(village_doctor)
    slot = session.slots.filter(reserved=False).first()
    base = f"/referrals/appointments/slots/?resident={residents['a1'].pk}"
    page = client.get(f"{base}&department={session.department_id}&slot={slot.pk}")
    assert page.context["chosen"] == slot and not Appointment.objects.exists()
    r = client.post("/referrals/appointments/slots/", {
        "slot": slot.pk, "resident": residents["a1"].pk, "department": session.department_id,
    })  # fmt: skip
    assert r.status_code == 302 and Appointment.objects.get().slot == slot
    # The same slot again: taken, said in words, nothing booked twice.
    r = client.post("/referrals/appointments/slots/", {
        "slot": slot.pk, "resident": residents["a1"].pk, "department": session.department_id,
    }, follow=True)  # fmt: skip
    assert Appointment.objects.count() == 1
    assert "已被预约" in r.content.decode() or "already booked" in r.content.decode()


def test_catalog_page_lists_the_wrong_rows(web, community_admin, catalog):
    client = web(community_admin)
    bad = io.BytesIO(
        "级别,编码,名称\n村,K99.900,不存在\n村,I10.x00,高血压\n村,I10.x00,高血压\n".encode()
    )
    bad.name = "目录.csv"
    page = client.post("/referrals/catalogs/", {"file": bad})
    rows = page.context["row_errors"]
    assert [(e["row"], e["field"]) for e in rows] == [(2, "code"), (4, "code")]
    assert CatalogEntry.objects.filter(catalog__level="village").count() == 30
    export = client.get("/referrals/catalogs/export.csv")
    assert export["Content-Type"].startswith("text/csv")
    assert export.content.startswith("\ufeff".encode()) and b"I10.x00" in export.content


def test_reschedule_and_call_off_over_the_api(api, catalog, departments, residents, session,
                                              village_doctor, specialist, hospital_admin):  # fmt: skip
    client = api(village_doctor)
    pk = client.post(REFERRALS, _body(departments, residents), format="json").json()["id"]
    first, second = list(session.slots.filter(reserved=False))[:2]
    hospital = api(specialist)
    hospital.post(f"{REFERRALS}{pk}/accept/", {"mode": "appointment", "slot": first.pk},
                  format="json")  # fmt: skip
    r = hospital.post(f"{REFERRALS}{pk}/reschedule/", {"slot": second.pk, "reason": "专家停诊"},
                      format="json", HTTP_IDEMPOTENCY_KEY="re-1")  # fmt: skip
    assert r.status_code == 200 and r.json()["appointment"]["slot"]["id"] == second.pk
    again = hospital.post(f"{REFERRALS}{pk}/reschedule/", {"slot": second.pk, "reason": "专家停诊"},
                          format="json", HTTP_IDEMPOTENCY_KEY="re-1")  # fmt: skip
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    r = api(hospital_admin).post(f"/api/v1/clinic-sessions/{session.pk}/cancel/",
                                 {"reason": "专家外出"}, format="json")  # fmt: skip
    assert r.status_code == 409 and r.json()["code"] == "referral_appointments"
    r = api(hospital_admin).post(f"/api/v1/clinic-sessions/{session.pk}/cancel/", {},
                                 format="json")  # fmt: skip
    assert r.status_code == 400 and "reason" in r.json()["errors"]


def test_the_resident_page_refers_and_shows_open_referrals(web, catalog, departments, residents,
                                                           village_doctor, village_doctor_b1):  # fmt: skip
    from countycare.referrals import services

    client = web(village_doctor)
    a1 = residents["a1"]
    html = client.get(f"/residents/{a1.pk}/").content.decode()
    assert f'href="/referrals/new/{a1.pk}/?direction=up"' in html
    assert f'href="/referrals/appointments/slots/?resident={a1.pk}"' in html
    assert "?direction=down" not in html  # village doctors do not refer down
    services.refer_up(
        village_doctor, resident=a1.pk, department=departments["心血管内科"].pk,
        reason="胸闷", diagnosis_code="I20.000",
    )  # fmt: skip
    html = client.get(f"/residents/{a1.pk}/").content.decode()
    assert "不稳定型心绞痛" in html and "等待医院答复" in html
