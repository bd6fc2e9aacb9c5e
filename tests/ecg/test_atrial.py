"""Atrial activity after QRST cancellation — atrial flutter, AF in a paced record — and P
waves judged on the on-time beats (issue 10). Synthesised signals: unit tests of the rules
only, never validation (docs/ecg-validation.md has the real figures)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from countycare.ecg import atrial, measure, preread
from countycare.ecg.waveform import Waveform

from .test_pacing import paced
from .test_preread import LEADS, regular, synth

FS = 500.0


def _with(wf: Waveform, extra: np.ndarray) -> Waveform:
    return Waveform(leads=list(wf.leads), fs=wf.fs, samples=wf.samples + extra[None, :])


def _sawtooth(rate_per_min: float, amplitude_uv: float, n: int, fs: float = FS) -> np.ndarray:
    t = np.arange(n) / fs
    return amplitude_uv * signal.sawtooth(2 * np.pi * rate_per_min / 60.0 * t, 0.2)


def _fibrillation(amplitude_uv: float, n: int, fs: float = FS, seed: int = 4) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 1, n)
    x = signal.sosfiltfilt(signal.butter(2, [4, 9], "bandpass", fs=fs, output="sos"), noise)
    return amplitude_uv * x / x.std()


def test_flutter_with_variable_block_is_flutter_not_af():
    # Flutter at 290/min conducted 2:1 and 4:1 in turn (irregular ventricles); the AV delay of
    # each conducted wave differs, so the flutter waves are not at the same place in every
    # cycle. (Exactly locked waves would cancel with the QRST: see atrial.py.)
    beats, t = [], 0.4
    for k in range(40):
        beats.append(t)
        t += 0.4 if k % 3 else 0.8
        if t > 9.6:
            break
    wf = synth(beats)
    wf = _with(wf, _sawtooth(290, 150, wf.n_samples))
    result = preread.analyse(wf)
    assert "AFLT" in result.codes()
    assert "AFIB" not in result.codes()
    assert result.measurements["atrial"]["flutter_per_min"] == pytest.approx(290, abs=15)


def test_sinus_without_atrial_waves_is_not_flutter():
    result = preread.analyse(synth(regular(75)))
    assert "AFLT" not in result.codes()
    assert result.measurements["atrial"]["flutter_per_min"] is None


def test_fibrillatory_waves_are_not_flutter():
    rng = np.random.default_rng(3)
    beats = [b for b in np.cumsum(rng.uniform(0.45, 1.1, 16)) + 0.3 if b < 9.7]
    wf = synth(list(beats))
    wf = _with(wf, _fibrillation(40, wf.n_samples))
    result = preread.analyse(wf)
    assert "AFLT" not in result.codes()
    assert "AFIB" in result.codes()


def test_waves_locked_to_the_qrs_cancel():
    # A P wave before every QRS is part of the average beat: nothing is left of it.
    wf = synth(regular(70))
    t = np.arange(wf.n_samples) / FS
    p = sum(150 * np.exp(-(((t - b + 0.16) / 0.03) ** 2)) for b in regular(70))
    wf = _with(wf, p)
    result = preread.analyse(wf)
    fib = result.measurements["atrial"]["fib_uv"]
    assert fib is not None and fib < 5


def test_paced_record_with_fibrillatory_baseline_is_af():
    wf = paced(regular(70))
    wf = _with(wf, _fibrillation(40, wf.n_samples))
    result = preread.analyse(wf)
    assert {"PACE", "AFIB"} <= result.codes()


def test_paced_record_with_a_quiet_baseline_is_not_af():
    result = preread.analyse(paced(regular(70)))
    assert "PACE" in result.codes()
    assert "AFIB" not in result.codes()


def test_residual_leaves_ectopic_cycles_out():
    band = np.zeros((1, 5000))
    beats = [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500]
    classes = ["N", "N", "N", "V", "N", "N", "N", "N", "N"]
    res = atrial.residual(band, beats, classes, FS)
    assert np.isnan(res[0, 1900:2100]).all()
    assert np.nanmax(np.abs(res)) == 0.0


def test_frequent_premature_atrial_beats_keep_their_p_waves():
    # Sinus rhythm with every third beat premature and its P wave hidden: the on-time beats'
    # P waves are what the consistency is judged on, so this is not "no P waves" (AF).
    times, t = [], 0.4
    for k in range(30):
        times.append(t)
        t += 0.5 if k % 3 == 1 else 0.85
        if t > 9.6:
            break
    wf = synth(times)
    tt = np.arange(wf.n_samples) / FS
    rr = np.diff([0.0, *times])
    p = sum(
        150 * np.exp(-(((tt - b + 0.16) / 0.03) ** 2))
        for b, r in zip(times, rr, strict=True)
        if r > 0.6
    )
    wf = _with(wf, p)
    result = preread.analyse(wf)
    assert result.rhythm["p_fraction"] >= preread.P_CONSISTENT
    assert "AFIB" not in result.codes()
    assert "PAC" in result.codes()


def test_atrial_features_need_enough_beats():
    band = np.zeros((len(LEADS), 3000))
    out = atrial.analyse(band, LEADS, [500, 1500], ["N", "N"], FS)
    assert out["flutter_per_min"] is None and out["fib_uv"] is None
    assert measure.ATRIAL_MIN_ON_TIME >= 3
