"""REST routes of the indicators app, added to ``/api/v1/`` by ``countycare.api_urls``."""

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Register this app's viewsets on the one API router."""
