"""One structured error shape for every HTTP/RPC entrypoint.

``{"error": {"code": "...", "message": "...", "fields": {...}}}`` with the HTTP status
that says what went wrong.  Domain code raises these (they know nothing of nameko).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error a caller can act on; ``status`` is the HTTP status it maps to."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, Any] | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class Unprocessable(ApiError):
    """The request is well-formed but breaks a rule (schema or domain)."""

    status, code = 422, "validation_failed"


class BadGateway(ApiError):
    status, code = 502, "upstream_error"


class ServiceUnavailable(ApiError):
    """Something the request needs is down for now: the answer says when to try again
    (``Retry-After``), so a phone's outbox waits and resends instead of giving up."""

    status, code = 503, "unavailable"
    RETRY_AFTER_SECONDS = 10

    def __init__(self, message: str, fields: dict[str, Any] | None = None,
                 code: str | None = None, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message, fields, code)
        self.headers = {"Retry-After": str(retry_after)}
