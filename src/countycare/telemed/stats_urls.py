"""Turnaround-time dashboard and performance-pay statements (being built, issue 3)."""

urlpatterns: list = []
