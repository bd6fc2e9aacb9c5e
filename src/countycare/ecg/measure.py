"""ECG measurements from median beats (issue 10, "Measurements"): RR, PR, QRS, QT, QTc
(Bazett and Fridericia), frontal QRS axis, with the beats used.

Method (the usual one of interpretive carts, kept simple and documented):

1. Every detected R peak gets a morphology class from its QRS (±60 ms, all usable leads)
   correlated with the median QRS: ``N`` (dominant), ``V`` (different shape: ventricular),
   ``A`` (dominant shape but premature: supraventricular), ``?`` (different shape, not
   premature: artefact or aberrancy, not used). Premature = RR shorter than
   ``PREMATURE`` × the median RR around it.
2. The **median beat** of each lead is built from the dominant, non-premature beats that fit
   entirely in the record (``beats_used``).
3. Per lead, on the median beat (0.5–40 Hz): **QRS onset/offset** where the smoothed slope
   stays below a fraction of the QRS's peak slope; **T end** by the tangent method (steepest
   return of the T wave to the PR-segment level, 12 Hz low-pass); **P onset** by the tangent
   method on the P wave's up-slope, when the lead has a P wave.
4. Each interval is the **median over the leads** that gave it (≥ 3 leads where the record
   has them) — the convention the LUDB reference uses, so the errors are comparable.
5. **QTc**: Bazett QT/√RR and Fridericia QT/∛RR with the median RR in seconds. **Axis**:
   ``atan2(area aVF, area I)`` of the QRS between the median onset and offset.
6. Voltages for LVH (Sokolow–Lyon, Cornell), the bundle-branch pattern (V1 and I/V6 terminal
   forces), ST deviation at the J point (against the PR segment) and the P waves of each beat
   (the share of dominant beats with a P wave like the median one: AF has none).
7. Atrial activity with the QRST cancelled (``atrial``): flutter waves, fibrillatory waves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import pairwise

import numpy as np
from scipy import signal

from countycare.ecg import atrial

PRE_S = 0.40  # median-beat window before the R peak
# The P wave's onset is found on the median beat low-passed at this (the T wave's end at
# 12 Hz): 12 Hz spreads the P wave's up-slope and its tangent met the PR level early, PR
# +10 ms against LUDB's cardiologists. Chosen on the tuning part among 12, 20, 25, 30, 40 Hz
# and none (docs/ecg-validation.md, "PR: the P wave's low-pass").
P_LOWPASS_HZ = 30.0
ST_PR_S = 0.02  # the PR level of the ST deviation: this long before the median QRS onset
POST_S = 0.70  # and after
QRS_THRESHOLD = 0.05  # share of the QRS peak slope below which the QRS has ended/not begun
QRS_QUIET_MS = 12.0  # ...for this long
PREMATURE = 0.85
MIN_P_UV = 25.0
MIN_T_UV = 60.0
ATRIAL_WINDOW_S = 0.30  # atrial activity is looked for from this long before each R peak…
ATRIAL_RR_SHARE = 0.5  # …but not earlier than this share of the median RR before it
ATRIAL_MIN_ON_TIME = 4  # on-time beats needed to judge the P waves on them alone

CHEST = ["V1", "V2", "V3", "V4", "V5", "V6"]
LIMB_CONTIGUOUS = ["aVL", "I", "-aVR", "II", "aVF", "III"]


@dataclass
class Measurements:
    rr_ms: float | None = None
    pr_ms: float | None = None
    qrs_ms: float | None = None
    qt_ms: float | None = None
    qtc_bazett_ms: float | None = None
    qtc_fridericia_ms: float | None = None
    axis_deg: float | None = None
    beats_used: list[int] = field(default_factory=list)  # R-peak sample indices
    beat_classes: list[str] = field(default_factory=list)  # per detected beat: N / A / V / ?
    # Atrial-activity consistency before the QRS (P waves repeat, AF waves do not): 0..1.
    p_fraction: float | None = None
    per_lead: dict = field(default_factory=dict)  # lead → {"pr_ms", "qrs_ms", "qt_ms"}
    # Median fiducials in ms relative to the R peak of the median beat.
    fiducials: dict = field(default_factory=dict)
    voltages: dict = field(default_factory=dict)
    bundle_branch: str | None = None  # "R", "L" or None
    st_uv: dict = field(default_factory=dict)  # lead → ST at J vs PR segment (µV)
    st_elevation_leads: list[str] = field(default_factory=list)
    flutter_hz: float | None = None
    atrial: dict = field(default_factory=dict)  # atrial.analyse: flutter, fibrillatory waves

    def as_dict(self) -> dict:
        return asdict(self)


def _lowpass(x: np.ndarray, fs: float, hz: float) -> np.ndarray:
    from countycare.ecg.preread import _sos

    sos = _sos("lowpass", min(hz, 0.45 * fs), fs)
    return signal.sosfiltfilt(sos, x, axis=-1)


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1:
        return x
    return np.convolve(x, np.ones(n) / n, mode="same")


def _premature(rr: np.ndarray) -> np.ndarray:
    flags = np.zeros(len(rr), dtype=bool)
    for i in range(len(rr)):
        lo, hi = max(0, i - 4), min(len(rr), i + 5)
        others = np.delete(rr[lo:hi], i - lo)
        ref = np.median(others) if len(others) else rr[i]
        flags[i] = rr[i] < PREMATURE * ref
    return flags


def _qrs_bounds(m: np.ndarray, r0: int, fs: float) -> tuple[int, int] | None:
    slope = _smooth(np.abs(np.gradient(m)) * fs / 1000.0, max(int(0.008 * fs), 1))
    a, b = max(r0 - int(0.08 * fs), 0), min(r0 + int(0.08 * fs), len(m))
    peak = slope[a:b].max()
    if peak <= 0:
        return None
    thr = QRS_THRESHOLD * peak
    quiet = max(int(QRS_QUIET_MS / 1000 * fs), 2)
    low = slope < thr
    onset = None
    lo_lim = max(r0 - int(0.16 * fs), quiet)
    for i in range(r0, lo_lim, -1):
        if low[i - quiet + 1 : i + 1].all():
            onset = i
            break
    offset = None
    hi_lim = min(r0 + int(0.20 * fs), len(m) - quiet)
    for i in range(r0, hi_lim):
        if low[i : i + quiet].all():
            offset = i
            break
    if onset is None or offset is None:
        return None
    return onset, offset


def _t_end(mt, iso: float, start: int, peak_stop: int, stop: int, fs: float) -> int | None:
    """T end by the tangent method: the T peak is the largest deviation from the PR level in
    [start, peak_stop); the tangent at the steepest return to that level after it, cut with
    the level, ends the T wave (within ``stop``). A peak on the window's edge is no T wave."""
    if peak_stop - start < 5:
        return None
    seg = mt[start:peak_stop] - iso
    k0 = int(np.argmax(np.abs(seg)))
    if k0 == 0 or k0 == len(seg) - 1:
        return None
    tp = start + k0
    amp = mt[tp] - iso
    if abs(amp) < MIN_T_UV:
        return None
    s = np.sign(amp)
    slope = np.gradient(mt)
    down = slope[tp:stop] * -s
    if len(down) < 3:
        return None
    k = tp + int(np.argmax(down))
    if slope[k] == 0:
        return None
    end = k + (iso - mt[k]) / slope[k]
    if not np.isfinite(end):
        return None
    # The descending limb of a T wave lasts well under 150 ms: a tangent crossing the level
    # later (a flat or notched T) gives no reliable end in this lead.
    limit = min(stop, tp + 0.15 * fs)
    if end > limit:
        return None
    return round(max(end, tp))


def _p_onset(mt: np.ndarray, iso: float, start: int, stop: int) -> tuple[int, int] | None:
    """(P onset, P peak) by the tangent on the P wave's up-slope, or None (no P wave)."""
    if stop - start < 5:
        return None
    seg = mt[start:stop] - iso
    pp = start + int(np.argmax(np.abs(seg)))
    amp = mt[pp] - iso
    if abs(amp) < MIN_P_UV or pp - start < 3:
        return None
    s = np.sign(amp)
    slope = np.gradient(mt)
    up = slope[start:pp] * s
    k = start + int(np.argmax(up))
    if slope[k] == 0:
        return None
    onset = k - (mt[k] - iso) / slope[k]
    if not np.isfinite(onset) or onset <= start:
        # The tangent meets the PR level at or before the search window's start: what rises
        # there is the end of the T wave (or nothing that returns to the PR level), not a P
        # wave's onset — unknown rather than the window's length.
        return None
    return round(min(onset, pp)), pp


def _median_value(values: list[float], n_min: int) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if len(values) < n_min:
        return None
    return round(float(np.median(values)), 1)


def measure(
    wf,
    beats: np.ndarray,
    usable: list[str] | None = None,
    *,
    sex: str | None = None,
    age: int | None = None,
) -> Measurements:
    """The median-beat measurements; ``sex`` (``"M"``/``"F"``) and ``age`` (years) choose the
    ST-elevation thresholds of V2–V3 (unknown: the men's ≥ 40 y ones)."""
    fs = wf.fs
    out = Measurements()
    beats = np.asarray(beats, dtype=int)
    if len(beats) < 2:
        return out
    names = [n for n in wf.leads if usable is None or n in usable]
    idx = [wf.leads.index(n) for n in names]
    x = wf.samples[idx].astype(np.float64)
    from countycare.ecg.preread import _sos

    sos = _sos("bandpass", (0.5, min(40.0, 0.45 * fs)), fs)
    band = signal.sosfiltfilt(sos, x, axis=-1)
    n = band.shape[1]
    pre, post = int(PRE_S * fs), int(POST_S * fs)
    rr = np.diff(beats) / fs
    out.rr_ms = round(float(np.median(rr)) * 1000, 1)

    # 1. Beat classes from the QRS (±60 ms, all leads).
    half = int(0.06 * fs)
    inner = [i for i, b in enumerate(beats) if b - half >= 0 and b + half < n]
    classes = ["?"] * len(beats)
    premature = np.zeros(len(beats), dtype=bool)
    premature[1:] = _premature(rr) if len(rr) >= 3 else False
    if inner:
        qrs = np.stack([band[:, beats[i] - half : beats[i] + half + 1].ravel() for i in inner])
        template = np.median(qrs, axis=0)
        tc = template - template.mean()
        for k, i in enumerate(inner):
            v = qrs[k] - qrs[k].mean()
            denom = np.linalg.norm(v) * np.linalg.norm(tc)
            corr = float(v @ tc / denom) if denom > 0 else 0.0
            if corr < 0.8:
                # A different QRS that comes early is ventricular; one on time is noise, an
                # artefact or aberrancy: left out of the median beat, not called a PVC.
                classes[i] = "V" if premature[i] else "?"
            elif premature[i]:
                classes[i] = "A"
            else:
                classes[i] = "N"
    out.beat_classes = classes

    # 2. Median beat of the dominant, non-premature beats that fit the window.
    used = [
        i for i, b in enumerate(beats)
        if classes[i] == "N" and b - pre >= 0 and b + post <= n
    ]  # fmt: skip
    if not used:
        # Short records or very fast rates: accept the dominant beats the window cuts less.
        post = int(min(POST_S, 0.9 * float(np.median(rr))) * fs)
        used = [i for i, b in enumerate(beats) if classes[i] in ("N", "A") and b - pre >= 0
                and b + post <= n]  # fmt: skip
    if not used:
        return out
    out.beats_used = [int(beats[i]) for i in used]
    stack = np.stack([band[:, beats[i] - pre : beats[i] + post] for i in used])  # beats×leads×t
    med = np.median(stack, axis=0)
    med_t = _lowpass(med, fs, 12.0)
    med_p = _lowpass(med, fs, P_LOWPASS_HZ)
    r0 = pre
    rr_med = float(np.median(rr))
    t_stop = r0 + int(min(POST_S, 0.85 * rr_med) * fs)
    # The T peak comes before min(0.5 s, 0.65 RR) after the R peak (QT ≤ ~0.6 s at rest).
    t_peak_stop = r0 + int(min(0.5, 0.65 * rr_med) * fs)

    # 3. Per-lead boundaries.
    per_lead: dict[str, dict] = {}
    bounds: dict[str, tuple[int, int]] = {}
    p_on: dict[str, int] = {}
    isos: dict[str, float] = {}
    for li, name in enumerate(names):
        m = med[li]
        # The R of this lead: the median beat is aligned on the detector's peak, which is
        # the largest deflection of one lead; in others the QRS sits within ±60 ms.
        qb = _qrs_bounds(m, r0, fs)
        if qb is None:
            continue
        on, off = qb
        bounds[name] = (on, off)
        iso_a = max(on - int(0.02 * fs), 0)
        iso = float(np.median(med_t[li, iso_a : on + 1]))
        isos[name] = iso
        row = {"qrs_ms": round((off - on) / fs * 1000, 1)}
        te = _t_end(med_t[li], iso, off + int(0.04 * fs), t_peak_stop, t_stop, fs)
        if te is not None:
            row["qt_ms"] = round((te - on) / fs * 1000, 1)
        p_start = max(on - int(0.30 * fs), 0, r0 - int(0.45 * rr_med * fs))
        p = _p_onset(med_p[li], iso, p_start, on - int(0.03 * fs))
        if p is not None:
            p_on[name] = p[0]
            row["pr_ms"] = round((on - p[0]) / fs * 1000, 1)
            row["p_uv"] = round(float(med_t[li, p[1]] - iso), 1)
        per_lead[name] = row
    out.per_lead = per_lead
    n_min = min(3, len(names))
    out.qrs_ms = _median_value([r.get("qrs_ms") for r in per_lead.values()], n_min)
    out.qt_ms = _median_value([r.get("qt_ms") for r in per_lead.values()], n_min)
    out.pr_ms = _median_value([r.get("pr_ms") for r in per_lead.values()], n_min)
    rr_s = rr_med
    if out.qt_ms is not None and rr_s > 0:
        out.qtc_bazett_ms = round(out.qt_ms / np.sqrt(rr_s), 1)
        out.qtc_fridericia_ms = round(out.qt_ms / np.cbrt(rr_s), 1)
    if bounds:
        g_on = int(np.median([b[0] for b in bounds.values()]))
        g_off = int(np.median([b[1] for b in bounds.values()]))
        out.fiducials = {
            "qrs_on_ms": round((g_on - r0) / fs * 1000, 1),
            "qrs_off_ms": round((g_off - r0) / fs * 1000, 1),
        }
        if out.qt_ms is not None:
            out.fiducials["t_end_ms"] = round(out.fiducials["qrs_on_ms"] + out.qt_ms, 1)
        if out.pr_ms is not None:
            out.fiducials["p_on_ms"] = round(out.fiducials["qrs_on_ms"] - out.pr_ms, 1)
        _qrs_features(out, names, med, isos, g_on, g_off, fs, sex=sex, age=age)
    out.p_fraction = _atrial_consistency(band, beats, classes, fs)
    out.atrial = atrial.analyse(band, names, beats, classes, fs)
    if out.atrial.get("flutter_per_min"):
        out.flutter_hz = round(out.atrial["flutter_per_min"] / 60.0, 2)
    return out


def _lead(names, med, name):
    if name in names:
        return med[names.index(name)]
    if name == "-aVR" and "aVR" in names:
        return -med[names.index("aVR")]
    if name == "I" and {"II", "III"} <= set(names):
        return med[names.index("II")] - med[names.index("III")]
    if name == "aVF" and {"II", "III"} <= set(names):
        return (med[names.index("II")] + med[names.index("III")]) / 2
    return None


def _qrs_features(
    out: Measurements, names, med, isos, g_on, g_off, fs, *, sex=None, age=None
) -> None:
    """Axis, voltages, bundle-branch pattern and ST at J from the median beats."""
    iso_all = {n: isos.get(n, float(np.median(med[names.index(n), max(g_on - 10, 0) : g_on])))
               for n in names}  # fmt: skip

    def iso_of(name):
        if name == "-aVR":
            return -iso_all.get("aVR", 0.0)
        if name in iso_all:
            return iso_all[name]
        m = _lead(names, med, name)
        return float(np.median(m[max(g_on - 10, 0) : g_on])) if m is not None else 0.0

    def qrs(name):
        m = _lead(names, med, name)
        return None if m is None else m[g_on : g_off + 1] - iso_of(name)

    lead_i, lead_avf = qrs("I"), qrs("aVF")
    if lead_i is not None and lead_avf is not None and g_off > g_on:
        ai, af = float(lead_i.sum()), float(lead_avf.sum())
        if abs(ai) + abs(af) > 0:
            out.axis_deg = round(float(np.degrees(np.arctan2(af, ai))), 0)
    r = {n: float(q.max()) for n in names if (q := qrs(n)) is not None and len(q)}
    s = {n: float(-q.min()) for n in names if (q := qrs(n)) is not None and len(q)}
    v = {}
    if "V1" in s and ("V5" in r or "V6" in r):
        v["sokolow_uv"] = round(s["V1"] + max(r.get("V5", 0.0), r.get("V6", 0.0)), 0)
    if "aVL" in r and "V3" in s:
        v["cornell_uv"] = round(r["aVL"] + s["V3"], 0)
    if "aVL" in r:
        v["r_avl_uv"] = round(r["aVL"], 0)
    out.voltages = v
    # Bundle branch pattern: terminal 40 ms of the QRS.
    term = max(int(0.04 * fs), 1)
    init = max(int(0.03 * fs), 1)

    def terminal(name):
        q = qrs(name)
        return None if q is None or len(q) <= term else float(q[-term:].mean())

    def initial_min(name):
        q = qrs(name)
        return None if q is None or len(q) <= init else float(q[:init].min())

    v1, i_t, v6_t = terminal("V1"), terminal("I"), terminal("V6")
    if v1 is not None:
        left = [x for x in (i_t, v6_t) if x is not None]
        q_v1 = qrs("V1")
        net_v1 = float(q_v1.sum()) if q_v1 is not None else 0.0
        if v1 > 50 and left and min(left) < -20:
            out.bundle_branch = "R"
        elif (
            v1 < -50
            and net_v1 < 0
            and (qv6 := qrs("V6")) is not None
            and float(qv6.sum()) > 0
            and (initial_min("V6") or 0) > -100
            and (initial_min("I") or 0) > -100
        ):
            out.bundle_branch = "L"
    # ST at the J point (mean of 10 ms after the median QRS offset) against the PR segment:
    # the 20 ms before the median QRS onset, the same instants in every lead, on the median
    # beat itself. (The level the boundaries use — 12 Hz low-passed, before each lead's own
    # onset — carries the start of the QRS into those 20 ms: against LUDB's cardiologists,
    # tuning part, ST at J mean |error| 27.3 → 13.8 µV, bias −11.8 → −3.4 µV;
    # docs/ecg-validation.md, "ST against the PR segment".)
    j = g_off
    w = max(int(0.01 * fs), 1)
    pr = slice(max(g_on - int(ST_PR_S * fs), 0), g_on + 1)
    st = {}
    for name in [*names, "-aVR"]:
        m = _lead(names, med, name)
        if m is None or j + w >= len(m):
            continue
        st[name] = round(float(m[j : j + w].mean() - np.median(m[pr])), 0)
    out.st_uv = st
    out.st_elevation_leads = _ste_leads(st, sex=sex, age=age)


def _ste_leads(st: dict, sex: str | None = None, age: int | None = None) -> list[str]:
    from countycare.ecg.preread import STE_UV, ste_v2v3_uv

    v2v3 = ste_v2v3_uv(sex, age)

    def elevated(name):
        if name not in st:
            return False
        limit = v2v3 if name in ("V2", "V3") else STE_UV
        return st[name] >= limit

    leads: set[str] = set()
    for seq in (LIMB_CONTIGUOUS, CHEST):
        for a, b in pairwise(seq):
            if elevated(a) and elevated(b):
                leads.update({a, b})
    order = LIMB_CONTIGUOUS + CHEST
    return [n for n in order if n in leads]


def _atrial_consistency(band, beats, classes, fs) -> float | None:
    """How alike the atrial activity before each QRS is: per lead, the median correlation of
    each dominant beat's window from 300 to 80 ms before its R peak with the median of those
    windows; then the median over the leads. Sinus P waves repeat (≈ 0.9–1.0); fibrillatory
    waves do not (≈ 0.5–0.7 in the tuning part of LUDB)."""
    rr_med = float(np.median(np.diff(beats))) / fs if len(beats) > 1 else 1.0
    # Start no earlier than half the median RR before the R peak, so at fast rates the window
    # holds less of the previous T wave (whose shape repeats in any rhythm).
    a, b = int(min(ATRIAL_WINDOW_S, ATRIAL_RR_SHARE * rr_med) * fs), int(0.08 * fs)
    # The beats after an on-time RR: a premature beat's P wave is ectopic by definition and
    # often hidden in the T wave before it, so frequent premature atrial beats would otherwise
    # look like absent P waves (AF). All dominant beats only when too few are on time.
    picks = [x for i, x in enumerate(beats) if classes[i] == "N" and x - a >= 0]
    if len(picks) < ATRIAL_MIN_ON_TIME:
        picks = [x for i, x in enumerate(beats) if classes[i] in ("N", "A") and x - a >= 0]
    if len(picks) < 3:
        return None
    lowp = _lowpass(band, fs, 12.0)
    segs = np.stack([lowp[:, x - a : x - b] for x in picks])  # beats × leads × t
    segs = segs - segs.mean(axis=2, keepdims=True)
    med = np.median(segs, axis=0)
    norms = np.linalg.norm(segs, axis=2) * np.linalg.norm(med, axis=1)[None, :]
    corr = np.einsum("blt,lt->bl", segs, med) / np.maximum(norms, 1e-9)
    return round(float(np.median(np.median(corr, axis=0))), 3)
