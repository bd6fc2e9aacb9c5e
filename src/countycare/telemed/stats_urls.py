"""Turnaround-time dashboard and performance-pay statements (issue 3, items 8 and 9);
included under ``telemed:`` (telemed/urls.py)."""

from django.urls import path

from countycare.telemed import stats_views

urlpatterns = [
    path("turnaround/", stats_views.tat, name="tat"),
    path("pay/", stats_views.pay, name="pay"),
    path("pay.xlsx", stats_views.pay_xlsx, name="pay-xlsx"),
]
