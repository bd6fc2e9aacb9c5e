from __future__ import annotations

from django.db import models

from countycare.core import crypto


class EncryptedTextField(models.TextField):
    """A text value stored Fernet-encrypted. Not searchable: keep a ``crypto.lookup_hash``
    beside it for exact lookup."""

    description = "Encrypted text"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)
