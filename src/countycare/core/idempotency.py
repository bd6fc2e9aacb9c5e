"""Idempotent creates. Village tablets on weak networks resend; a request carrying an
``Idempotency-Key`` that was already processed gets the stored answer, not a second record.
The key row is written in the same transaction as the record, so either both exist or
neither; a concurrent duplicate waits on the unique index and then finds the stored answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from countycare.core.errors import Conflict, ValidationError
from countycare.core.models import IdempotencyRecord

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: Any
    replayed: bool


def fingerprint(operation: str, payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(f"{operation}\n{text}".encode()).hexdigest()


def run(
    *,
    user,
    key: str,
    operation: str,
    payload: Any,
    action: Callable[[], tuple[int, Any]],
) -> Outcome:
    """Run ``action`` once per (user, key). ``action`` returns (status code, JSON body) and
    may raise a DomainError, in which case nothing is stored and a retry runs it again."""
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            _("The Idempotency-Key header must be 1 to %(n)d characters.") % {"n": MAX_KEY_LENGTH},
            code="idempotency_key",
            field="Idempotency-Key",
        )
    fp = fingerprint(operation, payload)
    existing = _stored(user, key, operation, fp)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user, key=key, operation=operation, fingerprint=fp
            )
            status_code, body = action()
            record.status_code = status_code
            record.response = body
            record.save(update_fields=["status_code", "response"])
    except IntegrityError:
        # Another request with the same key committed first.
        existing = _stored(user, key, operation, fp)
        if existing is None:
            raise
        return existing
    return Outcome(status_code=status_code, body=body, replayed=False)


def _stored(user, key: str, operation: str, fp: str) -> Outcome | None:
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is None:
        return None
    if record.operation != operation or record.fingerprint != fp:
        raise Conflict(
            _(
                "This Idempotency-Key was already used for a different request. "
                "Use a new key for a new record."
            ),
            code="idempotency_key_reused",
        )
    return Outcome(status_code=record.status_code or 200, body=record.response, replayed=True)
