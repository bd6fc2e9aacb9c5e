from django.http import HttpResponse
from django.urls import path

app_name = "residents"


def _detail(request, pk):
    return HttpResponse(str(pk))


urlpatterns = [path("<int:pk>/", _detail, name="detail")]
