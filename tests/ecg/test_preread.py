"""The ECG pre-read (issue 10) on real records and on synthesised signals.

The synthesised signals (numpy Gaussian-bump beats, flat lines, noise, pauses) exercise the
rules' edges in unit tests only; they never count as validation of the pre-read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom.data
import pytest

from countycare.ecg import formats, preread
from countycare.ecg.waveform import Waveform

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def _files(*names: str) -> dict[str, bytes]:
    return {name: (DATA / name).read_bytes() for name in names}


def synth(beat_times: list[float], *, seconds: float = 10.0, fs: float = 500.0, leads=LEADS):
    """A crude synthetic ECG: a 1 mV QRS (12 ms Gaussian) and a 0.3 mV T wave per beat,
    plus 10 µV noise. Unit tests only — never validation."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    for b in beat_times:
        x += 1000 * np.exp(-(((t - b) / 0.012) ** 2))
        x += 300 * np.exp(-(((t - b - 0.3) / 0.06) ** 2))
    rows = [x * (0.5 + 0.05 * i) + rng.normal(0, 10, len(t)) for i in range(len(leads))]
    return Waveform(leads=list(leads), fs=fs, samples=np.array(rows))


def regular(rate_bpm: float, seconds: float = 10.0) -> list[float]:
    rr = 60.0 / rate_bpm
    return list(np.arange(0.4, seconds - 0.2, rr))


# --- real records ----------------------------------------------------------------------------
def test_ludb_record_1_rate_matches_the_cardiologists_reference():
    # LUDB record 1: sinus bradycardia; reference HR 45.4 bpm from the annotated QRS peaks
    # (../shared/data/ecg/labels.csv, ref_hr_bpm).
    result = preread.analyse(formats.read(_files("1.hea", "1.dat")))
    assert result.quality.ok, result.quality.reasons
    assert result.heart_rate_bpm == pytest.approx(45.4, abs=2)
    assert "SBRAD" in result.codes()  # P waves found: sinus bradycardia
    assert result.priority == "urgent"


def test_georgia_e07500_sinus_bradycardia_is_counted_without_t_waves():
    # Labelled SB (< 60 bpm) in the Challenge 2021 header; its tall T waves must not count.
    result = preread.analyse(formats.read(_files("E07500.hea", "E07500.mat")))
    assert result.quality.ok
    assert 50 <= result.heart_rate_bpm < 60
    assert result.rr_cv < 0.1


def test_hl7_aecg_example_sinus_rhythm():
    result = preread.analyse(formats.read((DATA / "hl7_example_aecg.xml").read_bytes()))
    assert result.quality.ok
    assert 60 <= result.heart_rate_bpm <= 100
    assert result.codes() == {"SR"}  # the example's own annotation: sinus rhythm
    assert result.priority == "routine"


def test_dicom_waveform_example_plausible():
    path = pydicom.data.get_testdata_file("waveform_ecg.dcm")
    result = preread.analyse(formats.read(Path(path).read_bytes()))
    assert result.quality.ok
    assert 40 <= result.heart_rate_bpm <= 120


def test_mimic_excerpt_with_a_dead_lead_is_flagged():
    # The MIMIC excerpt's V channel is constant for its first 2.7 s (a dropout).
    result = preread.analyse(formats.read(_files("3000003_0003.hea", "3000003_0003.dat")))
    assert result.quality.leads["II"] == []
    assert "lead_off" in result.quality.leads["V"]
    assert not result.quality.ok


# --- synthesised (unit tests only) ----------------------------------------------------------
@pytest.mark.parametrize("rate", [45, 72, 130])
def test_synthetic_rates(rate):
    result = preread.analyse(synth(regular(rate)))
    assert result.heart_rate_bpm == pytest.approx(rate, abs=2)


def test_flat_lead_is_named():
    wf = synth(regular(70))
    wf.samples[LEADS.index("V3")] = 5.0
    q = preread.quality(wf)
    assert not q.ok
    assert q.leads["V3"] == ["flat"]
    assert q.reasons == ["V3导联无信号（直线）"]


def test_saturated_lead():
    wf = synth(regular(70))
    row = wf.samples[LEADS.index("I")]
    wf.samples[LEADS.index("I")] = np.clip(row * 8, -2000, 2000)
    wf.samples[LEADS.index("I"), 1000:2000] = 2000  # stuck at the rail for 2 s
    assert "saturation" in preread.quality(wf).leads["I"]


def test_noisy_lead():
    wf = synth(regular(70))
    rng = np.random.default_rng(1)
    wf.samples[LEADS.index("V1")] += rng.normal(0, 400, wf.n_samples)  # muscle-like noise
    assert "noise" in preread.quality(wf).leads["V1"]


def test_baseline_wander():
    wf = synth(regular(70))
    t = np.arange(wf.n_samples) / wf.fs
    wf.samples[LEADS.index("V2")] += 3000 * np.sin(2 * np.pi * 0.2 * t)
    assert "wander" in preread.quality(wf).leads["V2"]


def test_long_pause_is_critical():
    beats = [0.5, 1.3, 2.1, 2.9, 6.3, 7.1, 7.9, 8.7, 9.5]  # a 3.4 s pause
    result = preread.analyse(synth(beats))
    assert "PAUSE" in result.codes()
    assert result.priority == "critical"
    assert result.triage_score >= 0.9


def test_short_pause_is_abnormal_not_critical():
    beats = [0.5, 1.3, 2.1, 2.9, 5.4, 6.2, 7.0, 7.8, 8.6, 9.4]  # 2.5 s
    result = preread.analyse(synth(beats))
    assert "PAUSE" in result.codes()
    assert result.priority == "urgent"


def test_asystole_after_beats():
    result = preread.analyse(synth([0.5, 1.3, 2.1]))  # then nothing for 7.9 s
    assert "ASYST" in result.codes()
    assert result.triage_score == 1.0


def test_irregular_rr():
    rng = np.random.default_rng(3)
    beats = list(np.cumsum(rng.uniform(0.45, 1.1, 14)) + 0.3)
    beats = [b for b in beats if b < 9.7]
    result = preread.analyse(synth(beats))
    assert "AFIB" in result.codes()  # irregular and no P waves (the synthetic beats have none)
    assert result.priority == "urgent"


def test_triage_orders_critical_above_abnormal_above_normal():
    normal = preread.analyse(synth(regular(72))).triage_score
    brady = preread.analyse(synth(regular(45))).triage_score
    critical = preread.analyse(synth(regular(35))).triage_score
    assert normal < brady < critical
    assert normal >= 0 and critical <= 1
