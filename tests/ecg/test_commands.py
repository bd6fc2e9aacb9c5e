"""``countycare ecg-analyze`` and ``countycare ecg-eval`` (issue 10, "Command line")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"
KEYS = {"path", "format", "fs", "leads", "quality", "heart_rate_bpm", "pr_ms", "qrs_ms",
        "qt_ms", "qtc_ms", "axis_deg", "statements", "priority", "seconds"}  # fmt: skip


def test_analyze_json_keeps_going_after_a_bad_file_and_exits_1(tmp_path, capsys):
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<AnnotatedECG xmlns='urn:hl7-org:v3'><component>")
    with pytest.raises(SystemExit) as exit_:
        call_command(
            "ecg-analyze", str(DATA / "1.hea"), str(broken), str(DATA / "hl7_example_aecg.xml"),
            json=True,
        )  # fmt: skip
    assert exit_.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert [e["path"] for e in out] == [str(DATA / "1.hea"), str(broken),
                                        str(DATA / "hl7_example_aecg.xml")]  # fmt: skip
    good, bad, aecg = out
    assert set(good) == KEYS and set(aecg) == KEYS  # exactly the keys
    assert set(bad) == {"path", "error"} and "aECG" in bad["error"]
    assert good["format"] == "wfdb" and good["fs"] == 500 and len(good["leads"]) == 12
    assert good["quality"] == {"ok": True, "reasons": []}
    assert good["heart_rate_bpm"] == pytest.approx(45.4, abs=2)  # LUDB reference
    assert {"code": "SBRAD"}.items() <= good["statements"][0].items()
    # The aECG example's own annotation: QRS 120, QT 420 ms, QRS axis −61°.
    assert aecg["qrs_ms"] == pytest.approx(120, abs=15)
    assert aecg["qt_ms"] == pytest.approx(420, abs=25)
    assert aecg["axis_deg"] == pytest.approx(-61, abs=15)
    assert aecg["priority"] in ("routine", "urgent", "critical")


def test_analyze_missing_path_is_an_error_entry_and_the_rest_still_run(tmp_path, capsys):
    missing = tmp_path / "nowhere.hea"
    with pytest.raises(SystemExit) as exit_:
        call_command("ecg-analyze", str(missing), str(DATA / "E07500.hea"), json=True)
    assert exit_.value.code == 1
    gone, good = json.loads(capsys.readouterr().out)
    assert set(gone) == {"path", "error"} and gone["path"] == str(missing)
    assert good["format"] == "wfdb" and set(good) == KEYS
    assert isinstance(good["quality"]["ok"], bool) and isinstance(good["seconds"], float)
    for s in good["statements"]:
        assert set(s) == {"code", "confidence"} and 0 < s["confidence"] <= 1


def test_analyze_all_good_exits_0_and_types_are_json(capsys):
    call_command("ecg-analyze", str(DATA / "1.hea"), json=True)
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["fs"] == 500 and entry["leads"][:3] == ["I", "II", "III"]
    for key in ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "axis_deg"):
        assert entry[key] is None or isinstance(entry[key], int | float)


def test_analyze_a_window_of_a_long_holter_record(capsys):
    """``PATH#t=START,END``: 10 s of the 41 s CPSC 2021 record data_8_4 (persistent AF; its
    .atr marks every R peak — 10 in 0–10 s after the first)."""
    call_command("ecg-analyze", str(DATA / "data_8_4.hea") + "#t=10,20", json=True)
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["leads"] == ["I", "II"] and entry["fs"] == 200
    assert entry["heart_rate_bpm"] is not None


def test_analyze_text_output(capsys):
    call_command("ecg-analyze", str(DATA / "1.hea"))
    out = capsys.readouterr().out
    assert "wfdb 12 leads 500 Hz" in out and "HR" in out


def test_analyze_unknown_values_are_null(tmp_path, capsys):
    # A 2-lead monitor excerpt: no 12 leads, no axis (leads I and aVF cannot be derived).
    call_command("ecg-analyze", str(DATA / "3000003_0003.hea"), json=True)
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["axis_deg"] is None


def test_eval_reports_statements_heart_rate_and_intervals(tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "path,labels,reference_hr_bpm,reference_qrs_ms\n"
        "1.hea,SB,45.4,82\n"
        "E07500,SB;LAE,,\n"
        "hl7_example_aecg.xml,SR,,120\n"
    )
    call_command("ecg-eval", str(DATA), labels=str(labels), json=True)
    out = json.loads(capsys.readouterr().out)
    s = out["all"]
    assert s["records"] == 3 and s["failed"] == 0
    assert s["heart_rate"]["records"] == 1 and s["heart_rate"]["within_5_bpm"] == 1
    assert s["statements"]["SBRAD"]["positives"] == 2  # "SB" is read as SBRAD
    assert set(s["statements"]["SBRAD"]) >= {"sensitivity", "specificity", "ppv", "tp", "fp"}
    assert s["intervals"]["qrs_ms"]["references"] == 2
    assert {"tuning", "held-out"} <= set(out)
