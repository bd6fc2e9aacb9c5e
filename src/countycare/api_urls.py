"""``/api/v1/``: each app contributes its routes to one router."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from countycare.core import api_views as core_api
from countycare.familydoctor import api as familydoctor_api
from countycare.imaging import api as imaging_api
from countycare.indicators import api as indicators_api
from countycare.organizations import api as organizations_api
from countycare.outreach import api as outreach_api
from countycare.referrals import api as referrals_api
from countycare.residents import api as residents_api
from countycare.telemed import api as telemed_api

router = DefaultRouter()
core_api.register(router)
organizations_api.register(router)
residents_api.register(router)
telemed_api.register(router)
imaging_api.register(router)
referrals_api.register(router)
familydoctor_api.register(router)
outreach_api.register(router)
indicators_api.register(router)

urlpatterns = [
    path("auth/token/", core_api.ObtainTokenView.as_view(), name="api-token"),
    path("me/", organizations_api.MeView.as_view(), name="api-me"),
    path("", include(router.urls)),
]
