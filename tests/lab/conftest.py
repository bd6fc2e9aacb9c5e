"""Lab fixtures: the shared centers (telemed.catalog), a CBC order for the A1 resident, and
HL7 v2 result messages written after real analyzer output (a Mindray/URIT-style CBC with
LOINC codes and a Chinese national ID in PID-3)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import threading

import pytest

from countycare.lab import mllp
from countycare.telemed import catalog, services
from countycare.telemed.models import CenterKind


@pytest.fixture(autouse=True)
def _fresh_lab_caches():
    """The code table and critical rules cached per process: a flush between tests sends no
    delete signal, so each test starts without them."""
    from countycare.lab import caches

    caches.forget()
    yield
    caches.forget()


@pytest.fixture
def centers(tree, center_reader) -> dict:
    found = {c.kind: c for c in catalog.install(tree.lead_hospital)}
    for center in found.values():
        center.readers.add(center_reader)
    return found


@pytest.fixture
def lab_center(centers):
    return centers[CenterKind.LAB]


@pytest.fixture
def cbc_order(lab_center, residents, village_doctor):
    return services.create_order(village_doctor, resident=residents["a1"].pk, service="LAB-CBC")


# A CBC from the village kit's 3-part/5-part analyzer as a lab system forwards it: HL7 v2.5.1,
# PID-3 the national ID (identifier type NNCHN) and the village clinic's record number, OBR-2
# our accession number (placer), OBR-3 the analyzer's sample number (filler), one OBX per
# parameter with its LOINC code, UCUM unit, reference range and flag.
CBC_OBX = [
    ("6690-2", "WBC 白细胞计数", "6.52", "10*9/L", "3.5-9.5", "N"),
    ("789-8", "RBC 红细胞计数", "4.21", "10*12/L", "4.3-5.8", "L"),
    ("718-7", "HGB 血红蛋白", "118", "g/L", "130-175", "L"),
    ("4544-3", "HCT 红细胞压积", "36.9", "%", "40-50", "L"),
    ("787-2", "MCV 平均红细胞体积", "87.6", "fL", "82-100", "N"),
    ("777-3", "PLT 血小板计数", "402", "10*9/L", "125-350", ""),  # no flag: we compute H
    ("770-8", "NEUT% 中性粒细胞百分比", "61.3", "%", "40-75", "N"),
    ("736-9", "LYMPH% 淋巴细胞百分比", "28.4", "%", "20-50", "N"),
]


def oru(
    *,
    national_id: str = "",
    mrn: str = "MZ0001",
    placer: str = "",
    control_id: str = "BC5390-000123",
    obx: list | None = None,
    sender: str = "BC-5390^MINDRAY",
    facility: str = "ZSK-VC-A1",
    msg_type: str = "ORU^R01^ORU_R01",
) -> str:
    rows = CBC_OBX if obx is None else obx
    pid3 = "~".join(
        part
        for part in (
            f"{national_id}^^^CHN^NNCHN" if national_id else "",
            f"{mrn}^^^{facility}^MR" if mrn else "",
        )
        if part
    )
    segments = [
        f"MSH|^~\\&|{sender}|{facility}|COUNTYCARE|LAB|20261125093012||{msg_type}|{control_id}"
        "|P|2.5.1|||AL|NE|CHN|UNICODE UTF-8",
        f"PID|1||{pid3}||张^安民||19700301|M",
        "PV1|1|O",
        f"OBR|1|{placer}^COUNTYCARE|S20261125-0042^BC-5390|58410-2^CBC panel - Blood by Automated "
        "count^LN|||20261125090500|||||||20261125091000||||||||20261125092955|||F",
    ]
    for i, (code, name, value, unit, ref, flag, *system) in enumerate(rows, start=1):
        system = system[0] if system else "LN"
        segments.append(
            f"OBX|{i}|NM|{code}^{name}^{system}||{value}|{unit}^^UCUM|{ref}|{flag}|||F|||"
            "20261125092955"
        )
    return "\r".join(segments) + "\r"


@pytest.fixture
def make_oru(residents, cbc_order):
    def make(**kw):
        kw.setdefault("national_id", residents["a1"].national_id)
        kw.setdefault("placer", cbc_order.accession_number)
        return oru(**kw)

    return make


@pytest.fixture
def reference_ranges(db):
    """The ranges of the data migration, installed again: a transactional test elsewhere in
    the run flushes the tables, migration data included."""
    from django.apps import apps

    migration = importlib.import_module("countycare.lab.migrations.0003_reference_ranges_data")
    migration.install(apps, None)


@pytest.fixture
def glucose_ranges(reference_ranges):
    """The glucose meter's ranges (data migration 0005), installed again after a flush."""
    from django.apps import apps

    migration = importlib.import_module("countycare.lab.migrations.0005_glucose_ranges_recognition")
    migration.install(apps, None)


@pytest.fixture
def listener():
    """The listener on a free port in a thread of its own; yields (host, port)."""
    loop = asyncio.new_event_loop()
    bound = threading.Event()
    address = {}

    def ready(server):
        address["port"] = server.sockets[0].getsockname()[1]
        bound.set()

    task = loop.create_task(mllp.serve("127.0.0.1", 0, ready=ready))

    def run():
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert bound.wait(10)
    yield "127.0.0.1", address["port"]
    loop.call_soon_threadsafe(task.cancel)
    thread.join(10)
    loop.close()
