from django.urls import path

from countycare.imaging import views

app_name = "imaging"

urlpatterns = [
    path("instances/<int:pk>/frames/<int:frame>/", views.frame, name="frame"),
    path("instances/<int:pk>/header/", views.header, name="header"),
    path("instances/<int:pk>/copy-findings/", views.copy_findings, name="copy-findings"),
    path("studies/<int:pk>/", views.study_page, name="study"),
    path("studies/<int:pk>/download/", views.download, name="download"),
    path("studies/<int:pk>/deidentified/", views.export, name="export"),
    path("studies/<int:pk>/link/", views.link, name="link"),
    path("studies/<int:pk>/reject/", views.reject, name="reject"),
    path("reconcile/", views.reconcile, name="reconcile"),
]
