"""Frames rendered from the pixel data for the tablet (issue 4): pydicom decodes (compressed
transfer syntaxes through the pylibjpeg handlers), numpy applies the grayscale pipeline of
PS3.4 N.2 — Modality LUT (rescale), VOI (the window the reader chose, else the device's
window or VOI LUT, else a robust automatic window), MONOCHROME1 inverted — colour images
are converted to RGB (YBR, palette), and Pillow writes a small PNG or JPEG. Every rendering is
cached in file storage under the instance's SHA-256, so the second look costs a file read.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

import numpy as np
import pydicom
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from countycare.imaging.models import Instance

log = logging.getLogger(__name__)

SIZES = {"thumb": 160, "view": 1024, "full": 4096}
CACHE_PREFIX = "imaging/cache"


class RenderError(Exception):
    """The pixel data cannot be shown (an unsupported compression, a damaged file)."""


@dataclass(frozen=True)
class Request:
    frame: int = 0
    size: str = "view"
    center: float | None = None
    width: float | None = None
    auto: bool = False  # the automatic window even when the device gave one

    @property
    def windowed(self) -> bool:
        return self.center is not None and self.width is not None and self.width > 0


def cache_name(instance: Instance, req: Request, fmt: str) -> str:
    window = f"w{req.center:g}_{req.width:g}" if req.windowed else ("auto" if req.auto else "dev")
    return f"{CACHE_PREFIX}/{instance.sha256[:2]}/{instance.sha256}/{req.frame}-{req.size}-{window}.{fmt}"


def output_format(instance: Instance) -> str:
    """JPEG for colour ultrasound (small over a weak network), PNG for grayscale (no ringing
    on the edges a reader measures)."""
    color = instance.photometric.upper() not in ("MONOCHROME1", "MONOCHROME2", "")
    return "jpeg" if color else "png"


def dataset(instance: Instance) -> pydicom.Dataset:
    with instance.file.open("rb") as fh:
        return pydicom.dcmread(io.BytesIO(fh.read()))


def _frame_array(ds: pydicom.Dataset, frame: int) -> np.ndarray:
    from pydicom.pixels import pixel_array

    frames = int(ds.get("NumberOfFrames") or 1)
    if not 0 <= frame < frames:
        raise RenderError(f"frame {frame + 1} of {frames}")
    try:
        if frames > 1:
            return pixel_array(ds, index=frame)
        return ds.pixel_array
    except Exception as exc:
        raise RenderError(str(exc).splitlines()[0][:200]) from None


def _auto_window(values: np.ndarray) -> tuple[float, float]:
    sample = values[:: max(1, values.shape[0] // 512), :: max(1, values.shape[1] // 512)]
    low, high = np.percentile(sample, [0.5, 99.5])
    if high <= low:
        low, high = float(sample.min()), float(sample.max()) + 1
    return (low + high) / 2, high - low


def _grayscale(ds: pydicom.Dataset, arr: np.ndarray, req: Request) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    values = apply_modality_lut(arr, ds).astype(np.float32)
    if req.windowed:
        center, width = float(req.center), float(req.width)
    elif not req.auto and "WindowCenter" in ds and "WindowWidth" in ds:
        center, width = default_window(ds) or _auto_window(values)
    elif not req.auto and "VOILUTSequence" in ds:
        values = apply_voi_lut(values, ds).astype(np.float32)
        center, width = _auto_window(values)
    else:
        center, width = _auto_window(values)
    # PS3.3 C.11.2.1.2.1 linear VOI function
    low = center - 0.5 - (width - 1) / 2
    scaled = np.clip((values - low) / max(width - 1, 1), 0, 1)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        scaled = 1 - scaled
    return (scaled * 255 + 0.5).astype(np.uint8)


def default_window(ds: pydicom.Dataset) -> tuple[float, float] | None:
    try:
        center = ds.WindowCenter
        width = ds.WindowWidth
        center = float(center[0] if isinstance(center, pydicom.multival.MultiValue) else center)
        width = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    return (center, width) if width > 0 else None


def _color(ds: pydicom.Dataset, arr: np.ndarray) -> np.ndarray:
    from pydicom.pixels import apply_color_lut

    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        if arr.dtype != np.uint8:  # 16-bit palettes: scale to 8 bits
            arr = (arr / 257).astype(np.uint8)
        return arr
    # pixel_array already converted YBR_* to RGB (pydicom's default as_rgb)
    if arr.dtype != np.uint8:
        bits = int(ds.get("BitsStored") or 8)
        arr = np.clip(arr.astype(np.float32) / ((1 << bits) - 1) * 255, 0, 255).astype(np.uint8)
    return arr


def to_image(ds: pydicom.Dataset, req: Request) -> Image.Image:
    arr = _frame_array(ds, req.frame)
    samples = int(ds.get("SamplesPerPixel") or 1)
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if samples == 1 and photometric != "PALETTE COLOR":
        image = Image.fromarray(_grayscale(ds, arr, req), mode="L")
    else:
        image = Image.fromarray(_color(ds, arr)[..., :3], mode="RGB")
    limit = SIZES.get(req.size, SIZES["view"])
    if max(image.size) > limit:
        image.thumbnail((limit, limit), Image.Resampling.LANCZOS)
    return image


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
    else:
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def render(instance: Instance, req: Request) -> tuple[bytes, str]:
    """The frame as (bytes, content type), from the cache or rendered and cached."""
    fmt = output_format(instance)
    name = cache_name(instance, req, fmt)
    try:
        if default_storage.exists(name):
            with default_storage.open(name, "rb") as fh:
                return fh.read(), f"image/{fmt}"
    except OSError:  # pragma: no cover — a broken cache is re-rendered
        log.warning("cache unreadable: %s", name)
    data = encode(to_image(dataset(instance), req), fmt)
    try:
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(data))
    except OSError:  # a full disk costs the cache, not the reader's view
        log.warning("could not cache %s", name)
    return data, f"image/{fmt}"


def etag(instance: Instance, req: Request) -> str:
    return hashlib.sha256(cache_name(instance, req, "x").encode()).hexdigest()[:32]


def header_rows(ds: pydicom.Dataset, *, limit: int = 4000) -> list[dict]:
    """Every element of the dataset (nested sequences indented), pixel data left out."""
    rows: list[dict] = []

    def walk(data: pydicom.Dataset, depth: int) -> None:
        for element in data:
            if len(rows) >= limit:
                return
            if element.tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
                value = f"<{element.VR} {len(element.value or b'')} bytes>"
            elif element.VR == "SQ":
                value = f"{len(element.value)} item(s)"
            elif element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN") or (
                isinstance(element.value, bytes)
            ):
                value = f"<{element.VR} {len(element.value or b'')} bytes>"
            else:
                value = str(element.value)
                if len(value) > 200:
                    value = value[:200] + "…"
            rows.append({
                "depth": depth, "tag": f"({element.tag.group:04X},{element.tag.element:04X})",
                "name": element.name, "vr": element.VR, "value": value,
            })  # fmt: skip
            if element.VR == "SQ":
                for item in element.value:
                    walk(item, depth + 1)

    if getattr(ds, "file_meta", None) is not None:
        walk(ds.file_meta, 0)
    walk(ds, 0)
    return rows
