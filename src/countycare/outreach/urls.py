from django.urls import path

from countycare.outreach import views

app_name = "outreach"

urlpatterns = [
    path("", views.index, name="index"),
    path("siting/", views.siting, name="siting"),
    path("siting/<int:pk>/", views.siting_run, name="siting-run"),
    path("siting/<int:pk>/apply/", views.siting_apply, name="siting-apply"),
    path("teams/", views.teams, name="teams"),
    path("teams/<int:pk>/", views.team, name="team"),
    path("schedules/<int:pk>/", views.schedule, name="schedule"),
    path("visits/", views.visits, name="visits"),
    path("visits/<int:pk>/", views.visit, name="visit"),
    path("dispatches/", views.dispatches, name="dispatches"),
    path("dispatches/<int:pk>/", views.dispatch, name="dispatch"),
    path("compliance/", views.compliance_view, name="compliance"),
    path("summary/", views.summary_view, name="summary"),
    path("summary.xlsx", views.summary_xlsx, name="summary-xlsx"),
    path("me/", views.me, name="me"),
    path("staff/", views.staff_service, name="staff-service"),
    path("staff/<int:pk>/", views.staff_service_detail, name="staff-service-detail"),
]
