"""Outreach pages (issue 8): siting with its map, schedules, recording a visit, dispatches,
compliance, the annual summary and its Excel file; scoping (a village doctor never reaches
another village's data)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone

from countycare.outreach.models import (
    CircuitVisit,
    Dispatch,
    ServicePoint,
    SitingRun,
    TeamMember,
    VisitStatus,
)
from tests.factories import ResidentFactory, StaffFactory, with_role


@pytest.fixture
def post_and_run(django_capture_on_commit_callbacks):
    """POST, then run what was sent on commit (the siting task, eager by default)."""

    def post(client, path, data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data)

    return post


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def test_siting_page_solves_maps_and_applies(geo_tree, community_admin, post_and_run):
    """OUT-01: the community office solves from the page, sees the map and applies it."""
    client = _client(community_admin)
    page = client.get("/outreach/siting/")
    assert page.status_code == 200
    response = post_and_run(
        client, "/outreach/siting/", {"k": 2, "objective": "median", "time_limit": 10}
    )
    run = SitingRun.objects.get()
    assert response.status_code == 302 and response.url == f"/outreach/siting/{run.pk}/"
    assert run.status == "done" and run.gap == 0 and len(run.result["chosen"]) == 2
    page = client.get(f"/outreach/siting/{run.pk}/")
    body = page.content.decode()
    assert "<svg" in body and body.count("<circle") >= 6 and "<line" in body
    assert "proven optimal" in body
    client.post(f"/outreach/siting/{run.pk}/apply/")
    points = ServicePoint.objects.filter(retired_on__isnull=True)
    assert sorted(p.village.code for p in points) == sorted(run.result["chosen"])
    assert all(p.institution.type == "circuit_service_point" for p in points)
    # A second run is compared with the points now in force.
    post_and_run(client, "/outreach/siting/", {"k": 3, "objective": "median", "time_limit": 10})
    second = SitingRun.objects.order_by("-pk").first()
    assert second.result["compare"]["current"]["points"] == 2
    body = client.get(f"/outreach/siting/{second.pk}/").content.decode()
    assert "Compared with the current points" in body


def test_siting_form_errors_are_shown(geo_tree, community_admin):
    client = _client(community_admin)
    response = client.post("/outreach/siting/", {"k": 99, "objective": "median", "time_limit": 10})
    assert response.status_code == 200
    assert "larger than the villages that can host a new point (4)" in response.content.decode()
    response = client.post("/outreach/siting/", {"k": 2, "objective": "coverage", "time_limit": 10})
    assert "needs a distance limit" in response.content.decode()
    assert not SitingRun.objects.exists()


def test_siting_from_uploaded_villages_and_road_matrix(geo_tree, community_admin, post_and_run):
    """OUT-01 in the web app with the county's own files: a villages CSV and a road matrix
    (minutes), with an existing clinic open besides the k points; bad files are refused
    with every bad row named and nothing written."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = _client(community_admin)
    villages = (
        "id,name,lat,lon,population\n"
        "W1,一村,39.50,109.80,1000\nW2,二村,39.51,109.81,800\n"
        "W3,三村,39.60,109.90,600\nW4,四村,39.61,109.91,500\nW5,五村,39.40,109.70,50\n"
    )
    # W5 is near W1 as the crow flies, but the road makes W4 the better point for W3/W4.
    matrix = "from,to,minutes\n" + "".join(
        f"{a},{b},{m}\n"
        for a, b, m in [("W1", "W2", 5), ("W2", "W1", 5), ("W3", "W4", 6), ("W4", "W3", 6),
                        ("W5", "W1", 40), ("W1", "W5", 40), ("W3", "W1", 30), ("W1", "W3", 30),
                        ("W4", "W1", 35), ("W1", "W4", 35), ("W2", "W3", 28), ("W3", "W2", 28)]
    )  # fmt: skip
    response = post_and_run(
        client,
        "/outreach/siting/",
        {
            "k": 1, "objective": "median", "time_limit": 10, "existing": "W1",
            "villages_file": SimpleUploadedFile("villages.csv", villages.encode()),
            "matrix_file": SimpleUploadedFile("roads.csv", matrix.encode()),
            "matrix_unit": "minutes",
        },
    )  # fmt: skip
    run = SitingRun.objects.get()
    assert response.status_code == 302, response.content.decode()[:2000]
    assert run.status == "done", run.error
    assert run.source == "villages.csv" and run.matrix_unit == "minutes" and run.matrix_file
    assert run.result["chosen"] == ["W3"] or run.result["chosen"] == ["W4"]
    assert run.result["existing"] == ["W1"]
    assert run.result["assignment"]["W5"] == "W1" and run.result["assignment"]["W2"] == "W1"
    body = client.get(f"/outreach/siting/{run.pk}/").content.decode()
    assert "villages.csv" in body and "<svg" in body
    # A run over a file is for comparison: it cannot replace the tree's points.
    client.post(f"/outreach/siting/{run.pk}/apply/")
    assert not ServicePoint.objects.exists()

    bad = (
        "id,name,lat,lon,population\n"
        "V1,甲村,39.5,109.8,1200\nV2,乙村,,109.7,800\nV1,丙村,39.6,109.9,300\n"
        "V4,丁村,39.6,109.9,-5\n"
    )
    response = client.post(
        "/outreach/siting/",
        {"k": 1, "objective": "median", "time_limit": 10,
         "villages_file": SimpleUploadedFile("bad.csv", bad.encode())},
    )  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200
    assert "row 3: lat is missing" in body
    assert "row 4: id &#x27;V1&#x27; duplicates row 2" in body
    assert "row 5: population -5 is negative" in body
    response = client.post(
        "/outreach/siting/",
        {"k": 1, "objective": "median", "time_limit": 10,
         "villages_file": SimpleUploadedFile("villages.csv", villages.encode()),
         "matrix_file": SimpleUploadedFile("m.csv", b"from,to,km\nW1,X9,3\n")},
    )  # fmt: skip
    assert "row 2: to &#x27;X9&#x27; is not a village id" in response.content.decode()
    response = client.post(
        "/outreach/siting/",
        {"k": 6, "objective": "median", "time_limit": 10,
         "villages_file": SimpleUploadedFile("villages.csv", villages.encode())},
    )  # fmt: skip
    assert "can host a new point (5)" in response.content.decode()
    assert SitingRun.objects.count() == 1


def test_siting_needs_plan_permission(geo_tree, village_doctor):
    assert _client(village_doctor).get("/outreach/siting/").status_code == 403


def test_schedule_and_record_from_pages(circuit_team, community_admin, small_villages):
    client = _client(community_admin)
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    response = client.post(
        f"/outreach/teams/{circuit_team.pk}/",
        {"start": monday.isoformat(), "end": (monday + dt.timedelta(days=6)).isoformat()},
    )
    assert response.status_code == 302
    schedule_page = client.get(response.url)
    assert schedule_page.status_code == 200
    visit = CircuitVisit.objects.filter(team=circuit_team).order_by("date").first()
    # A key-population resident of the village shows in the list for the team.
    ResidentFactory(home_village=visit.place, birth_date=dt.date(1940, 1, 1), name="李长者")
    member = TeamMember.objects.filter(team=circuit_team).first().staff
    member_client = _client(member)
    page = member_client.get(f"/outreach/visits/{visit.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    if visit.date <= today:
        assert "李长者" in body
        members = [str(m.staff_id) for m in TeamMember.objects.filter(team=circuit_team)]
        response = member_client.post(
            f"/outreach/visits/{visit.pk}/",
            {"arrived": "08:30", "left": "12:30", "attendees": members,
             "residents_served": 12, "services": "血压, 血糖"},
        )  # fmt: skip
        assert response.status_code == 302
        visit.refresh_from_db()
        assert visit.status == VisitStatus.DONE and visit.services == ["血压", "血糖"]


def test_village_doctor_cannot_reach_another_villages_outreach(geo_tree, circuit_team,
                                                               small_villages, village_doctor_b1):  # fmt: skip
    """Scoping: a village doctor of township B sees neither township A's team, its visits,
    nor a dispatch to township A."""
    visit = CircuitVisit.objects.create(team=circuit_team, place=small_villages[0], rule="OUT-04",
                                        date=timezone.localdate(), session="am")  # fmt: skip
    doctor = StaffFactory(title_level="intermediate", employer=geo_tree.lead_hospital)
    dispatch = Dispatch.objects.create(staff=doctor, kind="lead_attending",
                                       from_institution=geo_tree.lead_hospital,
                                       to_institution=geo_tree.township_a,
                                       start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))  # fmt: skip
    client = _client(village_doctor_b1)
    assert client.get(f"/outreach/visits/{visit.pk}/").status_code == 404
    assert client.get(f"/outreach/teams/{circuit_team.pk}/").status_code == 404
    assert client.get(f"/outreach/dispatches/{dispatch.pk}/").status_code == 404
    assert "札萨克巡诊队" not in client.get("/outreach/visits/").content.decode()
    assert client.get("/outreach/compliance/").status_code == 403
    # The dispatched doctor sees his own dispatch (and checks in) though not in that scope.
    with_role(doctor, "specialist", geo_tree.lead_hospital)
    assert _client(doctor).get(f"/outreach/dispatches/{dispatch.pk}/").status_code == 200


def test_dispatch_form_errors_and_check_in(geo_tree, community_admin):
    client = _client(community_admin)
    doctor = StaffFactory(full_name="赵医生", title_level="junior", employer=geo_tree.lead_hospital)
    data = {"staff": doctor.pk, "kind": "lead_attending",
            "from_institution": geo_tree.lead_hospital.pk, "to_institution": geo_tree.township_a.pk,
            "start": "2026-01-05", "end": "2026-12-31", "days_per_week": 5,
            "min_hours_per_day": 4}  # fmt: skip
    response = client.post("/outreach/dispatches/", data)
    assert response.status_code == 200 and "OUT-07" in response.content.decode()
    assert not Dispatch.objects.exists()
    doctor.title_level = "intermediate"
    doctor.save()
    response = client.post("/outreach/dispatches/", data)
    dispatch = Dispatch.objects.get()
    assert response.url == f"/outreach/dispatches/{dispatch.pk}/"
    today = timezone.localdate()
    if dispatch.start <= today <= dispatch.end:
        response = client.post(f"/outreach/dispatches/{dispatch.pk}/",
                               {"date": today.isoformat(), "arrived": "08:00", "left": "17:00"})  # fmt: skip
        assert response.status_code == 302 and dispatch.check_ins.count() == 1


def test_compliance_summary_and_excel(geo_tree, community_admin, health_commission_viewer):
    client = _client(community_admin)
    assert client.get("/outreach/").status_code == 200
    assert client.get("/outreach/compliance/?year=2026").status_code == 200
    page = client.get("/outreach/summary/?year=2026")
    assert page.status_code == 200 and "OUT-11" in page.content.decode()
    response = _client(health_commission_viewer).get("/outreach/summary.xlsx?year=2026")
    assert response.status_code == 200
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(response.content))
    assert book["汇总"]["B1"].value == 2026
    assert _client(community_admin).get("/outreach/me/").status_code == 200


@pytest.mark.parametrize("path", ["/outreach/", "/outreach/visits/", "/outreach/teams/",
                                  "/outreach/dispatches/", "/outreach/me/"])  # fmt: skip
def test_pages_answer_in_chinese_by_default(geo_tree, community_admin, path):
    client = Client()
    client.force_login(community_admin)
    assert client.get(path).status_code == 200


def test_end_dispatch_early_and_grassroots_service_pages(geo_tree, community_admin,
                                                         village_doctor_b1):  # fmt: skip
    """A planner ends a dispatch early with a reason (the compliance finding follows); the
    staff records' grassroots service lists the days that count (OUT-10); out of scope 404."""
    from countycare.outreach import services

    doctor = StaffFactory(full_name="赵主治", title_level="intermediate",
                          employer=geo_tree.lead_hospital)  # fmt: skip
    today = timezone.localdate()
    start = today - dt.timedelta(days=60)
    dispatch = services.create_dispatch(
        actor=community_admin, staff=doctor, kind="lead_attending",
        from_institution=geo_tree.lead_hospital, to_institution=geo_tree.township_a,
        start=start, end=start + dt.timedelta(days=200),
    )  # fmt: skip
    day = today - dt.timedelta(days=1)
    services.check_in(actor=doctor, dispatch=dispatch, date=day,
                      arrived_at=timezone.make_aware(dt.datetime.combine(day, dt.time(8))),
                      left_at=timezone.make_aware(dt.datetime.combine(day, dt.time(17))))  # fmt: skip
    client = _client(community_admin)
    page = client.post(f"/outreach/dispatches/{dispatch.pk}/",
                       {"action": "end", "last_day": today.isoformat(), "reason": ""})  # fmt: skip
    assert page.status_code == 200 and "This field is required" in page.content.decode()
    page = client.post(f"/outreach/dispatches/{dispatch.pk}/",
                       {"action": "end", "last_day": today.isoformat(), "reason": "借调回院"})  # fmt: skip
    assert page.status_code == 302
    dispatch.refresh_from_db()
    assert dispatch.end == today and dispatch.end_reason == "借调回院"
    body = client.get(f"/outreach/dispatches/{dispatch.pk}/").content.decode()
    assert "ended early" in body and "借调回院" in body
    listing = client.get("/outreach/staff/").content.decode()
    assert "赵主治" in listing
    detail = client.get(f"/outreach/staff/{doctor.pk}/")
    assert detail.status_code == 200 and "赵主治" in detail.content.decode()
    assert _client(village_doctor_b1).get(f"/outreach/staff/{doctor.pk}/").status_code == 403
