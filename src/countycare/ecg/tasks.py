"""Background work of the ECG app (Celery; eager in the embedded default)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="ecg.preread", acks_late=True, max_retries=3)
def preread(recording_id: int) -> None:
    from countycare.ecg.services import run_preread

    run_preread(recording_id)
