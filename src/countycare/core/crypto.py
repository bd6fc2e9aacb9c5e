"""Encryption at rest for sensitive fields, and the keyed hash stored beside them for exact
lookup. Fernet (AES-128-CBC + HMAC-SHA256, from the ``cryptography`` package); keys come from
the environment (COUNTYCARE_FIELD_KEYS, COUNTYCARE_HASH_KEY) or ``var/keys.json``."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt(value: str) -> str:
    return _fernet(tuple(settings.COUNTYCARE_FIELD_KEYS)).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(tuple(settings.COUNTYCARE_FIELD_KEYS)).decrypt(token.encode()).decode()


def lookup_hash(value: str) -> str:
    return hmac.new(
        settings.COUNTYCARE_HASH_KEY.encode(), value.encode(), hashlib.sha256
    ).hexdigest()
