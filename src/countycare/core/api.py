"""Shared REST API pieces: pagination, the exception handler that turns domain errors into
400/409 answers with field errors, and idempotent creates."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from countycare.core import idempotency
from countycare.core.errors import DomainError


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            body: dict[str, Any] = {"detail": "invalid", "errors": exc.message_dict}
        else:
            body = {"detail": " ".join(exc.messages)}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        # Serializer errors in the same shape as domain errors: one message, all field errors.
        response.data = validation_body(exc.detail)
    return response


def validation_body(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        errors = detail
    elif isinstance(detail, list):
        errors = {"non_field_errors": detail}
    else:
        errors = {"non_field_errors": [detail]}
    return {"detail": _first_message(errors) or "invalid", "code": "invalid", "errors": errors}


def _first_message(value: Any) -> str:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            message = _first_message(item)
            if message:
                return message
        return ""
    return str(value)


def to_json(data: Any) -> Any:
    """Serializer output as plain JSON values (dates as strings), as stored for replays."""
    return json.loads(JSONRenderer().render(data))


def plain_payload(data: Any) -> Any:
    if hasattr(data, "lists"):
        return {k: v if len(v) > 1 else v[0] for k, v in data.lists()}
    return data


def idempotent(
    request, *, operation: str, payload: Any, action: Callable[[], tuple[int, Any]]
) -> Response:
    """Run ``action`` (a create returning (status, body)) once per user and
    ``Idempotency-Key``; a retry gets the first answer with ``Idempotent-Replayed: true``.
    Without the header the action simply runs."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status_code, body = action()
        return Response(body, status=status_code)
    outcome = idempotency.run(
        user=request.user, key=key, operation=operation, payload=payload, action=action
    )
    response = Response(outcome.body, status=outcome.status_code)
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class IdempotentCreateMixin:
    """For ``ModelViewSet``-style views: a POST with an ``Idempotency-Key`` header is run once
    per user and key; retries get the first answer with ``Idempotent-Replayed: true``."""

    idempotency_operation: str = ""

    def create(self, request, *args, **kwargs):
        return idempotent(
            request,
            operation=self.idempotency_operation or self.__class__.__name__,
            payload=plain_payload(request.data),
            action=lambda: self.create_once(request),
        )

    def create_once(self, request) -> tuple[int, Any]:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return status.HTTP_201_CREATED, to_json(serializer.data)
