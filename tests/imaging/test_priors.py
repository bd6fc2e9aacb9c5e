"""The resident's prior studies beside the one being read (issue 4): earlier orders'
studies, newest first, with a thumbnail — only those the user may see (the one scoping
mechanism)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from pydicom.uid import generate_uid

from countycare.imaging import selectors, services
from tests.imaging.conftest import SR_COMPREHENSIVE, US_CINE, dicom_bytes, for_order

pytestmark = pytest.mark.django_db


def _new_uids() -> dict:
    return {
        "StudyInstanceUID": generate_uid(),
        "SeriesInstanceUID": generate_uid(),
        "SOPInstanceUID": generate_uid(),
    }


@pytest.fixture
def two_visits(devices, make_order):
    """Resident A1's abdominal ultrasound, then a second one at a later visit."""
    out = []
    for _ in range(2):
        order = make_order(service="US-ABD")
        cine = services.store(
            dicom_bytes(US_CINE, **for_order(order), **_new_uids()), device=devices["US"]
        ).instance
        out.append((order, cine.series.study, cine))
    return out


def test_the_prior_study_with_its_thumbnail(two_visits, center_reader):
    (first_order, first_study, first_cine), (second_order, _, _) = two_visits
    priors = selectors.prior_studies(center_reader, second_order)
    assert priors == [first_study]
    assert priors[0].first_image_id == first_cine.pk and priors[0].instance_count == 1
    assert selectors.prior_studies(center_reader, first_order) == []  # nothing before it


def test_a_study_without_images_has_no_thumbnail(two_visits, devices, make_order, center_reader):
    report_only = make_order(service="US-ABD")
    services.store(
        dicom_bytes(SR_COMPREHENSIVE, **for_order(report_only), **_new_uids()),
        device=devices["US"],
    )
    latest = make_order(service="US-ABD")
    priors = selectors.prior_studies(center_reader, latest)
    assert [p.order_id for p in priors][:1] == [report_only.pk]
    assert priors[0].first_image_id is None


def test_the_reading_page_lists_the_priors(two_visits, web, center_reader):
    (first_order, first_study, _), (second_order, _, _) = two_visits
    html = web(center_reader).get(f"/telemed/orders/{second_order.pk}/read/").content.decode()
    assert 'class="imaging-priors"' in html
    assert reverse("imaging:study", args=[first_study.pk]) in html
    html = web(center_reader).get(f"/telemed/orders/{first_order.pk}/read/").content.decode()
    assert 'class="imaging-priors"' not in html


def test_priors_are_scoped(two_visits, village_doctor, village_doctor_b1):
    (_, first_study, _), (second_order, _, _) = two_visits
    assert selectors.prior_studies(village_doctor, second_order) == [first_study]
    assert selectors.prior_studies(village_doctor_b1, second_order) == []
