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
    assert set(good) >= KEYS and "error" in bad and set(aecg) >= KEYS
    assert good["format"] == "wfdb" and good["fs"] == 500 and len(good["leads"]) == 12
    assert good["quality"] == {"ok": True, "reasons": []}
    assert good["heart_rate_bpm"] == pytest.approx(45.4, abs=2)  # LUDB reference
    assert {"code": "SBRAD"}.items() <= good["statements"][0].items()
    # The aECG example's own annotation: QRS 120, QT 420 ms, QRS axis −61°.
    assert aecg["qrs_ms"] == pytest.approx(120, abs=15)
    assert aecg["qt_ms"] == pytest.approx(420, abs=25)
    assert aecg["axis_deg"] == pytest.approx(-61, abs=15)
    assert aecg["priority"] in ("routine", "urgent", "critical")


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
