"""Every page for every demo login, on a small demo county: what a newcomer clicking
through ``make demo`` meets. Each page answers 200, or 403 where the role lacks the
permission, and never shows a resident outside the login's scope."""

import pytest
from django.test import Client
from django.urls import reverse

from countycare.demo import loader
from countycare.demo.generator import build_plan
from countycare.demo.staff import DEMO_LOGINS
from countycare.organizations.models import Staff
from countycare.residents.selectors import residents_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_county():
    loader.load(build_plan(seed=7, residents=400))


@pytest.mark.parametrize("login", [d.username for d in DEMO_LOGINS])
def test_every_page_for_every_demo_login(login, demo_county):
    user = Staff.objects.get(username=login)
    client = Client()
    client.force_login(user)
    perm = user.has_perm
    visible = residents_for(user)
    one = visible.first()

    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert user.get_full_name() in home.content.decode()

    search = client.get(reverse("residents:search"), {"q": one.name[:1] if one else "张"})
    assert search.status_code == 200
    shown = {r.pk for r in search.context["results"]}
    assert shown <= set(visible.values_list("pk", flat=True))
    if one:
        assert one.pk in shown or len(shown) == 50

    expected = {
        reverse("residents:register"): 200 if perm("countycare.register_resident") else 403,
        reverse("audit-log"): 200 if perm("countycare.view_audit") else 403,
        reverse("residents:export"): 200 if perm("countycare.export_residents") else 403,
    }
    if one:
        expected[reverse("residents:detail", args=[one.pk])] = 200
        expected[reverse("residents:edit", args=[one.pk])] = (
            200 if perm("countycare.change_resident") else 403
        )
        expected[reverse("residents:tag-add", args=[one.pk])] = (
            200 if perm("countycare.tag_resident") else 403
        )
    for address, status in expected.items():
        assert client.get(address).status_code == status, address
