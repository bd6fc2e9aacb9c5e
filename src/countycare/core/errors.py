"""Domain errors. Services raise them; views and the API turn them into a message a person
can act on (400/409 with the field and the reason), never a 500."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule was broken. ``message`` is already translated (gettext) for the user."""

    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        message: Any,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"detail": str(self.message), "code": self.code}
        if self.field:
            data["field"] = self.field
            data["errors"] = {self.field: [str(self.message)]}
        data.update(self.extra)
        return data


class ValidationError(DomainError):
    default_code = "invalid"


class Conflict(DomainError):
    """The request collides with something that exists (a duplicate, a state)."""

    status_code = 409
    default_code = "conflict"


class PermissionDenied(DomainError):
    status_code = 403
    default_code = "permission_denied"


class IllegalTransition(DomainError):
    status_code = 409
    default_code = "illegal_transition"
