"""Shared fixtures: the small institution tree, one user per role (tests/factories.py,
``CAST``), one resident per village, and API/web clients logged in as a user."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from tests.browser import browser  # noqa: F401 — the browser tests' fixture
from tests.factories import ResidentFactory, Tree, build_tree, make_user


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    # Hashing with the production hasher costs ~0.3 s per user; tests do not need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Throttle counters live in the cache; one test's logins must not throttle the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tree(db) -> Tree:
    return build_tree()


class _Cast(dict):
    """Cast members built on first use, so a test pays only for the users it touches."""

    def __init__(self, tree: Tree) -> None:
        super().__init__()
        self.tree = tree

    def __missing__(self, key: str):
        user = self[key] = make_user(key, self.tree)
        return user


@pytest.fixture
def cast(tree) -> _Cast:
    """Cast members by key (``cast["village_doctor"]``), for matrices over roles."""
    return _Cast(tree)


# One fixture per cast member (tests/factories.py, CAST).


@pytest.fixture
def village_doctor(cast):
    return cast["village_doctor"]


@pytest.fixture
def village_doctor_b1(cast):
    return cast["village_doctor_b1"]


@pytest.fixture
def township_doctor(cast):
    return cast["township_doctor"]


@pytest.fixture
def center_reader(cast):
    return cast["center_reader"]


@pytest.fixture
def specialist(cast):
    return cast["specialist"]


@pytest.fixture
def pharmacist(cast):
    return cast["pharmacist"]


@pytest.fixture
def public_health_officer(cast):
    return cast["public_health_officer"]


@pytest.fixture
def institution_admin(cast):
    return cast["institution_admin"]


@pytest.fixture
def community_admin(cast):
    return cast["community_admin"]


@pytest.fixture
def health_commission_viewer(cast):
    return cast["health_commission_viewer"]


@pytest.fixture
def superuser(cast):
    return cast["superuser"]


RESIDENT_NAMES = {"a1": "张安民", "a2": "张安国", "b1": "张北平", "b2": "张北川"}


@pytest.fixture
def residents(tree) -> dict:
    """One resident per village: ``residents["a1"]`` lives in village A1, and so on."""
    villages = {
        "a1": tree.village_a1,
        "a2": tree.village_a2,
        "b1": tree.village_b1,
        "b2": tree.village_b2,
    }
    return {
        key: ResidentFactory(
            name=RESIDENT_NAMES[key],
            home_village=villages[key],
            birth_date=dt.date(1970 + i, 3, 1 + i),
            sex="M" if i % 2 == 0 else "F",
        )
        for i, key in enumerate(villages)
    }


@pytest.fixture
def api():
    """``api(user)``: a DRF client with a session for ``user`` (None: anonymous)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def web():
    """``web(user)``: a Django test client logged in as ``user``."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
