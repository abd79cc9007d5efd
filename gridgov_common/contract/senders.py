"""Who sent a department's message, and whether the broker vouches for it (issue 10).

Every consumer of a department-originated message (registry's data pushes and events'
case reports on ``gridgov.intake``, dispatch's ``department.report`` on
``gridgov.reports``) checks the publisher here, in one place:

- each department logs in to RabbitMQ as its own user ``dept.<department>``
  (docs/BUS-SECURITY.md) and sets the AMQP ``user_id`` property to it; RabbitMQ refuses a
  ``user_id`` that is not the connection's user (validated user-ID), so a consumer may
  trust it;
- :func:`check_publisher`: a message naming department B (routing key and payload, which
  the consumer compares first) published by ``dept.A`` is refused (``user_mismatch``) —
  P2.2/P6.2: a department reports and pushes for itself only; with ``require_user``
  (production: ``REQUIRE_REPORT_USER_ID`` / ``REQUIRE_INTAKE_USER_ID``) a message without
  ``dept.B`` as its ``user_id`` is refused too (``user_required``);
- :func:`sender_of`: whom to tell about a refusal (``<department>.rejections``): the
  department of the publishing ``dept.*`` user, else the routing key's first word;
- :func:`rejection`: the ``platform.rejection`` telling it — reason, the original
  ``message_id``, routing key and exchange, never the body (docs/BUS-CONTRACT.md §8).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from gridgov_common.contract.envelope import ContractError, ValidatedEnvelope, make_envelope
from gridgov_common.contract.routing import CODE_MAX_LENGTH, CODE_RE

DEPARTMENT_USER_PREFIX = "dept."  # each department's own RabbitMQ user: dept.<code>
USER_MISMATCH = "user_mismatch"
USER_REQUIRED = "user_required"
REJECTION_TYPE = "platform.rejection"
MESSAGE_MAX = 2000
ROUTING_KEY_MAX = 255
ORIGINAL_ID_MAX = 128
FIELDS_JSON_MAX = 4096
# rejections of one original message by one consumer share an id (a redelivery resends it)
_REJECTION_NAMESPACE = uuid.UUID("6a1f0c52-5b7e-4d0e-9a57-0c1a2b3c4d5e")


def _is_code(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= CODE_MAX_LENGTH and bool(CODE_RE.match(value))


def department_user(department: str) -> str:
    """The broker user of a department: ``dept.<department>``."""
    return DEPARTMENT_USER_PREFIX + department


def user_department(user_id: str | None) -> str | None:
    """The department of a ``dept.<code>`` user, None for any other user (or none)."""
    if not isinstance(user_id, str) or not user_id.startswith(DEPARTMENT_USER_PREFIX):
        return None
    code = user_id.removeprefix(DEPARTMENT_USER_PREFIX)
    return code if _is_code(code) else None


def key_department(routing_key: str | None) -> str | None:
    """The first word of a department's routing key (``<department>.…``) if it is a code."""
    if not isinstance(routing_key, str):
        return None
    first = routing_key.split(".", 1)[0]
    return first if _is_code(first) else None


def sender_of(routing_key: str | None, user_id: str | None) -> str | None:
    """Whom to tell about a refused message: the publishing department's own user wins over
    the key (a department posing as another is told on its own rejections key)."""
    return user_department(user_id) or key_department(routing_key)


def check_publisher(user_id: str | None, department: str, *, require_user: bool) -> None:
    """Raise ContractError unless ``user_id`` may publish for ``department`` (P2.2, P6.2: a
    department speaks for itself only).

    ``department`` is the one the routing key and the payload name (the caller checks that
    they agree). ``dept.<other>`` → ``user_mismatch``; no ``dept.<department>`` user while
    ``require_user`` → ``user_required``; a platform user (``guest`` in the demo and the
    tests) is accepted only without ``require_user``."""
    expected = department_user(department)
    if user_id == expected:
        return
    if isinstance(user_id, str) and user_id.startswith(DEPARTMENT_USER_PREFIX):
        raise ContractError(USER_MISMATCH,
                            f"published by {user_id}, which may not publish for {department}",
                            {"user_id": [f"must be {expected}"]})
    if require_user:
        raise ContractError(USER_REQUIRED,
                            f"messages of {department} must be published by {expected} "
                            f"with its user_id property",
                            {"user_id": [f"must be {expected}"]})


def rejection_id(consumer: str, original_message_id: str | None) -> str:
    """Stable per (consumer, original message): a redelivered refusal resends the same id."""
    if original_message_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_REJECTION_NAMESPACE, f"{consumer}\n{original_message_id}"))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fields(fields: Mapping[str, Any] | None) -> dict[str, Any]:
    plain = json.loads(json.dumps(dict(fields or {}), ensure_ascii=False, default=str))
    text = json.dumps(plain, ensure_ascii=False)
    return plain if len(text) <= FIELDS_JSON_MAX else {"_truncated": [text[:FIELDS_JSON_MAX]]}


def rejection(producer: str, consumer: str, *, original_message_id: str | None,
              routing_key: str | None, exchange: str | None, code: str, message: str,
              fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A ``platform.rejection`` (latest version) for ``<department>.rejections``: the
    reason and what identifies the refused message — no part of its body."""
    original = (_clip(str(original_message_id), ORIGINAL_ID_MAX)
                if original_message_id not in (None, "") else None)
    code = code if _is_code(code) else "refused"
    payload = {
        "original_message_id": original,
        "original_routing_key": _clip(routing_key or "", ROUTING_KEY_MAX),
        "original_exchange": _clip(exchange or "", ROUTING_KEY_MAX),
        "code": code,
        "message": _clip(str(message) or code, MESSAGE_MAX),
        "fields": _fields(fields),
    }
    envelope = make_envelope(REJECTION_TYPE, payload, producer, correlation_id=original)
    return ValidatedEnvelope({**envelope,
                              "message_id": rejection_id(consumer, original)})
