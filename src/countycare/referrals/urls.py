from django.urls import path

from countycare.referrals import views

app_name = "referrals"

urlpatterns = [
    path("", views.board, name="board"),
    path("list/", views.referral_list, name="list"),
    path("new/<int:resident>/", views.referral_new, name="new"),
    path("<int:pk>/", views.referral_detail, name="detail"),
    path("<int:pk>/<str:action>/", views.referral_action, name="action"),
    path("suggest/", views.suggest, name="suggest"),
    path("catalogs/", views.catalogs_page, name="catalogs"),
    path("catalogs/export.csv", views.catalogs_export, name="catalogs-export"),
    path("appointments/", views.appointment_list, name="appointments"),
    path("appointments/slots/", views.slots_page, name="slots"),
    path("appointments/sessions/", views.sessions_page, name="sessions"),
    path(
        "appointments/<int:pk>/<str:action>/", views.appointment_action, name="appointment-action"
    ),
    path("notifications/read/", views.notifications_read, name="notifications-read"),
]
