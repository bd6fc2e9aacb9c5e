"""``countycare ecg-analyze PATH… [--json]`` (issue 10): the pre-read of ECG files from the
command line. For WFDB give the ``.hea`` path (its signal files are found beside it);
``PATH#t=START,END`` analyses that window (seconds) of a long record. ``--json`` prints one
list with an object per path holding exactly the keys of ``evaluation.ANALYZE_KEYS``
(unknown values ``null``); a path that cannot be read gives ``{"path", "error"}`` and the
others still run; the exit status is 1 if any failed."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from countycare.core.errors import ValidationError
from countycare.ecg import evaluation


class Command(BaseCommand):
    help = (
        "Pre-read ECG files (WFDB .hea, HL7 aECG, DICOM waveform, CSV/JSON): quality, heart "
        "rate, intervals, axis, statements and triage priority."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--json", action="store_true", help="one JSON list on stdout")

    def handle(self, *args, paths: list[str], json: bool = False, **options):
        results = []
        failed = False
        for raw in paths:
            try:
                entry = evaluation.analyse_path(raw)
                entry["path"] = raw
            except ValidationError as exc:
                entry = {"path": raw, "error": str(exc.message if hasattr(exc, "message") else exc)}
                failed = True
            except Exception as exc:  # one broken file never stops the others
                entry = {"path": raw, "error": f"{type(exc).__name__}: {exc}"}
                failed = True
            results.append(entry)
            if not json:
                self.stdout.write(_text(entry))
        if json:
            self.stdout.write(_dumps(results))
        if failed:
            sys.exit(1)


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)


def _fmt(value, unit=""):
    return "—" if value is None else f"{value:g}{unit}"


def _text(e: dict) -> str:
    if "error" in e:
        return f"{e['path']}: ERROR {e['error']}"
    q = "ok" if e["quality"]["ok"] else "re-acquire: " + "; ".join(e["quality"]["reasons"])
    codes = ", ".join(f"{s['code']} ({s['confidence']:.2f})" for s in e["statements"]) or "—"
    return (
        f"{e['path']}: {e['format']} {len(e['leads'])} leads {e['fs']:g} Hz · quality {q}\n"
        f"  HR {_fmt(e['heart_rate_bpm'], ' bpm')} · PR {_fmt(e['pr_ms'], ' ms')} · "
        f"QRS {_fmt(e['qrs_ms'], ' ms')} · QT {_fmt(e['qt_ms'], ' ms')} · "
        f"QTc {_fmt(e['qtc_ms'], ' ms')} · axis {_fmt(e['axis_deg'], '°')}\n"
        f"  statements: {codes} · priority {e['priority']} · {e['seconds']:.3f} s"
    )
