"""Login, the home page per role and its widget registry, the audit log, language switch,
error pages and the health check."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from countycare.core import home
from countycare.core.models import AuditEntry
from countycare.residents.models import Resident
from tests.factories import CAST, PASSWORD, KeyPopulationTagFactory, ResidentFactory
from tests.web.conftest import page

pytestmark = pytest.mark.django_db

HOME = reverse("home")
LOGIN = reverse("login")


# --- Login and logout -----------------------------------------------------------------------


def test_home_needs_a_login(anonymous):
    response = anonymous.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_the_login_page_is_chinese_with_a_language_switch(anonymous):
    body = page(anonymous.get(LOGIN))
    assert "CountyCare" in body and "县域医共体信息平台" in body
    assert "登录" in body
    assert reverse("set_language") in body and 'value="en"' in body


def test_logging_in_and_out(village_doctor, anonymous):
    response = anonymous.post(LOGIN, {"username": "village_doctor", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == HOME
    assert anonymous.get(HOME).status_code == 200
    assert AuditEntry.objects.filter(action="login", actor=village_doctor).count() == 1
    assert anonymous.get(reverse("logout")).status_code == 405  # POST only
    response = anonymous.post(reverse("logout"))
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="logout", actor=village_doctor).count() == 1
    assert anonymous.get(HOME).status_code == 302


def test_a_wrong_password_says_so_in_chinese(village_doctor, anonymous):
    response = anonymous.post(LOGIN, {"username": "village_doctor", "password": "wrong"})
    assert response.status_code == 200
    assert "密码" in page(response)


def test_too_many_failures_lock_the_login_for_15_minutes(village_doctor, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="10.9.9.9")
    for _ in range(2):
        client.post(LOGIN, {"username": "village_doctor", "password": "wrong"})
    locked = client.post(LOGIN, {"username": "village_doctor", "password": "wrong"})
    assert locked.status_code == 429
    body = page(locked)
    assert "15 分钟" in body
    assert "次数过多" in body
    # The right password does not help while locked.
    again = client.post(LOGIN, {"username": "village_doctor", "password": PASSWORD})
    assert again.status_code == 429


# --- Home per role --------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(CAST))
def test_the_home_page_renders_for_every_role(key, cast, residents, web):
    user = cast[key]
    response = web(user).get(HOME)
    assert response.status_code == 200
    body = page(response)
    assert user.get_full_name() in body
    names = {w.name for w in response.context["widgets"]}
    sees_records = bool(CAST[key].sees)
    assert ("residents.overview" in names) == sees_records
    assert ("core.audit" in names) == user.has_perm("countycare.view_audit")
    assert ("residents.by_township" in names) == user.has_perm("countycare.view_aggregates")


def test_the_greeting_names_roles_and_institutions(village_doctor, web):
    body = page(web(village_doctor).get(HOME))
    assert "乡村医生" in body and "甲一村卫生室" in body


def test_a_village_doctor_sees_counts_search_and_register(village_doctor, residents, tree, web):
    today = dt.date.today()
    old = ResidentFactory(
        home_village=tree.village_a1, birth_date=today.replace(year=today.year - 70)
    )
    KeyPopulationTagFactory(resident=old, tag="hypertension")
    KeyPopulationTagFactory(resident=residents["b1"], tag="hypertension")  # not in the area
    response = web(village_doctor).get(HOME)
    tiles = {
        t["key"]: t["count"]
        for w in response.context["widgets"]
        if w.name == "residents.overview"
        for t in _context(response, "residents.overview")["tiles"]
    }
    assert tiles["elderly"] == 1
    assert tiles["hypertension"] == 1
    assert _context(response, "residents.overview")["total"] == 2
    body = page(response)
    assert reverse("residents:register") in body
    assert f'action="{reverse("residents:search")}"' in body


def _context(response, name):
    for item in home.registered():
        if item.name == name:
            return item.context(response.wsgi_request)
    raise AssertionError(name)


def test_the_health_commission_sees_county_aggregates_and_no_resident(
    health_commission_viewer, residents, web
):
    response = web(health_commission_viewer).get(HOME)
    body = page(response)
    for resident in residents.values():
        assert resident.name not in body
        assert resident.national_id_masked not in body
    context = _context(response, "residents.by_township")
    assert context["county_wide"]
    by_name = {row["name"]: row["total"] for row in context["rows"]}
    assert by_name == {"札萨克镇卫生院": 2, "红庆河镇卫生院": 2}
    assert context["total"] == 4
    assert "札萨克镇卫生院" in body
    # No way to rows: search is empty, export refused, resident pages 404.
    client = web(health_commission_viewer)
    assert client.get(reverse("residents:search"), {"q": "张"}).context["results"] == []
    assert client.get(reverse("residents:export")).status_code == 403
    assert client.get(reverse("residents:detail", args=[residents["a1"].pk])).status_code == 404


def test_an_institution_admin_counts_its_township_only(institution_admin, residents, web):
    institution_admin.is_staff = True  # as the demo's admins are
    institution_admin.save()
    response = web(institution_admin).get(HOME)
    context = _context(response, "residents.by_township")
    assert not context["county_wide"]
    assert [(r["name"], r["total"]) for r in context["rows"]] == [("札萨克镇卫生院", 2)]
    body = page(response)
    assert reverse("audit-log") in body and reverse("admin:index") in body


def test_counts_by_township_reads_the_residents_in_one_query(community_admin, residents):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from countycare.residents.home import counts_by_township

    with CaptureQueriesContext(connection) as queries:
        rows = counts_by_township(Resident.objects.all())
    on_residents = [q for q in queries.captured_queries if "residents_resident" in q["sql"]]
    assert len(on_residents) == 1
    assert sum(r["total"] for r in rows) == 4


def test_apps_plug_widgets_into_the_home_page(village_doctor, health_commission_viewer, web):
    @home.widget(
        "tests.plugin", template="tests_widget.html", perm="countycare.tag_resident", order=5
    )
    def plugin(request):
        return {"greeting": "worklist-for-" + request.user.username}

    try:
        from django.template import engines

        engine = engines["django"].engine
        engine.template_loaders  # noqa: B018 — built lazily
        from django.template.loaders.locmem import Loader

        locmem = Loader(engine, {"tests_widget.html": "<p>{{ greeting }}</p>"})
        engine.template_loaders.insert(0, locmem)
        try:
            body = page(web(village_doctor).get(HOME))
            assert "worklist-for-village_doctor" in body
            # Not shown to a role without the permission.
            assert "worklist-for" not in page(web(health_commission_viewer).get(HOME))
        finally:
            engine.template_loaders.remove(locmem)
    finally:
        home.unregister("tests.plugin")


# --- Audit log ------------------------------------------------------------------------------


AUDIT = reverse("audit-log")


def test_the_audit_log_needs_the_permission(village_doctor, web):
    assert web(village_doctor).get(AUDIT).status_code == 403


def test_an_institution_admin_sees_its_subtree_only(
    institution_admin, community_admin, residents, web
):
    web(community_admin).get(reverse("residents:detail", args=[residents["a1"].pk]))
    web(community_admin).get(reverse("residents:detail", args=[residents["b1"].pk]))
    response = web(institution_admin).get(AUDIT, {"action": "read"})
    entries = list(response.context["page"])
    assert [e.resident_id for e in entries] == [residents["a1"].pk]
    everything = list(web(community_admin).get(AUDIT, {"action": "read"}).context["page"])
    assert {e.resident_id for e in everything} == {residents["a1"].pk, residents["b1"].pk}


def test_the_audit_log_filters(community_admin, village_doctor, residents, web):
    client = web(village_doctor)
    client.get(reverse("residents:detail", args=[residents["a1"].pk]))
    client.get(reverse("residents:search"), {"q": "张"})
    admin = web(community_admin)

    def found(**params):
        return list(admin.get(AUDIT, params).context["page"])

    assert {e.action for e in found(user="village_doctor")} == {"read", "search"}
    assert [e.action for e in found(user="village_doctor", action="search")] == ["search"]
    assert [e.action for e in found(resident=residents["a1"].pk)] == ["read"]
    assert {e.action for e in found(object_type="residents.resident")} >= {"read", "search"}
    today = dt.date.today().isoformat()
    assert len(found(date_from=today, date_to=today, user="village_doctor")) == 2
    assert found(date_from="2000-01-01", date_to="2000-01-02") == []


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"page": "99999"},
        {"page": "-1"},
        {"resident": "abc"},
        {"resident": "99999999999999999999999"},
        {"action": "nonsense"},
        {"date_from": "2024-13-45"},
        {"date_from": "2024-05-02", "date_to": "2024-05-01"},
    ],
)
def test_bad_audit_filters_never_500(params, community_admin, web):
    response = web(community_admin).get(AUDIT, params)
    assert response.status_code == 200


def test_the_audit_log_paginates(community_admin, residents, web):
    client = web(community_admin)
    for _ in range(60):
        client.get(reverse("residents:detail", args=[residents["a1"].pk]))
    first = client.get(AUDIT, {"action": "read"})
    assert len(first.context["page"]) == 50
    second = client.get(AUDIT, {"action": "read", "page": 2})
    assert len(second.context["page"]) == 10
    assert "page=2" in page(first) and "action=read" in page(first)


# --- Language, errors, health ---------------------------------------------------------------


def test_switching_to_english(village_doctor, residents, web, english):
    client = web(village_doctor)
    chinese = page(client.get(reverse("residents:detail", args=[residents["a1"].pk])))
    assert "人口学信息" in chinese or "基本信息" in chinese
    english(client)
    body = page(client.get(reverse("residents:detail", args=[residents["a1"].pk])))
    assert 'lang="en"' in body
    assert "Demographics" in body and "Timeline" in body
    assert "基本信息" not in body
    home_page = page(client.get(HOME))
    assert "Residents in my area" in home_page


def test_error_pages_are_in_chinese(village_doctor, web):
    client = web(village_doctor)
    not_found = client.get("/no-such-page/")
    assert not_found.status_code == 404
    assert "找不到" in page(not_found)
    forbidden = client.get(AUDIT)
    assert "无权" in page(forbidden) or "不允许" in page(forbidden)


def test_the_500_page_renders_without_a_request_context():
    from django.template.loader import get_template

    html = get_template("500.html").render({})
    assert "服务器" in html


def test_healthz(anonymous):
    response = anonymous.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.content == b"ok"


def test_pages_have_no_inline_scripts(village_doctor, residents, web, anonymous):
    """The CSP allows scripts from 'self' only: no inline <script> blocks or on* handlers."""
    import re

    client = web(village_doctor)
    pages = [
        client.get(HOME),
        client.get(reverse("residents:search"), {"q": "张"}),
        client.get(reverse("residents:detail", args=[residents["a1"].pk])),
        client.get(reverse("residents:register")),
        anonymous.get(LOGIN),
    ]
    for response in pages:
        body = page(response)
        for tag in re.findall(r"<script[^>]*>", body):
            assert "src=" in tag, tag
        assert not re.search(r"\son[a-z]+=", body)
        assert "script-src 'self'" in response["Content-Security-Policy"]


def test_an_htmx_request_after_the_session_ended_redirects_the_page_to_login(anonymous):
    """Not a 302 that htmx would follow, swapping the login page into the results."""
    response = anonymous.get(
        reverse("residents:search"),
        {"q": "张"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/residents/?q=%E5%BC%A0",
    )
    assert response.status_code == 401
    assert response["HX-Redirect"] == f"{LOGIN}?next=/residents/%3Fq%3D%25E5%25BC%25A0"
    assert anonymous.get(reverse("residents:search")).status_code == 302  # without htmx


def test_the_400_page_renders_without_a_request(settings):
    response = Client().get(HOME, HTTP_HOST="evil.example")  # DisallowedHost → 400
    assert response.status_code == 400
    assert "无法识别" in page(response)


def test_an_expired_form_explains_what_to_do(village_doctor):
    client = Client(enforce_csrf_checks=True)
    client.force_login(village_doctor)
    response = client.post(reverse("residents:register"), {"name": "x"})
    assert response.status_code == 403
    assert "已过期" in page(response)


def test_chinese_unless_the_user_switches(village_doctor, web):
    """The browser's Accept-Language does not turn the UI English; the language switch does."""
    client = web(village_doctor)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page["Content-Language"] == "zh-hans"
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN")["Content-Language"] == "en"


def test_unknown_language_cookie_falls_back_to_chinese(village_doctor, web):
    client = web(village_doctor)
    client.cookies["django_language"] = "xx-<script>"
    assert client.get("/")["Content-Language"] == "zh-hans"
    client.cookies["django_language"] = "de"
    assert client.get("/")["Content-Language"] == "zh-hans"
