"""Build ``labels-shared.csv`` — the ``countycare ecg-eval`` labels file for the shared, real
ECG data (``/work/shared/data/ecg``, see its README.md and ``LABELS.md`` here) — from that
folder's ``labels.csv`` (normalised codes) and CPSC 2021's ``.atr`` annotations.

    .venv/bin/python tests/data/ecg/make_labels.py [/work/shared/data/ecg] > tests/data/ecg/labels-shared.csv

Deterministic: the same input gives the same file (a test checks the committed file against
a fresh run when the shared data is present). Rules, none per record:

- Label codes → the SCP-ECG acronyms PTB-XL uses (``SCP``); codes with no PTB-XL acronym keep
  their normalised name; ``NON_AF`` / ``AF_PAROXYSMAL`` / ``AF_PERSISTENT`` are dropped (record
  classes, not statements). In SCP-ECG, SR is sinus rhythm at a normal rate, so ``SR`` is
  dropped where the same record also says SBRAD or STACH (CinC 2021's PTB-XL rows do).
- References: LUDB's cardiologist-derived ``ref_hr_bpm/pr/qrs/qt/qtc`` (computed from its wave
  boundaries, see the shared README). Device-written values (DICOM, aECG) are not references.
- CPSC 2021 (2-lead Holter, 41–519 s) becomes consecutive **10 s windows** (``path#t=a,b``):
  a window wholly inside an annotated AF episode is ``AFIB``, one with no AF at all is not,
  one that straddles a rhythm change is skipped; ``PAC`` (A/a beats) and ``PVC`` (V beats)
  from the beat labels; the reference heart rate is 60 / mean RR of the annotated beats inside
  the window. Only AFIB, PAC and PVC are scored there (``scored``): the rest is not annotated.
- ``scored``: the statements the row's labels are complete for (``*`` = all).
- ``part``: the tuning / held-out split, fixed before any tuning. Non-CPSC rows:
  ``countycare.ecg.evaluation.split(path)`` (a hash of the path). CPSC 2021: by **patient**
  (its windows and records never straddle the split), stratified by CPSC class (paroxysmal AF,
  persistent AF, non-AF: two patients each here), the patient with the lower
  ``sha256("ecg-split:" + patient)`` going to tuning.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "src"))

WINDOW_S = 10.0

# Normalised codes of the shared labels.csv → SCP-ECG acronyms as PTB-XL uses them
# (scp_statements.csv); None drops the code.
SCP = {
    "SR": "SR", "SB": "SBRAD", "STach": "STACH", "SA": "SARRH", "SA_IRREG": "SARRH",
    "AF": "AFIB", "AFL": "AFLT", "PACED": "PACE", "ATach": "SVTAC",
    "NON_AF": None, "AF_PAROXYSMAL": None, "AF_PERSISTENT": None,
    "AVB1": "1AVB", "AVB3": "3AVB", "PR_LONG": "LPR", "RBBB": "CRBBB", "IRBBB": "IRBBB",
    "LBBB": "CLBBB", "ILBBB": "ILBBB", "LAFB": "LAFB", "IVCD": "IVCD",
    "PAC": "PAC", "BPAC": "PAC", "PVC": "PVC",
    "ISCHEMIA": "ISC_", "ISCH_UNDEF": "ISC_", "ISCH_ANT": "ISCAN", "ST_CHG": "NST_",
    "ST_ABN": "NST_", "NSSTT": "NST_", "T_ABN": "TAB_", "T_INV": "INVT", "QT_LONG": "LNGQT",
    "LVH": "LVH", "LVH_VOLT": "VCLVH", "RVH": "RVH", "LAE": "LAO/LAE", "RAE": "RAO/RAE",
    "NORM": "NORM",
    # STEMI has no PTB-XL acronym; the pre-read's own code is STEMI.
    "STEMI": "STEMI",
}  # fmt: skip
BEATS = set("NLRBAaJSVrFejnE/fQ?")  # WFDB beat symbols
SCORED = {
    "ludb": "*",
    "cinc2021": "*",
    "dicom": "*",  # the device's own statements: sinus rhythm, normal ECG
    "aecg": "SR;SBRAD;STACH;SARRH;AFIB;AFLT",  # the example annotates the rhythm only
    "cpsc2021": "AFIB;PAC;PVC",
    "wfdb-sample/a103l": "ASYST",  # a false asystole alarm: no asystole
}
COLUMNS = ["path", "labels", "reference_hr_bpm", "reference_pr_ms", "reference_qrs_ms",
           "reference_qt_ms", "reference_qtc_ms", "part", "scored", "dataset", "source_labels"]  # fmt: skip


def scp_codes(normalised: list[str]) -> list[str]:
    out: list[str] = []
    for code in normalised:
        mapped = SCP.get(code, code)
        if mapped and mapped not in out:
            out.append(mapped)
    if "SR" in out and ({"SBRAD", "STACH"} & set(out)):
        out.remove("SR")
    return out


def patient_of(record: str) -> str:
    match = re.match(r"^(cpsc2021/data_\d+)_\d+$", record)
    return match.group(1) if match else record


def cpsc_parts(rows: list[dict]) -> dict[str, str]:
    """patient → part, stratified by the CPSC class, lower seeded hash → tuning."""
    by_class: dict[str, set[str]] = {}
    for row in rows:
        if not row["record"].startswith("cpsc2021/"):
            continue
        labels = set(row["labels"].split(";"))
        cls = next((c for c in ("AF_PAROXYSMAL", "AF_PERSISTENT", "NON_AF") if c in labels), "")
        by_class.setdefault(cls, set()).add(patient_of(row["record"]))
    parts = {}
    for patients in by_class.values():
        ranked = sorted(patients, key=lambda p: hashlib.sha256(f"ecg-split:{p}".encode()).digest())
        for i, patient in enumerate(ranked):
            parts[patient] = "tuning" if i % 2 == 0 else "held-out"
    return parts


def cpsc_windows(data: Path, record: str) -> list[dict]:
    import numpy as np
    import wfdb

    header = wfdb.rdheader(str(data / record))
    ann = wfdb.rdann(str(data / record), "atr")
    fs = float(ann.fs or header.fs)
    n = header.sig_len
    # AF episodes from the rhythm changes ("+" with aux "(AFIB" … the next "(…").
    episodes, start = [], None
    for sample, symbol, aux in zip(ann.sample, ann.symbol, ann.aux_note, strict=True):
        if symbol != "+":
            continue
        rhythm = (aux or "").strip("\x00 ")
        if rhythm.startswith("(AFIB"):
            start = int(sample) if start is None else start
        elif start is not None:
            episodes.append((start, int(sample)))
            start = None
    if start is not None:
        episodes.append((start, n))
    beats = [(int(s), sym) for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEATS]
    out = []
    step = int(WINDOW_S * fs)
    for a in range(0, n - step + 1, step):
        b = a + step
        inside = any(s <= a and b <= e for s, e in episodes)
        overlap = any(s < b and a < e for s, e in episodes)
        if overlap and not inside:
            continue  # straddles a rhythm change
        in_win = [(s, sym) for s, sym in beats if a <= s < b]
        labels = ["AFIB"] if inside else []
        if any(sym in "Aa" for _s, sym in in_win):
            labels.append("PAC")
        if any(sym == "V" for _s, sym in in_win):
            labels.append("PVC")
        rr = np.diff([s for s, _sym in in_win]) / fs
        hr = round(60.0 / float(rr.mean()), 1) if len(rr) else ""
        out.append({
            "path": f"{record}#t={a / fs:g},{b / fs:g}",
            "labels": ";".join(labels),
            "reference_hr_bpm": hr,
            "source_labels": "atr: " + ("AFIB" if inside else "(N") + f", {len(in_win)} beats",
        })  # fmt: skip
    return out


def build(data: Path) -> list[dict]:
    from countycare.ecg.evaluation import split

    with open(data / "labels.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    parts = cpsc_parts(rows)
    out = []
    for row in rows:
        record = row["record"]
        dataset = record.split("/")[0]
        scored = SCORED.get(record, SCORED.get(dataset, ""))
        if dataset == "cpsc2021":
            for window in cpsc_windows(data, record):
                out.append({**window, "part": parts[patient_of(record)], "scored": scored,
                            "dataset": dataset})  # fmt: skip
            continue
        refs = {}
        if dataset == "ludb":
            refs = {f"reference_{k}": row[f"ref_{k}"] for k in
                    ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms")}  # fmt: skip
        out.append({
            "path": record,
            "labels": ";".join(scp_codes([c for c in row["labels"].split(";") if c])),
            **refs,
            "part": split(record),
            "scored": scored,
            "dataset": dataset,
            "source_labels": row["labels"],
        })  # fmt: skip
    return out


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/data/ecg")
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in build(data):
        writer.writerow({k: row.get(k, "") for k in COLUMNS})


if __name__ == "__main__":
    main()
