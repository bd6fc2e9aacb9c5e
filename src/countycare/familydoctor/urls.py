from django.urls import path

from countycare.familydoctor import views

app_name = "familydoctor"

urlpatterns = [
    path("", views.due, name="due"),
    path("health-checks/due/", views.checks_due, name="checks-due"),
    path("contracts/", views.contract_list, name="contracts"),
    path("contracts/new/<int:resident>/", views.contract_new, name="contract-new"),
    path("contracts/<int:pk>/", views.contract_detail, name="contract"),
    path("contracts/<int:pk>/consent/", views.contract_consent, name="contract-consent"),
    path("contracts/<int:pk>/renew/", views.contract_renew, name="contract-renew"),
    path("contracts/<int:pk>/terminate/", views.contract_terminate, name="contract-terminate"),
    path("follow-ups/new/<int:resident>/", views.follow_up_new, name="follow-up-new"),
    path("follow-ups/<int:pk>/", views.follow_up_detail, name="follow-up"),
    path("follow-ups/<int:pk>/refer/", views.follow_up_refer, name="follow-up-refer"),
    path("health-checks/new/<int:resident>/", views.health_check_new, name="health-check-new"),
    path("health-checks/<int:pk>/", views.health_check_detail, name="health-check"),
    path("coverage/", views.coverage_page, name="coverage"),
    path("unsigned/", views.unsigned, name="unsigned"),
    path("fees/", views.fee_split, name="fees"),
    path("teams/", views.teams, name="teams"),
]
