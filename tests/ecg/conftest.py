"""The Walking Hospital fixtures (centers, orders) for the ECG ingest tests."""

from tests.telemed.conftest import centers, ecg_center, make_order  # noqa: F401
