"""Time of the automatic ECG pre-read (``ecg.preread.analyse``: quality, beats, median-beat
measurements, statements, triage) per 10 s 12-lead 500 Hz record, on one core (issue 10).

    .venv/bin/python benchmarks/ecg_preread.py [--data ../shared/data/ecg] [--repeat 3]

Records: every 10 s 12-lead 500 Hz record in the data directory's ``labels.csv`` (LUDB and
CinC 2021), read once (reading is not timed), each analysed ``--repeat`` times; the first,
warm-up, pass is not counted. Prints JSON ``{"median_seconds", "p95_seconds",
"peak_rss_mb", "records"}``. Target: median ≤ 0.1 s. BLAS/OpenMP threads are limited to one
and the process is pinned to one core, so the figure is one core's. ``--clock cpu`` (the
default) times the thread's CPU seconds — what a record costs that core, also on a shared,
loaded machine; ``--clock wall`` times elapsed seconds, which on a loaded machine include the
waits for the core (compare the load average printed on stderr).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = ROOT.parent.parent / "shared" / "data" / "ecg"
    if not default.is_dir():
        default = Path("/work/shared/data/ecg")
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="at most this many records")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    import django

    django.setup()
    import numpy as np

    from countycare.ecg import evaluation, formats, preread

    waveforms = []
    with open(args.data / "labels.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("n_leads") != "12" or row.get("fs") != "500":
                continue
            if abs(float(row.get("duration_s") or 0) - 10.0) > 0.01:
                continue
            wf = formats.read(evaluation.files_for(args.data / row["record"]))
            waveforms.append(wf)
            if args.limit and len(waveforms) >= args.limit:
                break
    for wf in waveforms[:5]:
        preread.analyse(wf)  # warm-up (imports, filter design caches)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    times = []
    for _ in range(args.repeat):
        for wf in waveforms:
            start = clock()
            preread.analyse(wf)
            times.append(clock() - start)
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()}, clock {args.clock}", file=sys.stderr)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "median_seconds": round(float(np.median(times)), 4),
                "p95_seconds": round(float(np.percentile(times, 95)), 4),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "records": len(waveforms),
            }
        )
    )


if __name__ == "__main__":
    main()
