"""Lab results arriving as HL7 v2 (issue 5, SHC-03): every message received is kept whole
with the ACK it was answered with, so a resend of the same control ID (MSH-10) from the same
sender gets the same answer without being processed again, and a message that could not be
matched or parsed waits in the dead-letter list with the reason."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class MessageStatus(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    # Could not be parsed or matched: kept for a person to fix the mapping and replay.
    DEAD_LETTER = "dead_letter", _("Not stored (waiting)")
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
    control_id = models.CharField(_("control ID (MSH-10)"), max_length=64, blank=True)
    message_type = models.CharField(_("message type"), max_length=40, blank=True)
    raw = models.TextField(_("message as received"))
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    received_at = models.DateTimeField(_("received"), db_index=True)
    status = models.CharField(_("status"), max_length=20, choices=MessageStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    error_code = models.CharField(_("error code (HL7 table 0357)"), max_length=10, blank=True)
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
    observation_count = models.PositiveSmallIntegerField(_("results stored"), default=0)
    ack_code = models.CharField(_("acknowledgement code"), max_length=2, choices=AckCode.choices)
    ack = models.TextField(_("acknowledgement sent"))
    # SHA-256 of the message after its MSH segment: a resend (same control ID, same content)
    # is answered with the stored ACK; the same control ID with other content is not a resend.
    digest = models.CharField(_("content digest"), max_length=64, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("control ID first used by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The reason as the web app shows it, translated: {"msgid": ..., "params": {...}}.
    reason_args = models.JSONField(_("reason (for translation)"), default=dict, blank=True)
    # What was received but is not a result (instrument settings, histograms): not stored.
    notes = models.TextField(_("not stored"), blank=True)
    # A message too large to process is kept whole here (``raw`` holds its beginning).
    raw_file = models.FileField(_("message file"), upload_to="lab/hl7/", blank=True)

    # A message matched to a resident or a lab order is seen where they are; one nobody could
    # match, by those who see a lab's institution (lab.scoping_rules).
    scope_paths = ("resident__home_village", "order__center__institution")

    class Meta:
        verbose_name = _("HL7 message")
        verbose_name_plural = _("HL7 messages")
        ordering = ["-received_at", "-pk"]
        constraints = [
            # Processed once: a resend of the same control ID from the same sender finds this.
            models.UniqueConstraint(
                fields=["sender", "control_id"],
                condition=~Q(control_id="") & Q(duplicate_of__isnull=True),
                name="hl7_message_once",
            ),
            # A control ID reused with other content is kept once per content.
            models.UniqueConstraint(
                fields=["sender", "control_id", "digest"],
                condition=~Q(control_id="") & ~Q(digest=""),
                name="hl7_message_content_once",
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(status="dead_letter"),
                name="hl7_message_dead_letters",
            ),
            # The lookup of every message (ingest._lookup: all rows of a sender's control ID,
            # duplicates and empty digests too), which the partial unique indexes cannot serve.
            models.Index(fields=["sender", "control_id"], name="hl7_message_control_id"),
        ]

    def __str__(self) -> str:
        return f"{self.message_type or '?'} {self.control_id or '-'} ({self.sender or '?'})"

    @property
    def audit_resident_id(self) -> int | None:
        return self.resident_id

    @property
    def audit_institution(self):
        return self.order.center.institution if self.order_id else None

    @property
    def reason_display(self) -> str:
        """The reason in the user's language (the ACK carries it in English)."""
        from django.utils.translation import gettext

        args = self.reason_args or {}
        msgid = args.get("msgid")
        if not msgid:
            return self.reason
        try:
            return gettext(msgid) % (args.get("params") or {})
        except (KeyError, TypeError, ValueError):
            return self.reason


class Analyzer(models.Model):
    """An analyzer or lab system that sends HL7 results, known by the sender its messages
    carry (MSH-3 sending application | MSH-4 sending facility). Registered on its first
    message; a person names it and says where it stands, so turnaround per lab, the
    dead-letter list and the results show "札萨克镇中心卫生院 · 迈瑞 BC-5390" instead of the
    raw sender, and results it reports are the results of that institution."""

    sender = models.CharField(_("sender"), max_length=200, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    institution = models.ForeignKey(
        "organizations.Institution",
        verbose_name=_("institution of the analyzer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Where the analyzer stands; blank: the lab center of the order."),
    )
    first_seen = models.DateTimeField(_("first message"), null=True, blank=True)

    class Meta:
        verbose_name = _("analyzer")
        verbose_name_plural = _("analyzers")
        ordering = ["name", "sender"]

    def __str__(self) -> str:
        return self.label

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Sender → the name and place people know it by, for the analyzers named so far."""
        rows = cls.objects.select_related("institution").exclude(name="", institution=None)
        return {a.sender: a.label for a in rows}

    @property
    def label(self) -> str:
        name = self.name or self.sender
        if self.institution_id:
            place = self.institution.short_name or self.institution.name
            return f"{place} · {name}"
        return name


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


class Sex(models.TextChoices):
    ANY = "", _("Any")
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class ReferenceRange(models.Model):
    """The platform's reference interval for one test (LOINC), by sex and age, used to flag a
    result when the analyzer sends neither range nor flag (issue 5, SHC-03). Ages in whole
    years at the time of observation, ``age_min`` inclusive and ``age_max`` exclusive. The
    most specific row wins (a row for the resident's sex before one for any sex). Critical
    values are not here: they are the Walking Hospital's critical-value rules
    (telemed.CriticalRule), which raise the alert."""

    code = models.CharField(_("LOINC code"), max_length=40, db_index=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True, default="")
    age_min = models.PositiveSmallIntegerField(_("from age (years)"), default=0)
    age_max = models.PositiveSmallIntegerField(_("below age (years)"), default=200)
    low = models.DecimalField(_("low"), max_digits=12, decimal_places=4, null=True, blank=True)
    high = models.DecimalField(_("high"), max_digits=12, decimal_places=4, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("reference range")
        verbose_name_plural = _("reference ranges")
        ordering = ["code", "sex", "age_min"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "sex", "age_min", "age_max"], name="reference_range_unique"
            ),
            models.CheckConstraint(
                condition=Q(age_min__lt=models.F("age_max")), name="reference_range_ages"
            ),
        ]

    def __str__(self) -> str:
        who = f" {self.sex}" if self.sex else ""
        return (
            f"{self.code}{who} {self.age_min}-{self.age_max}y: {self.low}-{self.high} {self.unit}"
        )


class CodeMapping(models.Model):
    """An analyzer's own test code mapped to LOINC (issue 5): consulted when an OBX carries a
    local code, before the message is dead-lettered. ``sender`` as stored on the message
    (MSH-3|MSH-4); blank: any sender. ``ignore``: the code is not a result (an instrument
    setting such as Mindray's "Take Mode"): the OBX is received and not stored."""

    sender = models.CharField(_("sender"), max_length=200, blank=True)
    local_code = models.CharField(_("local code"), max_length=40)
    loinc = models.CharField(_("LOINC code"), max_length=40, blank=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    ignore = models.BooleanField(
        _("not a result"),
        default=False,
        help_text=_("An instrument setting or remark the analyzer sends beside the results: "
                    "received, not stored."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("analyzer code mapping")
        verbose_name_plural = _("analyzer code mappings")
        ordering = ["sender", "local_code"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "local_code"], name="code_mapping_unique"),
            models.CheckConstraint(
                condition=Q(ignore=True) | ~Q(loinc=""), name="code_mapping_loinc_or_ignore"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender or '*'}:{self.local_code} → {self.loinc or '-'}"


class RangeSource(models.TextChoices):
    ANALYZER = "analyzer", _("Sent by the analyzer")
    PLATFORM = "platform", _("Platform reference range")
    NONE = "", _("None")


class ResultStatus(models.TextChoices):
    """OBX-11 (HL7 table 0085), the values a result is stored with."""

    FINAL = "F", _("Final")
    CORRECTED = "C", _("Corrected")
    PRELIMINARY = "P", _("Preliminary result")
    RESULTS_ENTERED = "R", _("Entered, not verified")


class LabResult(models.Model):
    """One test result (issue 5, SHC-03): of an accepted HL7 message, with its lab timestamps
    — specimen collected (OBR-7), received (OBR-14, else the message's arrival), reported
    (OBR-22, else MSH-7) — and the reference range the flag was computed from; or typed in
    from a device without HL7 (``message`` empty, ``entered_by`` set).

    ``recognized`` (result recognition, 检查检验结果互认, SHC-01/SHC-02): a final or corrected
    result from a community lab, accepted across the community within its validity window
    (policy ``lab_recognition_days``) so a referral does not repeat it without reason.
    Point-of-care results typed in from a glucose meter or a urine strip are shown but not
    recognized."""

    message = models.ForeignKey(
        Hl7Message,
        verbose_name=_("HL7 message"),
        on_delete=models.CASCADE,
        related_name="results",
        null=True,
        blank=True,
    )
    observation = models.OneToOneField(
        "telemed.Observation",
        verbose_name=_("observation"),
        on_delete=models.CASCADE,
        related_name="lab_result",
    )
    order = models.ForeignKey(
        "telemed.ExamOrder",
        verbose_name=_("exam order"),
        on_delete=models.PROTECT,
        related_name="lab_results",
        null=True,
        blank=True,
    )
    # Not indexed: read grouped within a period (collected_at), never looked up alone; two
    # index writes (btree and its LIKE twin) per result saved (benchmarks/hl7_ingest.py).
    sender = models.CharField(_("lab"), max_length=200, blank=True)
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100, blank=True)
    collected_at = models.DateTimeField(_("collected"), null=True, blank=True, db_index=True)
    received_at = models.DateTimeField(_("received"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived"))
    range_source = models.CharField(
        _("range from"), max_length=10, choices=RangeSource.choices, blank=True
    )
    reference_range = models.ForeignKey(
        ReferenceRange,
        verbose_name=_("reference range"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    result_status = models.CharField(
        _("result status"),
        max_length=1,
        choices=ResultStatus.choices,
        default=ResultStatus.FINAL,
    )
    recognized = models.BooleanField(_("recognized across the community"), default=False)
    device = models.CharField(_("device"), max_length=40, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    scope_paths = ("observation__resident__home_village", "observation__institution")

    class Meta:
        verbose_name = _("lab result")
        verbose_name_plural = _("lab results")
        ordering = ["-collected_at", "pk"]
        indexes = [models.Index(fields=["recognized", "collected_at"])]

    def __str__(self) -> str:
        return f"{self.code} ({self.sender})"
