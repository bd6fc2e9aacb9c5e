"""The OpenAPI schema at ``/api/schema/`` and the Swagger UI at ``/api/docs/``."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_renders_and_lists_the_endpoints(village_doctor, api):
    response = api(village_doctor).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert {
        "/api/v1/auth/token/",
        "/api/v1/me/",
        "/api/v1/institutions/",
        "/api/v1/residents/",
        "/api/v1/residents/{id}/",
        "/api/v1/residents/{id}/tags/",
        "/api/v1/residents/{id}/tags/{tag_id}/end/",
        "/api/v1/residents/{id}/timeline/",
        "/api/v1/audit/",
    } <= paths
    # Read-only resources offer no writes; residents offer PATCH but not PUT or DELETE.
    assert set(schema["paths"]["/api/v1/audit/"]) == {"get"}
    assert set(schema["paths"]["/api/v1/residents/{id}/"]) == {"get", "patch"}


def test_schema_generates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )
    assert (tmp_path / "schema.yml").stat().st_size > 1000


def test_docs_page_for_a_logged_in_user(village_doctor, web):
    response = web(village_doctor).get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "/api/schema/" in page
    # Served from our own static files, not a CDN.
    assert "cdn.jsdelivr.net" not in page


def test_docs_page_needs_a_login(client):
    response = client.get("/api/docs/")
    assert response.status_code in (200, 302, 403)
