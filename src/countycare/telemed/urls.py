from django.urls import path

from countycare.telemed import views

app_name = "telemed"

urlpatterns = [
    path("visits/<int:pk>/", views.visit_detail, name="visit"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
]
