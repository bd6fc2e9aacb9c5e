"""Pacing spikes, the PACE statement and the two-detector beat agreement (issue 10).

Synthesised signals exercise the rules' edges (unit tests only, never validation); LUDB
record 34 (a real paced record of the tuning part) checks the detector on a real cart's
stimuli."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from countycare.ecg import formats, pacing, preread
from countycare.ecg.waveform import Waveform

from .test_preread import regular, synth

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"


def paced(beat_times, *, delay_s=0.08, jump_uv=400.0, hold=8, fs=500.0):
    """``synth`` beats, each preceded by a stimulus ``delay_s`` before its R peak: the
    signal held for ``hold`` samples (a cart's blanking), then a one-sample jump decaying
    over ~10 ms, in every lead (alternating sign, as the leads see the vector)."""
    wf = synth(beat_times, fs=fs)
    x = wf.samples.astype(np.float64)
    decay = np.exp(-np.arange(12) / 3.0)
    for b in beat_times:
        s = round((b - delay_s) * fs)
        for i in range(len(x)):
            x[i, s - hold : s] = x[i, s - hold]
            x[i, s : s + 12] += (1 if i % 2 else -1) * jump_uv * decay
    return Waveform(leads=list(wf.leads), fs=fs, samples=x)


def test_stimuli_before_every_beat_are_a_paced_rhythm():
    beats = regular(70)
    wf = paced(beats)
    spikes = pacing.spikes(wf.samples, wf.fs)
    assert len(spikes) == len(beats)
    result = preread.analyse(wf)
    assert "PACE" in result.codes()
    assert result.pacing["paced"] is True
    assert result.pacing["spike_to_r_ms"] == pytest.approx(80, abs=6)
    # The stimulus is bridged before the beats are looked for: no beat at the spike.
    assert len(result.beats) == len(beats)
    assert result.heart_rate_bpm == pytest.approx(70, abs=2)


def test_paced_qrs_is_not_called_bundle_branch_block_or_st_elevation():
    result = preread.analyse(paced(regular(70)))
    assert not result.codes() & {"CLBBB", "CRBBB", "LVH", "STEMI", "1AVB", "VTAC"}


def test_sharp_narrow_qrs_is_no_stimulus():
    # synth's QRS is a 12 ms Gaussian: steep, but every sample step is like its neighbour.
    wf = synth(regular(75))
    assert len(pacing.spikes(wf.samples, wf.fs)) == 0
    assert "PACE" not in preread.analyse(wf).codes()


def test_jumps_unrelated_to_the_beats_are_not_pacing():
    # Jumps at random instants (a loose electrode): spikes, but no fixed interval before the
    # beats, so no paced rhythm.
    wf = synth(regular(72))
    rng = np.random.default_rng(5)
    x = wf.samples.astype(np.float64)
    for s in rng.choice(np.arange(200, wf.n_samples - 200), 6, replace=False):
        x[:, s:] += 300.0
    wf = Waveform(leads=list(wf.leads), fs=wf.fs, samples=x)
    result = preread.analyse(wf)
    assert "PACE" not in result.codes()


def test_interference_is_not_pacing():
    # A spike every 20 ms (digital interference): far too many to be stimuli.
    wf = synth(regular(72))
    x = wf.samples.astype(np.float64)
    x[:, ::10] += 500.0
    assert len(pacing.spikes(x, wf.fs)) == 0


def test_low_sampling_rate_looks_for_no_stimuli():
    wf = synth(regular(70), fs=200.0)
    assert len(pacing.spikes(wf.samples, wf.fs)) == 0


def test_remove_bridges_the_spike_and_keeps_the_rest():
    x = np.zeros((2, 100))
    x[:, 50] = 1000.0
    y = pacing.remove(x, [50], 500.0)
    assert np.abs(y).max() == 0.0
    assert x[0, 50] == 1000.0  # a copy: the samples given are not changed


def test_ludb_34_ventricular_pacing_is_found():
    # LUDB 34: "Pacemaker presence; unipolar ventricular pacing" (cardiologists), tuning part.
    files = {n: (DATA / n).read_bytes() for n in ("34.hea", "34.dat")}
    result = preread.analyse(formats.read(files))
    assert "PACE" in result.codes()
    assert result.pacing["paced_share"] >= 0.8
    assert not result.codes() & {"CLBBB", "CRBBB", "STEMI"}


# --- the two-detector agreement ---------------------------------------------------------
def test_beat_agreement_counts_inner_beats_only():
    fs, n = 500.0, 5000
    a = np.array([100, 600, 1100, 1600, 2100, 2600, 3100, 3600, 4100, 4600, 4950])
    b = a[:-1]  # the last beat, cut by the record's end, found by one detector only
    assert preread.beat_agreement(a, b, fs, n) == 1.0
    c = np.concatenate([b, [2350]])  # one extra beat in the middle
    assert preread.beat_agreement(a, np.sort(c), fs, n) == pytest.approx(9 / 10)


def test_consensus_needs_half_the_leads():
    fs = 500.0
    leads = [np.array([500, 1000, 1500]), np.array([502, 1001, 1498, 1800]), np.array([499, 1003])]
    assert preread.consensus_beats(leads, fs).tolist() == [500, 1001, 1499]


def test_detectors_disagreeing_means_no_rate_and_reacquire(monkeypatch):
    wf = synth(regular(72))

    # The second detector sees a beat between every two: the beats are not known.
    def doubled(rows, fs):
        beats = np.round(np.arange(0.4, 9.8, 60 / 144) * fs).astype(int)
        return [beats for _ in range(len(rows))]

    monkeypatch.setattr(preread, "independent_beats", doubled)
    result = preread.analyse(wf)
    assert result.heart_rate_bpm is None
    assert result.rhythm["detector_agreement"] < preread.AGREE_MIN
    assert not result.quality.ok
    assert preread.REASON_TEXT["beats_unclear"] in result.quality.reasons
    assert result.priority == "routine"  # not triaged: sent back


def test_detectors_agree_on_a_clean_record():
    result = preread.analyse(synth(regular(72)))
    assert result.rhythm["detector_agreement"] >= preread.AGREE_MIN
    assert result.heart_rate_bpm == pytest.approx(72, abs=2)
