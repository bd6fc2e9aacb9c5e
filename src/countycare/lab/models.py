"""Lab results arriving as HL7 v2 (issue 5, SHC-03): every message received is kept whole
with the ACK it was answered with, so a resend of the same control ID (MSH-10) from the same
sender gets the same answer without being processed again, and a message that could not be
matched or parsed waits in the dead-letter list with the reason."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class MessageStatus(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    # Could not be parsed or matched: kept for a person to fix the mapping and replay.
    DEAD_LETTER = "dead_letter", _("Dead letter")
    # Our own failure (a bug, the database away): a resend is processed again.
    ERROR = "error", _("Internal error")


class AckCode(models.TextChoices):
    AA = "AA", _("Accepted")
    AE = "AE", _("Error")
    AR = "AR", _("Rejected")


class Hl7Message(models.Model):
    """One HL7 v2 message as received."""

    sender = models.CharField(
        _("sender"),
        max_length=200,
        blank=True,
        help_text=_("MSH-3 sending application | MSH-4 sending facility"),
    )
    control_id = models.CharField(_("message control ID"), max_length=64, blank=True)
    message_type = models.CharField(_("message type"), max_length=40, blank=True)
    raw = models.TextField(_("message"))
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    received_at = models.DateTimeField(_("received"), db_index=True)
    status = models.CharField(_("status"), max_length=20, choices=MessageStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    error_code = models.CharField(_("HL7 error code"), max_length=10, blank=True)
    error_location = models.CharField(_("error location"), max_length=40, blank=True)
    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    order = models.ForeignKey(
        "telemed.ExamOrder",
        verbose_name=_("exam order"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="hl7_messages",
    )
    observation_count = models.PositiveSmallIntegerField(_("observations"), default=0)
    ack_code = models.CharField(_("ACK code"), max_length=2, choices=AckCode.choices)
    ack = models.TextField(_("ACK sent"))

    class Meta:
        verbose_name = _("HL7 message")
        verbose_name_plural = _("HL7 messages")
        ordering = ["-received_at", "-pk"]
        constraints = [
            # Processed once: a resend of the same control ID from the same sender finds this.
            models.UniqueConstraint(
                fields=["sender", "control_id"],
                condition=~Q(control_id=""),
                name="hl7_message_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(status="dead_letter"),
                name="hl7_message_dead_letters",
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_type or '?'} {self.control_id or '-'} ({self.sender or '?'})"

    @property
    def audit_resident_id(self) -> int | None:
        return self.resident_id

    @property
    def audit_institution(self):
        return self.order.center.institution if self.order_id else None


class ResidentIdentifier(models.Model):
    """A resident's number in another system (a hospital's medical record number, PID-3 with
    identifier type MR), so results keyed by it find the resident when no national ID is sent."""

    authority = models.CharField(
        _("assigning authority"), max_length=100, blank=True, help_text=_("PID-3.4; blank: any")
    )
    value = models.CharField(_("identifier"), max_length=64)
    resident = models.ForeignKey(
        "residents.Resident",
        verbose_name=_("resident"),
        on_delete=models.CASCADE,
        related_name="lab_identifiers",
    )

    class Meta:
        verbose_name = _("medical record number")
        verbose_name_plural = _("medical record numbers")
        constraints = [
            models.UniqueConstraint(
                fields=["authority", "value"], name="resident_identifier_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.authority}:{self.value}" if self.authority else self.value
