"""``countycare ecg-eval DIR --labels labels.csv [--json]`` (issue 10): the pre-read over a
labelled set — per-statement sensitivity, specificity, PPV and counts; heart-rate agreement
and interval errors where references exist; for the tuning and held-out parts
(``evaluation.split``) and all together."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from countycare.core.errors import ValidationError
from countycare.ecg import evaluation


class Command(BaseCommand):
    help = "Evaluate the ECG pre-read over a labelled set (CSV path,labels,reference_hr_bpm)."

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument("--labels", required=True, help="CSV: path,labels,reference_hr_bpm")
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--subset", choices=["all", "tuning", "held-out"], default="all",
            help="only one part of the split (default: all, reported per part too)",
        )  # fmt: skip
        parser.add_argument(
            "--rows", action="store_true", help="include one row per record in the JSON"
        )

    def handle(self, *args, directory, labels, json=False, subset="all", rows=False, **options):
        base = Path(directory)
        if not base.is_dir():
            raise CommandError(f"{directory}: not a directory")
        try:
            records = evaluation.load_labels(Path(labels))
        except (OSError, ValidationError) as exc:
            raise CommandError(str(exc)) from None
        result = evaluation.evaluate(base, records, subset=subset)
        if not rows:
            result.pop("rows")
        if json:
            self.stdout.write(_json_dumps(result))
            return
        for part in ("all", "tuning", "held-out"):
            if part in result:
                self.stdout.write(_text(part, result[part]))
        for name, figures in result["datasets"].items():
            for part in ("all", "tuning", "held-out"):
                if part in figures and figures[part]["records"]:
                    self.stdout.write(_text(f"{name} · {part}", figures[part]))


def _json_dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)


def _text(part: str, s: dict) -> str:
    lines = [f"== {part}: {s['records']} records ({s['failed']} unreadable, "
             f"{s['quality_rejected']} rejected for quality)"]  # fmt: skip
    hr = s.get("heart_rate")
    if hr:
        lines.append(
            f"heart rate: |error| ≤ 5 bpm on {hr['within_5_bpm']}/{hr['records']} "
            f"({hr['within_5_bpm_fraction']:.1%}), mean |error| {hr['mean_abs_error_bpm']} bpm"
        )
        given = hr.get("within_5_bpm_of_given_fraction")
        lines.append(
            f"  rate given on {hr['rate_given']} (no rate, beats unclear: "
            f"{hr['records'] - hr['rate_given']}); ≤ 5 bpm of those given: "
            + ("—" if given is None else f"{given:.1%}")
        )
    for name, v in s.get("intervals", {}).items():
        lines.append(
            f"{name}: {v['measured']}/{v['references']} measured, mean |error| "
            f"{v['mean_abs_error_ms']} ms, median {v['median_abs_error_ms']} ms, "
            f"bias {v['mean_error_ms']} ms"
        )
    lines.append("statement  sens   spec   ppv    tp  fp  fn   tn")
    for code, v in s["statements"].items():

        def f(x):
            return "  —  " if x is None else f"{x:.3f}"

        lines.append(
            f"{code:<9}  {f(v['sensitivity'])}  {f(v['specificity'])}  {f(v['ppv'])}  "
            f"{v['tp']:>3} {v['fp']:>3} {v['fn']:>3} {v['tn']:>4}"
        )
    return "\n".join(lines)
