"""Background work of the imaging app (Celery; issue 4).

``imaging.index_receipts`` indexes what the DICOM listeners received (``imaging.indexer``).
With a broker the listeners send it as receipts arrive, and celery beat every minute (see
``CELERY_BEAT_SCHEDULE``) for the recovery of receipts nobody holds: a listener stopped before
its work was sent, an indexer's lease expired, a retry is due. Without a broker (embedded
default) each listener indexes in a thread of its own and this task is not needed."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="imaging.index_receipts", acks_late=True)
def index_receipts() -> int:
    from countycare.imaging.indexer import drain

    return drain()
