"""De-identification per the DICOM Basic Application Level Confidentiality Profile
(PS3.15 E.1-1), on real files (issue 4)."""

from __future__ import annotations

import io

import pydicom
import pytest

from countycare.imaging import deid
from tests.imaging.conftest import SR_COMPREHENSIVE, US_CINE, real_file


def read(name: str) -> pydicom.Dataset:
    return pydicom.dcmread(real_file(name))


def all_tags(ds: pydicom.Dataset) -> set[int]:
    found: set[int] = set()

    def walk(data):
        for element in data:
            found.add(int(element.tag))
            if element.VR == "SQ":
                for item in element.value:
                    walk(item)

    walk(ds)
    return found


def all_uids(ds: pydicom.Dataset) -> set[str]:
    found: set[str] = set()

    def walk(data):
        for element in data:
            # class and coding-scheme UIDs name standards, not people: the profile keeps them
            if (
                element.VR == "UI"
                and element.value
                and not element.keyword.endswith("ClassUID")
                and element.keyword != "CodingSchemeUID"
            ):
                values = element.value if element.VM > 1 else [element.value]
                found.update(str(v) for v in values)
            if element.VR == "SQ":
                for item in element.value:
                    walk(item)

    walk(ds)
    return found


@pytest.mark.parametrize("name", [US_CINE, "DR", SR_COMPREHENSIVE, "examples_palette.dcm"])
def test_identifying_attributes_go_and_the_object_stays_valid(name):
    original = read(name)
    ds = deid.Deidentifier().deidentify(read(name))
    tags = all_tags(ds)
    for tag in tags:
        code = deid.action_for(tag)
        assert code != "X", f"{pydicom.datadict.keyword_for_tag(tag)} should be removed"
    assert not any(pydicom.tag.Tag(t).is_private for t in tags)
    assert ds.PatientName == "ANON0001" and ds.PatientID == "ANON0001"
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    for keyword in ("PatientBirthDate", "AccessionNumber", "StudyDate", "ReferringPhysicianName"):
        if keyword in ds:
            assert not ds[keyword].value, keyword
    # every instance-identifying UID is new; the SOP class is kept
    assert not all_uids(original) & all_uids(ds)
    assert ds.SOPClassUID == original.SOPClassUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    if "PixelData" in original:
        assert ds.PixelData == original.PixelData
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    again = pydicom.dcmread(io.BytesIO(out.getvalue()))
    assert again.SOPInstanceUID == ds.SOPInstanceUID


def test_uids_are_consistent_within_an_export_and_differ_across():
    one = deid.Deidentifier()
    a = one.deidentify(read(US_CINE))
    b = one.deidentify(read(US_CINE))
    other = deid.Deidentifier().deidentify(read(US_CINE))
    assert a.StudyInstanceUID == b.StudyInstanceUID  # same study → same new study UID
    assert a.StudyInstanceUID != other.StudyInstanceUID
    assert pydicom.uid.UID(a.StudyInstanceUID).is_valid


def test_nested_references_are_replaced_with_the_same_mapping():
    original = read(SR_COMPREHENSIVE)
    engine = deid.Deidentifier()
    ds = engine.deidentify(read(SR_COMPREHENSIVE))
    referenced = [
        str(e.value) for e in original.iterall() if e.keyword == "ReferencedSOPInstanceUID"
    ]
    replaced = [str(e.value) for e in ds.iterall() if e.keyword == "ReferencedSOPInstanceUID"]
    assert referenced and replaced == [engine.uids[uid] for uid in referenced]


def test_the_table_has_the_profiles_key_attributes():
    tag = pydicom.tag.Tag
    assert deid.action_for(tag("PatientName")) == "Z"
    assert deid.action_for(tag("StudyInstanceUID")) == "U"
    assert deid.action_for(tag("OtherPatientIDs")) == "X"
    assert deid.action_for(0x60004000) == "X"  # overlay comments, repeating group
    assert deid.action_for(tag("Modality")) is None  # kept


def test_burned_in_annotation_is_detected():
    ds = read(US_CINE)
    assert not deid.burned_in(ds)
    ds.BurnedInAnnotation = "YES"
    assert deid.burned_in(ds)
