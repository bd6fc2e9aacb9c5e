"""The automatic ECG pre-read (issue 10): pure functions on a ``Waveform`` (numpy/scipy, no
Django), so they run the same in the worker, the command line and the benchmark.

- ``lead_quality`` / ``quality``: per lead, flat line, lead-off (a long constant run),
  saturation (the signal stuck at its rail), excessive high-frequency noise, baseline wander.
- ``detect_beats``: R peaks on a band-passed lead (II when usable, else the best usable lead).
- ``analyse``: heart rate, RR and its irregularity, rhythm flags and a triage score in 0..1.

Thresholds are physiological/engineering defaults chosen before looking at the test records,
documented next to each constant; they are not tuned to single records. The pre-read is a
draft for the reader, never a signed result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import signal

# --- signal quality -----------------------------------------------------------------------
FLAT_STD_UV = 10.0  # a lead with less spread than this carries no ECG (QRS is ≥ ~300 µV)
LEAD_OFF_RUN_S = 0.5  # a constant run this long (not at the rail) is a lead off / dropout
RAIL_RUN_S = 0.1  # runs at the lead's extreme value this long count as clipping…
SATURATION_FRACTION = 0.05  # …when they cover this share of the record
NOISE_HF_RATIO = 0.5  # power 40 Hz–fs/2 (mains bands excluded) over power 0.5–40 Hz
WANDER_UV = 2500.0  # peak-to-peak of the < 0.5 Hz baseline (2.5 mV)
MIN_DURATION_S = 4.0  # shorter strips cannot be judged

# --- rhythm ---------------------------------------------------------------------------------
BRADY_BPM = 50.0
TACHY_BPM = 100.0
CRITICAL_LOW_BPM = 40.0
CRITICAL_HIGH_BPM = 150.0
PAUSE_S = 2.0  # "pause > 2 s" statement
LONG_PAUSE_S = 3.0  # critical value ECG:LONG_PAUSE
ASYSTOLE_S = 4.0  # no beat for this long in a usable signal: ECG:ASYSTOLE
IRREGULAR_CV = 0.15  # coefficient of variation of RR above which the rhythm is irregular
MIN_QRS_UV = 100.0  # a band-passed deflection smaller than this is not a QRS complex

REASON_TEXT = {
    "flat": "无信号（直线）",
    "lead_off": "脱落",
    "saturation": "信号饱和",
    "noise": "干扰过大",
    "wander": "基线漂移过大",
    "too_short": "记录过短",
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
    statements: list[dict] = field(default_factory=list)  # {"code", "confidence"}
    priority: str = "routine"  # routine | urgent | critical
    triage_score: float = 0.0

    def codes(self) -> set[str]:
        return {s["code"] for s in self.statements}

    def as_dict(self) -> dict:
        out = asdict(self)
        out["quality"] = self.quality.as_dict()
        return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True."""
    if not mask.any():
        return []
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _band_power(x: np.ndarray, fs: float) -> tuple[float, float]:
    f, p = signal.welch(x - x.mean(), fs=fs, nperseg=min(len(x), int(fs * 2)))
    ecg = p[(f >= 0.5) & (f < 40)].sum()
    hf_band = (f >= 40) & ~((f > 47) & (f < 53)) & ~((f > 57) & (f < 63))
    return float(ecg), float(p[hf_band].sum())


def lead_quality(x: np.ndarray, fs: float) -> list[str]:
    """Reason codes for one lead (µV); an empty list means usable."""
    x = np.asarray(x, dtype=np.float64)
    if x.std() < FLAT_STD_UV:
        return ["flat"]
    reasons = []
    constant = np.abs(np.diff(x)) < 0.5
    runs = _runs(constant)
    lo, hi = x.min(), x.max()
    rail = 0
    for start, length in runs:
        value = x[start]
        if min(abs(value - lo), abs(value - hi)) < 1.0 and length >= RAIL_RUN_S * fs:
            rail += length
        elif length >= LEAD_OFF_RUN_S * fs and "lead_off" not in reasons:
            reasons.append("lead_off")
    if rail >= SATURATION_FRACTION * len(x):
        reasons.append("saturation")
    if fs >= 100:
        ecg, hf = _band_power(x, fs)
        if ecg <= 0 or hf / ecg > NOISE_HF_RATIO:
            reasons.append("noise")
    if len(x) > 2 * fs:
        sos = signal.butter(2, 0.5, "lowpass", fs=fs, output="sos")
        baseline = signal.sosfiltfilt(sos, x)
        if np.ptp(baseline) > WANDER_UV:
            reasons.append("wander")
    return reasons


def quality(wf) -> Quality:
    leads: dict[str, list[str]] = {}
    for name, row in zip(wf.leads, wf.samples, strict=True):
        leads[name] = lead_quality(row, wf.fs)
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


def _bandpass(x: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    hi = min(hi, 0.45 * fs)
    sos = signal.butter(2, [lo, hi], "bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, np.asarray(x, dtype=np.float64))


def _envelope(x: np.ndarray, fs: float) -> np.ndarray:
    """Pan–Tompkins-like QRS envelope: 5–20 Hz band-pass, squared slope, 80 ms moving
    average; scaled so its 99.5th percentile is 1. Also returns that level in µV of the
    band-passed signal (to refuse noise-only strips)."""
    band = _bandpass(x, fs, 5.0, 20.0)
    slope = np.gradient(band) * fs / 1000.0  # µV/ms
    width = max(int(0.08 * fs), 1)
    env = np.convolve(slope**2, np.ones(width) / width, mode="same")
    return env


def detect_beats(x: np.ndarray | list, fs: float) -> np.ndarray:
    """R-peak sample indices from one lead (an array) or several leads (a list of arrays,
    whose envelopes are normalised and summed: T waves are less consistent across leads
    than QRS complexes). Peaks of the envelope above 30 % of its robust maximum, ≥ 200 ms
    apart; a peak within 360 ms of the previous one with less than half its height is a T
    wave (Pan–Tompkins); each beat is then moved to the largest |deflection| of the
    0.5–40 Hz signal within ±60 ms. Deflections under MIN_QRS_UV are not beats."""
    rows = [np.asarray(r, dtype=np.float64) for r in (x if isinstance(x, list) else [x])]
    total = np.zeros_like(rows[0])
    amplitudes = []
    for row in rows:
        env = _envelope(row, fs)
        level = np.percentile(env, 99.5)
        amplitudes.append(np.percentile(np.abs(_bandpass(row, fs, 5.0, 20.0)), 99.5))
        if level > 0:
            total += env / level
    total /= len(rows)
    if max(amplitudes) < MIN_QRS_UV:
        return np.zeros(0, dtype=int)
    peaks, props = signal.find_peaks(total, height=0.3, distance=max(int(0.2 * fs), 1))
    heights = props["peak_heights"]
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
    if not kept:
        return np.zeros(0, dtype=int)
    main = rows[int(np.argmax(amplitudes))]
    wide = _bandpass(main, fs, 0.5, 40.0)
    half = int(0.06 * fs)
    refined = []
    for p in kept:
        a, b = max(p - half, 0), min(p + half + 1, len(main))
        refined.append(a + int(np.argmax(np.abs(wide[a:b]))))
    return np.unique(np.asarray(refined, dtype=int))


def analyse(wf) -> PreRead:
    q = quality(wf)
    result = PreRead(quality=q)
    if not q.ok:
        result.priority = "routine"
        result.triage_score = 0.0
        return result
    result.lead_used = "II" if "II" in q.usable else q.usable[0]
    beats = detect_beats([wf.lead(name) for name in q.usable], wf.fs)
    result.beats = [int(b) for b in beats]
    statements: list[tuple[str, float]] = []
    duration = wf.duration
    if len(beats):
        gaps = np.diff(np.concatenate(([0], beats, [wf.n_samples - 1]))) / wf.fs
        result.longest_gap_s = round(float(gaps.max()), 3)
    else:
        result.longest_gap_s = round(duration, 3)
    if len(beats) >= 2:
        rr = np.diff(beats) / wf.fs
        result.rr_ms = [round(float(v) * 1000, 1) for v in rr]
        result.heart_rate_bpm = round(60.0 / float(rr.mean()), 1)
        if len(rr) >= 3:
            result.rr_cv = round(float(rr.std() / rr.mean()), 3)
        longest_rr = float(rr.max())
    else:
        longest_rr = 0.0
    if result.longest_gap_s is not None and result.longest_gap_s >= ASYSTOLE_S:
        statements.append(("ASYSTOLE", 0.8))
    elif longest_rr > LONG_PAUSE_S:
        statements.append(("LONG_PAUSE", 0.85))
    elif longest_rr > PAUSE_S:
        statements.append(("PAUSE", 0.8))
    hr = result.heart_rate_bpm
    if hr is not None and "ASYSTOLE" not in dict(statements):
        if hr < BRADY_BPM:
            statements.append(("BRADY", 0.9 if hr < BRADY_BPM - 5 else 0.7))
        elif hr > TACHY_BPM:
            statements.append(("TACHY", 0.9 if hr > TACHY_BPM + 10 else 0.7))
    if (
        result.rr_cv is not None
        and result.rr_cv > IRREGULAR_CV
        and "LONG_PAUSE" not in dict(statements)
    ):
        statements.append(("IRREGULAR", min(0.5 + result.rr_cv, 0.9)))
    result.statements = [{"code": c, "confidence": round(p, 2)} for c, p in statements]
    result.priority, result.triage_score = triage(result)
    return result


def triage(pre: PreRead) -> tuple[str, float]:
    """(priority, score in 0..1): critical ≥ 0.9, abnormal 0.5–0.8, normal 0.1."""
    codes = pre.codes()
    hr = pre.heart_rate_bpm
    score = 0.1
    if codes & {"ASYSTOLE"}:
        score = 1.0
    elif "LONG_PAUSE" in codes:
        score = 0.95
    elif hr is not None and (hr < CRITICAL_LOW_BPM or hr > CRITICAL_HIGH_BPM):
        score = 0.9
    else:
        if codes & {"BRADY", "TACHY"}:
            # Further from the normal band: read sooner.
            distance = (BRADY_BPM - hr) if hr < BRADY_BPM else (hr - TACHY_BPM)
            score = max(score, 0.5 + min(distance / 50.0, 0.3))
        if "PAUSE" in codes:
            score = max(score, 0.7)
        if "IRREGULAR" in codes:
            score = max(score, 0.6 + min((pre.rr_cv or 0) - IRREGULAR_CV, 0.2))
    priority = "critical" if score >= 0.9 else "urgent" if score >= 0.5 else "routine"
    return priority, round(float(score), 3)
