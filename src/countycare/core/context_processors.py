from django.conf import settings
from django.utils.functional import SimpleLazyObject


def platform(request):
    from countycare.core import home  # the main navigation is declared with the widgets

    return {
        "COUNTYCARE_NAME": settings.COUNTYCARE_NAME,
        "DEBUG": settings.DEBUG,
        "main_nav": SimpleLazyObject(lambda: home.nav_for(request)),
    }
