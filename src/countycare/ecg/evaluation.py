"""Evaluation of the pre-read over a labelled set (issue 10, ``countycare ecg-eval``).

The labels file is CSV with a header: ``path,labels,reference_hr_bpm`` (labels are
``;``-separated codes), optionally ``reference_pr_ms``, ``reference_qrs_ms``,
``reference_qt_ms``, ``reference_qtc_ms``, and:

- ``part`` — ``tuning`` or ``held-out``: the split, fixed before tuning (default: ``split``,
  a hash of the path);
- ``scored`` — the statement codes the row's labels are complete for, ``;``-separated, or
  ``*`` for all (the default); a statement is counted only on the rows that score it (a
  Holter set annotating AF only says nothing about bundle branch blocks);
- ``dataset`` — a name to report figures per data set (default: the path's first folder).

``path`` is relative to the data directory; for WFDB it is the record (with or without
``.hea``). ``path#t=START,END`` (W3C Media Fragments time syntax, seconds) is that window of
the record — how the 10 s windows of long Holter records are labelled. The layout of the shared
data set's own ``labels.csv`` (``record`` / ``ref_hr_bpm`` …, normalised codes) is accepted
too; ``tests/data/ecg/labels-shared.csv`` is its conversion to SCP-ECG codes.
"""

from __future__ import annotations

import csv
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from countycare.core.errors import ValidationError
from countycare.ecg import formats, preread

# Statement codes evaluated.
EVALUATED = ["SR", "SBRAD", "STACH", "SARRH", "AFIB", "AFLT", "PACE", "PAC", "PVC", "1AVB",
             "CRBBB", "CLBBB", "LVH", "LNGQT", "STEMI", "PAUSE", "ASYST", "VTAC"]  # fmt: skip
# Label codes (the shared set's normalised codes, or SCP-ECG acronyms) that mean each
# statement as truth: the pre-read's LVH is by voltage, so PTB-XL's VCLVH counts too.
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
    "VCLVH": "LVH",
    "QT_LONG": "LNGQT",
    "LQT": "LNGQT",
}
ANALYZE_KEYS = ("path", "format", "fs", "leads", "quality", "heart_rate_bpm", "pr_ms", "qrs_ms",
                "qt_ms", "qtc_ms", "axis_deg", "statements", "priority", "seconds")  # fmt: skip
_FRAGMENT = re.compile(r"^(?P<path>.*?)#t=(?P<start>[\d.]*),(?P<end>[\d.]+)$")
# Patient lines of WFDB header comments: LUDB ``<age>: 67`` / ``<sex>: M``, PhysioNet/CinC
# Challenge ``Age: 53`` / ``Sex: Male``.
_AGE = re.compile(r"^\s*<?age>?\s*:\s*(\d{1,3})\b", re.IGNORECASE)
_SEX = re.compile(r"^\s*<?sex>?\s*:\s*(m|f|male|female)\b", re.IGNORECASE)


def split(path: str) -> str:
    digest = hashlib.sha256(path.encode()).digest()
    return "tuning" if digest[0] % 2 == 0 else "held-out"


@dataclass
class LabelledRecord:
    path: str
    labels: set[str]
    reference: dict[str, float] = field(default_factory=dict)  # hr_bpm, pr_ms, qrs_ms, ...
    raw_labels: list[str] = field(default_factory=list)
    part: str = ""
    scored: set[str] | None = None  # None: every statement
    dataset: str = ""


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
            record = row[key].strip()
            part = (row.get("part") or "").strip()
            if part not in ("tuning", "held-out"):
                part = split(record)
            scored_raw = row.get("scored")
            scored = (
                None
                if scored_raw is None or scored_raw.strip() == "*"
                else {LABEL_ALIASES.get(c, c) for c in scored_raw.split(";") if c.strip()}
            )
            dataset = (row.get("dataset") or "").strip() or record.split("/")[0]
            out.append(LabelledRecord(record, labels, ref, raw, part, scored, dataset))
    return out


def _window(path: str) -> tuple[Path, float | None, float | None]:
    match = _FRAGMENT.match(path)
    if not match:
        return Path(path), None, None
    start = float(match.group("start") or 0.0)
    return Path(match.group("path")), start, float(match.group("end"))


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
    if path.is_dir():
        raise ValidationError(f"{path}: is a directory", code="not_found")
    return path.read_bytes()


def read_path(path: str | Path):
    """The Waveform of a path, ``path#t=START,END`` being that window (seconds)."""
    file_path, start, end = _window(str(path))
    if start is None:
        return formats.read(files_for(file_path))
    wf = formats.read(files_for(file_path), exam=False)
    a, b = round(start * wf.fs), round(end * wf.fs)
    if not (0 <= a < b <= wf.n_samples):
        raise ValidationError(
            f"{path}: the window {start:g}–{end:g} s is outside the record (0–{wf.duration:g} s)",
            code="bad_window",
        )
    window = type(wf)(
        leads=list(wf.leads), fs=wf.fs, samples=wf.samples[:, a:b], acquired_at=wf.acquired_at,
        device=wf.device, source_format=wf.source_format, extra={"window_s": [start, end]},
    )  # fmt: skip
    formats.check_exam(window)
    return window


def patient_of(wf) -> tuple[str | None, int | None]:
    """(sex ``"M"``/``"F"``, age in years) from the record's header comments, where the
    file says them (WFDB); ``None`` for what it does not."""
    sex = age = None
    for line in (wf.extra or {}).get("comments") or []:
        if age is None and (m := _AGE.match(str(line))):
            age = int(m.group(1))
        if sex is None and (m := _SEX.match(str(line))):
            sex = m.group(1)[0].upper()
    return sex, age


def analyse_full(path: str | Path) -> tuple[dict, preread.PreRead]:
    """The ``ecg-analyze`` entry plus the fuller figures evaluation uses (rr, Fridericia,
    beats used), and the PreRead itself. The patient's sex and age, where the file says
    them, choose the sex- and age-specific criteria."""
    start = time.perf_counter()
    wf = read_path(path)
    sex, age = patient_of(wf)
    pre = preread.analyse(wf, sex=sex, age=age)
    m = pre.measurements or {}
    entry = {
        "path": str(path),
        "format": wf.source_format,
        "fs": wf.fs,
        "leads": list(wf.leads),
        "quality": {"ok": pre.quality.ok, "reasons": list(pre.quality.reasons)},
        "heart_rate_bpm": pre.heart_rate_bpm,
        "pr_ms": m.get("pr_ms"),
        "qrs_ms": m.get("qrs_ms"),
        "qt_ms": m.get("qt_ms"),
        "qtc_ms": m.get("qtc_bazett_ms"),
        "axis_deg": m.get("axis_deg"),
        "statements": [{"code": s["code"], "confidence": s["confidence"]} for s in pre.statements],
        "priority": pre.priority,
        "seconds": round(time.perf_counter() - start, 4),
    }
    return entry, pre


def analyse_path(path: str | Path) -> dict:
    """One ``ecg-analyze --json`` entry: exactly the keys of issue 10 (``ANALYZE_KEYS``);
    unknown values are ``None``. QTc is Bazett's."""
    entry, _pre = analyse_full(path)
    return {k: entry[k] for k in ANALYZE_KEYS}


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
    """Per-statement sensitivity/specificity/PPV/counts (each over the rows that score it)
    and the HR and interval errors."""
    ok = [r for r in rows if "error" not in r]
    out: dict = {"records": len(rows), "failed": len(rows) - len(ok)}
    statements = {}
    for code in EVALUATED:
        tp = fp = fn = tn = 0
        for r in ok:
            if r["scored"] is not None and code not in r["scored"]:
                continue
            said = code in r["said"]
            truth = code in r["labels"]
            tp += said and truth
            fp += said and not truth
            fn += truth and not said
            tn += not said and not truth
        if tp + fp + fn + tn:
            statements[code] = _stats(tp, fp, fn, tn)
    out["statements"] = statements
    hr = [r for r in ok if r["reference"].get("hr_bpm") is not None]
    if hr:
        errs = np.array([
            abs(r["heart_rate_bpm"] - r["reference"]["hr_bpm"])
            if r["heart_rate_bpm"] is not None else np.inf
            for r in hr
        ])  # fmt: skip
        finite = errs[np.isfinite(errs)]
        given = np.isfinite(errs)
        accepted = np.array([bool(r["quality_ok"]) for r in hr])
        out["heart_rate"] = {
            "records": len(hr),
            # A record without a rate (beats unclear: sent back for re-acquisition) counts as
            # a miss here; the figures below separate it.
            "within_5_bpm": int((errs <= 5).sum()),
            "within_5_bpm_fraction": round(float((errs <= 5).mean()), 4),
            "rate_given": int(given.sum()),
            "within_5_bpm_of_given_fraction": (
                round(float((errs[given] <= 5).mean()), 4) if given.any() else None
            ),
            "quality_accepted": int(accepted.sum()),
            "within_5_bpm_of_accepted_fraction": (
                round(float((errs[accepted] <= 5).mean()), 4) if accepted.any() else None
            ),
            "mean_abs_error_bpm": round(float(finite.mean()), 2) if len(finite) else None,
            "max_abs_error_bpm": round(float(finite.max()), 1) if len(finite) else None,
            "missing": int((~np.isfinite(errs)).sum()),
            "outliers": [r["path"] for r, e in zip(hr, errs, strict=True) if not e <= 5],
        }
    intervals = {}
    for name in ("pr_ms", "qrs_ms", "qt_ms", "qtc_ms"):
        pairs = [
            (r[name], r["reference"][name]) for r in ok if r["reference"].get(name) is not None
        ]
        if not pairs:
            continue
        have = [(a, b) for a, b in pairs if a is not None]
        errs = np.array([a - b for a, b in have]) if have else np.zeros(0)

        def fig(fn, errs=errs):
            return round(float(fn(errs)), 1) if len(errs) else None

        intervals[name] = {
            "references": len(pairs),
            "measured": len(have),
            "mean_abs_error_ms": fig(lambda e: np.abs(e).mean()),
            "median_abs_error_ms": fig(lambda e: np.median(np.abs(e))),
            "mean_error_ms": fig(np.mean),
            "sd_error_ms": fig(np.std),
            "within_10_ms": int((np.abs(errs) <= 10).sum()),
            "within_20_ms": int((np.abs(errs) <= 20).sum()),
        }
    out["intervals"] = intervals
    out["quality_rejected"] = sum(1 for r in ok if not r["quality_ok"])
    out["seconds_median"] = round(float(np.median([r["seconds"] for r in ok])), 4) if ok else None
    return out


def evaluate(directory: Path, records: list[LabelledRecord], subset: str = "all") -> dict:
    """The pre-read over the labelled records: figures for all, for the tuning and held-out
    parts, and per data set (each with its parts)."""
    rows = []
    for rec in records:
        if subset != "all" and rec.part != subset:
            continue
        row = {"path": rec.path, "part": rec.part, "dataset": rec.dataset,
               "labels": sorted(rec.labels), "reference": rec.reference,
               "scored": None if rec.scored is None else sorted(rec.scored)}  # fmt: skip
        try:
            res, pre = analyse_full(directory / rec.path)
        except ValidationError as exc:
            row["error"] = str(exc.message if hasattr(exc, "message") else exc)
            rows.append(row)
            continue
        m = pre.measurements or {}
        row.update(
            said=sorted(s["code"] for s in res["statements"]),
            quality_ok=res["quality"]["ok"],
            heart_rate_bpm=res["heart_rate_bpm"],
            pr_ms=res["pr_ms"],
            qrs_ms=res["qrs_ms"],
            qt_ms=res["qt_ms"],
            qtc_ms=res["qtc_ms"],
            axis_deg=res["axis_deg"],
            rhythm=pre.rhythm,
            p_fraction=m.get("p_fraction"),
            priority=res["priority"],
            seconds=res["seconds"],
        )
        rows.append(row)
    result: dict = {"subset": subset, "all": summarise(rows)}
    if subset == "all":
        for part in ("tuning", "held-out"):
            result[part] = summarise([r for r in rows if r["part"] == part])
    datasets = {}
    for name in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == name]
        datasets[name] = {"all": summarise(mine)}
        if subset == "all":
            for part in ("tuning", "held-out"):
                datasets[name][part] = summarise([r for r in mine if r["part"] == part])
    result["datasets"] = datasets
    result["rows"] = rows
    return result
