from django.urls import path

from countycare.residents import views

app_name = "residents"

urlpatterns = [
    path("", views.search, name="search"),
    path("new/", views.register, name="register"),
    path("export.csv", views.export, name="export"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/reveal-id/", views.reveal_id, name="reveal-id"),
    path("<int:pk>/tags/", views.tag_add, name="tag-add"),
    path("<int:pk>/tags/<int:tag_pk>/end/", views.tag_end, name="tag-end"),
]
