"""Outreach REST API (issue 8): siting runs, visits recorded idempotently, dispatches with
rule errors as 400/409, check-ins, compliance."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from countycare.outreach.models import CircuitVisit, Dispatch, TeamMember, VisitStatus
from tests.factories import StaffFactory


def test_siting_run_api(geo_tree, community_admin, api, django_capture_on_commit_callbacks):
    client = api(community_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/outreach/siting-runs/", {"k": 2}, format="json",
                               HTTP_IDEMPOTENCY_KEY="run-1")  # fmt: skip
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    data = client.get(f"/api/v1/outreach/siting-runs/{run_id}/").json()
    assert data["status"] == "done" and len(data["chosen"]) == 2 and data["gap"] == 0
    # Retried with the same key: the same run, not a second one.
    again = client.post("/api/v1/outreach/siting-runs/", {"k": 2}, format="json",
                        HTTP_IDEMPOTENCY_KEY="run-1")  # fmt: skip
    assert again.json()["id"] == run_id and again["Idempotent-Replayed"] == "true"
    bad = client.post("/api/v1/outreach/siting-runs/", {"k": 50}, format="json")
    assert bad.status_code == 400 and "k" in bad.json().get("errors", {})
    assert api(StaffFactory()).get("/api/v1/outreach/siting-runs/").status_code == 403


def test_record_visit_api_is_idempotent(circuit_team, small_villages, api):
    today = timezone.localdate()
    visit = CircuitVisit.objects.create(team=circuit_team, place=small_villages[0], rule="OUT-04",
                                        date=today, session="am")  # fmt: skip
    members = [m.staff_id for m in TeamMember.objects.filter(team=circuit_team)]
    client = api(TeamMember.objects.filter(team=circuit_team).first().staff)
    start = timezone.make_aware(dt.datetime.combine(today, dt.time(8)))
    body = {"arrived_at": start.isoformat(),
            "left_at": (start + dt.timedelta(hours=4)).isoformat(),
            "attendees": members, "residents_served": 9, "services": ["血压"]}  # fmt: skip
    first = client.post(f"/api/v1/outreach/circuit-visits/{visit.pk}/record/", body,
                        format="json", HTTP_IDEMPOTENCY_KEY="v1")  # fmt: skip
    assert first.status_code == 200, first.content
    second = client.post(f"/api/v1/outreach/circuit-visits/{visit.pk}/record/", body,
                         format="json", HTTP_IDEMPOTENCY_KEY="v1")  # fmt: skip
    assert second.json() == first.json()
    visit.refresh_from_db()
    assert visit.status == VisitStatus.DONE and visit.attendance.count() == 5
    body["attendees"] = [StaffFactory().pk]
    bad = client.post(f"/api/v1/outreach/circuit-visits/{visit.pk}/record/", body, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "attendees"


def test_dispatch_api_rules_and_check_in(geo_tree, community_admin, api):
    doctor = StaffFactory(title_level="intermediate", employer=geo_tree.lead_hospital)
    client = api(community_admin)
    body = {"staff": doctor.pk, "kind": "lead_attending",
            "from_institution": geo_tree.lead_hospital.pk,
            "to_institution": geo_tree.lead_hospital.pk, "start": "2026-01-05",
            "end": "2026-12-31"}  # fmt: skip
    bad = client.post("/api/v1/outreach/dispatches/", body, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "to_institution"
    body["to_institution"] = geo_tree.township_a.pk
    assert client.post("/api/v1/outreach/dispatches/", body, format="json").status_code == 201
    overlap = client.post("/api/v1/outreach/dispatches/", {**body, "start": "2026-06-01"},
                          format="json")  # fmt: skip
    assert overlap.status_code == 409
    dispatch = Dispatch.objects.get()
    today = timezone.localdate()
    if dispatch.start <= today <= dispatch.end:
        arrived = timezone.make_aware(dt.datetime.combine(today, dt.time(8)))
        response = api(doctor).post(
            f"/api/v1/outreach/dispatches/{dispatch.pk}/check-in/",
            {"date": today.isoformat(), "arrived_at": arrived.isoformat()},
            format="json",
        )
        assert response.status_code == 200, response.content
    data = client.get("/api/v1/outreach/compliance/?year=2026").json()
    assert {f["rule"] for f in data["findings"]} >= {"OUT-08"}
