from django.urls import path

from countycare.lab import views

app_name = "lab"

urlpatterns = [
    path("turnaround/", views.turnaround, name="turnaround"),
    path("entry/", views.entry, name="entry"),
    path("entry/<int:resident>/", views.entry_resident, name="entry-resident"),
    path("residents/<int:pk>/results/", views.resident_results, name="resident-results"),
    path("dead-letters/", views.dead_letters, name="dead-letters"),
    path("dead-letters/<int:pk>/", views.dead_letter, name="dead-letter"),
    path("dead-letters/<int:pk>/replay/", views.dead_letter_replay, name="dead-letter-replay"),
    path("dead-letters/<int:pk>/map/", views.dead_letter_map, name="dead-letter-map"),
]
