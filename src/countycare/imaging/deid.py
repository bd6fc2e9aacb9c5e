"""De-identified export for teaching and quality control: the DICOM Basic Application Level
Confidentiality Profile (PS3.15 Annex E, Table E.1-1), without options.

The attribute table is the standard's, as kept by the ``dicom-anonymizer`` package (Kitware,
scraped from the current edition of PS3.15: its 2026c table). Its own engine is not used:
it keeps UID replacements in a process-wide dictionary (a leak in a long-running web
process, and the same replacement across unrelated exports), replaces UIDs digit by digit
(which can make invalid UIDs) and only looks at top-level attributes. Here each action code
applies wherever the attribute occurs, nested sequences included:

- ``X`` remove; ``Z`` zero-length; ``D`` a dummy value of the VR; ``U`` a new UID, the same
  for the same original within one export (so references between the instances of a study
  still resolve) and different across exports (a fresh salt);
- the "X unless Z/D is required" codes take the conservative IOD-safe choice (``X/Z`` → Z,
  ``X/D`` and ``X/Z/D`` → D, ``Z/D`` → D, ``X/Z/U*`` → UIDs replaced, the rest emptied);
- private attributes are removed (no Retain Safe Private option), overlays and curves
  (60xx/50xx groups in the table) removed;
- Patient Identity Removed = YES, De-identification Method and its code sequence
  (DCM 113100 "Basic Application Confidentiality Profile") are set; the patient becomes a
  pseudonym consistent within the export.

Pixel data are not cleaned (Clean Pixel Data is an option of the profile): an instance whose
Burned In Annotation is YES is left out of the export, and the manifest says so.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import generate_uid

METHOD = "DICOM PS3.15 E.1 Basic Application Level Confidentiality Profile (CountyCare)"
PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")


def _table() -> tuple[dict[int, str], list[tuple[int, int, int, int, str]]]:
    from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as fields

    codes = {
        "D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
        "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*",
    }  # fmt: skip
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, int, int, str]] = []
    for name, code in codes.items():
        for entry in getattr(fields, name):
            if len(entry) == 2:
                exact[int(Tag(entry[0], entry[1]))] = code
            else:
                masked.append((entry[0], entry[1], entry[2], entry[3], code))
    return exact, masked


EXACT, MASKED = _table()
# The action each composite code resolves to (see the module docstring).
RESOLVED = {"X/Z": "Z", "X/D": "D", "X/Z/D": "D", "Z/D": "D", "X/Z/U*": "U*"}


def action_for(tag: int) -> str | None:
    """The profile's action code for an attribute (None: keep)."""
    code = EXACT.get(int(tag))
    if code is not None:
        return code
    group, element = int(tag) >> 16, int(tag) & 0xFFFF
    for g, e, gmask, emask, code in MASKED:
        if group & gmask == g and element & emask == e:
            return code
    return None


@dataclass
class Deidentifier:
    """One export: UIDs and the patient pseudonym stay consistent across its instances."""

    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    patients: dict[str, str] = field(default_factory=dict)
    uids: dict[str, str] = field(default_factory=dict)

    def uid(self, original: str) -> str:
        original = str(original)
        if original not in self.uids:
            self.uids[original] = str(generate_uid(prefix=None, entropy_srcs=[self.salt, original]))
        return self.uids[original]

    def pseudonym(self, patient_id: str) -> str:
        if patient_id not in self.patients:
            self.patients[patient_id] = f"ANON{len(self.patients) + 1:04d}"
        return self.patients[patient_id]

    # --- the actions ------------------------------------------------------------------------
    @staticmethod
    def _dummy(element: DataElement):
        vr = element.VR
        if vr == "DA":
            return "19000101"
        if vr == "TM":
            return "000000"
        if vr == "DT":
            return "19000101000000"
        if vr == "PN":
            return "ANONYMOUS"
        if vr in ("IS", "SL", "SS", "UL", "US", "SV", "UV"):
            return 0 if vr != "IS" else "0"
        if vr in ("DS", "FL", "FD"):
            return 0.0 if vr != "DS" else "0"
        if vr == "UI":
            return None  # handled as U
        if vr in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
            return b"\x00\x00"
        if vr == "AS":
            return "000Y"
        if vr == "CS":
            return "ANONYMIZED"[:16]
        if vr == "AE":
            return "ANONYMIZED"
        return "ANONYMIZED"

    def _apply(self, ds: Dataset) -> None:
        for element in list(ds):
            tag = element.tag
            if tag.is_private:
                del ds[tag]
                continue
            code = action_for(tag)
            code = RESOLVED.get(code, code) if code else None
            if code == "X":
                del ds[tag]
                continue
            if element.VR == "SQ":
                if code == "Z":
                    element.value = Sequence()
                    continue
                # D, U*, or kept: the items are de-identified by the same table.
                for item in element.value:
                    self._apply(item)
                continue
            if code is None:
                continue
            if code in ("U", "U*") or (element.VR == "UI" and code == "D"):
                if element.value:
                    if element.VM > 1:
                        element.value = [self.uid(v) for v in element.value]
                    else:
                        element.value = self.uid(element.value)
                continue
            if code == "U*":  # pragma: no cover — U* on a non-UID, non-sequence attribute
                element.value = None
                continue
            if code == "Z":
                element.value = b"" if element.VR in ("OB", "OW", "UN") else None
                continue
            if code == "D":
                element.value = self._dummy(element)

    def deidentify(self, ds: Dataset) -> Dataset:
        """De-identify ``ds`` in place (and return it)."""
        original_patient = str(ds.get("PatientID") or ds.get("PatientName") or "")
        self._apply(ds)
        pseudonym = self.pseudonym(hashlib.sha256(original_patient.encode()).hexdigest())
        ds.PatientName = pseudonym
        ds.PatientID = pseudonym
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = METHOD
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = PROFILE_CODE
        ds.DeidentificationMethodCodeSequence = Sequence([code])
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            if "SOPInstanceUID" in ds:
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            for tag in list(meta.keys()):
                if Tag(tag) == Tag(0x0002, 0x0016):  # Source Application Entity Title
                    del meta[tag]
        return ds


def burned_in(ds: Dataset) -> bool:
    return str(ds.get("BurnedInAnnotation") or "").upper() == "YES"
