from django.urls import include, path

from countycare.telemed import views

app_name = "telemed"

urlpatterns = [
    path("visits/<int:pk>/", views.visit_detail, name="visit"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    # Turnaround-time dashboard (name "tat") and pay statements (name "pay"): stats_urls.py.
    path("stats/", include("countycare.telemed.stats_urls")),
]
