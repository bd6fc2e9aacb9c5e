"""Signals other apps listen to (the pharmacy, when installed, connects to them)."""

from django.dispatch import Signal

# Sent after the transaction that issued a long prescription commits (FD-05): the pharmacy
# app takes it over and calls ``services.hand_over`` with its reference.
# Arguments: ``prescription`` (a LongPrescription).
long_prescription_issued = Signal()
