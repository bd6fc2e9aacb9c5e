from django.urls import path

from countycare.indicators import views

app_name = "indicators"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("standards/", views.standards_page, name="standards"),
    path("assessment/", views.assessment_page, name="assessment"),
    path("export.xlsx", views.export, name="export"),
    path("imports/", views.imports_page, name="imports"),
    path("imports/template.csv", views.import_template, name="import-template"),
    path("imports/encounters-template.csv", views.encounter_template, name="encounter-template"),
    path("i/<slug:code>/", views.detail, name="detail"),
    path("i/<slug:code>/rows/", views.rows, name="rows"),
]
