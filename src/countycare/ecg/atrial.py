"""Atrial activity with the ventricles taken out (issue 10: atrial flutter, AF in paced records).

**QRST cancellation by average beat subtraction** (Slocum et al. 1992; Stridh & Sörnmo,
IEEE TBME 48:105, 2001): each beat's cycle — from ``0.4 × RR`` before its R peak (at most
``PRE_S``) to ``0.6 × RR`` after it (at most ``POST_S``), so the cycles tile the record — minus
the median of the dominant beats aligned on the R peak. What is locked to the QRS (its own
P wave in sinus rhythm, the QRS, the T wave) cancels; what is not stays: flutter waves,
fibrillatory waves, dissociated P waves. ``BLANK_S`` around each R peak is left out (a few
milliseconds of misalignment leave QRS edges there) and so are the first and last cycles.

On that residual, per lead (II, III, aVF, V1 — where atrial activity is seen best):

- **flutter**: the residual's autocorrelation has a peak at a lag of ``FLUTTER_LAG_S``
  (200–375 atrial cycles a minute) of at least ``FLUTTER_AC``, at least ``FLUTTER_PROM`` above
  the trough before it, and is still ≥ ``FLUTTER_AC2`` at twice the lag (a regular circuit
  repeats; fibrillatory waves decorrelate within a cycle or two), with a residual of at least
  ``FLUTTER_RMS_UV``; in at least ``FLUTTER_LEADS`` of those leads, their lags within
  ``FLUTTER_LAG_SPREAD_S``. Two-lead Holter records (I, II) therefore never qualify.
- **fibrillatory activity**: the residual's 4–9 Hz RMS (µV) in V1 (II if there is no V1) —
  the band of fibrillatory waves (dominant atrial frequency 4–9 Hz, Bollmann et al. 2006).

Flutter with a fixed conduction ratio (2:1 at ~150/min) locks the flutter waves to the QRS, so
the average beat contains them and they cancel: not detected — the reader must look. Thresholds
were set on the tuning part (docs/ecg-validation.md), from two flutter records and the rest as
controls; treat the statement as a suggestion.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

PRE_S = 0.30
POST_S = 0.60
BLANK_S = 0.05
LEADS = ("II", "III", "aVF", "V1")
FLUTTER_LAG_S = (0.16, 0.30)
FLUTTER_AC = 0.30
FLUTTER_PROM = 0.50
FLUTTER_AC2 = 0.30
FLUTTER_RMS_UV = 15.0
FLUTTER_LEADS = 2
FLUTTER_LAG_SPREAD_S = 0.02
FIB_BAND_HZ = (4.0, 9.0)
MIN_CYCLES = 4


def residual(band: np.ndarray, beats, classes, fs: float) -> np.ndarray | None:
    """The QRST-cancelled residual (µV; NaN where not computed) of ``band`` (leads × samples,
    the 0.5–40 Hz signal), or None with too few dominant beats."""
    beats = np.asarray(beats, dtype=int)
    n = band.shape[1]
    pre, post = int(PRE_S * fs), int(POST_S * fs)
    dom = [
        i for i, b in enumerate(beats)
        if classes[i] in ("N", "A") and b - pre >= 0 and b + post <= n
    ]  # fmt: skip
    if len(dom) < 3 or len(beats) < MIN_CYCLES + 2:
        return None
    template = np.median(np.stack([band[:, beats[i] - pre : beats[i] + post] for i in dom]), axis=0)
    res = np.full(band.shape, np.nan)
    blank = int(BLANK_S * fs)
    for i in range(1, len(beats) - 1):
        if classes[i] not in ("N", "A"):
            continue  # an ectopic beat's cycle is not like the template: left out
        b = beats[i]
        before = min(pre, int(0.4 * (b - beats[i - 1])))
        after = min(post, int(0.6 * (beats[i + 1] - b)))
        res[:, b - before : b + after] = (
            band[:, b - before : b + after] - template[:, pre - before : pre + after]
        )
        res[:, max(b - blank, 0) : b + blank] = np.nan
    return res


def _autocorrelation(r: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised autocorrelation of a series with gaps (NaN), and its RMS (µV)."""
    ok = np.isfinite(r)
    z = np.where(ok, r - np.nanmean(r), 0.0)
    power = float(np.mean(z[ok] ** 2)) if ok.any() else 0.0
    m = ok.astype(float)
    ac = signal.fftconvolve(z, z[::-1], mode="full")[len(z) - 1 :]
    pairs = signal.fftconvolve(m, m[::-1], mode="full")[len(z) - 1 :]
    return ac / np.maximum(pairs, 1.0) / max(power, 1e-9), float(np.sqrt(power))


def _flutter_lead(r: np.ndarray, fs: float) -> dict | None:
    ac, rms = _autocorrelation(r)
    lo, hi = int(FLUTTER_LAG_S[0] * fs), int(FLUTTER_LAG_S[1] * fs)
    if 2 * hi + 3 >= len(ac):
        return None
    seg = ac[lo : hi + 1]
    peaks, _ = signal.find_peaks(seg)
    if not len(peaks):
        return None
    lag = lo + int(peaks[np.argmax(seg[peaks])])
    trough = float(ac[int(0.3 * lag) : lag].min())
    return {
        "lag_s": round(lag / fs, 3),
        "ac": round(float(ac[lag]), 3),
        "prominence": round(float(ac[lag]) - trough, 3),
        "ac_twice": round(float(ac[2 * lag - 2 : 2 * lag + 3].max()), 3),
        "rms_uv": round(rms, 1),
    }


def _band_rms(r: np.ndarray, fs: float) -> float | None:
    """RMS (µV) of the residual in FIB_BAND_HZ, away (20 ms) from its gaps."""
    ok = np.isfinite(r)
    if ok.sum() < fs:
        return None
    from countycare.ecg.preread import _sos

    hi = min(FIB_BAND_HZ[1], 0.45 * fs)
    x = signal.sosfiltfilt(_sos("bandpass", (FIB_BAND_HZ[0], hi), fs), np.where(ok, r, 0.0))
    edge = max(int(0.02 * fs), 1)
    far = ~np.convolve(~ok, np.ones(2 * edge + 1), mode="same").astype(bool)
    if far.sum() < fs / 2:
        return None
    return round(float(np.sqrt(np.mean(x[far] ** 2))), 1)


def analyse(band: np.ndarray, names: list[str], beats, classes, fs: float) -> dict:
    """Flutter and fibrillatory-activity features (module docstring) of the usable leads
    ``names`` (rows of ``band``). ``flutter_per_min`` is set when flutter criteria are met."""
    out: dict = {"leads": {}, "flutter_per_min": None, "flutter_leads": [], "fib_uv": None}
    picked = [n for n in LEADS if n in names]
    if not picked:
        return out
    rows = band[[names.index(n) for n in picked]]
    res = residual(rows, beats, classes, fs)
    if res is None:
        return out
    hits = []
    for k, name in enumerate(picked):
        feats = _flutter_lead(res[k], fs) or {}
        feats["fib_uv"] = _band_rms(res[k], fs)
        out["leads"][name] = feats
        if (
            feats.get("ac", 0) >= FLUTTER_AC
            and feats.get("prominence", 0) >= FLUTTER_PROM
            and feats.get("ac_twice", 0) >= FLUTTER_AC2
            and feats.get("rms_uv", 0) >= FLUTTER_RMS_UV
        ):
            hits.append(name)
    if len(hits) >= FLUTTER_LEADS:
        lags = [out["leads"][n]["lag_s"] for n in hits]
        if max(lags) - min(lags) <= FLUTTER_LAG_SPREAD_S:
            out["flutter_per_min"] = round(60.0 / float(np.median(lags)))
            out["flutter_leads"] = hits
    fib_lead = "V1" if "V1" in out["leads"] else "II" if "II" in out["leads"] else None
    if fib_lead:
        out["fib_uv"] = out["leads"][fib_lead].get("fib_uv")
    return out
