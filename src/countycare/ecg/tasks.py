"""Background work of the ECG app (Celery; eager in the embedded default)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="ecg.preread", acks_late=True, max_retries=3)
def preread(recording_id: int) -> None:
    from countycare.ecg.services import run_preread

    run_preread(recording_id)


@shared_task(name="ecg.sweep")
def sweep() -> dict:
    """ECG attachments left without a recording, pre-reads left pending (celery beat)."""
    from countycare.ecg.services import sweep as run

    return run()
