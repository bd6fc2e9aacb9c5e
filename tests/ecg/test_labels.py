"""The committed ecg-eval labels file (tests/data/ecg/labels-shared.csv) is exactly what its
converter makes from the shared data, and ecg-eval reads it (issue 10, validation)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from countycare.ecg import evaluation
from tests.ecg.helpers import load_script

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"
SHARED = Path("/work/shared/data/ecg")
if not SHARED.is_dir():
    SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "ecg"


def _converter():
    return load_script("make_labels")


def test_labels_file_loads_with_parts_and_scored_statements():
    records = evaluation.load_labels(DATA / "labels-shared.csv")
    assert len(records) == 676
    parts = {r.part for r in records}
    assert parts == {"tuning", "held-out"}
    cpsc = [r for r in records if r.dataset == "cpsc2021"]
    assert cpsc and all("#t=" in r.path and r.scored == {"AFIB", "PAC", "PVC"} for r in cpsc)
    # CPSC windows never straddle the split: one part per patient.
    by_patient: dict[str, set[str]] = {}
    for r in cpsc:
        by_patient.setdefault(r.path.rsplit("_", 1)[0], set()).add(r.part)
    assert all(len(p) == 1 for p in by_patient.values()) and len(by_patient) == 6
    ludb = [r for r in records if r.dataset == "ludb"]
    assert len(ludb) == 200 and sum("AFIB" in r.labels for r in ludb) == 15
    assert all(r.scored is None for r in ludb)  # every statement scored
    assert sum("hr_bpm" in r.reference for r in ludb) == 200


def test_scp_mapping_rules():
    conv = _converter()
    assert conv.scp_codes(["SB", "SR", "IRBBB"]) == ["SBRAD", "IRBBB"]  # SR is normal-rate
    assert conv.scp_codes(["AF", "LVH_VOLT", "AVB1", "NON_AF"]) == ["AFIB", "VCLVH", "1AVB"]
    assert conv.scp_codes(["STEMI", "MI_OLD"]) == ["STEMI", "MI_OLD"]


@pytest.mark.skipif(not (SHARED / "labels.csv").exists(), reason="needs ../shared/data/ecg")
def test_committed_labels_are_the_converters_output():
    conv = _converter()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=conv.COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in conv.build(SHARED):
        writer.writerow({k: row.get(k, "") for k in conv.COLUMNS})
    assert buf.getvalue() == (DATA / "labels-shared.csv").read_text(encoding="utf-8")
