from django.conf import settings


def platform(request):
    return {"COUNTYCARE_NAME": settings.COUNTYCARE_NAME, "DEBUG": settings.DEBUG}
