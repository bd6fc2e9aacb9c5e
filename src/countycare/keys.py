"""Secrets for the embedded mode, generated once into ``var/keys.json`` when the environment
does not provide them. Several processes may start at once (web workers, listeners), so the
file is created atomically and whoever loses the race reads the winner's keys."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path


def _new_keys() -> dict[str, str]:
    return {
        "secret_key": secrets.token_urlsafe(50),
        "field_keys": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "hash_key": secrets.token_urlsafe(32),
    }


def load_or_create_keys(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps(_new_keys(), indent=2))
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # atomic: fails if another process created it first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return json.loads(path.read_text())
