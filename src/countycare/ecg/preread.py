"""The automatic ECG pre-read (issue 10): pure functions on a ``Waveform`` (numpy/scipy, no
Django), so they run the same in the worker, the command line and the benchmark.

- ``lead_quality`` / ``quality``: per lead, flat line, lead-off (a long constant run while
  the other leads carry signal), saturation (stuck at the rail), excessive noise (robust
  high-frequency noise against the lead's own QRS amplitude), baseline wander.
- ``detect_beats``: R peaks from all usable leads together.
- ``measure.measure``: median beats, per-lead P/QRS/T boundaries, PR, QRS, QT, QTc
  (Bazett, Fridericia), frontal axis, with the beats used.
- ``analyse``: the above plus rhythm and morphology statements coded with the SCP-ECG
  acronyms PTB-XL uses (SR, SBRAD, STACH, SARRH, AFIB, AFLT, PAC, PVC, 1AVB, CRBBB, CLBBB,
  LVH, LNGQT) and our own where none exists (PAUSE, ASYST, VTAC, STEMI), each with a
  confidence; then the triage (routine / urgent / critical and a score in 0..1).

Thresholds are published clinical criteria (AHA/ACC/HRS 2009 recommendations for the
standardisation of ECG interpretation, the Fourth Universal Definition of MI for ST
elevation, Sokolow-Lyon and Cornell voltage) or engineering defaults, documented next to each
constant; none is tuned to a single record. Tuning of the detector parameters used only the
"tuning" half of the labelled data (``evaluation.split``). The pre-read is a draft for the
reader, never a signed result.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import signal

from countycare.ecg import measure as measure_mod
from countycare.ecg import pacing

# --- signal quality -----------------------------------------------------------------------
FLAT_STD_UV = 10.0  # a lead with less spread than this carries no ECG (QRS is ≥ ~300 µV)
# A constant run this long in one lead while most other leads carry signal is a lead off /
# dropout. 1.5 s: longer than any isoelectric T–P segment at ≥ 40 bpm, shorter than the
# shortest dropouts seen on monitors. When (nearly) all leads are flat together it is a
# pause or asystole, which the rhythm analysis reports.
LEAD_OFF_RUN_S = 1.5
RAIL_RUN_S = 0.1  # runs at the lead's extreme value this long count as clipping…
SATURATION_FRACTION = 0.05  # …when they cover this share of the record
# Robust (MAD) noise above 35 Hz (mains notched) against the lead's 0.5–35 Hz amplitude:
# diagnostic-quality records stay under 0.11; muscle noise that hides P waves is over 0.2.
# The MAD ignores sparse spikes (pacemaker spikes are not noise).
NOISE_RATIO = 0.2
NOISE_MIN_UV = 20.0
WANDER_UV = 2500.0  # peak-to-peak of the < 0.5 Hz baseline (2.5 mV)
# Beat agreement between each lead alone and all leads together (bSQI, Li, Mark, Moody &
# Clifford, Physiol. Meas. 2008): a record whose median lead agrees less than this has beats
# hidden by noise or artefact. 0.8: the usual "acceptable" bound; every record of the tuning
# part is ≥ 0.85.
BSQI_MIN = 0.8
# Two independent R-peak detectors (``detect_beats`` and NeuroKit2's, ``independent_beats``)
# on each usable lead: matched within AGREE_TOL_S, beats within AGREE_EDGE_S of the record's
# ends not counted. When the median lead agrees less than AGREE_MIN, the beats are not known
# well enough to give a rate: re-acquire, heart rate unknown. (Li et al. 2008 used two
# detectors so; fixed on the tuning part, see docs/ecg-validation.md.)
AGREE_TOL_S = 0.15
AGREE_EDGE_S = 0.40
AGREE_MIN = 0.90
# Leads failing quality only for these reasons still serve the beat detection.
BEATS_DESPITE = {"wander", "saturation"}
MIN_DURATION_S = 5.0  # shorter strips cannot be judged (≥ 4 beats at 50 bpm); refused at upload

# --- rhythm (AHA/ACC/HRS 2009) ----------------------------------------------------------------
BRADY_BPM = 60.0
TACHY_BPM = 100.0
CRITICAL_LOW_BPM = 40.0
CRITICAL_HIGH_BPM = 150.0
AF_RVR_BPM = 110.0  # AF above the lenient rate-control target (ESC 2020, RACE II): rapid
PAUSE_S = 2.0  # "pause > 2 s" statement
LONG_PAUSE_S = 3.0  # critical
ASYSTOLE_S = 4.0  # no beat for this long in a usable signal
MIN_QRS_UV = 100.0  # a band-passed deflection smaller than this is not a QRS complex
# Atrial activity before the QRS alike from beat to beat (measure._atrial_consistency):
# P waves present at or above this. Midway between AF windows (median 0.40) and the 5th
# percentile of the other rhythms (0.91) of the tuning part; fixed before the held-out run.
P_CONSISTENT = 0.85
PREMATURE = 0.85  # an RR shorter than this share of the local rhythm is premature
# RR irregularity for AF: the median absolute successive RR difference over the median RR
# ("madsd"). A median ignores isolated extrasystoles (a premature beat and its pause change
# two differences out of ~10) where an RMS does not; AF changes nearly every RR. 0.05: 5 % of
# the RR, above the beat-to-beat change of sinus rhythm (tuning part: median 0.012) and below
# AF's 5th percentile (0.061).
AF_MADSD = 0.05
# Sinus arrhythmia: P waves, and the RR (premature beats and their pauses left out) varying by
# more than 200 ms between the longest and the shortest (the classic criterion is 120–160 ms;
# over 10 s the tuning part's cardiologists called sinus rhythm up to ~200 ms).
SARRH_RANGE_MS = 200.0
# AF in a paced record: the 4–9 Hz residual after QRST cancellation in V1 (atrial.py) at
# least this (µV). Tuning part: paced records without AF ≤ 8.8, the 90th percentile of all
# non-AF records 8.6, AF records' median ~15 (the one paced AF record: 25).
PACED_AF_FIB_UV = 12.0
WIDE_QRS_MS = 120.0
LONG_PR_MS = 200.0
LONG_QTC_MS = 460.0  # AHA 2009: ≥ 450 men, ≥ 460 women; sex unknown → 460
VERY_LONG_QTC_MS = 500.0
SOKOLOW_UV = 3500.0  # SV1 + max(RV5, RV6)
CORNELL_UV = {"M": 2800.0, "F": 2000.0, None: 2800.0}  # RaVL + SV3
RAVL_UV = 1100.0
# STEMI (Fourth Universal Definition of MI, 2018): new ST elevation at the J point in two
# contiguous leads ≥ 1 mm, except V2–V3: ≥ 2 mm men ≥ 40 y, ≥ 2.5 mm men < 40, ≥ 1.5 mm women.
STE_UV = 100.0
STE_V2V3_UV = {"M": 200.0, "F": 150.0, None: 200.0}  # men ≥ 40 y, women; sex unknown: as men
STE_V2V3_YOUNG_MEN_UV = 250.0  # men < 40 y
STE_YOUNG_AGE = 40


def ste_v2v3_uv(sex: str | None = None, age: int | None = None) -> float:
    """The V2–V3 ST-elevation threshold (µV) of the Fourth Universal Definition for the
    patient's sex and age; unknown sex or age takes the men's ≥ 40 y value (2 mm)."""
    if sex == "M" and age is not None and age < STE_YOUNG_AGE:
        return STE_V2V3_YOUNG_MEN_UV
    return STE_V2V3_UV.get(sex, STE_V2V3_UV[None])


LIMB_CONTIGUOUS = ["aVL", "I", "-aVR", "II", "aVF", "III"]
CHEST_CONTIGUOUS = ["V1", "V2", "V3", "V4", "V5", "V6"]

CODES = {
    # code: (Chinese name, English name) — SCP-ECG acronyms as PTB-XL uses them
    "SR": ("窦性心律", "sinus rhythm"),
    "SBRAD": ("窦性心动过缓", "sinus bradycardia"),
    "STACH": ("窦性心动过速", "sinus tachycardia"),
    "SARRH": ("窦性心律不齐", "sinus arrhythmia"),
    "AFIB": ("心房颤动", "atrial fibrillation"),
    "AFLT": ("心房扑动", "atrial flutter"),
    "PAC": ("房性早搏", "premature atrial complex"),
    "PVC": ("室性早搏", "premature ventricular complex"),
    "1AVB": ("一度房室传导阻滞", "first-degree AV block"),
    "CRBBB": ("完全性右束支传导阻滞", "complete right bundle branch block"),
    "CLBBB": ("完全性左束支传导阻滞", "complete left bundle branch block"),
    "LVH": ("左心室肥厚（电压标准）", "left ventricular hypertrophy (voltage)"),
    "LNGQT": ("QTc间期延长", "long QTc"),
    "PAUSE": ("RR长间歇（>2秒）", "pause > 2 s"),
    "ASYST": ("心搏停止", "asystole"),
    "VTAC": ("疑似室性心动过速", "suspected ventricular tachycardia"),
    "STEMI": ("疑似ST段抬高型心肌梗死", "suspected STEMI (ST elevation criteria)"),
    "PACE": ("起搏心律", "paced rhythm"),
    "BRADY": ("心动过缓", "bradycardia"),
    "TACHY": ("心动过速", "tachycardia"),
}

REASON_TEXT = {
    "flat": "无信号（直线）",
    "lead_off": "脱落",
    "saturation": "信号饱和",
    "noise": "干扰过大",
    "wander": "基线漂移过大",
    "too_short": "记录过短",
    "beats_unclear": "各导联心搏识别不一致（干扰或伪差）",
}


@dataclass
class Quality:
    ok: bool
    leads: dict[str, list[str]]  # lead → reason codes (empty: usable)
    reasons: list[str]  # human-readable, Chinese, one per problem lead
    usable: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class PreRead:
    quality: Quality
    lead_used: str | None = None  # the lead shown for the beats (all usable leads vote)
    beats: list[int] = field(default_factory=list)  # sample indices of R peaks
    heart_rate_bpm: float | None = None
    rr_ms: list[float] = field(default_factory=list)
    rr_cv: float | None = None
    longest_gap_s: float | None = None
    measurements: dict = field(default_factory=dict)  # measure.Measurements.as_dict()
    rhythm: dict = field(default_factory=dict)  # irregularity features, P-wave presence
    statements: list[dict] = field(default_factory=list)  # {"code", "confidence"}
    pacing: dict = field(default_factory=dict)  # pacing.Pacing.as_dict()
    priority: str = "routine"  # routine | urgent | critical
    triage_score: float = 0.0

    def codes(self) -> set[str]:
        return {s["code"] for s in self.statements}

    def as_dict(self) -> dict:
        out = asdict(self)
        out["quality"] = self.quality.as_dict()
        return out


# --- filters (all leads at once) ----------------------------------------------------------------
def _sos(kind: str, freqs, fs: float, order: int = 2):
    """Butterworth second-order sections, designed once per (kind, band, fs, order): the
    design costs more than filtering a 10 s record."""
    key = tuple(freqs) if isinstance(freqs, list | tuple) else freqs
    return _design(kind, key, float(fs), order).copy()  # scipy wants a writable array


@functools.lru_cache(maxsize=128)
def _design(kind: str, freqs, fs: float, order: int):
    sos = signal.butter(order, list(freqs) if isinstance(freqs, tuple) else freqs, kind, fs=fs,
                        output="sos")  # fmt: skip
    return sos


@functools.lru_cache(maxsize=16)
def _notch(mains: float, fs: float):
    return signal.iirnotch(mains, 30.0, fs)


def bandpass(x: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    hi = min(hi, 0.45 * fs)
    return signal.sosfiltfilt(_sos("bandpass", [lo, hi], fs), np.asarray(x, float), axis=-1)


def _runs(mask: np.ndarray, min_length: int = 1) -> list[tuple[int, int]]:
    """(start, length) of each run of True at least ``min_length`` long."""
    if not mask.any():
        return []
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, lengths = edges[::2], edges[1::2] - edges[::2]
    keep = lengths >= min_length
    return [(int(a), int(n)) for a, n in zip(starts[keep], lengths[keep], strict=True)]


def _constant_mask(x: np.ndarray) -> np.ndarray:
    """Samples (of ``len(x) - 1``) whose step to the next is below 0.5 µV."""
    return np.abs(np.diff(x)) < 0.5


def _noise_ratio(x2d: np.ndarray, fs: float) -> np.ndarray:
    """Per lead: robust (MAD) noise above 35 Hz, mains notched, over the 0.5–35 Hz range."""
    if fs < 100:
        return np.zeros(len(x2d))
    x = x2d
    for mains in (50.0, 60.0):
        if mains < 0.45 * fs:
            b, a = _notch(mains, float(fs))
            x = signal.filtfilt(b, a, x, axis=-1)
    hf = x - signal.sosfiltfilt(_sos("lowpass", 35.0, fs, 4), x, axis=-1)
    noise = 1.4826 * np.median(np.abs(hf - np.median(hf, axis=-1, keepdims=True)), axis=-1)
    band = bandpass(x2d, fs, 0.5, 35.0)
    amp = np.percentile(band, 99.5, axis=-1) - np.percentile(band, 0.5, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(amp > 0, noise / np.maximum(amp, 1e-9), np.inf)
    return np.where(noise < NOISE_MIN_UV, 0.0, ratio)


def lead_quality(x: np.ndarray, fs: float, others_flat: np.ndarray | None = None) -> list[str]:
    """Reason codes for one lead (µV); an empty list means usable. ``others_flat`` (per
    sample, the share of the other leads that are constant there) keeps a pause or asystole
    seen in every lead from being called a lead-off."""
    x = np.asarray(x, dtype=np.float64)
    if x.std() < FLAT_STD_UV:
        return ["flat"]
    reasons = []
    runs = _runs(_constant_mask(x), int(min(RAIL_RUN_S, LEAD_OFF_RUN_S) * fs))
    lo, hi = x.min(), x.max()
    rail = 0
    for start, length in runs:
        value = x[start]
        if min(abs(value - lo), abs(value - hi)) < 1.0 and length >= RAIL_RUN_S * fs:
            rail += length
        elif length >= LEAD_OFF_RUN_S * fs and "lead_off" not in reasons:
            shared = others_flat[start : start + length].mean() if others_flat is not None else 0
            if shared < 0.5:
                reasons.append("lead_off")
    if rail >= SATURATION_FRACTION * len(x):
        reasons.append("saturation")
    if _noise_ratio(x[None, :], fs)[0] > NOISE_RATIO:
        reasons.append("noise")
    if len(x) > 2 * fs:
        baseline = signal.sosfiltfilt(_sos("lowpass", 0.5, fs), x)
        if np.ptp(baseline) > WANDER_UV:
            reasons.append("wander")
    return reasons


def quality(wf) -> Quality:
    x = wf.samples.astype(np.float64)
    n_leads = len(wf.leads)
    leads: dict[str, list[str]] = {}
    flat_std = x.std(axis=1) < FLAT_STD_UV
    const = np.zeros((n_leads, max(x.shape[1] - 1, 0)), dtype=bool)
    long_const = np.zeros_like(const)  # inside a constant run of LEAD_OFF_RUN_S or more
    runs_of = []
    for i in range(n_leads):
        const[i] = _constant_mask(x[i])
        # Shorter runs matter to neither check (and a quantised signal has many).
        runs_of.append(_runs(const[i], int(min(RAIL_RUN_S, LEAD_OFF_RUN_S) * wf.fs)))
        for start, length in runs_of[i]:
            if length >= LEAD_OFF_RUN_S * wf.fs:
                long_const[i, start : start + length] = True
    ratios = _noise_ratio(x, wf.fs)
    low = (
        signal.sosfiltfilt(_sos("lowpass", 0.5, wf.fs), x, axis=-1)
        if x.shape[1] > 2 * wf.fs
        else None
    )
    for i, name in enumerate(wf.leads):
        if flat_std[i]:
            leads[name] = ["flat"]
            continue
        reasons = []
        others = [j for j in range(n_leads) if j != i and not flat_std[j]]
        others_flat = long_const[others].mean(axis=0) if others else None
        row = x[i]
        lo, hi = row.min(), row.max()
        rail = 0
        for start, length in runs_of[i]:
            value = row[start]
            if min(abs(value - lo), abs(value - hi)) < 1.0 and length >= RAIL_RUN_S * wf.fs:
                rail += length
            elif length >= LEAD_OFF_RUN_S * wf.fs and "lead_off" not in reasons:
                shared = (
                    others_flat[start : start + length].mean() if others_flat is not None else 0
                )
                if shared < 0.5:
                    reasons.append("lead_off")
        if rail >= SATURATION_FRACTION * len(row):
            reasons.append("saturation")
        if ratios[i] > NOISE_RATIO:
            reasons.append("noise")
        if low is not None and np.ptp(low[i]) > WANDER_UV:
            reasons.append("wander")
        leads[name] = reasons
    reasons = []
    if wf.duration < MIN_DURATION_S:
        reasons.append(REASON_TEXT["too_short"])
    for name, codes in leads.items():
        if codes:
            reasons.append(f"{name}导联" + "、".join(REASON_TEXT[c] for c in codes))
    usable = [name for name, codes in leads.items() if not codes]
    # Any bad lead of a multi-lead record means re-acquire: the reader needs all of them.
    ok = not reasons and bool(usable)
    return Quality(ok=ok, leads=leads, reasons=reasons, usable=usable)


# --- beats ----------------------------------------------------------------------------------------
def _envelopes(rows: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Pan–Tompkins-like QRS envelope per lead (5–20 Hz band-pass, squared slope, 80 ms
    moving average) and each lead's 99.5th-percentile band-passed amplitude (µV)."""
    band = bandpass(rows, fs, 5.0, 20.0)
    slope = np.gradient(band, axis=-1) * fs / 1000.0  # µV/ms
    width = max(int(0.08 * fs), 1)
    kernel = np.ones(width) / width
    env = signal.fftconvolve(slope**2, kernel[None, :], mode="same", axes=-1)
    amplitudes = np.percentile(np.abs(band), 99.5, axis=-1)
    return env, amplitudes


def independent_beats(rows: np.ndarray, fs: float) -> list[np.ndarray]:
    """R peaks of each lead by a second detector of another kind: NeuroKit2's default
    (``neurokit``: smoothed absolute gradient against its own 0.75 s running mean, QRS
    segments of sufficient length, the most prominent maximum in each; Makowski et al.,
    Behav. Res. 2021), on the 0.5–40 Hz signal, each lead turned to point up. Used to measure
    how far two independent detectors agree, as Li, Mark, Moody & Clifford (2008) did."""
    from neurokit2.ecg.ecg_findpeaks import ecg_findpeaks  # heavy import: only when needed

    band = bandpass(rows, fs, 0.5, 40.0)
    out = []
    for row in np.atleast_2d(band):
        # The method takes the most prominent *maximum* in each QRS: a lead whose QRS points
        # down is turned over first (as NeuroKit2's ecg_invert does).
        if -np.percentile(row, 0.5) > np.percentile(row, 99.5):
            row = -row
        try:
            peaks = ecg_findpeaks(row, sampling_rate=round(fs), method="neurokit")
            out.append(np.asarray(peaks["ECG_R_Peaks"], dtype=int))
        except (ValueError, IndexError):  # no QRS-like segment at all
            out.append(np.zeros(0, dtype=int))
    return out


def consensus_beats(per_lead: list, fs: float) -> np.ndarray:
    """The beats at least half the leads' detections agree on (within AGREE_TOL_S): each
    lead's peaks are pooled, clustered, and a cluster found in ≥ half the leads is a beat (at
    its median position). With three leads or more, one lead's false or missed detections do
    not count; with two (a Holter's), "half" is one lead, so either lead's detection counts.
    Requiring both there was measured and not adopted (docs/ecg-validation.md, "Measured, not
    adopted")."""
    leads = [np.asarray(p, dtype=int) for p in per_lead]
    if not leads:
        return np.zeros(0, dtype=int)
    need = max(1, int(np.ceil(0.5 * len(leads))))
    pooled = np.sort(np.concatenate(leads)) if any(len(p) for p in leads) else np.zeros(0, int)
    if not len(pooled):
        return np.zeros(0, dtype=int)
    tol = int(AGREE_TOL_S * fs)
    clusters = np.split(pooled, np.flatnonzero(np.diff(pooled) > tol) + 1)
    out = []
    for c in clusters:
        votes = sum(1 for p in leads if len(p) and ((p >= c[0] - tol) & (p <= c[-1] + tol)).any())
        if votes >= need:
            out.append(int(np.median(c)))
    return np.asarray(out, dtype=int)


def _nearest_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each of ``x``, the distance (samples) to the nearest of sorted ``y``."""
    if not len(y):
        return np.full(len(x), np.iinfo(np.int64).max)
    idx = np.searchsorted(y, x)
    return np.minimum(
        np.abs(x - y[np.clip(idx, 0, len(y) - 1)]), np.abs(x - y[np.clip(idx - 1, 0, len(y) - 1)])
    )


def beat_agreement(a, b, fs: float, n: int) -> float:
    """Agreement of two beat lists: matched / (n_a + n_b − matched) within AGREE_TOL_S, like
    the bSQI; beats within AGREE_EDGE_S of either end are not counted against either list
    (a detector may keep or drop a beat cut by the record's edge)."""
    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    edge, tol = int(AGREE_EDGE_S * fs), int(AGREE_TOL_S * fs)
    a_in = a[(a >= edge) & (a <= n - 1 - edge)]
    b_in = b[(b >= edge) & (b <= n - 1 - edge)]
    if not len(a_in) and not len(b_in):
        return 1.0
    matched = min(
        int((_nearest_distance(a_in, b) <= tol).sum()),
        int((_nearest_distance(b_in, a) <= tol).sum()),
    )
    return matched / (len(a_in) + len(b_in) - matched)


def _qrs_sized(rows: np.ndarray, fs: float) -> np.ndarray:
    """Per lead: does its 5–20 Hz signal reach a QRS-sized deflection (MIN_QRS_UV / 2)?"""
    band = bandpass(rows, fs, 5.0, 20.0)
    return np.percentile(np.abs(band), 99.5, axis=-1) >= MIN_QRS_UV / 2


def detect_beats(x: np.ndarray | list, fs: float, agreement: list | None = None) -> np.ndarray:
    """R-peak sample indices from one lead (an array) or several leads (a list of arrays or
    a 2-D array), whose envelopes are normalised and averaged: T waves are less consistent
    across leads than QRS complexes. Candidates are envelope peaks ≥ 200 ms apart above
    30 % of a robust level (the median of the 8 highest peaks, so one huge ectopic beat does
    not hide the others); a peak within 360 ms of the previous one with less than half its
    height is a T wave (Pan–Tompkins); a beat is then moved to the largest |deflection| of the
    0.5–40 Hz signal within ±60 ms. Deflections under MIN_QRS_UV are not beats. With an
    ``agreement`` list, each lead's bSQI is appended to it."""
    if isinstance(x, list):
        rows = np.vstack([np.asarray(r, dtype=np.float64) for r in x])
    else:
        rows = np.atleast_2d(np.asarray(x, dtype=np.float64))
    env, amplitudes = _envelopes(rows, fs)
    if amplitudes.max() < MIN_QRS_UV:
        return np.zeros(0, dtype=int)
    total = np.zeros(rows.shape[1])
    weight = 0
    for i in range(len(rows)):
        if amplitudes[i] < MIN_QRS_UV / 2:
            continue
        level = np.percentile(env[i], 99.5)
        if level > 0:
            total += np.minimum(env[i] / level, 3.0)
            weight += 1
    if weight == 0:
        return np.zeros(0, dtype=int)
    total /= weight
    kept = _envelope_beats(total, fs)
    if not kept:
        return np.zeros(0, dtype=int)
    main = rows[int(np.argmax(amplitudes))]
    wide = bandpass(main, fs, 0.5, 40.0)
    half = int(0.06 * fs)
    refined = []
    for p in kept:
        a, b = max(p - half, 0), min(p + half + 1, len(main))
        refined.append(a + int(np.argmax(np.abs(wide[a:b]))))
    beats = np.unique(np.asarray(refined, dtype=int))
    if agreement is not None:
        # bSQI (Li, Mark, Moody & Clifford 2008): per lead, the beats found in that lead
        # alone against the beats of all leads together, matched within 150 ms:
        # matched / (n_lead + n_all − matched). Leads without a QRS-sized signal: NaN.
        tol = int(0.15 * fs)
        ref = np.asarray(kept)
        for i in range(len(rows)):
            level = np.percentile(env[i], 99.5)
            if amplitudes[i] < MIN_QRS_UV / 2 or level <= 0:
                agreement.append(float("nan"))
                continue
            own = np.asarray(_envelope_beats(np.minimum(env[i] / level, 3.0), fs))
            if not len(own):
                agreement.append(0.0)
                continue
            matched = int((_nearest_distance(own, ref) <= tol).sum())
            agreement.append(matched / (len(own) + len(ref) - matched))
    return beats


def _envelope_beats(total: np.ndarray, fs: float) -> list[int]:
    """Beats on a normalised QRS envelope (see ``detect_beats``)."""
    distance = max(int(0.2 * fs), 1)
    cand, _props = signal.find_peaks(total, distance=distance)
    if not len(cand):
        return []
    heights = total[cand]
    top = np.sort(heights)[-8:]
    level = float(np.median(top))
    keep = heights >= 0.3 * level
    peaks, heights = cand[keep], heights[keep]
    kept: list[int] = []
    kept_h: list[float] = []
    for p, h in zip(peaks, heights, strict=True):
        if kept and p - kept[-1] < 0.36 * fs:
            if h < 0.5 * kept_h[-1]:
                continue  # T wave
            if h > 2 * kept_h[-1]:
                kept[-1], kept_h[-1] = int(p), float(h)  # the previous one was the T wave
                continue
        kept.append(int(p))
        kept_h.append(float(h))
    return kept


# --- rhythm features -------------------------------------------------------------------------------
def premature_beats(rr: np.ndarray) -> np.ndarray:
    """Indices (into beats, 1-based on rr) of beats ending an RR shorter than PREMATURE × the
    median of the RR around it."""
    out = []
    for i in range(len(rr)):
        lo, hi = max(0, i - 4), min(len(rr), i + 5)
        ref = np.median(np.delete(rr[lo:hi], i - lo)) if hi - lo > 1 else rr[i]
        if rr[i] < PREMATURE * ref:
            out.append(i + 1)
    return np.asarray(out, dtype=int)


def rr_features(rr_s: np.ndarray) -> dict:
    """Irregularity of the RR series: normalised RMSSD and the share of successive RR
    changing by more than 8 % — on all RR and with premature beats and the RR after them
    removed (so isolated extrasystoles do not look like AF)."""
    out: dict = {"n_rr": len(rr_s)}
    if len(rr_s) < 4:
        return out
    d = np.diff(rr_s)
    out["nrmssd"] = round(float(np.sqrt(np.mean(d**2)) / rr_s.mean()), 4)
    out["irregular_fraction"] = round(float(np.mean(np.abs(d) / rr_s[:-1] > 0.08)), 3)
    prem = premature_beats(rr_s)
    drop = set()
    for b in prem:
        drop.update({b - 1, b})  # the premature RR and the compensatory one after it
    clean = np.asarray([v for i, v in enumerate(rr_s) if i not in drop])
    out["n_premature"] = len(prem)
    med = float(np.median(rr_s))
    out["madsd"] = round(float(np.median(np.abs(d)) / med), 4)
    out["near_median"] = round(float(np.mean(np.abs(rr_s - med) / med < 0.1)), 3)
    # Cleaning is for isolated extrasystoles: when a quarter of the beats are "premature",
    # the rhythm itself is irregular and the raw figures stand.
    kept = clean if len(clean) >= 3 else rr_s
    out["range_clean_ms"] = round(float(kept.max() - kept.min()) * 1000, 1)
    if len(clean) >= 4 and len(prem) <= 0.25 * len(rr_s):
        dc = np.diff(clean)
        out["nrmssd_clean"] = round(float(np.sqrt(np.mean(dc**2)) / clean.mean()), 4)
        out["irregular_fraction_clean"] = round(float(np.mean(np.abs(dc) / clean[:-1] > 0.08)), 3)
    else:
        out["nrmssd_clean"] = out["nrmssd"]
        out["irregular_fraction_clean"] = out["irregular_fraction"]
    return out


# --- the pre-read ----------------------------------------------------------------------------------
def analyse(wf, *, sex: str | None = None, age: int | None = None) -> PreRead:
    """The whole pre-read. Measurements and statements are computed from the usable leads
    even when quality fails (the command line and the reader see them), but a record that
    fails quality is never triaged above routine: it goes back for re-acquisition."""
    q = quality(wf)
    result = PreRead(quality=q)
    if not q.usable:
        return result
    # Pacemaker stimuli: found on the whole record, then bridged over (a copy) so that
    # neither beat detector nor the median beats take a stimulus for a QRS.
    spike_idx = pacing.spikes(wf.samples, wf.fs)
    if len(spike_idx):
        wf = dataclasses.replace(
            wf, samples=pacing.remove(wf.samples, spike_idx, wf.fs).astype(np.float32)
        )
    # Beats from every lead that shows QRS complexes: baseline wander is filtered out of the
    # detectors' bands, and clipped stretches only hide the beats inside them (the agreement
    # checks below catch what that costs). Such leads still fail quality and are not measured.
    for_beats = [n for n, codes in q.leads.items() if set(codes) <= BEATS_DESPITE]
    idx = [wf.leads.index(name) for name in for_beats]
    rows = wf.samples[idx].astype(np.float64)
    result.lead_used = "II" if "II" in q.usable else q.usable[0]
    agreement: list[float] = []
    qrs_sized = _qrs_sized(rows, wf.fs)
    second = independent_beats(rows[qrs_sized], wf.fs) if qrs_sized.any() else []
    beats = detect_beats(rows, wf.fs, agreement=agreement)
    result.beats = [int(b) for b in beats]
    valid = [a for a in agreement if np.isfinite(a)]
    bsqi = round(float(np.median(valid)), 3) if valid else None
    detectors = (
        round(beat_agreement(beats, consensus_beats(second, wf.fs), wf.fs, wf.n_samples), 3)
        if second
        else None
    )
    duration = wf.duration
    if len(beats):
        gaps = np.diff(np.concatenate(([0], beats, [wf.n_samples - 1]))) / wf.fs
        result.longest_gap_s = round(float(gaps.max()), 3)
    else:
        result.longest_gap_s = round(duration, 3)
    rr = np.diff(beats) / wf.fs if len(beats) >= 2 else np.zeros(0)
    # The leads (bSQI) or the two detectors do not agree on where the beats are: noise or
    # artefact, not a rhythm. Re-acquire, and no rate: a wrong number is worse than none.
    unclear = len(beats) >= 2 and (
        (bsqi is not None and bsqi < BSQI_MIN) or (detectors is not None and detectors < AGREE_MIN)
    )
    if len(rr):
        result.rr_ms = [round(float(v) * 1000, 1) for v in rr]
        if not unclear:
            result.heart_rate_bpm = round(60.0 / float(rr.mean()), 1)
        if len(rr) >= 3:
            result.rr_cv = round(float(rr.std() / rr.mean()), 3)
    result.rhythm = rr_features(rr)
    result.rhythm["bsqi"] = bsqi
    result.rhythm["detector_agreement"] = detectors
    result.pacing = pacing.assess(spike_idx, beats, wf.fs).as_dict()
    if unclear:
        q.ok = False
        q.reasons.append(REASON_TEXT["beats_unclear"])
    if len(beats) >= 2:
        m = measure_mod.measure(wf, beats, usable=q.usable, sex=sex, age=age)
        result.measurements = m.as_dict()
        result.rhythm["p_fraction"] = m.p_fraction
        if m.p_fraction is None or m.p_fraction < P_CONSISTENT:
            # No consistent P wave before the QRS (AF, flutter, junctional): a PR would be
            # made up from whatever deflection precedes the QRS.
            result.measurements["pr_ms"] = None
            result.measurements.get("fiducials", {}).pop("p_on_ms", None)
    if result.measurements and spike_idx is not None and len(spike_idx):
        pm = result.pacing
        result.measurements["pacing"] = {
            "spikes": pm["spikes"], "paced_share": pm["paced_share"],
            "spike_to_r_ms": pm["spike_to_r_ms"], "paced": pm["paced"],
        }  # fmt: skip
    result.statements = [
        {"code": c, "confidence": round(float(p), 2)}
        for c, p in statements(result, wf, sex=sex, age=age)
    ]
    if q.ok:
        result.priority, result.triage_score = triage(result)
    return result


def statements(pre: PreRead, wf, *, sex=None, age=None) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    hr = pre.heart_rate_bpm
    rr = np.asarray(pre.rr_ms) / 1000.0
    longest_rr = float(rr.max()) if len(rr) else 0.0
    m = pre.measurements or {}
    feats = pre.rhythm or {}
    # Pauses / asystole.
    if pre.longest_gap_s is not None and pre.longest_gap_s >= ASYSTOLE_S:
        out.append(("ASYST", 0.8))
        if len(rr) < 3:
            return out
    elif longest_rr > PAUSE_S:
        out.append(("PAUSE", 0.85 if longest_rr > LONG_PAUSE_S else 0.8))
    # Paced rhythm: stimuli before the beats (pacing.assess). A paced QRS is wide by design:
    # bundle-branch, hypertrophy and ST criteria and the AV (PR) interval do not apply to it,
    # nor does "wide and fast" mean ventricular tachycardia.
    paced = bool((pre.pacing or {}).get("paced"))
    if paced:
        share = pre.pacing.get("paced_share") or 0.0
        out.append(("PACE", 0.9 if share >= 0.8 else 0.75))
    if hr is None:
        return out
    qrs = m.get("qrs_ms")
    p_fraction = m.get("p_fraction")
    p_present = p_fraction is not None and p_fraction >= P_CONSISTENT
    madsd = feats.get("madsd")
    irregular = madsd is not None and madsd >= AF_MADSD
    wide = qrs is not None and qrs >= WIDE_QRS_MS
    flutter = m.get("flutter_hz")
    fib_uv = (m.get("atrial") or {}).get("fib_uv")
    rhythm_code = None
    if wide and hr > TACHY_BPM and not p_present and not irregular and not paced:
        out.append(("VTAC", 0.6))
        rhythm_code = "VTAC"
    elif flutter:
        # Regular atrial waves at 200–375/min in two of II, III, aVF, V1 once the QRST is
        # cancelled (atrial.py); they may pass for P waves before the QRS, so before that test.
        out.append(("AFLT", 0.6))
        rhythm_code = "AFLT"
    elif paced and not p_present and fib_uv is not None and fib_uv >= PACED_AF_FIB_UV:
        # Paced ventricles are regular whatever the atria do: AF is judged on the atrial
        # activity alone — no P wave before the paced beats and a fibrillatory residual.
        out.append(("AFIB", 0.6))
        rhythm_code = "AFIB"
    elif irregular and not p_present:
        # Confidence: the further from both thresholds, the surer.
        sure = madsd >= 2 * AF_MADSD and p_fraction is not None and p_fraction < 0.6
        out.append(("AFIB", 0.9 if sure else 0.7))
        rhythm_code = "AFIB"
    elif p_present:
        if hr < BRADY_BPM:
            rhythm_code = "SBRAD"
            out.append(("SBRAD", 0.9 if hr < BRADY_BPM - 3 else 0.7))
        elif hr > TACHY_BPM:
            rhythm_code = "STACH"
            out.append(("STACH", 0.9 if hr > TACHY_BPM + 3 else 0.7))
        elif (feats.get("range_clean_ms") or 0) > SARRH_RANGE_MS:
            # Sinus arrhythmia instead of SR (one rhythm statement, as in PTB-XL).
            rhythm_code = "SARRH"
            out.append(("SARRH", 0.7))
        else:
            rhythm_code = "SR"
            out.append(("SR", 0.9 if p_fraction >= 0.9 else 0.7))
    else:
        # Neither clear P waves nor AF: name the rate only.
        if hr < BRADY_BPM:
            out.append(("BRADY", 0.8))
        elif hr > TACHY_BPM:
            out.append(("TACHY", 0.8))
    # Ectopy (not in AF: irregular beats there are the rhythm itself).
    # A different QRS shape is a PVC in any rhythm; a premature beat of the dominant shape is
    # a PAC only when the rhythm has P waves (in AF every RR varies).
    classes = m.get("beat_classes") or []
    if "V" in classes:
        out.append(("PVC", 0.75 if rhythm_code not in ("AFIB", "AFLT") else 0.6))
    if "A" in classes and rhythm_code not in ("AFIB", "AFLT"):
        out.append(("PAC", 0.65))
    pr = m.get("pr_ms")
    if (
        pr is not None
        and p_present
        and rhythm_code in ("SR", "SBRAD", "STACH", "SARRH")
        and pr > LONG_PR_MS
        and not paced
    ):
        out.append(("1AVB", 0.85 if pr > LONG_PR_MS + 20 else 0.65))
    if paced:
        return out
    bbb = m.get("bundle_branch")
    if wide and bbb == "R":
        out.append(("CRBBB", 0.8))
    elif wide and bbb == "L":
        out.append(("CLBBB", 0.8))
    v = m.get("voltages") or {}
    sokolow = v.get("sokolow_uv")
    cornell = v.get("cornell_uv")
    ravl = v.get("r_avl_uv")
    if not wide and (
        (sokolow is not None and sokolow >= SOKOLOW_UV)
        or (cornell is not None and cornell >= CORNELL_UV.get(sex, CORNELL_UV[None]))
        or (ravl is not None and ravl >= RAVL_UV)
    ):
        out.append(("LVH", 0.7))
    qtc = m.get("qtc_bazett_ms") if 60 <= hr <= 90 else m.get("qtc_fridericia_ms")
    if qtc is not None and qtc > LONG_QTC_MS and not wide:
        out.append(("LNGQT", 0.85 if qtc >= VERY_LONG_QTC_MS else 0.65))
    ste = m.get("st_elevation_leads") or []
    if ste and not wide:
        out.append(("STEMI", 0.6))
    return out


CRITICAL_CODES = {"ASYST", "VTAC", "STEMI"}
NORMAL_CODES = {"SR", "SARRH"}  # sinus arrhythmia is a normal variant


def triage(pre: PreRead) -> tuple[str, float]:
    """(priority, score in 0..1). Critical (≥ 0.9): suspected STEMI, ventricular tachycardia,
    asystole, AF with rapid response, HR < 40 or > 150, pause > 3 s. Abnormal (0.5–0.85): any
    other statement than sinus rhythm. Normal: 0.1."""
    codes = pre.codes()
    hr = pre.heart_rate_bpm
    rr = np.asarray(pre.rr_ms) / 1000.0
    longest = max(float(rr.max()) if len(rr) else 0.0, 0.0)
    score = 0.1
    if "ASYST" in codes:
        score = 1.0
    elif codes & {"VTAC", "STEMI"}:
        score = 0.98
    elif "PAUSE" in codes and (longest > LONG_PAUSE_S or (pre.longest_gap_s or 0) >= ASYSTOLE_S):
        score = 0.95
    elif hr is not None and (hr < CRITICAL_LOW_BPM or hr > CRITICAL_HIGH_BPM):
        score = 0.92
    elif "AFIB" in codes and hr is not None and hr > AF_RVR_BPM:
        score = 0.9
    else:
        abnormal = codes - NORMAL_CODES
        if abnormal:
            score = 0.5
            if hr is not None and (hr < BRADY_BPM or hr > TACHY_BPM):
                distance = (BRADY_BPM - hr) if hr < BRADY_BPM else (hr - TACHY_BPM)
                score = max(score, 0.55 + min(distance / 100.0, 0.25))
            weights = {"AFIB": 0.8, "AFLT": 0.8, "PAUSE": 0.75, "LNGQT": 0.7, "CLBBB": 0.7,
                       "1AVB": 0.6, "PVC": 0.6, "CRBBB": 0.6}  # fmt: skip
            for code in abnormal:
                score = max(score, weights.get(code, 0.5))
    priority = "critical" if score >= 0.9 else "urgent" if score >= 0.5 else "routine"
    return priority, round(float(score), 3)


def statement_name(code: str, language: str = "zh-hans") -> str:
    zh, en = CODES.get(code, (code, code))
    return en if language.startswith("en") else zh
