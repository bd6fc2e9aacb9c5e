from django.urls import path

from countycare.ecg import views

app_name = "ecg"

urlpatterns = [
    path("recordings/<int:pk>/svg/", views.recording_svg, name="svg"),
]
