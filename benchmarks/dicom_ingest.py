"""DICOM ingest throughput (issue 4): 200 ultrasound instances pushed over loopback by dcmtk's
storescu into ``countycare dicom-listen`` (a separate process, as in production: parse,
validate, store the file, index Study/Series/Instance, match the order, audit) and, in the
same run, into dcmtk's own ``storescp`` (which only writes files) — the same files, the same
sender, alternating runs.

    .venv/bin/python benchmarks/dicom_ingest.py [--files 200] [--runs 3] [--database URL]

Prints one JSON object: ``{"files", "countycare_mb_per_s", "storescp_mb_per_s", "ratio"}``
(the best of ``--runs`` for each; target ratio ≥ 0.5). ``countycare_mb_per_s`` is what the
device sees: each C-STORE is answered success once its file is in storage and its receipt
committed (docs/imaging.md). On stderr, one more JSON object: the seconds of every run, the
throughput until the last instance is also indexed (``countycare_indexed_mb_per_s``,
``indexed_ratio``), that of a bare pynetdicom Storage SCP that only writes the files
(``pynetdicom_bare_mb_per_s``, ``pynetdicom_bare_ratio``: the ceiling of any receiver built
on pynetdicom) and the machine's load average. The instances are pydicom's real
ultrasound test files (30-frame JPEG cine, palette colour, RGB), each given its own SOP
Instance UID, in studies of ten: half the studies on one exam order's accession number, the
rest on unknown ones (the reconciliation path). Default database: a fresh SQLite file (the embedded mode);
``--database postgres://postgres@127.0.0.1:5432/bench_imaging`` for PostgreSQL (created).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FILES = ("examples_ybr_color.dcm", "examples_palette.dcm", "examples_rgb_color.dcm")


BARE_SCP = """
import logging, sys
from pynetdicom import AE, _config, evt
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit,
                         UltrasoundImageStorage, UltrasoundMultiFrameImageStorage)
_config.LOG_HANDLER_LEVEL = "none"
logging.getLogger("pynetdicom").setLevel(logging.ERROR)
out, n = sys.argv[2], [0]
def on_store(event):
    n[0] += 1
    with open(f"{out}/{n[0]}.dcm", "wb") as fh:
        fh.write(event.request.DataSet.getvalue())
    return 0x0000
ae = AE(ae_title="COUNTYCARE")
ae.maximum_pdu_size = 0
for uid in (UltrasoundImageStorage, UltrasoundMultiFrameImageStorage):
    ae.add_supported_context(uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                                   JPEGBaseline8Bit])
ae.start_server(("127.0.0.1", int(sys.argv[1])), evt_handlers=[(evt.EVT_C_STORE, on_store)])
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"listener exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def wait_indexed(database: str, expected: int, timeout: float = 600) -> None:
    """Until ``expected`` receipts are indexed and none waits (polling the database: the
    benchmark measures, it does not take part)."""
    sql = (
        "SELECT count(*) FILTER (WHERE state = 'indexed'), "
        "count(*) FILTER (WHERE state <> 'indexed') FROM imaging_receipt"
    )
    if database.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(database.removeprefix("sqlite:///"), timeout=30)
    else:
        import psycopg

        conn = psycopg.connect(database, autocommit=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            indexed, other = conn.execute(sql).fetchone()
            if indexed >= expected:
                return
            if (
                other
                and not conn.execute(
                    "SELECT count(*) FROM imaging_receipt WHERE state = 'pending'"
                ).fetchone()[0]
            ):
                errors = conn.execute(
                    "SELECT DISTINCT error FROM imaging_receipt WHERE state = 'failed'"
                ).fetchall()
                raise SystemExit(f"{other} receipts failed to index: {errors}")
            time.sleep(0.02)
    finally:
        conn.close()
    raise SystemExit(f"not indexed within {timeout} s")


def make_files(out: Path, n: int, accession: str) -> int:
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    total = 0
    for i in range(n):
        ds = pydicom.dcmread(get_testdata_file(FILES[i % len(FILES)]))
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        # studies of 10 instances; every other study on the order, the rest unmatched
        study = i // 10
        ds.StudyInstanceUID = generate_uid(entropy_srcs=[str(out), str(study)])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=[str(out), str(study), "series"])
        ds.AccessionNumber = accession if study % 2 == 0 else f"UNKNOWN{study:06d}"
        ds.PatientID = ds.PatientID or f"P{i}"
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        path = out / f"us{i:04d}.dcm"
        path.write_bytes(buffer.getvalue())
        total += len(buffer.getvalue())
    return total


def push(port: int, ae: str, files: list[Path]) -> float:
    # -xy: propose JPEG baseline (the cine) with the uncompressed syntaxes, as the device does
    cmd = ["storescu", "-xy", "-aet", ae, "-aec", "COUNTYCARE", "-pdu", "131072",
           "127.0.0.1", str(port)]  # fmt: skip
    started = time.perf_counter()
    # dcmtk keeps Nagle's algorithm on unless TCP_NODELAY=1 (then ~40 ms stalls per object):
    # both peers get their best setting.
    env = dict(os.environ, TCP_NODELAY="1")
    result = subprocess.run(
        [*cmd, *map(str, files)], capture_output=True, text=True, check=False, env=env
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"storescu failed: {result.stderr[-2000:]}")
    return elapsed


def timed_receiver(name: str, command, out: Path, files: list[Path], env=None) -> float:
    """Start a receiver (``command(port, out)``) that writes what it gets into ``out``, push
    ``files`` into it with storescu, stop it: the seconds of the push. Every file must have
    been written, or the figure would flatter it."""
    out.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        command(port, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        wait_port(port, proc)
        seconds = push(port, "BENCH_US", files)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if len(list(out.iterdir())) != len(files):
        raise SystemExit(f"{name} did not store every file")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    for tool in ("storescu", "storescp"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install dcmtk")

    work = Path(tempfile.mkdtemp(prefix="cc-dicom-bench-"))
    env = dict(os.environ, COUNTYCARE_VAR_DIR=str(work / "var"), COUNTYCARE_LOG_LEVEL="WARNING")
    if args.database:
        env["DATABASE_URL"] = args.database
        if args.database.startswith("postgres"):
            import psycopg

            base, _, name = args.database.rpartition("/")
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                conn.execute(f'CREATE DATABASE "{name}"')
    else:
        env.pop("DATABASE_URL", None)
    countycare = [str(BIN / "countycare")]
    quiet = {"env": env, "check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([*countycare, "migrate", "--noinput", "-v", "0"], **quiet)
    setup = (
        "from countycare.imaging.models import DeviceAE\n"
        "from countycare.organizations.models import Institution, InstitutionType\n"
        "inst = Institution.objects.create(code='BENCH', name='bench', type=InstitutionType.COUNTY)\n"
        "DeviceAE.objects.create(ae_title='BENCH_US', institution=inst, modality='US')\n"
    )
    subprocess.run([*countycare, "shell", "-c", setup], **quiet)

    results: dict[str, list[float]] = {
        "countycare": [], "storescp": [], "indexed": [], "pynetdicom_bare": []
    }  # fmt: skip
    database = args.database or f"sqlite:///{work / 'var' / 'countycare.sqlite3'}"
    size = 0
    for run in range(args.runs):
        files_dir = work / f"files{run}"
        files_dir.mkdir()
        size = make_files(files_dir, args.files, accession="BENCHACC0000001")
        files = sorted(files_dir.glob("*.dcm"))

        port = free_port()
        listener = subprocess.Popen(
            [*countycare, "dicom-listen", "--port", str(port), "--ae", "COUNTYCARE"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_port(port, listener)
            started = time.perf_counter()
            results["countycare"].append(push(port, "BENCH_US", files))
            # The C-STOREs were answered once each file was stored and its receipt committed;
            # the listener's indexer follows. Time until the last study is on its order:
            wait_indexed(database, (run + 1) * args.files)
            results["indexed"].append(time.perf_counter() - started)
        finally:
            listener.terminate()
            listener.wait(timeout=60)

        # The ceiling of any pynetdicom-based receiver on this machine: pynetdicom's own
        # Storage SCP whose handler only writes each dataset to a file (no parsing, no
        # database) — what is left between it and storescp is pynetdicom's.
        results["pynetdicom_bare"].append(
            timed_receiver(
                "pynetdicom", lambda port, out: [sys.executable, "-c", BARE_SCP, str(port), str(out)],
                work / f"bare{run}", files,
            )
        )  # fmt: skip
        results["storescp"].append(
            timed_receiver(
                "storescp",
                lambda port, out: ["storescp", "+xa", "-pdu", "131072", "-od", str(out),
                                   "-aet", "COUNTYCARE", str(port)],
                work / f"storescp{run}", files, env=dict(os.environ, TCP_NODELAY="1"),
            )
        )  # fmt: skip

    check = (
        "from countycare.imaging.models import Instance\n"
        f"n = Instance.objects.count()\nassert n == {args.files * args.runs}, n\n"
    )
    subprocess.run([*countycare, "shell", "-c", check], **quiet)
    mb = size / 1e6
    ours = mb / min(results["countycare"])
    theirs = mb / min(results["storescp"])
    detail = {
        "mb": round(mb, 1),
        "seconds": {k: [round(v, 2) for v in values] for k, values in results.items()},
        # Received and indexed (every study on its order or the reconciliation list):
        "countycare_indexed_mb_per_s": round(mb / min(results["indexed"]), 1),
        "indexed_ratio": round(mb / min(results["indexed"]) / theirs, 2),
        "pynetdicom_bare_mb_per_s": round(mb / min(results["pynetdicom_bare"]), 1),
        "pynetdicom_bare_ratio": round(mb / min(results["pynetdicom_bare"]) / theirs, 2),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(detail), file=sys.stderr)
    print(
        json.dumps(
            {
                "files": args.files,
                "countycare_mb_per_s": round(ours, 1),
                "storescp_mb_per_s": round(theirs, 1),
                "ratio": round(ours / theirs, 2),
            }
        )
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
