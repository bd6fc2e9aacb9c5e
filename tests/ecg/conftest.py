"""The Walking Hospital fixtures (centers, orders) for the ECG ingest tests."""

import pytest
from django.utils import translation

from tests.telemed.conftest import centers, ecg_center, make_order, make_reader  # noqa: F401


@pytest.fixture(autouse=True)
def _english_messages():
    """The readers' error messages are matched by their English msgids here; the UI default
    (zh-hans) would give the Chinese translations."""
    with translation.override("en"):
        yield
