"""Pacemaker stimulus artefacts ("pacing spikes") in an ECG (issue 10: paced rhythm, SCP-ECG
``PACE``).

A pacemaker's stimulus is a pulse of 0.1–2 ms; in a 500 Hz record it is a jump within one
sample that the signal does not continue (a QRS up-stroke takes 10–40 ms, so its successive
sample steps are alike), seen at the same instant in several leads (every lead that shares the
stimulated vector). Carts treat it differently — some hold the signal for a few samples
before it (Schiller's blanking, seen in LUDB), some draw a narrow spike — but all keep the
jump. The detector, device-independent:

1. per lead, the *jerk* of each sample step: ``|Δx[n]| − (|Δx[n−1]| + |Δx[n+1]|) / 2`` (µV):
   large for a lone jump, near zero inside a QRS;
2. an instant where at least ``SPIKE_LEADS`` leads have a jerk of ``SPIKE_JERK_UV`` or more
   (within ±1 sample) is a spike; instants within ``SPIKE_MERGE_S`` are one spike;
3. the signal before the jump is quiet: the steepest lead's mean step over the
   ``SPIKE_QUIET_S`` before it is at most ``SPIKE_QUIET_SHARE`` of the jump (a stimulus comes
   out of the baseline, or out of the cart's blanking hold; a sharp notch inside a QRS comes out
   of steep slopes);
4. too many of them (mains interference, digital noise) is no pacing.

A beat is *paced* when a spike precedes its R peak by ``PACED_MIN_S``–``PACED_MAX_S`` (the
stimulus, then the paced QRS or the P wave and the AV delay); the record is paced when at
least ``PACED_SHARE`` of its beats are and the spike-to-R intervals agree (spread ≤
``PACED_IQR_S``), which a QRS's own sharp peak (a "spike" at the R peak, not before it) or
noise does not do. Thresholds were chosen on the tuning part of LUDB and CinC 2021
(docs/ecg-validation.md). Below ``MIN_FS_HZ`` the pulse is smoothed away by the recorder's
filters and nothing is looked for: no PACE statement, which is "not seen", not "not paced".

``remove`` replaces each spike (from one sample before it to ``BLANK_S`` after) by a straight
line in every lead, so the beat detectors and the median beats do not take the stimulus for
the QRS; the stored samples are never changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

MIN_FS_HZ = 400.0
SPIKE_JERK_UV = 120.0
SPIKE_LEADS = 3
SPIKE_MERGE_S = 0.010
SPIKE_QUIET_S = 0.020
SPIKE_QUIET_SHARE = 0.15
MAX_SPIKES_PER_S = 4.0  # more than this: interference, not stimuli (pacing ≤ ~3 per second)
BLANK_S = 0.010
PACED_MIN_S = 0.020
PACED_MAX_S = 0.300
PACED_SHARE = 0.4
PACED_IQR_S = 0.020


@dataclass
class Pacing:
    spikes: list[int] = field(default_factory=list)  # sample indices
    paced_beats: list[int] = field(default_factory=list)  # R peaks preceded by a spike
    paced_share: float | None = None
    spike_to_r_ms: float | None = None  # median
    paced: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def spikes(samples: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of pacing-spike candidates (see the module docstring)."""
    x = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    if fs < MIN_FS_HZ or x.shape[1] < 4:
        return np.zeros(0, dtype=int)
    step = np.abs(np.diff(x, axis=1))
    jerk = np.zeros_like(step)
    jerk[:, 1:-1] = step[:, 1:-1] - 0.5 * (step[:, :-2] + step[:, 2:])
    hit = jerk >= SPIKE_JERK_UV
    # ±1 sample: the same stimulus may land on neighbouring steps in different leads.
    near = hit.copy()
    near[:, 1:] |= hit[:, :-1]
    near[:, :-1] |= hit[:, 1:]
    count = near.sum(axis=0)
    idx = np.flatnonzero(count >= min(SPIKE_LEADS, x.shape[0]))
    if not len(idx):
        return np.zeros(0, dtype=int)
    merge = max(int(SPIKE_MERGE_S * fs), 1)
    groups = np.split(idx, np.flatnonzero(np.diff(idx) > merge) + 1)
    # The step with the most leads (then the largest total jerk) is the stimulus; +1: the
    # step Δx[n] lands on sample n + 1.
    out = []
    quiet = max(int(SPIKE_QUIET_S * fs), 2)
    for g in groups:
        j = int(g[np.argmax(count[g] * 1e6 + jerk[:, g].sum(axis=0))])
        if j < quiet:
            continue
        # A stimulus leaves a quiet baseline (or the cart's blanking hold); a sharp notch
        # inside a QRS comes out of steep slopes.
        before = step[:, j - quiet : j].mean(axis=1).max()
        if before <= SPIKE_QUIET_SHARE * step[:, j].max():
            out.append(j + 1)
    if len(out) > MAX_SPIKES_PER_S * x.shape[1] / fs:
        return np.zeros(0, dtype=int)
    return np.asarray(out, dtype=int)


def remove(samples: np.ndarray, spike_idx, fs: float) -> np.ndarray:
    """A copy of ``samples`` with each spike bridged by a straight line in every lead."""
    x = np.array(samples, dtype=np.float64, copy=True)
    n = x.shape[-1]
    blank = max(int(BLANK_S * fs), 1)
    for s in spike_idx:
        a, b = max(int(s) - 2, 0), min(int(s) + blank, n - 1)
        if b - a < 2:
            continue
        t = np.linspace(0.0, 1.0, b - a + 1)
        x[..., a : b + 1] = x[..., a, None] + (x[..., b, None] - x[..., a, None]) * t
    return x


def assess(spike_idx, beats, fs: float) -> Pacing:
    """Which beats follow a stimulus, and whether the record is paced."""
    out = Pacing(spikes=[int(s) for s in spike_idx])
    beats = np.asarray(beats, dtype=int)
    sp = np.asarray(spike_idx, dtype=int)
    if not len(beats) or not len(sp):
        out.paced_share = 0.0 if len(beats) else None
        return out
    lo, hi = PACED_MIN_S * fs, PACED_MAX_S * fs
    paced, delays = [], []
    for r in beats:
        before = r - sp
        ok = before[(before >= lo) & (before <= hi)]
        if len(ok):
            paced.append(int(r))
            delays.append(float(ok.min()) / fs)  # the stimulus nearest the QRS
    out.paced_beats = paced
    out.paced_share = round(len(paced) / len(beats), 3)
    if delays:
        out.spike_to_r_ms = round(float(np.median(delays)) * 1000, 1)
    if len(paced) >= 3 and out.paced_share >= PACED_SHARE:
        q1, q3 = np.percentile(delays, [25, 75])
        out.paced = bool(q3 - q1 <= PACED_IQR_S)
    return out
