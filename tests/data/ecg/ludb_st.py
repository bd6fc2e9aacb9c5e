"""ST deviation at the J point: the pre-read against LUDB's cardiologists (issue 10).

The reference, per record and lead, is the median over the annotated beats of the raw signal
at the cardiologists' QRS offset (mean of 10 ms) against the 20 ms before their QRS onset.
The pre-read's is ``measurements["st_uv"]``. Prints one row per part (tuning / held-out:
``evaluation.split``) — the figures of docs/ecg-validation.md, "ST against the PR segment".

    .venv/bin/python tests/data/ecg/ludb_st.py /work/shared/data/ecg [--records 1-200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

LIMB = {"i": "I", "ii": "II", "iii": "III", "avr": "aVR", "avl": "aVL", "avf": "aVF"}


def reference_st(ludb: Path, record: str) -> dict[str, float]:
    """Lead (the pre-read's name) → the cardiologists' ST at J in µV."""
    import wfdb

    rec = wfdb.rdrecord(str(ludb / record))
    fs = rec.fs
    sig = rec.p_signal * 1000.0  # mV → µV
    out = {}
    for col, lead in enumerate(n.lower() for n in rec.sig_name):
        ann = wfdb.rdann(str(ludb / record), lead)
        sym, at = ann.symbol, ann.sample
        values = []
        for i in range(1, len(sym) - 1):
            if sym[i] == "N" and sym[i - 1] == "(" and sym[i + 1] == ")":
                on, off = at[i - 1], at[i + 1]
                base = sig[max(on - int(0.02 * fs), 0) : on, col].mean()
                values.append(sig[off : off + int(0.01 * fs), col].mean() - base)
        if values:
            out[LIMB.get(lead, lead.upper())] = float(np.median(values))
    return out


def pairs(data: Path, records: list[str]) -> list[tuple[str, str, str, float, float]]:
    """(record, part, lead, reference µV, pre-read µV) for every lead both measure."""
    from countycare.ecg import evaluation, preread

    ludb = data / "ludb" / "data"
    rows = []
    for record in records:
        wf = evaluation.read_path(ludb / record)
        sex, age = evaluation.patient_of(wf)
        st = (preread.analyse(wf, sex=sex, age=age).measurements or {}).get("st_uv") or {}
        part = evaluation.split(f"ludb/data/{record}")
        for lead, ref in reference_st(ludb, record).items():
            if st.get(lead) is not None:
                rows.append((record, part, lead, ref, float(st[lead])))
    return rows


def summary(rows) -> dict:
    out = {}
    for part in ("tuning", "held-out"):
        err = np.array([ours - ref for _, p, _, ref, ours in rows if p == part])
        if len(err):
            out[part] = {
                "leads": len(err),
                "mean_abs_uv": round(float(np.abs(err).mean()), 1),
                "median_abs_uv": round(float(np.median(np.abs(err))), 1),
                "bias_uv": round(float(err.mean()), 1),
                "within_50_uv": round(float((np.abs(err) <= 50).mean()), 3),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the shared ECG folder (…/shared/data/ecg)")
    parser.add_argument("--records", default="1-200", help="LUDB records, e.g. 1-200")
    args = parser.parse_args()
    first, _, last = args.records.partition("-")
    records = [str(n) for n in range(int(first), int(last or first) + 1)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()
    json.dump(summary(pairs(args.data, records)), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
