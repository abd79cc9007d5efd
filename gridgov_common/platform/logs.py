"""JSON-lines logging with the nameko call id as correlation id.

Configured from each service's ``config.yaml`` ``LOGGING`` section::

    formatters: {json: {(): gridgov_common.platform.logs.JsonFormatter}}
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from eventlet import corolocal
from nameko.extensions import DependencyProvider

_local = corolocal.local()


# Query values that never reach a log in clear (issue 10): bearer tokens (under every
# name web.CREDENTIAL_PARAMS refuses), ID numbers,
# phone numbers. nameko's request log (eventlet.wsgi, logger ``nameko.web.server``) writes
# each request line with its query string; so would any message quoting a URL. The proxy's
# access log redacts the same names (deploy/proxy/nginx.conf, ``log_format redacted``).
REDACTED_PARAMS = ("token", "access_token", "jwt", "bearer", "id_number", "phone")
REDACTED = "[REDACTED]"
_NAMES = "|".join(name.replace("_", "(?:_|%5F)") for name in REDACTED_PARAMS)  # raw or %-encoded
_REDACT = re.compile(r"(?i)([?&;](?:" + _NAMES + r")=)[^&;#\s\"']*")


def redact(text: str) -> str:
    """``/dashboard?token=eyJ…&lang=en`` → ``/dashboard?token=[REDACTED]&lang=en``."""
    return _REDACT.sub(lambda m: m.group(1) + REDACTED, text)


def current_call_id() -> str | None:
    return getattr(_local, "call_id", None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, call_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
            "call_id": current_call_id(),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class CallIdLogging(DependencyProvider):
    """Puts the worker's call id where the formatter finds it, for every log line."""

    def get_dependency(self, worker_ctx):
        return worker_ctx.call_id

    def worker_setup(self, worker_ctx) -> None:
        _local.call_id = worker_ctx.call_id

    def worker_teardown(self, worker_ctx) -> None:
        _local.call_id = None
