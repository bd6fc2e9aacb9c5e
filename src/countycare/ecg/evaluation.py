"""Evaluation of the pre-read over a labelled set (issue 10, ``countycare ecg-eval``).

The labels file is CSV with a header: ``path,labels,reference_hr_bpm`` (labels are
``;``-separated codes), optionally ``reference_pr_ms``, ``reference_qrs_ms``,
``reference_qt_ms``, ``reference_qtc_ms``. ``path`` is relative to the data directory; for
WFDB it is the record (with or without ``.hea``). The layout of the shared data set's
``labels.csv`` is accepted too (``record`` / ``ref_hr_bpm`` / ``ref_pr_ms`` …), and its
normalised label codes are mapped to the statement codes (``LABEL_ALIASES``).

The split into a **tuning** and a **held-out** part is by a hash of the path (stable, about
half each): detector parameters were adjusted on the tuning part only; figures are reported
for both.
"""

from __future__ import annotations

import csv
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from countycare.core.errors import ValidationError
from countycare.ecg import formats, preread

# Statement codes evaluated, and the label codes (shared data set) that mean each.
EVALUATED = ["SR", "SBRAD", "STACH", "SARRH", "AFIB", "AFLT", "PAC", "PVC", "1AVB", "CRBBB",
             "CLBBB", "LVH", "LNGQT", "STEMI", "PAUSE", "VTAC"]  # fmt: skip
LABEL_ALIASES = {
    "SB": "SBRAD",
    "STach": "STACH",
    "SA": "SARRH",
    "SA_IRREG": "SARRH",
    "AF": "AFIB",
    "AFL": "AFLT",
    "BPAC": "PAC",
    "AVB1": "1AVB",
    "RBBB": "CRBBB",
    "LBBB": "CLBBB",
    "LVH_VOLT": "LVH",
    "QT_LONG": "LNGQT",
    "LQT": "LNGQT",
}


def split(path: str) -> str:
    digest = hashlib.sha256(path.encode()).digest()
    return "tuning" if digest[0] % 2 == 0 else "held-out"


@dataclass
class LabelledRecord:
    path: str
    labels: set[str]
    reference: dict[str, float] = field(default_factory=dict)  # hr_bpm, pr_ms, qrs_ms, ...
    raw_labels: list[str] = field(default_factory=list)


def _float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def load_labels(path: Path) -> list[LabelledRecord]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        key = "path" if "path" in cols else "record" if "record" in cols else None
        if key is None or "labels" not in cols:
            raise ValidationError(
                "The labels file needs the columns path,labels[,reference_hr_bpm].",
                code="bad_labels",
            )
        out = []
        for row in reader:
            raw = [c.strip() for c in (row.get("labels") or "").split(";") if c.strip()]
            labels = {LABEL_ALIASES.get(c, c) for c in raw}
            ref = {}
            for name in ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms"):
                v = _float(row.get(f"reference_{name}", row.get(f"ref_{name}")))
                if v is not None:
                    ref[name] = v
            out.append(LabelledRecord(row[key].strip(), labels, ref, raw))
    return out


def files_for(path: Path) -> bytes | dict[str, bytes]:
    """The bytes to give ``formats.read`` for a path: a WFDB record (``x.hea`` or ``x``)
    brings its signal files (any file of the same stem); any other file is read alone."""
    if path.suffix.lower() == ".hea" or (not path.exists() and path.with_suffix(".hea").exists()):
        stem = path.with_suffix("") if path.suffix.lower() == ".hea" else path
        files = {}
        for f in stem.parent.glob(stem.name + ".*"):
            if f.is_file() and f.suffix.lower() in (".hea", ".dat", ".mat", ".xyz", ".edf"):
                files[f.name] = f.read_bytes()
        if not files:
            raise ValidationError(f"{path}: no such record", code="not_found")
        return files
    if not path.exists():
        raise ValidationError(f"{path}: no such file", code="not_found")
    return path.read_bytes()


def analyse_path(path: Path) -> dict:
    """One ``ecg-analyze`` entry (the JSON keys of issue 10)."""
    start = time.perf_counter()
    wf = formats.read(files_for(path))
    pre = preread.analyse(wf)
    m = pre.measurements or {}
    return {
        "path": str(path),
        "format": wf.source_format,
        "fs": wf.fs,
        "leads": list(wf.leads),
        "duration_s": round(wf.duration, 3),
        "quality": {"ok": pre.quality.ok, "reasons": list(pre.quality.reasons)},
        "heart_rate_bpm": pre.heart_rate_bpm,
        "rr_ms": m.get("rr_ms"),
        "pr_ms": m.get("pr_ms"),
        "qrs_ms": m.get("qrs_ms"),
        "qt_ms": m.get("qt_ms"),
        "qtc_ms": m.get("qtc_bazett_ms"),
        "qtc_fridericia_ms": m.get("qtc_fridericia_ms"),
        "axis_deg": m.get("axis_deg"),
        "beats_used": len(m.get("beats_used") or []),
        "statements": list(pre.statements),
        "priority": pre.priority,
        "seconds": round(time.perf_counter() - start, 4),
    }


def _stats(tp, fp, fn, tn) -> dict:
    def ratio(a, b):
        return round(a / b, 3) if b else None

    return {
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "ppv": ratio(tp, tp + fp),
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "positives": tp + fn,
    }  # fmt: skip


def summarise(rows: list[dict]) -> dict:
    """Per-statement sensitivity/specificity/PPV/counts and the HR and interval errors."""
    ok = [r for r in rows if "error" not in r]
    out: dict = {"records": len(rows), "failed": len(rows) - len(ok)}
    statements = {}
    for code in EVALUATED:
        tp = fp = fn = tn = 0
        for r in ok:
            said = code in r["said"]
            truth = code in r["labels"]
            tp += said and truth
            fp += said and not truth
            fn += truth and not said
            tn += not said and not truth
        statements[code] = _stats(tp, fp, fn, tn)
    out["statements"] = statements
    hr = [r for r in ok if r["reference"].get("hr_bpm") is not None]
    if hr:
        errs = np.array([
            abs(r["heart_rate_bpm"] - r["reference"]["hr_bpm"])
            if r["heart_rate_bpm"] is not None else np.inf
            for r in hr
        ])  # fmt: skip
        out["heart_rate"] = {
            "records": len(hr),
            "within_5_bpm": int((errs <= 5).sum()),
            "within_5_bpm_fraction": round(float((errs <= 5).mean()), 4),
            "mean_abs_error_bpm": round(float(errs[np.isfinite(errs)].mean()), 2)
            if np.isfinite(errs).any() else None,
            "missing": int((~np.isfinite(errs)).sum()),
        }  # fmt: skip
    intervals = {}
    for name, key in (("pr_ms", "pr_ms"), ("qrs_ms", "qrs_ms"), ("qt_ms", "qt_ms"),
                      ("qtc_ms", "qtc_ms")):  # fmt: skip
        pairs = [(r[key], r["reference"][name]) for r in ok if r["reference"].get(name) is not None]
        if not pairs:
            continue
        have = [(a, b) for a, b in pairs if a is not None]
        errs = np.array([a - b for a, b in have]) if have else np.zeros(0)
        intervals[name] = {
            "references": len(pairs),
            "measured": len(have),
            "mean_abs_error_ms": round(float(np.abs(errs).mean()), 1) if len(errs) else None,
            "median_abs_error_ms": round(float(np.median(np.abs(errs))), 1) if len(errs) else None,
            "mean_error_ms": round(float(errs.mean()), 1) if len(errs) else None,
            "within_10_ms": int((np.abs(errs) <= 10).sum()),
            "within_20_ms": int((np.abs(errs) <= 20).sum()),
        }
    out["intervals"] = intervals
    quality = [r for r in ok if not r["quality_ok"]]
    out["quality_rejected"] = len(quality)
    out["seconds_median"] = round(float(np.median([r["seconds"] for r in ok])), 4) if ok else None
    return out


def evaluate(directory: Path, records: list[LabelledRecord], subset: str = "all") -> dict:
    rows = []
    for rec in records:
        part = split(rec.path)
        if subset != "all" and part != subset:
            continue
        row = {"path": rec.path, "part": part, "labels": sorted(rec.labels),
               "reference": rec.reference}  # fmt: skip
        try:
            res = analyse_path(directory / rec.path)
        except ValidationError as exc:
            row["error"] = str(exc)
            rows.append(row)
            continue
        said = {s["code"] for s in res["statements"]}
        row.update(
            said=sorted(said),
            quality_ok=res["quality"]["ok"],
            heart_rate_bpm=res["heart_rate_bpm"],
            pr_ms=res["pr_ms"],
            qrs_ms=res["qrs_ms"],
            qt_ms=res["qt_ms"],
            qtc_ms=res["qtc_ms"],
            axis_deg=res["axis_deg"],
            seconds=res["seconds"],
        )
        rows.append(row)
    result = {"subset": subset, "all": summarise(rows)}
    if subset == "all":
        for part in ("tuning", "held-out"):
            result[part] = summarise([r for r in rows if r["part"] == part])
    result["rows"] = rows
    return result
