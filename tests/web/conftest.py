"""Helpers for the page tests: the shared fixtures (tree, cast, residents, web) come from
tests/conftest.py."""

from __future__ import annotations

import pytest
from django.test import Client


def page(response) -> str:
    return response.content.decode()


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture
def english():
    """``english(client)``: switch a client's language to English the way a user does."""

    def switch(client: Client) -> Client:
        response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
        assert response.status_code == 302
        return client

    return switch
