"""Imaging fixtures: the Walking Hospital's centers, two registered devices at township A
(an ultrasound and a DR, like the demo county's DEMO_US / DEMO_DR), real DICOM files nobody
here wrote (pydicom's bundled test files, the WG-04 chest radiograph shipped with the app),
a running listener and dcmtk as the device."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest
from django.utils import translation
from pydicom.data import get_testdata_file

from countycare.imaging.listener import CountyCareAE, Listener
from countycare.imaging.models import DeviceAE
from countycare.imaging.services import patient_id_for
from tests.telemed.conftest import centers, make_order  # noqa: F401

DATA = Path(__file__).resolve().parents[2] / "src" / "countycare" / "imaging" / "data"
DR_FILE = DATA / "RG1_J2KI.dcm"
US_CINE = "examples_ybr_color.dcm"  # 30-frame ultrasound, JPEG baseline YBR
US_PALETTE = "examples_palette.dcm"
US_RGB = "examples_rgb_color.dcm"
SR_COMPREHENSIVE = "test-SR.dcm"
SR_BASIC = "reportsi.dcm"
ECG = "waveform_ecg.dcm"
SC_JPEG = "SC_rgb_jpeg_dcmtk.dcm"


def real_file(name: str) -> Path:
    if name == "DR":
        return DR_FILE
    return Path(get_testdata_file(name))


@pytest.fixture(autouse=True)
def _english_messages():
    with translation.override("en"):
        yield


@pytest.fixture
def devices(tree) -> dict[str, DeviceAE]:
    CountyCareAE.known.forget()
    return {
        "US": DeviceAE.objects.create(
            ae_title="TEST_US", institution=tree.township_a, modality="US"
        ),
        "DR": DeviceAE.objects.create(
            ae_title="TEST_DR", institution=tree.township_a, modality="DX"
        ),
    }


def dicom_bytes(name: str, **changes) -> bytes:
    """A real file with some attributes changed (patient, accession, UIDs), as a device
    that took the exam from the worklist would send it."""
    ds = pydicom.dcmread(real_file(name))
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    if "SOPInstanceUID" in changes:
        ds.file_meta.MediaStorageSOPInstanceUID = changes["SOPInstanceUID"]
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def for_order(order, **extra) -> dict:
    """The attributes a device copies from the order's worklist item."""
    return {
        "AccessionNumber": order.accession_number,
        "PatientID": patient_id_for(order.resident_id),
        "PatientName": "Test^Patient",
        **extra,
    }


@pytest.fixture
def write_dicom(tmp_path):
    def write(name: str, filename: str | None = None, **changes) -> Path:
        path = tmp_path / (filename or (Path(name).stem + ".dcm"))
        path.write_bytes(dicom_bytes(name, **changes))
        return path

    return write


@pytest.fixture
def listener(transactional_db):
    # Nothing indexes in the background: ``settle()`` runs the indexer in the test's thread
    # once the associations have ended, so what a test then asserts is deterministic.
    server = Listener(ae_title="COUNTYCARE", host="127.0.0.1", port=0, indexing="manual")
    server.start()
    yield server
    server.stop()


needs_dcmtk = pytest.mark.skipif(
    shutil.which("storescu") is None or shutil.which("findscu") is None,
    reason="dcmtk (storescu, findscu, echoscu) is not installed: apt-get install dcmtk",
)


# storescu proposes uncompressed transfer syntaxes unless told; a device proposes its file's.
STORESCU_OPTION = {
    "1.2.840.10008.1.2.4.50": "-xy",  # JPEG baseline
    "1.2.840.10008.1.2.4.51": "-xx",  # JPEG extended
    "1.2.840.10008.1.2.4.70": "-xs",  # JPEG lossless SV1
    "1.2.840.10008.1.2.4.90": "-xv",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91": "-xw",  # JPEG 2000
    "1.2.840.10008.1.2.4.80": "-xt",  # JPEG-LS lossless
    "1.2.840.10008.1.2.4.81": "-xu",  # JPEG-LS near lossless
    "1.2.840.10008.1.2.5": "-xr",  # RLE
    "1.2.840.10008.1.2.1.99": "-xd",  # deflated
}


def storescu_args(path) -> list[str]:
    ts = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    option = STORESCU_OPTION.get(ts)
    return ["storescu", *([option] if option else []), "-aet"]


def dcmtk(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)
