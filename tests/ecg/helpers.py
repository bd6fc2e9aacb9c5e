"""What several ECG tests share: the committed records in tests/data/ecg and the scripts
beside them."""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "ecg"


def wfdb_zip(stem: str) -> bytes:
    """A committed WFDB record (every file of ``stem``) as the one ZIP a kit uploads."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(DATA.glob(f"{stem}.*")):
            zf.writestr(f.name, f.read_bytes())
    return buf.getvalue()


def load_script(name: str):
    """A script of tests/data/ecg (``make_labels``, ``ludb_st``) as a module."""
    spec = importlib.util.spec_from_file_location(name, DATA / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
