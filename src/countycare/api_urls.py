"""``/api/v1/``: each app contributes its routes to one router."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from countycare.core import api_views as core_api
from countycare.organizations import api as organizations_api
from countycare.residents import api as residents_api
from countycare.telemed import api as telemed_api

router = DefaultRouter()
core_api.register(router)
organizations_api.register(router)
residents_api.register(router)
telemed_api.register(router)

urlpatterns = [
    path("auth/token/", core_api.ObtainTokenView.as_view(), name="api-token"),
    path("me/", organizations_api.MeView.as_view(), name="api-me"),
    path("", include(router.urls)),
]
