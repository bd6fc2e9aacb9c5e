"""Readers see the ECG recordings of the orders routed to their centers, like the
attachments they come from (telemed.scoping_rules)."""

from __future__ import annotations

from countycare.core.scoping import register_rule
from countycare.ecg.models import EcgRecording
from countycare.telemed.scoping_rules import _orders_q

register_rule(EcgRecording, _orders_q("order__"))
