from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from countycare.core import views as core_views

admin.site.site_header = "CountyCare"
admin.site.site_title = "CountyCare"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/", include("countycare.core.auth_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("audit/", core_views.audit_log, name="audit-log"),
    path("residents/", include("countycare.residents.urls")),
    path("telemed/", include("countycare.telemed.urls")),
    path("lab/", include("countycare.lab.urls")),
    path("ecg/", include("countycare.ecg.urls")),
    path("imaging/", include("countycare.imaging.urls")),
    path("referrals/", include("countycare.referrals.urls")),
    path("familydoctor/", include("countycare.familydoctor.urls")),
    path("outreach/", include("countycare.outreach.urls")),
    path("indicators/", include("countycare.indicators.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("countycare.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", core_views.healthz, name="healthz"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
