"""Every new ECG attachment (telemed.Attachment, kind "ecg") is ingested once its upload
transaction commits: a rolled-back upload leaves nothing to read."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from countycare.telemed.models import Attachment, AttachmentKind

log = logging.getLogger(__name__)


def _ingest(attachment_id: int) -> None:
    from countycare.ecg.services import ingest

    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        return
    try:
        ingest(attachment)
    except Exception:  # the upload itself succeeded; a reader still sees the file
        log.exception("ECG ingest failed for attachment %s", attachment_id)


@receiver(post_save, sender=Attachment, dispatch_uid="ecg.ingest_attachment")
def on_attachment_saved(sender, instance: Attachment, created: bool, raw=False, **kwargs):
    if created and not raw and instance.kind == AttachmentKind.ECG:
        pk = instance.pk
        transaction.on_commit(lambda: _ingest(pk))
