from django.urls import path

from countycare.lab import views

app_name = "lab"

urlpatterns = [
    path("turnaround/", views.turnaround, name="turnaround"),
]
