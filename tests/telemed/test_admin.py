"""The community office configures the shared centers as data (SHC-01/02) in Django admin."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["sharedcenter", "service", "phrase", "criticalrule"])
def test_admin_lists_telemed_master_data(model, centers, superuser, web):
    client = web(superuser)
    assert client.get(reverse(f"admin:telemed_{model}_changelist")).status_code == 200


def test_admin_center_change_page(ecg_center, superuser, web):
    page = web(superuser).get(reverse("admin:telemed_sharedcenter_change", args=[ecg_center.pk]))
    assert page.status_code == 200 and "ECG12" in page.content.decode()
