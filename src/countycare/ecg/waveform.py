"""The one internal representation of an ECG (issue 10, "Formats in").

Every reader in ``ecg.formats`` returns a :class:`Waveform`; the viewer and the pre-read only
ever see this. Samples are physical units, **microvolts**, shape ``(leads, n)``.

Stored form (``Waveform.to_bytes``): a NumPy ``.npz`` archive (zip, deflate-compressed, no
pickles) holding two arrays:

- ``header``: UTF-8 JSON as ``uint8``:
  ``{"format": "countycare-ecg", "version": 1, "leads": [...], "fs": 500.0,
  "resolution_uv": 1.0, "acquired_at": "2013-01-25T10:59:19" | null, "device": "...",
  "source_format": "wfdb|aecg|dicom|csv|json|..."}``
- ``samples``: integers, shape ``(leads, n)``, physical value = ``samples * resolution_uv`` µV.
  ``int16`` when every value fits (±32.7 mV at 1 µV), otherwise ``int32``.

Quantising to 1 µV is far below any ECG device's noise floor (carts sample at 0.5–5 µV), so
the stored record is clinically lossless; a 10 s 12-lead 500 Hz record takes ≈ 60–90 kB.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.utils.translation import gettext as _

from countycare.core.errors import ValidationError

STORAGE_FORMAT = "countycare-ecg"
STORAGE_VERSION = 1
MAX_LEADS = 15
MIN_FS_HZ = 50.0
MAX_FS_HZ = 20_000.0
# A record longer than this is a Holter file, not an ECG exam for the center.
MAX_SECONDS = 24 * 3600

_CANONICAL = [
    "I",
    "II",
    "III",
    "aVR",
    "aVL",
    "aVF",
    *(f"V{i}" for i in range(1, 10)),
    "V3R",
    "V4R",
    "V5R",
    "V6R",
    "X",
    "Y",
    "Z",
]
_LEAD_ALIASES = {name.lower(): name for name in _CANONICAL}
_LEAD_ALIASES.update(
    {
        "1": "I",
        "2": "II",
        "3": "III",
        "vx": "X",
        "vy": "Y",
        "vz": "Z",
        "-avr": "-aVR",
        "neg avr": "-aVR",
    }
)
# SCP-ECG / DICOM / MDC spellings: "Lead I (Einthoven)", "MDC_ECG_LEAD_AVR", "ECG_LEAD_V1".
_PREFIX = re.compile(r"^(mdc_ecg_lead_|ecg_lead_|lead[\s_-]*)", re.IGNORECASE)
_PARENS = re.compile(r"\(.*?\)")

# Standard display order; leads not in it keep their order after these.
STANDARD_ORDER = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def normalize_lead(name: str) -> str:
    """``'ii'``, ``'MDC_ECG_LEAD_II'``, ``'Lead II (Einthoven)'`` → ``'II'``; unknown names are
    returned stripped, unchanged otherwise (a device's own label is better than a guess)."""
    raw = _PARENS.sub("", str(name)).strip()
    key = _PREFIX.sub("", raw).strip().lower()
    return _LEAD_ALIASES.get(key, raw)


@dataclass
class Waveform:
    """An ECG record: ``samples[i]`` is lead ``leads[i]`` in µV, sampled at ``fs`` Hz."""

    leads: list[str]
    fs: float
    samples: np.ndarray
    acquired_at: datetime | None = None
    device: str = ""
    source_format: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.leads = [normalize_lead(lead) for lead in self.leads]
        self.samples = np.asarray(self.samples, dtype=np.float32)
        try:
            self.fs = float(self.fs)
        except (TypeError, ValueError):
            raise ValidationError(
                _("The sampling rate is not a number."), code="bad_ecg", field="file"
            ) from None
        self._validate()

    def _validate(self) -> None:
        def fail(message: str) -> None:
            raise ValidationError(message, code="bad_ecg", field="file")

        if not self.leads:
            fail(_("The ECG has no usable lead."))
        if len(self.leads) > MAX_LEADS:
            fail(
                _("The ECG has %(n)d leads; at most %(max)d are accepted.")
                % {"n": len(self.leads), "max": MAX_LEADS}
            )
        if len(set(self.leads)) != len(self.leads):
            fail(_("The ECG names a lead twice: %(leads)s.") % {"leads": ", ".join(self.leads)})
        if not (MIN_FS_HZ <= self.fs <= MAX_FS_HZ) or not np.isfinite(self.fs):
            fail(
                _("The sampling rate %(fs)s Hz is not plausible for an ECG (%(lo)d–%(hi)d Hz).")
                % {"fs": f"{self.fs:g}", "lo": MIN_FS_HZ, "hi": MAX_FS_HZ}
            )
        if self.samples.ndim != 2 or self.samples.shape[0] != len(self.leads):
            fail(
                _("The ECG has %(n)d lead names but the samples have shape %(shape)s.")
                % {"n": len(self.leads), "shape": tuple(self.samples.shape)}
            )
        if self.samples.shape[1] < 1:
            fail(_("The ECG has no samples."))
        if self.samples.shape[1] / self.fs > MAX_SECONDS:
            fail(_("The recording is longer than 24 hours."))
        bad = [
            lead
            for lead, row in zip(self.leads, self.samples, strict=True)
            if not np.isfinite(row).all()
        ]
        if bad:
            fail(
                _("Lead(s) %(leads)s contain missing or invalid samples (NaN).")
                % {"leads": ", ".join(bad)}
            )

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.n_samples / self.fs

    def lead(self, name: str) -> np.ndarray:
        return self.samples[self.leads.index(normalize_lead(name))]

    # -- storage ---------------------------------------------------------------------------

    def to_bytes(self, resolution_uv: float = 1.0) -> bytes:
        quantised = np.rint(self.samples.astype(np.float64) / resolution_uv)
        info16 = np.iinfo(np.int16)
        dtype = (
            np.int16
            if quantised.min() >= info16.min and quantised.max() <= info16.max
            else np.int32
        )
        header = {
            "format": STORAGE_FORMAT,
            "version": STORAGE_VERSION,
            "leads": self.leads,
            "fs": self.fs,
            "resolution_uv": resolution_uv,
            "acquired_at": self.acquired_at.isoformat() if self.acquired_at else None,
            "device": self.device,
            "source_format": self.source_format,
            "extra": self.extra,
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            samples=quantised.astype(dtype),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Waveform:
        def fail() -> ValidationError:
            return ValidationError(
                _("The stored ECG is damaged or not in the CountyCare ECG format."),
                code="bad_ecg",
                field="file",
            )

        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                header = json.loads(bytes(archive["header"]).decode())
                samples = archive["samples"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            raise fail() from None
        if (
            not isinstance(header, dict)
            or header.get("format") != STORAGE_FORMAT
            or header.get("version") != STORAGE_VERSION
            or not np.issubdtype(samples.dtype, np.integer)
        ):
            raise fail()
        acquired = header.get("acquired_at")
        try:
            return cls(
                leads=list(header["leads"]),
                fs=header["fs"],
                samples=samples.astype(np.float32) * float(header["resolution_uv"]),
                acquired_at=datetime.fromisoformat(acquired) if acquired else None,
                device=header.get("device") or "",
                source_format=header.get("source_format") or "",
                extra=header.get("extra") or {},
            )
        except (KeyError, TypeError, ValueError):
            raise fail() from None
